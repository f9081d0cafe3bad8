// Access event batching and spooling; see access_audit.h.
#include "fs/access_audit.h"

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "backend/sdk/log.h"
#include "fs/files.h"

namespace leasefs::fs {

using nlohmann::json;

namespace {
constexpr std::string_view kLog = "mount.audit";
constexpr std::size_t kBatch = 500;
constexpr auto kFlushEvery = std::chrono::milliseconds(200);

// The lines as file text, each ended by '\n'.
std::string as_text(const std::deque<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) {
    text += l;
    text += '\n';
  }
  return text;
}
}  // namespace

AccessAuditor::AccessAuditor(VaultClient& client, std::string spool_file, std::string host,
                             std::string mount)
    : client_(client),
      spool_file_(std::move(spool_file)),
      host_(std::move(host)),
      mount_(std::move(mount)) {}

AccessAuditor::~AccessAuditor() {
  stop();
}

void AccessAuditor::start() {
  thread_ = std::thread([this] { loop(); });
}

namespace {

// Whether `s` is UTF-8 the server's JSON parser will take (others are written with
// U+FFFD through nlohmann's replace mode).
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80) {
      n = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= s.size() && n > 0) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n + 1;
  }
  return true;
}

// Appends "key":"value" with JSON escaping (one event line is built without a JSON
// object tree: this runs for every open).
void add_string(std::string& out, std::string_view key, std::string_view value) {
  if (out.size() > 1) out += ',';
  out += '"';
  out += key;
  out += "\":";
  if (!valid_utf8(value)) {
    out += json(std::string(value)).dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  out += '"';
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  out += '"';
}

void add_integer(std::string& out, std::string_view key, std::int64_t value) {
  if (value < 0) return;  // unknown ids are left out rather than sent as -1
  out += ",\"";
  out += key;
  out += "\":";
  out += std::to_string(value);
}

}  // namespace

std::string AccessAuditor::to_line(const AccessEvent& e) const {
  std::string out = "{";
  out.reserve(512);
  add_string(out, "time", sdk::rfc3339(e.time));
  add_string(out, "host", host_);
  add_string(out, "mount", mount_);
  add_string(out, "file", e.file);
  add_string(out, "path", e.path);
  add_string(out, "lease_id", e.lease_id);
  add_string(out, "exe", e.exe);
  add_string(out, "cgroup", e.cgroup);
  add_string(out, "result", e.result);
  if (!e.error.empty()) add_string(out, "error", e.error);
  add_integer(out, "pid", e.pid);
  add_integer(out, "uid", e.uid);
  add_integer(out, "gid", e.gid);
  out += '}';
  return out;
}

void AccessAuditor::record(AccessEvent event) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(event));
  ++counters_.recorded;
  counters_.pending = queue_.size();
  if (queue_.size() >= kBatch) cv_.notify_all();
}

bool AccessAuditor::post(const std::deque<std::string>& events) {
  std::string body = "{\"events\":[";
  for (const auto& e : events) {
    if (body.size() > 11) body += ',';
    body += e;
  }
  body += "]}";
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
    // The server will never take some of these. Halves are tried apart until the
    // refused events stand alone, so the others still reach the central log.
    if (events.size() > 1) {
      const auto middle = events.begin() + static_cast<std::ptrdiff_t>(events.size() / 2);
      return post(std::deque<std::string>(events.begin(), middle)) &&
             post(std::deque<std::string>(middle, events.end()));
    }
    reject(events, "refused by the server as malformed");
    return true;
  }
  sdk::log_warn(kLog, "sys/access-events answered " + std::to_string(*status) +
                          "; events stay in " + spool_file_);
  return false;
}

void AccessAuditor::reject(const std::deque<std::string>& events, std::string_view why) {
  // Kept beside the spool for an operator instead of retried forever: never dropped
  // silently.
  const std::string rejected = spool_file_ + ".rejected";
  auto kept = append_to_file(rejected, as_text(events));
  if (kept.ok()) {
    sdk::log_error(kLog, std::to_string(events.size()) + " access event(s) " + std::string(why) +
                             "; they are kept in " + rejected);
  } else {
    sdk::log_error(kLog, std::to_string(events.size()) + " access event(s) " + std::string(why) +
                             " are lost: " + kept.message());
  }
  std::lock_guard lock(mu_);
  counters_.rejected += events.size();
}

void AccessAuditor::spool(const std::deque<std::string>& events) {
  if (events.empty()) return;
  std::error_code ec;
  auto dir = std::filesystem::path(spool_file_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (auto written = append_to_file(spool_file_, as_text(events)); !written.ok()) {
    // A partly written last line is set aside as malformed when the spool is read.
    sdk::log_error(kLog, "spooling: " + written.message() + "; " + std::to_string(events.size()) +
                             " access events may be lost or incomplete");
    return;
  }
  std::lock_guard lock(mu_);
  counters_.spooled += events.size();
}

bool AccessAuditor::drain_spool() {
  std::ifstream in(spool_file_);
  if (!in) return true;
  std::deque<std::string> all;
  std::deque<std::string> malformed;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // A line cut short (the daemon died while spooling, the disk filled) or edited by
    // hand would make the server refuse its whole batch: it is set aside here.
    if (json::parse(line, nullptr, /*allow_exceptions=*/false).is_object()) {
      all.push_back(std::move(line));
    } else {
      malformed.push_back(std::move(line));
    }
  }
  in.close();
  if (!malformed.empty()) {
    reject(malformed, "in " + spool_file_ + " are not JSON objects");
    if (auto rewritten = write_file_atomically(spool_file_, as_text(all)); !rewritten.ok()) {
      sdk::log_error(kLog, "rewriting the spool file: " + rewritten.message());
    }
  }
  if (all.empty()) {
    ::unlink(spool_file_.c_str());
    return true;
  }
  while (!all.empty()) {
    std::deque<std::string> batch;
    while (!all.empty() && batch.size() < kBatch) {
      batch.push_back(std::move(all.front()));
      all.pop_front();
    }
    if (!post(batch)) {
      // Rewrite what is left (this batch first) and try later.
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) all.push_front(std::move(*it));
      if (auto rewritten = write_file_atomically(spool_file_, as_text(all)); !rewritten.ok()) {
        // The old spool stays: the events sent just now will be sent again.
        sdk::log_error(kLog, "rewriting the spool file: " + rewritten.message() +
                                 "; events already delivered from it will be sent again");
      }
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
    std::deque<std::string> batch;
    for (const auto& e : taken) batch.push_back(to_line(e));
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
      next_attempt_ =
          std::chrono::steady_clock::now() +
          (counters_.endpoint_missing ? std::chrono::seconds(30) : std::chrono::seconds(2));
    }
    if (stopping) {
      // Whatever is still queued goes to the spool; nothing is dropped.
      std::deque<AccessEvent> left;
      left.swap(queue_);
      counters_.pending = 0;
      lock.unlock();
      std::deque<std::string> rest;
      for (const auto& e : left) rest.push_back(to_line(e));
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
