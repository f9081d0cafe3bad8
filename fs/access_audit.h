// Access events: every open of a secret file, granted or refused, becomes an event
// posted to the server's sys/access-events in batches. While the server cannot be
// reached (or lacks the endpoint, as a real Vault does) events are appended to a spool
// file and sent later, oldest first; none is dropped silently. record() never blocks on
// the network, so a FUSE handler can call it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "backend/sdk/clock.h"
#include "fs/vault_client.h"

namespace leasefs::fs {

struct AccessEvent {
  sdk::WallTime time{};
  std::string file{};  // path inside the mount
  std::string path{};  // backend path
  std::string lease_id{};
  std::int64_t pid = -1;
  std::string exe{};
  std::int64_t uid = -1;
  std::int64_t gid = -1;
  std::string cgroup{};
  std::string result{};  // "allowed", "denied", "error"
  std::string error{};
};

class AccessAuditor {
 public:
  // `spool_file` is created (mode 0600) when first needed; its directory must exist or
  // be creatable. `host` and `mount` are stamped on every event.
  AccessAuditor(VaultClient& client, std::string spool_file, std::string host, std::string mount);
  ~AccessAuditor();

  void start();
  // Queues one event. Thread-safe; never blocks on the network.
  void record(AccessEvent event);
  // Sends what is queued (one bounded attempt), spools the rest, stops the thread.
  void stop();

  struct Counters {
    // rejected: events the server refused as malformed, or spool lines that were not
    // JSON, kept in the spool file's name + ".rejected".
    std::uint64_t recorded = 0, sent = 0, spooled = 0, pending = 0, rejected = 0;
    bool endpoint_missing = false;
  };
  Counters counters() const;

 private:
  // One event as a line of JSON (the spool's format and an element of a batch).
  std::string to_line(const AccessEvent& e) const;
  void loop();
  // Sends the spool file's events; true when it is empty afterwards.
  bool drain_spool();
  void spool(const std::deque<std::string>& events);
  // Sets events aside in <spool file>.rejected and logs why.
  void reject(const std::deque<std::string>& events, std::string_view why);
  // Posts `events`; true when the server took them, or refused some as malformed (those
  // are set aside with reject(), the others still sent).
  bool post(const std::deque<std::string>& events);

  VaultClient& client_;
  std::string spool_file_;
  std::string host_;
  std::string mount_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<AccessEvent> queue_;  // serialized on the auditor thread, not the handler's
  bool stopping_ = false;
  Counters counters_{};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::thread thread_;
};

}  // namespace leasefs::fs
