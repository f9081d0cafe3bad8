// Secrets behind the files, and the lifetime of their leases. Files with the same
// (secret, method, args) share one response and one lease (shared files) or get one
// response per open (per-open files). The keeper thread renews a lease at about 2/3 of
// its TTL while it is in use, and at expiry or revocation wipes the bytes and reports
// the end through the listener — always from the keeper thread, never from a FUSE
// handler, so the listener may invalidate kernel caches. Tested without a mount.
//
// Locking: mu_ guards slots_, live_ and every record's mutable lease fields; a
// Content's own mutex guards its bytes. Order: mu_ before Content::mu. The client is
// never called with mu_ held.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/sdk/clock.h"
#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"
#include "fs/config.h"
#include "fs/vault_client.h"

namespace leasefs::fs {

// The bytes one file shows for one lease. Wiped (and marked gone) when the lease ends.
class Content {
 public:
  explicit Content(sdk::SecureBuffer bytes) : bytes_(std::move(bytes)) {}
  // Copies up to `size` bytes from `offset` into `out`; false once the content is gone.
  bool read(std::size_t offset, std::size_t size, std::string& out) const;
  std::size_t size() const;
  // Calls `f` with the bytes under a shared lock (they cannot be wiped meanwhile);
  // false, without calling it, once the content is gone.
  template <class F>
  bool with_bytes(F&& f) const {
    std::shared_lock lock(mu_);
    if (gone_) return false;
    f(bytes_.view());
    return true;
  }
  bool gone() const;
  void wipe();

 private:
  mutable std::shared_mutex mu_;
  sdk::SecureBuffer bytes_;
  bool gone_ = false;
};

// One backend response and its lease.
struct LeaseRecord {
  std::uint64_t serial = 0;  // local, unique per mount
  std::string source{};      // backend path
  std::string source_key{};
  bool per_open = false;
  std::string lease_id{};  // the server's, "" for static secrets and tokens
  std::string accessor{};  // for token leases
  sdk::SecureBuffer auth_token{};
  std::map<std::size_t, std::shared_ptr<Content>> contents{};  // file index -> bytes
  std::map<std::size_t, sdk::Status> render_errors{};
  // Guarded by SecretSource::mu_:
  std::chrono::seconds ttl{0};
  bool renewable = false;
  std::chrono::steady_clock::time_point issued{};
  std::chrono::steady_clock::time_point expires{};
  sdk::WallTime expires_wall{};
  std::chrono::steady_clock::time_point next_renew{};  // max(): no renewal planned
  std::chrono::steady_clock::time_point last_open{};
  std::chrono::steady_clock::time_point next_check{};  // revocation lookup; max(): none
  int open_handles = 0;
  bool ended = false;
  bool revoke_wanted = false;
  // The id shown to operators: lease_id, or "auth/token/accessor/<accessor>"; "" when
  // the secret has no lease (KV).
  std::string display_id() const;
};

// What an open got.
struct Opened {
  std::shared_ptr<LeaseRecord> record{};
  std::shared_ptr<Content> content{};
  bool fresh = false;  // this open fetched a new response (other files' sizes changed)
};

// A copy of a record's lease fields, for xattrs, .leasefs/ and tests.
struct LeaseView {
  std::uint64_t serial = 0;
  std::string lease_id{};  // display_id()
  std::string source{};
  bool per_open = false;
  std::int64_t ttl_left = 0;  // seconds
  std::chrono::seconds ttl{0};
  bool renewable = false;
  sdk::WallTime expires{};
  std::vector<std::size_t> files{};
};

class SecretSource {
 public:
  struct Listener {
    // A lease ended (expired, revoked, released): its files' kernel caches should go.
    // Called on the keeper thread only.
    std::function<void(const LeaseView&)> on_end{};
  };

  SecretSource(const MountConfig& config, VaultClient& client, const sdk::Clock& clock,
               Listener listener);
  ~SecretSource();

  // Starts the keeper thread.
  void start();

  // Gets the content of file `index` for one open: the shared lease's when it is live,
  // else a new fetch (one in flight per source; others wait for it). Per-open files
  // always fetch. Blocks at most about the client's timeout. Errors: the client's
  // (unavailable/deadline when the server is down) or a render error.
  // `identity` makes the caller's headers; it is called only when a request is sent.
  sdk::Result<Opened> open(std::size_t index, const std::function<Headers()>& identity);
  // The handle of `opened` closed; per-open leases end (and are revoked) here.
  void release(const Opened& opened);

  // The live shared lease of file `index`, if any (no server call).
  std::optional<LeaseView> shared_view(std::size_t index) const;
  std::size_t cached_size(std::size_t index) const;
  std::vector<LeaseView> live() const;
  std::optional<LeaseView> find(std::uint64_t serial) const;

  // Stops the keeper; with `revoke`, revokes every live lease first (bounded by the
  // client's timeout each). Wipes everything. Idempotent.
  void shutdown(bool revoke);

  struct Counters {
    std::uint64_t fetches = 0, fetch_errors = 0, renewals = 0, renewal_errors = 0, expired = 0,
                  revoked = 0, revoked_on_server = 0;
  };
  Counters counters() const;

 private:
  struct Slot {
    std::shared_ptr<LeaseRecord> current{};
    std::shared_future<sdk::Result<std::shared_ptr<LeaseRecord>>> inflight{};
    bool fetching = false;
  };
  sdk::Result<std::shared_ptr<LeaseRecord>> fetch_record(std::size_t index, bool per_open,
                                                         const std::function<Headers()>& identity);
  bool usable(const LeaseRecord& r, std::chrono::steady_clock::time_point now) const;
  LeaseView view_locked(const LeaseRecord& r) const;
  // By value: `r` may be the very pointer in the slot, which this resets.
  void end_locked(std::shared_ptr<LeaseRecord> r, bool revoke);
  void keeper_loop();
  void renew(const std::shared_ptr<LeaseRecord>& r);
  void check_revoked(const std::shared_ptr<LeaseRecord>& r);

  const MountConfig& config_;
  std::vector<std::string> keys_;  // config file index -> source_key()
  VaultClient& client_;
  const sdk::Clock& clock_;
  Listener listener_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Slot> slots_;
  std::map<std::uint64_t, std::shared_ptr<LeaseRecord>> live_;
  std::deque<std::shared_ptr<LeaseRecord>> ended_;  // to revoke / report on the keeper thread
  std::uint64_t next_serial_ = 1;
  bool stopping_ = false;
  Counters counters_{};
  std::thread keeper_;
};

}  // namespace leasefs::fs
