// The broker: device table, persistence of configs and salts, fan-out of entries with
// the fail-closed rule (see broker.h).
#include "backend/audit/broker.h"

#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "backend/audit/chain.h"
#include "backend/sdk/log.h"

namespace leasefs::backend::audit {

using nlohmann::json;
using sdk::Code;
using std::chrono::steady_clock;

struct Broker::Device {
  // Unique among all devices of the process, for AuditRequest::written.
  std::uint64_t serial = next_serial();
  std::string path{};
  DeviceSpec spec{};
  DeviceConfig config{};
  std::shared_ptr<Hasher> hasher{};
  std::unique_ptr<DeviceWriter> writer{};

  static std::uint64_t next_serial() {
    static std::atomic<std::uint64_t> last{0};
    return ++last;
  }

  FormatOptions format() const {
    return FormatOptions{.hasher = config.log_raw ? nullptr : hasher.get(),
                         .hmac_accessor = config.hmac_accessor,
                         .elide_list_responses = config.elide_list_responses,
                         .prefix = config.prefix};
  }
};

namespace {

// Whether writes to this file device cannot block for long, so a request thread may do
// them itself: a regular file (or one still to be created) on a local filesystem. A
// FIFO, a device or a network filesystem (NFS, SMB, Ceph, FUSE...) can hang a write,
// so those stay with the writer thread and its timeout.
bool writes_are_local(const DeviceConfig& config) {
  if (config.sink != SinkKind::kFile || config.fsync == FsyncPolicy::kAlways) return false;
  struct stat st {};
  if (::stat(config.file_path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return false;
  const std::string dir = std::filesystem::path(config.file_path).parent_path().string();
  struct statfs fs {};
  if (::statfs(dir.empty() ? "/" : dir.c_str(), &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x6969UL:      // NFS
    case 0x517BUL:      // SMB
    case 0xFF534D42UL:  // CIFS
    case 0xFE534D42UL:  // SMB2
    case 0x00C36400UL:  // Ceph
    case 0x65735546UL:  // FUSE
    case 0x47504653UL:  // GPFS (and any other remote filesystem we know of)
      return false;
    default:
      return true;
  }
}

WriterOptions writer_options(const std::string& path, const DeviceConfig& config,
                             std::string chain_head) {
  WriterOptions options;
  options.direct_writes = writes_are_local(config);
  options.name = path;
  options.timeout = config.write_timeout;
  options.fsync = config.fsync;
  options.chain_head = std::move(chain_head);
  return options;
}

std::string canonical_file(const std::string& path) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : canonical.string();
}

void wipe_string(std::string& s) {
  if (!s.empty()) sdk::wipe(s.data(), s.size());
}

}  // namespace

Broker::Broker(BrokerOptions options) : options_(options) {
  if (options_.clock == nullptr) options_.clock = &sdk::SystemClock::instance();
  if (options_.random == nullptr) options_.random = &sdk::SystemRandom::instance();
}

Broker::~Broker() {
  close_all();
}

std::vector<std::shared_ptr<Broker::Device>> Broker::snapshot() const {
  std::vector<std::shared_ptr<Device>> out;
  std::shared_lock lock(devices_mu_);
  out.reserve(devices_.size());
  for (const auto& [path, device] : devices_) out.push_back(device);
  return out;
}

sdk::Result<void> Broker::save(const DeviceMap& devices) {
  if (view_ == nullptr) return {};
  json doc = {{"version", 1}, {"devices", json::object()}};
  for (const auto& [path, d] : devices) {
    doc["devices"][path] = {{"type", d->spec.type},
                            {"description", d->spec.description},
                            {"options", d->spec.options},
                            {"local", d->spec.local},
                            {"salt", std::string(d->hasher->salt().view())},
                            {"chain_head", d->writer->chain_head()}};
  }
  std::string text = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  for (auto& [path, entry] : doc["devices"].items()) {
    wipe_string(entry["salt"].get_ref<std::string&>());
  }
  auto put = view_->put(kConfigKey, text);
  wipe_string(text);
  if (!put) return sdk::error(put.error().with_context("saving the audit device table"));
  return {};
}

sdk::Result<void> Broker::load(sdk::Storage& config_view) {
  std::lock_guard control(control_mu_);
  if (view_ != nullptr || device_count_.load() > 0) {
    return sdk::error(Code::kFailedPrecondition, "the audit devices are already loaded");
  }
  auto raw = config_view.get(kConfigKey);
  if (!raw) return sdk::error(raw.error().with_context("reading the audit device table"));
  DeviceMap loaded;
  if (raw->has_value()) {
    json doc = json::parse(**raw, nullptr, /*allow_exceptions=*/false);
    wipe_string(**raw);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("devices") ||
        !doc["devices"].is_object()) {
      return sdk::error(Code::kDataLoss, "the audit device table does not parse");
    }
    for (auto& [path, entry] : doc["devices"].items()) {
      auto corrupt = [&](const std::string& why) {
        return sdk::error(Code::kDataLoss, "audit device " + path + ": " + why);
      };
      if (!entry.is_object() || !entry.contains("type") || !entry["type"].is_string() ||
          !entry.contains("salt") || !entry["salt"].is_string()) {
        return corrupt("the stored entry is incomplete");
      }
      auto d = std::make_shared<Device>();
      d->path = path;
      d->spec.path = path;
      d->spec.type = entry["type"].get<std::string>();
      if (entry.contains("description") && entry["description"].is_string()) {
        d->spec.description = entry["description"].get<std::string>();
      }
      if (entry.contains("local") && entry["local"].is_boolean()) {
        d->spec.local = entry["local"].get<bool>();
      }
      auto opts = options_from_json(entry.contains("options") ? entry["options"] : json());
      if (!opts) return corrupt(opts.error().message());
      d->spec.options = std::move(*opts);
      auto config = parse_device_config(d->spec.type, d->spec.options);
      if (!config) return corrupt(config.error().message());
      d->config = std::move(*config);
      auto& salt_text = entry["salt"].get_ref<std::string&>();
      auto hasher = Hasher::create(sdk::SecureBuffer::copy_of(std::string_view(salt_text)));
      wipe_string(salt_text);
      if (!hasher) return corrupt(hasher.error().message());
      d->hasher = std::move(*hasher);
      std::string head;
      if (entry.contains("chain_head") && entry["chain_head"].is_string()) {
        head = entry["chain_head"].get<std::string>();
        if (!head.empty() && !is_chain_hash(head)) return corrupt("bad chain head");
      }
      auto writer = DeviceWriter::start(writer_options(path, d->config, head),
                                        make_sink(d->config, options_.stdout_fd),
                                        /*require_open=*/false);
      if (!writer) return sdk::error(writer.error());
      d->writer = std::move(*writer);
      loaded[path] = std::move(d);
    }
  }
  {
    std::unique_lock lock(devices_mu_);
    devices_ = std::move(loaded);
    device_count_.store(devices_.size(), std::memory_order_release);
  }
  view_ = &config_view;
  if (device_count_.load() > 0) {
    sdk::log_info("audit", "restored " + std::to_string(device_count_.load()) + " audit device(s)");
  }
  return {};
}

sdk::Result<void> Broker::enable(DeviceSpec spec) {
  auto path = normalize_device_path(spec.path);
  if (!path) return sdk::error(path.error());
  auto config = parse_device_config(spec.type, spec.options);
  if (!config) return sdk::error(config.error());

  std::lock_guard control(control_mu_);
  DeviceMap next;
  {
    std::shared_lock lock(devices_mu_);
    next = devices_;
  }
  if (next.contains(*path)) return sdk::invalid_argument("path already in use");
  if (config->sink == SinkKind::kFile) {
    const std::string mine = canonical_file(config->file_path);
    for (const auto& [other, d] : next) {
      if (d->config.sink == SinkKind::kFile && canonical_file(d->config.file_path) == mine) {
        return sdk::invalid_argument("file " + config->file_path +
                                     " is already written by audit device " + other);
      }
    }
  }
  auto salt = new_salt(*options_.random);
  if (!salt) return sdk::error(salt.error());
  auto hasher = Hasher::create(std::move(*salt));
  if (!hasher) return sdk::error(hasher.error());

  auto d = std::make_shared<Device>();
  d->path = *path;
  spec.path = *path;
  d->spec = std::move(spec);
  d->config = std::move(*config);
  d->hasher = std::move(*hasher);
  auto writer = DeviceWriter::start(writer_options(d->path, d->config, ""),
                                    make_sink(d->config, options_.stdout_fd),
                                    /*require_open=*/true);
  if (!writer) {
    return sdk::error(writer.error().with_context("enabling audit device " + d->path));
  }
  d->writer = std::move(*writer);
  next[d->path] = d;
  if (auto saved = save(next); !saved) {
    d->writer->stop();
    return saved;
  }
  {
    std::unique_lock lock(devices_mu_);
    devices_ = std::move(next);
    device_count_.store(devices_.size(), std::memory_order_release);
  }
  sdk::log_info("audit", "enabled audit device " + d->path + " of type " + d->spec.type);
  return {};
}

sdk::Result<void> Broker::disable(std::string_view path) {
  auto norm = normalize_device_path(path);
  if (!norm) return sdk::error(norm.error());
  std::lock_guard control(control_mu_);
  DeviceMap next;
  {
    std::shared_lock lock(devices_mu_);
    next = devices_;
  }
  auto it = next.find(*norm);
  if (it == next.end()) return {};
  std::shared_ptr<Device> gone = it->second;
  next.erase(it);
  LEASEFS_TRY(save(next));
  {
    std::unique_lock lock(devices_mu_);
    devices_ = std::move(next);
    device_count_.store(devices_.size(), std::memory_order_release);
  }
  gone->writer->stop();
  sdk::log_info("audit", "disabled audit device " + gone->path);
  return {};
}

json Broker::list() const {
  json out = json::object();
  std::shared_lock lock(devices_mu_);
  for (const auto& [path, d] : devices_) {
    out[path] = {{"type", d->spec.type},
                 {"description", d->spec.description},
                 {"options", d->spec.options},
                 {"local", d->spec.local},
                 {"path", path}};
  }
  return out;
}

template <class Format>
sdk::Result<void> Broker::dispatch(std::string_view what, Format&& format) {
  if (!has_devices()) return {};
  auto devices = snapshot();
  if (devices.empty()) return {};
  auto done = std::make_shared<Completion>(static_cast<int>(devices.size()));
  const auto now = steady_clock::now();
  SteadyTime wait_until = now;
  for (const auto& d : devices) {
    const SteadyTime deadline = now + d->writer->timeout();
    wait_until = std::max(wait_until, deadline);
    auto queued = d->writer->submit(format(*d), deadline, done);
    if (!queued) done->report(d->path, queued.error());
  }
  std::string why;
  if (done->wait(wait_until, why)) return {};
  // One line per second at most: when every device is down, every request fails.
  const std::int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(steady_clock::now().time_since_epoch())
          .count();
  std::int64_t last = last_failure_log_ns_.load();
  if (now_ns - last >= 1'000'000'000 &&
      last_failure_log_ns_.compare_exchange_strong(last, now_ns)) {
    const std::uint64_t suppressed = suppressed_failures_.exchange(0);
    sdk::log_error("audit", "no audit device recorded the " + std::string(what) + ": " + why +
                                (suppressed > 0 ? " (and " + std::to_string(suppressed) +
                                                      " more failed entries in the last second)"
                                                : ""));
  } else {
    ++suppressed_failures_;
  }
  return sdk::error(Code::kInternal,
                    "no audit device recorded the " + std::string(what) + " (" + why + ")");
}

sdk::Result<void> Broker::log_request(const AuditRequest& request, std::string_view error) {
  if (!has_devices()) return {};
  const std::string time = sdk::rfc3339(options_.clock->now());
  request.written.clear();
  return dispatch("request", [&](const Device& d) {
    RequestMembers& keep = request.written.emplace_back(d.serial, RequestMembers{}).second;
    return std::vector<std::string>{format_request_entry(request, error, time, d.format(), &keep)};
  });
}

sdk::Result<void> Broker::log_response(const AuditRequest& request, const AuditResponse& response) {
  if (!has_devices()) return {};
  const std::string time = sdk::rfc3339(options_.clock->now());
  return dispatch("response", [&](const Device& d) {
    const RequestMembers* reuse = nullptr;
    for (const auto& [serial, members] : request.written) {
      if (serial == d.serial) reuse = &members;
    }
    return std::vector<std::string>{
        format_response_entry(request, response, time, d.format(), reuse)};
  });
}

Broker::DeferredRequest Broker::defer_request(std::string_view error) const {
  return DeferredRequest{.time = sdk::rfc3339(options_.clock->now()), .error = std::string(error)};
}

sdk::Result<void> Broker::log_exchange(const AuditRequest& request, const DeferredRequest& deferred,
                                       const AuditResponse& response) {
  if (!has_devices()) return {};
  const std::string time = sdk::rfc3339(options_.clock->now());
  return dispatch("request and its response", [&](const Device& d) {
    const FormatOptions format = d.format();
    RequestMembers members;
    std::vector<std::string> bodies;
    bodies.reserve(2);
    bodies.push_back(
        format_request_entry(request, deferred.error, deferred.time, format, &members));
    bodies.push_back(format_response_entry(request, response, time, format, &members));
    return bodies;
  });
}

sdk::Result<void> Broker::log_access_events(std::span<const AccessEvent> events,
                                            const AccessReporter& reporter) {
  if (events.size() > kMaxAccessEventsPerBatch) {
    return sdk::invalid_argument("at most " + std::to_string(kMaxAccessEventsPerBatch) +
                                 " access events per request");
  }
  for (const auto& e : events) LEASEFS_TRY(validate_access_event(e));
  if (events.empty() || !has_devices()) return {};
  const std::string time = sdk::rfc3339(options_.clock->now());
  return dispatch("access events", [&](const Device& d) {
    std::vector<std::string> bodies;
    bodies.reserve(events.size());
    const FormatOptions format = d.format();
    const std::string shared = access_entry_members(reporter, format);
    for (const auto& e : events) bodies.push_back(format_access_entry(e, time, format, shared));
    return bodies;
  });
}

sdk::Result<std::string> Broker::hash(std::string_view path, std::string_view input) const {
  auto norm = normalize_device_path(path);
  if (!norm) return sdk::error(norm.error());
  std::shared_ptr<Device> d;
  {
    std::shared_lock lock(devices_mu_);
    auto it = devices_.find(*norm);
    if (it == devices_.end())
      return sdk::invalid_argument("unknown audit device \"" + *norm + "\"");
    d = it->second;
  }
  return d->hasher->hmac(input);
}

sdk::Result<void> Broker::reopen() {
  std::lock_guard control(control_mu_);
  DeviceMap current;
  {
    std::shared_lock lock(devices_mu_);
    current = devices_;
  }
  std::string failures;
  for (const auto& [path, d] : current) {
    if (auto reopened = d->writer->reopen(); !reopened) {
      if (!failures.empty()) failures += "; ";
      failures += path + ": " + reopened.error().message();
    }
  }
  if (auto saved = save(current); !saved) {
    if (!failures.empty()) failures += "; ";
    failures += saved.error().message();
  }
  if (!failures.empty()) {
    sdk::log_error("audit", "reopening audit devices: " + failures);
    return sdk::error(Code::kUnavailable, "reopening audit devices: " + failures);
  }
  sdk::log_info("audit", "reopened " + std::to_string(current.size()) + " audit device(s)");
  return {};
}

void Broker::close_all() {
  std::lock_guard control(control_mu_);
  DeviceMap closing;
  {
    std::unique_lock lock(devices_mu_);
    closing.swap(devices_);
    device_count_.store(0, std::memory_order_release);
  }
  for (const auto& [path, d] : closing) d->writer->stop();
  if (!closing.empty()) {
    if (auto saved = save(closing); !saved) {
      sdk::log_error("audit", "saving audit chain heads: " + saved.error().message());
    }
  }
  view_ = nullptr;
}

std::map<std::string, std::string> Broker::chain_heads() const {
  std::map<std::string, std::string> out;
  std::shared_lock lock(devices_mu_);
  for (const auto& [path, d] : devices_) out[path] = d->writer->chain_head();
  return out;
}

}  // namespace leasefs::backend::audit
