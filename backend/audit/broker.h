// The audit broker: the devices enabled at sys/audit, and the one place the core sends
// every request, response and FUSE access event to be recorded. leasefs keeps Vault's
// rule — a request fails (500) unless at least one enabled device recorded its entry;
// with no device enabled everything passes — but not Vault's failure mode: a device that
// blocks costs a request at most that device's write_timeout, and devices fail
// independently (writer.h).
//
// "Recorded" means: the device's writer handed the entry's line to the kernel — a
// write(2) to the file that returned, or a send(2) on the socket that returned — and,
// for a file device with fsync=always, fdatasync returned too; within the device's
// write_timeout. A log call returns as soon as ONE device recorded the entry; the
// others keep writing it in the background (or drop it when their timeout passes).
//
// For the core (the lead engineer's integration):
//   unseal:  broker.load(view)          the view is the barrier's "core/audit/" (or any
//                                       prefix); the broker keeps it until close_all()
//   request: if (broker.has_devices()) fill an AuditRequest; after the ACL check
//            (allowed or not) call log_request(req, error) BEFORE the engine runs; on
//            failure answer 500 without handling the request
//   response: log_response(req, resp) with the SAME AuditRequest; on failure answer 500
//   a refusal (nothing is handled): defer_request(error) in place of log_request, then
//            log_exchange(req, deferred, resp) for both entries; on failure answer 500
//   sys/audit (GET) -> list(); sys/audit/:path (POST/PUT) -> enable(); (DELETE) -> disable()
//   sys/audit-hash/:path {input} -> hash(path, input) -> {"hash": ...}
//   POST sys/access-events -> try_parse_access_events(text) (no JSON tree; the HTTP
//                             layer) or parse_access_event_list(body["events"]) then
//                             log_access_events(events, reporter); failure -> 500; the
//                             batch's own entries carry "event_count" (core.cc's
//                             audit_data_of)
//   SIGHUP -> reopen();  seal / shutdown -> close_all() (before the view goes away)
// Requests Vault never audits (sys/init, seal-status, seal, unseal, leader, health)
// are the core's to skip.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "backend/audit/device_config.h"
#include "backend/audit/entry.h"
#include "backend/audit/hasher.h"
#include "backend/audit/writer.h"
#include "backend/sdk/clock.h"
#include "backend/sdk/random.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::audit {

struct BrokerOptions {
  const sdk::Clock* clock = nullptr;  // entry times; null = the system clock
  sdk::Random* random = nullptr;      // salts; null = the system generator
  int stdout_fd = STDOUT_FILENO;      // where stdout devices write
};

// What sys/audit/:path receives.
struct DeviceSpec {
  std::string path{};  // "file" or "file/"
  std::string type{};  // "file", "socket", "stdout"
  std::string description{};
  std::map<std::string, std::string> options{};  // device_config.h; options_from_json()
  bool local = false;
};

// The key under the config view where the broker keeps its document:
//   {"version":1,"devices":{"<path>/":{"type","description","options","local",
//                                      "salt","chain_head"}}}
// It holds the salts, so the view must be behind the barrier.
inline constexpr std::string_view kConfigKey = "config";

class Broker {
 public:
  explicit Broker(BrokerOptions options = {});
  // Closes every device (close_all()).
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Restores the devices saved under `config_view` (with their salts and chain heads)
  // and keeps the view to save later changes, until close_all(). A device whose
  // destination cannot be opened now is restored anyway and retried before each write;
  // until it works its entries fail (so with no other device, requests fail: closed).
  // Without load(), devices live in memory only (tests, benchmarks).
  // Errors: kFailedPrecondition when already loaded; kDataLoss for a document that does
  // not parse; storage errors as they come.
  sdk::Result<void> load(sdk::Storage& config_view);

  // Enables a device: checks the options, opens the destination (bounded by its
  // write_timeout: a socket must accept a connection), draws a new salt and saves the
  // config. Errors: kInvalidArgument (path in use, bad options, a file already used by
  // another device), kUnimplemented (syslog, jsonx), the open's error.
  sdk::Result<void> enable(DeviceSpec spec);
  // Disables a device: saves the config without it, then writes what is queued and
  // closes it. Its salt is gone for good (as in Vault). Disabling a path that is not
  // enabled succeeds.
  sdk::Result<void> disable(std::string_view path);

  // sys/audit's data: {"file/": {"type","description","options","local","path"}}.
  nlohmann::json list() const;
  // True when at least one device is enabled; lets the core skip building entries.
  bool has_devices() const { return device_count_.load(std::memory_order_acquire) > 0; }

  // Records a request entry (before the request is handled). `error` is the error the
  // request already met, e.g. "permission denied". Returns kInternal, naming each
  // device's failure, unless a device recorded it or no device is enabled. Never waits
  // longer than the largest write_timeout of the devices. Thread-safe.
  sdk::Result<void> log_request(const AuditRequest& request, std::string_view error = {});
  // Records the response entry for `request` (pass the same AuditRequest). As above.
  sdk::Result<void> log_response(const AuditRequest& request, const AuditResponse& response);

  // A request entry whose writing waits for the response, for a request that is refused
  // (the ACL said no, so nothing is handled): the two entries go out together, as
  // consecutive lines in one write per device. What a client sees is unchanged — no
  // answer unless a device recorded both, a 500 otherwise — and the log holds the same
  // two entries. That saves a refusal its second write(2). A request that is handled
  // keeps log_request before it runs.
  struct DeferredRequest {
    std::string time{};   // when the request arrived (RFC 3339), the request entry's time
    std::string error{};  // as log_request's `error`
  };
  // Stamps the request's time now (the broker's clock).
  DeferredRequest defer_request(std::string_view error = {}) const;
  // Records `request`'s request entry (as deferred) and then its response entry, on the
  // devices enabled now. As log_request otherwise. Thread-safe.
  sdk::Result<void> log_exchange(const AuditRequest& request, const DeferredRequest& deferred,
                                 const AuditResponse& response);
  // Records one "access" entry per event, written consecutively on each device; succeeds
  // when a device recorded all of them. kInvalidArgument for more than
  // kMaxAccessEventsPerBatch events or oversized fields. As above otherwise.
  sdk::Result<void> log_access_events(std::span<const AccessEvent> events,
                                      const AccessReporter& reporter);

  // sys/audit-hash: "hmac-sha256:<hex>" of `input` with the device's salt (also for
  // log_raw devices). kInvalidArgument for an unknown device. Thread-safe.
  sdk::Result<std::string> hash(std::string_view path, std::string_view input) const;

  // SIGHUP: every device closes and reopens its destination (a file by its path, so a
  // rotated log continues in a new file whose first entry links to the last entry of
  // the old one), then the chain heads are saved. Each device is bounded by its
  // write_timeout. Returns an error naming the devices that failed (the others
  // reopened). Thread-safe.
  sdk::Result<void> reopen();

  // Writes what is queued (bounded), closes every device, saves their chain heads and
  // forgets the config view. The broker can be load()ed again afterwards. Thread-safe.
  void close_all();

  // The hash of the last entry each device wrote, by device path (what an operator
  // compares with `leasefs audit verify`'s last hash to see that nothing was cut off).
  std::map<std::string, std::string> chain_heads() const;

 private:
  struct Device;
  using DeviceMap = std::map<std::string, std::shared_ptr<Device>>;

  sdk::Result<void> save(const DeviceMap& devices);
  template <class Format>
  sdk::Result<void> dispatch(std::string_view what, Format&& format);
  std::vector<std::shared_ptr<Device>> snapshot() const;

  BrokerOptions options_;
  std::mutex control_mu_;         // load, enable, disable, reopen, close_all: one at a time
  sdk::Storage* view_ = nullptr;  // control_mu_
  mutable std::shared_mutex devices_mu_;
  DeviceMap devices_;  // devices_mu_ (changed only under control_mu_ too)
  std::atomic<std::size_t> device_count_{0};
  std::atomic<std::int64_t> last_failure_log_ns_{0};
  std::atomic<std::uint64_t> suppressed_failures_{0};
};

}  // namespace leasefs::backend::audit
