// The expiration manager: every lease the server hands out — dynamic secrets, and
// tokens that carry a TTL — is written here before the client sees it, and revoked
// here when it expires, when it is revoked, or when its token goes (DESIGN.md
// "Leases"; reference/vault-api.md section 5). Why it is shaped this way:
// - Memory: only what the timer needs stays in memory — the lease id, its next due
//   time and a few state bits (under 200 bytes a lease at a million; Vault ~3 KB). The
//   record (engine data, times, errors) is read from storage when a lease is renewed,
//   revoked or looked up.
// - Restore: after unseal, leases are loaded in the background by a streaming scan
//   (list_page) feeding several loader threads; a lease that a request touches before
//   the scan reaches it is loaded on demand. The server answers at once, however many
//   leases are stored.
// - Revocation: due leases go to a bounded queue that a small pool of workers serves;
//   their storage deletes are batched so a storm of expiries costs few commits. A
//   failure retries with exponential backoff and jitter, then leaves the lease
//   irrevocable (kept, listed, no timer) until revoke-force.
// - Exactly once: a lease is owned by one thread at a time (a state in the index);
//   whoever owns it calls the engine, and a successful revocation deletes the record
//   before anyone else may own it. So an expiry racing an explicit revoke, a restore
//   racing a revoke, or a prefix revoke racing both, call the engine once.
//
// Locking: one mutex (mu_) guards the in-memory index (map, heap, queue, sets). It is
// never held across storage I/O or a callback, so callbacks may call back into the
// manager (a token lease's revocation revokes the token tree, whose hook calls
// revoke_by_token). A thread that finds a lease owned by another waits on busy_cv_,
// for at most options.busy_timeout. Lock order: threads_mu_ (start, stop, tidy
// thread) before mu_.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/lease/expiry_heap.h"
#include "backend/lease/lease_record.h"
#include "backend/sdk/clock.h"
#include "backend/sdk/random.h"
#include "backend/sdk/request.h"
#include "backend/sdk/response.h"
#include "backend/sdk/status.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::lease {

// What the core supplies. Each is called without any manager lock held, from worker
// threads or from the thread of a public call, and may call back into the manager.
// Each must be bounded in time (the core puts its request deadline on engine calls):
// stop() waits for the calls in flight.
struct ExpirationCallbacks {
  // Destroys a secret lease's secret: the core routes `record.mount` to the engine's
  // Backend::revoke_secret with record.lease_info(). Must succeed when the secret is
  // already gone. Errors: kInvalidArgument, kUnsupported and kUnimplemented are taken
  // as unrecoverable (the lease becomes irrevocable at once); others are retried.
  std::function<sdk::Result<void>(const LeaseRecord&)> revoke_secret{};
  // Extends a secret lease at its engine (Backend::renew_secret with
  // record.lease_info(increment)); returns the engine's response, whose `secret`
  // carries the new ttl, max_ttl and renewable (no `secret`: the defaults apply).
  std::function<sdk::Result<sdk::Response>(const LeaseRecord&, sdk::Duration)> renew_secret{};
  // Revokes the token whose token lease expired or was revoked: the core calls
  // TokenStore::revoke_tree(record.token_hash). Revoking a missing token succeeds.
  std::function<sdk::Result<void>(const LeaseRecord&)> revoke_token{};
  // Optional: revokes the tokens of several expired token leases at once (the core:
  // TokenStore::revoke_trees, one storage commit for the batch). One status per record,
  // in order. Without it the workers call revoke_token once per lease; with it an
  // expiry storm of tokens costs a commit per batch instead of one per token.
  std::function<std::vector<sdk::Status>(std::span<const LeaseRecord* const>)> revoke_tokens{};
};

struct ExpirationOptions {
  // Run the timer thread, the revocation workers and the restore in the background.
  // Off (tests): nothing runs by itself; call restore(), process_due(),
  // run_until_idle().
  bool background = true;
  std::size_t revoke_workers = 8;
  // Leases a worker takes from the queue at once; their deletes share one commit.
  std::size_t revoke_batch = 64;
  std::size_t restore_threads = 4;
  std::size_t restore_page = 1000;  // names per list_page call
  // Retry n (n = 1, 2, ...) of a failed revocation waits (1 << n) * base, +-50%.
  sdk::Duration revoke_retry_base = std::chrono::seconds(10);
  // Failed revocations after which a lease becomes irrevocable.
  int max_revoke_attempts = 6;
  // The system-wide max lease TTL; mount limits above it are cut to it.
  sdk::Duration system_max_ttl = sdk::kSystemMaxLeaseTtl;
  // Longest the timer thread sleeps before looking at the clock again (a ManualClock
  // that moves is noticed within this; notify_clock_changed() is immediate).
  std::chrono::milliseconds max_timer_wait{1000};
  // Longest a call waits for a lease that another thread is renewing or revoking.
  std::chrono::milliseconds busy_timeout{30000};
  // Pause before a failed background restore is tried again.
  std::chrono::milliseconds restore_retry{5000};
};

// Asks for a lease on a secret an engine returned.
struct RegisterSecret {
  std::string path{};         // API request path: "database/creds/readonly"
  std::string mount{};        // API path of the mount that served it: "database/"
  std::string token_hash{};   // TokenStore::hash of the caller's token (required)
  sdk::SecretInfo secret{};   // type, internal, wanted ttl, role max_ttl, renewable
  sdk::MountLimits limits{};  // the mount's effective TTL limits
};

// Registers (or, when it exists, updates) the lease of a token with a TTL.
struct RegisterToken {
  std::string token_hash{};     // TokenEntry::id_hash
  std::string path{};           // TokenEntry::path: "auth/token/create"
  std::string mount{};          // the auth mount: "auth/token/"
  sdk::WallTime issue_time{};   // TokenEntry::creation_time (kept on updates)
  sdk::WallTime expire_time{};  // TokenEntry::expire_time()
  bool renewable = true;
};

struct Registered {
  std::string lease_id{};
  sdk::Duration ttl{0};  // granted, from now
  bool renewable = false;
  sdk::WallTime expire_time{};
  std::vector<std::string> warnings{};  // Vault's TTL-capping warning, if capped
};

struct Renewed {
  std::string lease_id{};
  sdk::Duration ttl{0};
  bool renewable = false;
  nlohmann::json data{};  // the engine's renew response data (usually null)
  std::vector<std::string> warnings{};
};

// What sys/leases/lookup shows (no engine data).
struct LeaseDetails {
  std::string id{};
  std::string path{};
  std::string mount{};
  LeaseKind kind = LeaseKind::kSecret;
  sdk::WallTime issue_time{};
  sdk::WallTime expire_time{};
  std::optional<sdk::WallTime> last_renewal{};
  bool renewable = false;  // renewable now: false once expired or irrevocable
  sdk::Duration ttl{0};    // left until expiry; 0 once past
  bool irrevocable = false;
  std::string revoke_error{};
};

enum class RevokeMode {
  kAsync,  // queue it and return (Vault's default)
  kSync,   // revoke now and report the engine's error
};

struct IrrevocableLease {
  std::string lease_id{};
  std::string mount{};
  std::string error{};
  sdk::WallTime expire_time{};
};

struct IrrevocableList {
  std::vector<IrrevocableLease> leases{};  // by expire time, then id
  std::size_t total = 0;                   // irrevocable leases in all
  std::string warning{};                   // set when `limit` cut the list
};

// sys/leases/count?type=irrevocable.
struct LeaseCount {
  std::uint64_t lease_count = 0;
  std::map<std::string, std::uint64_t> counts{};  // by mount API path
};

struct TidyReport {
  std::uint64_t scanned = 0;
  std::uint64_t revoked = 0;                // leases whose token is gone
  std::uint64_t index_entries_removed = 0;  // token index entries of missing leases
  std::uint64_t errors = 0;
  std::vector<std::string> error_samples{};  // the first few errors
};

enum class RestoreState { kIdle, kRunning, kDone, kFailed };
std::string_view restore_state_name(RestoreState state);

struct RestoreProgress {
  RestoreState state = RestoreState::kIdle;
  std::uint64_t listed = 0;  // lease ids the scan has seen
  std::uint64_t loaded = 0;  // leases it put in memory (others were there already)
  std::uint64_t errors = 0;  // records that could not be read (left in storage)
  sdk::Duration elapsed{0};  // since the restore started (until done)
  std::string last_error{};
};

// A snapshot for metrics (the core renders it as Prometheus text).
struct ExpirationMetrics {
  std::uint64_t active_leases = 0;       // gauge: in memory and not irrevocable
  std::uint64_t irrevocable_leases = 0;  // gauge
  std::uint64_t queued_revocations = 0;  // gauge: due, waiting for a worker
  std::uint64_t registered_total = 0;    // counters from here on (process lifetime)
  std::uint64_t renewed_total = 0;
  std::uint64_t revoked_total = 0;          // leases removed after revocation
  std::uint64_t revoke_failures_total = 0;  // failed revocation attempts
  std::uint64_t force_revoked_total = 0;    // removed by revoke-force or tidy
  RestoreProgress restore{};
};

class ExpirationManager {
 public:
  // `storage` is the manager's view (e.g. "sys/expire/" behind the barrier); it,
  // `clock` and `random` must outlive the manager. Starts stopped.
  ExpirationManager(sdk::Storage& storage, const sdk::Clock& clock, sdk::Random& random,
                    ExpirationCallbacks callbacks, ExpirationOptions options = {});
  // Stops (see stop()).
  ~ExpirationManager();
  ExpirationManager(const ExpirationManager&) = delete;
  ExpirationManager& operator=(const ExpirationManager&) = delete;

  // --- lifecycle: start() after unseal (storage readable), stop() before seal ---

  // Begins serving: in the background mode starts the timer, the workers and the
  // restore of stored leases; otherwise waits for restore(). Calls work at once (leases
  // not restored yet are loaded on demand). failed_precondition if already started.
  // Thread-safe.
  sdk::Result<void> start();
  // Stops the timer, workers, restore and tidy (each finishes at most the callback it
  // is in), wakes waiting callers (they fail with kSealed) and wipes all in-memory
  // state. Stored leases are untouched: the next start() restores them. Idempotent.
  // Must not be called from a callback. Thread-safe.
  void stop();
  bool running() const;

  // --- the request path ---

  // Grants a lease: TTL clamped to the role, mount and system max (with Vault's
  // warning), lease id = path + "/" + 24 base62 characters, record and token index
  // persisted before it returns. Errors: invalid_argument (bad path or token hash),
  // kSealed (stopped), the storage's error — in which case the secret has already been
  // handed to revoke_secret (best effort) and the core must not return it.
  // Thread-safe.
  sdk::Result<Registered> register_secret(const RegisterSecret& request);
  // Registers a token's expiry (lease id = path + "/" + token hash), or moves it when
  // the token was renewed. Persisted before it returns. When it expires,
  // revoke_token is called. Errors as register_secret (nothing is revoked on failure).
  // Thread-safe.
  sdk::Result<Registered> register_token(const RegisterToken& request);

  // Renews a secret lease: the engine's renew (through renew_secret), then a TTL of
  // `increment` (0: the engine's or mount's default) counted from now, capped at the
  // lease's max. `limits` are the mount's current limits. Errors (invalid_argument):
  // "lease not found", "lease expired", "lease is not renewable", "past the max TTL,
  // cannot renew", "tokens cannot be renewed through this endpoint", "lease is expired
  // and has failed previous revocation attempts"; the engine's error as is; kUnavailable
  // when another call held the lease for busy_timeout. Thread-safe.
  sdk::Result<Renewed> renew(std::string_view lease_id, sdk::Duration increment,
                             const sdk::MountLimits& limits);

  // Revokes one lease. kAsync queues it (persisting "expire now") and returns;
  // kSync calls the engine now and returns its error (the lease then stays as it was).
  // A lease that does not exist, or is already being revoked, succeeds (kSync waits for
  // a revocation in flight). invalid_argument for a malformed id. Thread-safe.
  sdk::Result<void> revoke(std::string_view lease_id, RevokeMode mode = RevokeMode::kAsync);
  // Revokes every lease under `prefix` (a lease id without a trailing '/' that exists is
  // revoked alone; otherwise "/" is implied). kAsync queues them; kSync revokes them in
  // this thread and stops at the first error. Returns how many leases it handled.
  // invalid_argument for an empty or malformed prefix. Thread-safe.
  sdk::Result<std::size_t> revoke_prefix(std::string_view prefix,
                                         RevokeMode mode = RevokeMode::kAsync);
  // Like revoke_prefix(kSync) but an engine error does not stop it: the lease is
  // removed anyway (credentials may be left behind). Clears irrevocable leases.
  // Thread-safe.
  sdk::Result<std::size_t> revoke_force(std::string_view prefix);
  // Revokes the leases a token owns and drops the token's own lease without calling
  // revoke_token — for the TokenStore revoke hook (use kAsync there, as Vault does).
  // kSync revokes the secret leases in this thread, skipping any another thread is
  // already revoking. Returns how many leases it handled. Thread-safe; may be called
  // from inside revoke_token.
  sdk::Result<std::size_t> revoke_by_token(std::string_view token_hash,
                                           RevokeMode mode = RevokeMode::kAsync);

  // --- sys/leases queries ---

  // The lease's details; invalid_argument "invalid lease" (Vault's 400) if there is
  // none. Thread-safe.
  sdk::Result<LeaseDetails> lookup(std::string_view lease_id);
  // One-level names under `prefix` ("" or a folder; a missing trailing '/' is
  // implied): lease id tails and sub-folders ending in '/'. Thread-safe.
  sdk::Result<std::vector<std::string>> list(std::string_view prefix);
  // The same, a page at a time: at most `limit` names after `after`.
  sdk::Result<std::vector<std::string>> list_page(std::string_view prefix, std::string_view after,
                                                  std::size_t limit);
  // Irrevocable leases with their errors, at most `limit` (0 = all; Vault's API default
  // is 10,000 unless "limit=none"). Thread-safe.
  sdk::Result<IrrevocableList> list_irrevocable(std::size_t limit);
  // Irrevocable leases, counted by mount. Thread-safe.
  sdk::Result<LeaseCount> count_irrevocable();
  // Leases known (loaded) in memory, irrevocable included. Thread-safe.
  std::uint64_t count() const;

  // Removes leases whose owning token no longer exists (`token_exists` answers for a
  // token hash; its errors are counted and the lease kept), revoking them at their
  // engine with errors ignored, and token index entries that point at no lease. Runs
  // in this thread; invalid while stopped (kSealed). Thread-safe; one tidy at a time
  // (a second gets kConflict).
  using TokenExists = std::function<sdk::Result<bool>(std::string_view token_hash)>;
  sdk::Result<TidyReport> tidy(const TokenExists& token_exists);
  // The same in a background thread (joined by stop()); false if one is running.
  bool start_tidy(TokenExists token_exists);

  // --- restore ---

  // Loads every stored lease into memory (in this thread). For background=false; with
  // background=true start() has already started one. Errors: the storage's.
  sdk::Result<void> restore();
  // Waits until the restore is done (true) or `timeout` passed (false). Thread-safe.
  bool wait_restored(std::chrono::milliseconds timeout) const;

  // --- driving the timer by hand (tests, background=false) ---

  // Queues every lease whose due time has come; returns how many. Thread-safe.
  std::size_t process_due();
  // process_due() and revoke what is queued in this thread, until nothing is due or
  // queued; returns the revocation attempts made. Thread-safe (meant for
  // background=false).
  std::size_t run_until_idle();
  // Waits until nothing is due, queued or being revoked by a worker (true), or
  // `timeout` passed (false). Thread-safe.
  bool wait_until_idle(std::chrono::milliseconds timeout) const;
  // Wakes the timer thread to look at the clock now (after moving a ManualClock).
  void notify_clock_changed();

  ExpirationMetrics metrics() const;

 private:
  // A lease in memory is in one state. kScheduled: in the heap until due_ns. kQueued:
  // due, its id in queue_ for a worker. kRevoking / kUpdating: owned by one thread
  // (revoking it; renewing it or rewriting its record), which alone moves it on.
  // kIrrevocable: out of retries, no timer, listed in irrevocable_.
  enum class State : std::uint8_t { kScheduled, kQueued, kRevoking, kUpdating, kIrrevocable };
  enum Flag : std::uint8_t {
    kFlagToken = 1,            // a token lease
    kFlagEngineRevoked = 2,    // revoked at the engine, but the delete failed
    kFlagRevokeRequested = 4,  // an async revoke came while it was being updated
  };
  // One lease in memory: 16 bytes next to its id.
  struct Entry {
    std::int64_t due_ns = 0;  // scheduled: when the timer acts; irrevocable: expiry
    std::uint32_t heap_pos = kNotInHeap;
    State state = State::kScheduled;
    std::uint8_t attempts = 0;
    std::uint8_t flags = 0;
  };
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using Map = std::unordered_map<std::string, Entry, IdHash, std::equal_to<>>;
  using Node = Map::value_type;
  struct HeapTraits {
    static std::int64_t due(const Node* n) { return n->second.due_ns; }
    static std::uint32_t& position(Node* n) { return n->second.heap_pos; }
  };

  // Who is revoking, which decides how a lease is claimed and how failures settle.
  enum class Actor {
    kWorker,     // expiry: only leases in kQueued; failures back off / irrevocable
    kExplicit,   // sync revoke and prefix: waits for owners; failures restore the lease
    kTokenSync,  // sync by-token: like kExplicit, but skips leases being revoked
    kForce,      // revoke-force: waits for owners; errors ignored
    kTidy,       // tidy: errors ignored; token leases dropped without a callback
    kTokenDrop,  // a token's own lease on revoke_by_token: no callback, never waits
  };
  struct Claim {
    std::string id;
    State prev = State::kScheduled;
    std::int64_t prev_due = 0;
    std::uint8_t flags = 0;
    std::uint8_t attempts = 0;
  };
  struct Done {
    std::string id;
    std::string token_hash;
  };
  struct BatchResult {
    std::size_t handled = 0;  // revoked (or removed) leases
    sdk::Status first_error{};
  };

  // stop() with threads_mu_ held.
  void shutdown();
  std::int64_t now_ns() const;
  sdk::MountLimits clamp_limits(const sdk::MountLimits& limits) const;
  sdk::Result<std::uint64_t> current_epoch() const;
  bool epoch_ok_locked(std::uint64_t epoch) const;

  sdk::Result<std::optional<LeaseRecord>> load_record(std::string_view id);
  // Loads `id` into memory if it exists in storage and is not loaded yet (only while
  // the restore is incomplete). Returns whether the lease exists.
  sdk::Result<bool> ensure_loaded(std::string_view id, std::uint64_t epoch);
  // Puts a stored lease into memory unless it is there or was deleted during the
  // restore. mu_ held.
  bool insert_loaded_locked(const LeaseSchedule& record);
  sdk::Result<std::optional<LeaseSchedule>> load_schedule(std::string_view id);
  void schedule_locked(Node* node, std::int64_t due_ns);
  void erase_locked(Map::iterator it);
  void wake_timer_if_earliest_locked(Node* node);

  // Claims `id` for `actor`; nullopt when it is gone or not to be claimed by it.
  sdk::Result<std::optional<Claim>> claim(std::string_view id, Actor actor, std::uint64_t epoch);
  // Claims for an update (renew, token re-register, revoke persisting): errors carry
  // the refusal ("lease expired" for one being revoked). nullopt when gone.
  sdk::Result<std::optional<Claim>> claim_for_update(std::string_view id, std::uint64_t epoch,
                                                     bool refuse_irrevocable);
  // Gives a claimed lease back in `state` (scheduled at `due_ns`).
  void release(const Claim& claim, std::uint64_t epoch, State state, std::int64_t due_ns,
               std::uint8_t attempts, std::uint8_t clear_flags = 0);

  BatchResult revoke_ids(std::span<const std::string> ids, Actor actor, std::uint64_t epoch);
  sdk::Status flush_deletes(std::vector<Done>& done, Actor actor, std::uint64_t epoch,
                            std::size_t& handled);
  void settle_failure(const Claim& claim, std::optional<LeaseRecord> record,
                      const sdk::Status& error, Actor actor, std::uint64_t epoch);
  sdk::Duration backoff(int attempt);
  // Marks a lease due now (async revoke without persisting). True if it exists.
  sdk::Result<bool> mark_due_now(std::string_view id, std::uint64_t epoch);
  sdk::Status call_revoke(const LeaseRecord& record, Actor actor);

  // Walks the lease ids under `folder` (a storage folder under "id/"), a page at a
  // time, calling `visit` with full lease ids; stops when it returns false.
  sdk::Result<void> walk_ids(
      std::string folder, const std::function<sdk::Result<bool>(std::vector<std::string>&)>& visit,
      std::uint64_t epoch);
  sdk::Result<std::string> normalize_prefix(std::string_view prefix, std::uint64_t epoch,
                                            bool& exact);

  void timer_loop(std::uint64_t epoch);
  void worker_loop(std::uint64_t epoch);
  void restore_loop(std::uint64_t epoch);
  sdk::Result<void> run_restore(std::uint64_t epoch, std::size_t threads);
  sdk::Result<void> load_page(std::vector<std::string>& ids, std::uint64_t epoch);
  std::size_t move_due_locked(std::size_t cap);
  std::size_t queue_cap() const;

  sdk::Storage& storage_;
  const sdk::Clock& clock_;
  sdk::Random& random_;
  ExpirationCallbacks callbacks_;
  ExpirationOptions options_;

  mutable std::mutex mu_;
  std::condition_variable timer_cv_;
  std::condition_variable work_cv_;
  mutable std::condition_variable busy_cv_;     // a claimed lease was released
  mutable std::condition_variable idle_cv_;     // a worker finished a batch
  mutable std::condition_variable restore_cv_;  // the restore finished
  // Guarded by mu_:
  bool running_ = false;
  std::uint64_t epoch_ = 0;  // bumped by start() and stop(); stale callers bail out
  Map map_;
  ExpiryHeap<Node, HeapTraits> heap_;
  std::deque<std::string> queue_;           // due lease ids waiting for a worker
  std::set<std::string_view> irrevocable_;  // views of map_ keys
  std::unordered_set<std::string, IdHash, std::equal_to<>> tombstones_;  // deleted while restoring
  bool restore_complete_ = false;
  std::size_t worker_busy_ = 0;  // batches being revoked by workers
  RestoreProgress progress_{};
  std::chrono::steady_clock::time_point restore_started_{};
  bool tidy_running_ = false;

  std::atomic<bool> stop_requested_{false};
  std::mutex threads_mu_;  // start/stop and the tidy thread
  std::vector<std::thread> threads_;
  std::thread tidy_thread_;

  std::atomic<std::uint64_t> registered_total_{0};
  std::atomic<std::uint64_t> renewed_total_{0};
  std::atomic<std::uint64_t> revoked_total_{0};
  std::atomic<std::uint64_t> revoke_failures_total_{0};
  std::atomic<std::uint64_t> force_revoked_total_{0};
  std::atomic<std::uint64_t> restore_listed_{0};
  std::atomic<std::uint64_t> restore_loaded_{0};
  std::atomic<std::uint64_t> restore_errors_{0};
};

}  // namespace leasefs::backend::lease
