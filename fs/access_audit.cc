// Access event batching and spooling; see access_audit.h.
#include "fs/access_audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backend/sdk/log.h"

namespace leasefs::fs {

using nlohmann::json;

namespace {
constexpr std::string_view kLog = "mount.audit";
constexpr std::size_t kBatch = 500;
constexpr auto kFlushEvery = std::chrono::milliseconds(200);
}  // namespace

AccessAuditor::AccessAuditor(VaultClient& client, std::string spool_file, std::string host,
                             std::string mount)
    : client_(client), spool_file_(std::move(spool_file)), host_(std::move(host)),
      mount_(std::move(mount)) {}

AccessAuditor::~AccessAuditor() { stop(); }

void AccessAuditor::start() {
  thread_ = std::thread([this] { loop(); });
}

json AccessAuditor::to_json(const AccessEvent& e) const {
  json j = {{"time", sdk::rfc3339(e.time)}, {"host", host_},     {"mount", mount_},
            {"file", e.file},               {"path", e.path},    {"lease_id", e.lease_id},
            {"exe", e.exe},                 {"cgroup", e.cgroup}, {"result", e.result}};
  // Unknown ids are left out rather than sent as -1.
  if (e.pid >= 0) j["pid"] = e.pid;
  if (e.uid >= 0) j["uid"] = e.uid;
  if (e.gid >= 0) j["gid"] = e.gid;
  if (!e.error.empty()) j["error"] = e.error;
  return j;
}

void AccessAuditor::record(const AccessEvent& event) {
  std::lock_guard lock(mu_);
  queue_.push_back(event);
  ++counters_.recorded;
  counters_.pending = queue_.size();
  if (queue_.size() >= kBatch) cv_.notify_all();
}

bool AccessAuditor::post(const std::deque<json>& events) {
  json body = {{"events", json::array()}};
  for (const auto& e : events) body["events"].push_back(e);
  auto status = client_.post_access_events(body);
  if (!status) return false;
  if (*status == 404 || *status == 405) {
    std::lock_guard lock(mu_);
    if (!counters_.endpoint_missing) {
      sdk::log_warn(kLog, "the server has no sys/access-events; events stay in " + spool_file_);
    }
    counters_.endpoint_missing = true;
    return false;
  }
  if (*status >= 200 && *status < 300) {
    std::lock_guard lock(mu_);
    counters_.endpoint_missing = false;
    counters_.sent += events.size();
    return true;
  }
  if (*status == 400) {
    // The server will never take these: keep them beside the spool for an operator
    // instead of retrying forever (never dropped silently).
    std::string rejected = spool_file_ + ".rejected";
    sdk::log_error(kLog, "sys/access-events refused " + std::to_string(events.size()) +
                             " events as malformed; they are kept in " + rejected);
    std::string text;
    for (const auto& e : events) text += e.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    int fd = ::open(rejected.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      [[maybe_unused]] auto n = ::write(fd, text.data(), text.size());
      ::close(fd);
    }
    return true;
  }
  sdk::log_warn(kLog, "sys/access-events answered " + std::to_string(*status) +
                          "; events stay in " + spool_file_);
  return false;
}

void AccessAuditor::spool(const std::deque<json>& events) {
  if (events.empty()) return;
  std::error_code ec;
  auto dir = std::filesystem::path(spool_file_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  int fd = ::open(spool_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    sdk::log_error(kLog, "cannot write the spool file " + spool_file_ + "; " +
                             std::to_string(events.size()) + " access events are lost");
    return;
  }
  std::string text;
  for (const auto& e : events) text += e.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::lock_guard lock(mu_);
  counters_.spooled += events.size();
}

bool AccessAuditor::drain_spool() {
  std::ifstream in(spool_file_);
  if (!in) return true;
  std::deque<json> all;
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) all.push_back(std::move(j));
  }
  in.close();
  if (all.empty()) {
    ::unlink(spool_file_.c_str());
    return true;
  }
  while (!all.empty()) {
    std::deque<json> batch;
    while (!all.empty() && batch.size() < kBatch) {
      batch.push_back(std::move(all.front()));
      all.pop_front();
    }
    if (!post(batch)) {
      // Rewrite what is left (this batch first) and try later.
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) all.push_front(std::move(*it));
      std::string tmp = spool_file_ + ".tmp";
      {
        std::ofstream out(tmp, std::ios::trunc);
        for (const auto& e : all) out << e.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      }
      ::chmod(tmp.c_str(), 0600);
      std::rename(tmp.c_str(), spool_file_.c_str());
      return false;
    }
  }
  ::unlink(spool_file_.c_str());
  return true;
}

void AccessAuditor::loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait_for(lock, kFlushEvery, [this] { return stopping_ || queue_.size() >= kBatch; });
    bool stopping = stopping_;
    // After a failed delivery the server is left alone for a while; meanwhile events
    // go to the spool file rather than pile up in memory.
    bool backing_off = !stopping && std::chrono::steady_clock::now() < next_attempt_;
    std::deque<AccessEvent> taken;
    while (!queue_.empty() && (backing_off || stopping || taken.size() < kBatch)) {
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    counters_.pending = queue_.size();
    lock.unlock();
    std::deque<json> batch;
    for (const auto& e : taken) batch.push_back(to_json(e));
    bool ok = false;
    if (backing_off) {
      spool(batch);
      lock.lock();
      continue;
    }
    bool spool_empty = drain_spool();
    if (!batch.empty()) {
      ok = spool_empty && batch.size() <= kBatch && post(batch);
      if (!ok) spool(batch);
    } else {
      ok = spool_empty;
    }
    lock.lock();
    if (!ok) {
      // A server without the endpoint is asked again rarely; an unreachable one soon.
      next_attempt_ = std::chrono::steady_clock::now() +
                      (counters_.endpoint_missing ? std::chrono::seconds(30) : std::chrono::seconds(2));
    }
    if (stopping) {
      // Whatever is still queued goes to the spool; nothing is dropped.
      std::deque<AccessEvent> left;
      left.swap(queue_);
      counters_.pending = 0;
      lock.unlock();
      std::deque<json> rest;
      for (const auto& e : left) rest.push_back(to_json(e));
      spool(rest);
      return;
    }
  }
}

void AccessAuditor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

AccessAuditor::Counters AccessAuditor::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

}  // namespace leasefs::fs
