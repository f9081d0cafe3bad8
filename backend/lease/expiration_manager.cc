// The expiration manager: the in-memory index, the register/renew/revoke paths, the
// timer and worker threads, and the restore. See the header for the design.
#include "backend/lease/expiration_manager.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <limits>

#include "backend/sdk/log.h"
#include "backend/sdk/ttl.h"

namespace leasefs::backend::lease {

namespace {

constexpr std::string_view kLog = "expiration";
constexpr std::size_t kRandomIdLength = 24;
constexpr std::size_t kTidyErrorSamples = 10;
constexpr std::size_t kTidyTokenCacheLimit = 100'000;
// run_until_idle() gives up after this many rounds, in case leases keep coming due at
// once (a zero retry base with a storage that keeps failing).
constexpr int kMaxIdleRounds = 1000;
// Longest a revoked lease waits for its batched delete while its batch goes on.
constexpr auto kMaxDeleteDelay = std::chrono::milliseconds(100);

std::int64_t to_ns(sdk::WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::unexpected<sdk::Status> stopped() {
  return sdk::error(sdk::Code::kSealed, "the expiration manager is not running");
}

// Engine errors that retrying will not fix: the lease becomes irrevocable at once.
bool unrecoverable(sdk::Code code) {
  return code == sdk::Code::kInvalidArgument || code == sdk::Code::kUnsupported ||
         code == sdk::Code::kUnimplemented;
}

// Runs a core callback; an exception that escapes it becomes an internal error, so a
// worker thread never dies of one.
template <class T, class F>
sdk::Result<T> guarded(F&& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return sdk::internal_error(std::string("lease callback threw: ") + e.what());
  } catch (...) {
    return sdk::internal_error("lease callback threw");
  }
}

std::string strip_trailing_slashes(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return std::string(path);
}

std::string seconds_text(sdk::Duration d) {
  return sdk::human_duration(d);
}

}  // namespace

std::string_view restore_state_name(RestoreState state) {
  switch (state) {
    case RestoreState::kIdle:
      return "idle";
    case RestoreState::kRunning:
      return "running";
    case RestoreState::kDone:
      return "done";
    case RestoreState::kFailed:
      return "failed";
  }
  return "unknown";
}

ExpirationManager::ExpirationManager(sdk::Storage& storage, const sdk::Clock& clock,
                                     sdk::Random& random, ExpirationCallbacks callbacks,
                                     ExpirationOptions options)
    : storage_(storage),
      clock_(clock),
      random_(random),
      callbacks_(std::move(callbacks)),
      options_(std::move(options)) {
  options_.revoke_workers = std::max<std::size_t>(1, options_.revoke_workers);
  options_.revoke_batch = std::max<std::size_t>(1, options_.revoke_batch);
  options_.restore_threads = std::max<std::size_t>(1, options_.restore_threads);
  options_.restore_page = std::max<std::size_t>(1, options_.restore_page);
  options_.max_revoke_attempts = std::clamp(options_.max_revoke_attempts, 1, 255);
  if (options_.revoke_retry_base.count() < 0) options_.revoke_retry_base = sdk::Duration{0};
  if (options_.max_timer_wait.count() <= 0) options_.max_timer_wait = std::chrono::milliseconds(1);
}

ExpirationManager::~ExpirationManager() {
  stop();
}

// --- lifecycle ------------------------------------------------------------------------

sdk::Result<void> ExpirationManager::start() {
  std::lock_guard threads_lock(threads_mu_);
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(mu_);
    if (running_) {
      return sdk::error(sdk::Code::kFailedPrecondition,
                        "the expiration manager is already running");
    }
    running_ = true;
    epoch = ++epoch_;
    restore_complete_ = false;
    progress_ = RestoreProgress{};
    restore_listed_ = 0;
    restore_loaded_ = 0;
    restore_errors_ = 0;
    stop_requested_ = false;
  }
  if (!options_.background) return {};
  try {
    threads_.emplace_back([this, epoch] { timer_loop(epoch); });
    for (std::size_t i = 0; i < options_.revoke_workers; ++i) {
      threads_.emplace_back([this, epoch] { worker_loop(epoch); });
    }
    threads_.emplace_back([this, epoch] { restore_loop(epoch); });
  } catch (const std::exception& e) {
    shutdown();
    return sdk::error(sdk::Code::kUnavailable,
                      std::string("cannot start lease threads: ") + e.what());
  }
  return {};
}

void ExpirationManager::stop() {
  std::lock_guard threads_lock(threads_mu_);
  shutdown();
}

void ExpirationManager::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (!running_ && threads_.empty() && !tidy_thread_.joinable()) return;
    running_ = false;
    ++epoch_;
    stop_requested_ = true;
  }
  timer_cv_.notify_all();
  work_cv_.notify_all();
  busy_cv_.notify_all();
  idle_cv_.notify_all();
  restore_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (tidy_thread_.joinable()) tidy_thread_.join();

  std::lock_guard lock(mu_);
  heap_.clear();
  std::deque<std::string>().swap(queue_);
  irrevocable_.clear();
  Map().swap(map_);
  decltype(tombstones_)().swap(tombstones_);
  restore_complete_ = false;
  worker_busy_ = 0;
  progress_ = RestoreProgress{};
  tidy_running_ = false;
}

bool ExpirationManager::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

// --- small helpers --------------------------------------------------------------------

std::int64_t ExpirationManager::now_ns() const {
  return to_ns(clock_.now());
}

sdk::MountLimits ExpirationManager::clamp_limits(const sdk::MountLimits& limits) const {
  sdk::MountLimits out = limits;
  if (out.max_lease_ttl.count() <= 0 || out.max_lease_ttl > options_.system_max_ttl) {
    out.max_lease_ttl = options_.system_max_ttl;
  }
  if (out.default_lease_ttl.count() <= 0 || out.default_lease_ttl > out.max_lease_ttl) {
    out.default_lease_ttl = out.max_lease_ttl;
  }
  return out;
}

sdk::Result<std::uint64_t> ExpirationManager::current_epoch() const {
  std::lock_guard lock(mu_);
  if (!running_) return stopped();
  return epoch_;
}

bool ExpirationManager::epoch_ok_locked(std::uint64_t epoch) const {
  return running_ && epoch_ == epoch;
}

sdk::Result<std::optional<LeaseRecord>> ExpirationManager::load_record(std::string_view id) {
  auto got = storage_.get(record_key(id));
  if (!got) return sdk::error(got.error());
  if (!*got) return std::optional<LeaseRecord>{};
  auto record = decode_record(**got);
  if (!record) return sdk::error(record.error().with_context("lease " + std::string(id)));
  if (record->lease_id != id) {
    return sdk::error(sdk::Code::kDataLoss,
                      "lease " + std::string(id) + ": stored record names another lease");
  }
  return std::optional<LeaseRecord>(std::move(*record));
}

sdk::Result<std::optional<LeaseSchedule>> ExpirationManager::load_schedule(std::string_view id) {
  auto got = storage_.get(record_key(id));
  if (!got) return sdk::error(got.error());
  if (!*got) return std::optional<LeaseSchedule>{};
  auto schedule = decode_schedule(**got);
  if (!schedule) return sdk::error(schedule.error().with_context("lease " + std::string(id)));
  schedule->lease_id = std::string(id);
  return std::optional<LeaseSchedule>(std::move(*schedule));
}

bool ExpirationManager::insert_loaded_locked(const LeaseSchedule& record) {
  if (tombstones_.contains(record.lease_id)) return false;
  auto [it, inserted] = map_.try_emplace(record.lease_id);
  if (!inserted) return false;
  Entry& e = it->second;
  e.attempts = static_cast<std::uint8_t>(std::clamp(record.revoke_attempts, 0, 255));
  e.flags = record.kind == LeaseKind::kToken ? kFlagToken : 0;
  e.due_ns = to_ns(record.expire_time);
  if (record.irrevocable) {
    e.state = State::kIrrevocable;
    irrevocable_.insert(it->first);
  } else {
    e.state = State::kScheduled;
    heap_.push(&*it);
  }
  return true;
}

sdk::Result<bool> ExpirationManager::ensure_loaded(std::string_view id, std::uint64_t epoch) {
  {
    std::lock_guard lock(mu_);
    if (!epoch_ok_locked(epoch)) return stopped();
    if (map_.find(id) != map_.end()) return true;
    if (restore_complete_ || tombstones_.contains(id)) return false;
  }
  auto record = load_schedule(id);
  if (!record) return sdk::error(record.error());
  std::lock_guard lock(mu_);
  if (!epoch_ok_locked(epoch)) return stopped();
  if (map_.find(id) != map_.end()) return true;
  // Not in memory although the restore finished meanwhile: it was deleted after this
  // read (the restore loads everything else).
  if (!*record || restore_complete_) return false;
  if (!insert_loaded_locked(**record)) return false;
  if (heap_.size() > 0) timer_cv_.notify_one();
  return true;
}

void ExpirationManager::wake_timer_if_earliest_locked(Node* node) {
  if (!heap_.empty() && heap_.top() == node) timer_cv_.notify_one();
}

void ExpirationManager::schedule_locked(Node* node, std::int64_t due_ns) {
  node->second.state = State::kScheduled;
  node->second.due_ns = due_ns;
  heap_.update(node);
  wake_timer_if_earliest_locked(node);
}

void ExpirationManager::erase_locked(Map::iterator it) {
  heap_.erase(&*it);
  irrevocable_.erase(it->first);
  if (!restore_complete_) tombstones_.insert(it->first);
  map_.erase(it);
  busy_cv_.notify_all();
}

sdk::Duration ExpirationManager::backoff(int attempt) {
  int shift = std::clamp(attempt, 0, 30);
  double expected = static_cast<double>(options_.revoke_retry_base.count()) *
                    static_cast<double>(std::int64_t{1} << shift);
  std::array<std::uint8_t, 8> bytes{};
  double unit = 0.5;
  if (random_.fill(bytes)) {
    std::uint64_t r = 0;
    std::memcpy(&r, bytes.data(), sizeof r);
    unit = static_cast<double>(r >> 11) * 0x1.0p-53;  // [0, 1)
  }
  double delay = expected * (0.5 + unit);  // expected +-50%
  delay = std::min(delay, 1e18);
  return sdk::Duration(static_cast<std::int64_t>(delay));
}

// --- claiming ---------------------------------------------------------------------------

sdk::Result<std::optional<ExpirationManager::Claim>> ExpirationManager::claim(std::string_view id,
                                                                              Actor actor,
                                                                              std::uint64_t epoch) {
  if (actor != Actor::kWorker) {
    auto exists = ensure_loaded(id, epoch);
    if (!exists) return sdk::error(exists.error());
    if (!*exists) return std::optional<Claim>{};
  }
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + options_.busy_timeout;
  while (true) {
    if (!epoch_ok_locked(epoch)) return stopped();
    auto it = map_.find(id);
    if (it == map_.end()) return std::optional<Claim>{};
    Entry& e = it->second;
    bool wait = false;
    switch (e.state) {
      case State::kQueued:
        break;
      case State::kScheduled:
        if (actor == Actor::kWorker) return std::optional<Claim>{};  // stale queue entry
        break;
      case State::kIrrevocable:
        if (actor == Actor::kWorker) return std::optional<Claim>{};
        break;
      case State::kRevoking:
        if (actor != Actor::kExplicit && actor != Actor::kForce) return std::optional<Claim>{};
        wait = true;
        break;
      case State::kUpdating:
        if (actor == Actor::kWorker || actor == Actor::kTokenDrop) return std::optional<Claim>{};
        wait = true;
        break;
    }
    if (!wait) {
      Claim c{std::string(id), e.state, e.due_ns, e.flags, e.attempts};
      heap_.erase(&*it);
      if (e.state == State::kIrrevocable) irrevocable_.erase(it->first);
      e.state = State::kRevoking;
      return std::optional<Claim>(std::move(c));
    }
    if (busy_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      return sdk::error(sdk::Code::kUnavailable,
                        "lease " + std::string(id) + " is busy; try again");
    }
  }
}

sdk::Result<std::optional<ExpirationManager::Claim>> ExpirationManager::claim_for_update(
    std::string_view id, std::uint64_t epoch, bool refuse_irrevocable) {
  auto exists = ensure_loaded(id, epoch);
  if (!exists) return sdk::error(exists.error());
  if (!*exists) return std::optional<Claim>{};
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + options_.busy_timeout;
  while (true) {
    if (!epoch_ok_locked(epoch)) return stopped();
    auto it = map_.find(id);
    if (it == map_.end()) return std::optional<Claim>{};
    Entry& e = it->second;
    switch (e.state) {
      case State::kQueued:
      case State::kRevoking:
        return sdk::invalid_argument("lease expired");
      case State::kIrrevocable:
        if (refuse_irrevocable) {
          return sdk::invalid_argument(
              "lease is expired and has failed previous revocation attempts");
        }
        [[fallthrough]];
      case State::kScheduled: {
        Claim c{std::string(id), e.state, e.due_ns, e.flags, e.attempts};
        heap_.erase(&*it);
        if (e.state == State::kIrrevocable) irrevocable_.erase(it->first);
        e.state = State::kUpdating;
        return std::optional<Claim>(std::move(c));
      }
      case State::kUpdating:
        break;
    }
    if (busy_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      return sdk::error(sdk::Code::kUnavailable,
                        "lease " + std::string(id) + " is busy; try again");
    }
  }
}

void ExpirationManager::release(const Claim& claim, std::uint64_t epoch, State state,
                                std::int64_t due_ns, std::uint8_t attempts,
                                std::uint8_t clear_flags) {
  std::lock_guard lock(mu_);
  if (!epoch_ok_locked(epoch)) return;
  auto it = map_.find(claim.id);
  if (it == map_.end()) return;
  Entry& e = it->second;
  e.attempts = attempts;
  e.flags = static_cast<std::uint8_t>(e.flags & ~clear_flags);
  if (state == State::kIrrevocable) {
    e.flags = static_cast<std::uint8_t>(e.flags & ~kFlagRevokeRequested);
    e.state = State::kIrrevocable;
    e.due_ns = due_ns;
    irrevocable_.insert(it->first);
  } else {
    if (e.flags & kFlagRevokeRequested) {
      e.flags = static_cast<std::uint8_t>(e.flags & ~kFlagRevokeRequested);
      due_ns = std::min(due_ns, now_ns());
    }
    schedule_locked(&*it, due_ns);
  }
  busy_cv_.notify_all();
}

// --- registering ----------------------------------------------------------------------

sdk::Result<Registered> ExpirationManager::register_secret(const RegisterSecret& request) {
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  std::string path = strip_trailing_slashes(request.path);
  if (path.empty()) return sdk::invalid_argument("a lease needs the request path");
  if (auto ok = validate_token_hash(request.token_hash); !ok) {
    return sdk::invalid_argument("a lease needs the hash of the token that asked for it");
  }
  const sdk::WallTime now = clock_.now();
  sdk::TtlInput input;
  input.ttl = request.secret.ttl;
  input.role_max_ttl = request.secret.max_ttl;
  input.start = now;
  auto ttl = sdk::calculate_ttl(clamp_limits(request.limits), input, now);
  if (!ttl) return sdk::error(ttl.error());
  auto suffix = sdk::random_base62(random_, kRandomIdLength);
  if (!suffix) return sdk::error(suffix.error());

  LeaseRecord record;
  record.lease_id = path + "/" + *suffix;
  record.kind = LeaseKind::kSecret;
  record.path = path;
  record.mount = request.mount;
  record.secret_type = request.secret.type;
  record.internal = request.secret.internal;
  record.token_hash = request.token_hash;
  record.issue_time = now;
  record.expire_time = now + ttl->ttl;
  record.renewable = request.secret.renewable;
  record.ttl = ttl->ttl;
  record.role_max_ttl = request.secret.max_ttl;
  const std::string index_key = token_index_key(record.token_hash, record.lease_id);
  if (!validate_lease_id(record.lease_id) || !sdk::validate_key(index_key)) {
    return sdk::invalid_argument("request path \"" + path + "\" cannot name a lease");
  }

  std::array<sdk::StorageOp, 2> ops{
      sdk::StorageOp::put(record_key(record.lease_id), encode_record(record)),
      sdk::StorageOp::put(index_key, "")};
  if (auto applied = storage_.apply(ops); !applied) {
    // Never leave a credential nobody tracks: hand it back to its engine.
    if (callbacks_.revoke_secret) {
      auto revoked = guarded<void>([&] { return callbacks_.revoke_secret(record); });
      if (!revoked) {
        sdk::log_error(kLog, "revoking the secret of unstored lease " + record.lease_id +
                                 " failed: " + revoked.error().message());
      }
    }
    return sdk::error(applied.error().with_context("storing lease"));
  }
  {
    std::lock_guard lock(mu_);
    if (epoch_ok_locked(*epoch)) {
      auto [it, inserted] = map_.try_emplace(record.lease_id);
      if (inserted) schedule_locked(&*it, to_ns(record.expire_time));
    }
  }
  ++registered_total_;
  Registered out;
  out.lease_id = std::move(record.lease_id);
  out.ttl = ttl->ttl;
  out.renewable = record.renewable;
  out.expire_time = record.expire_time;
  out.warnings = std::move(ttl->warnings);
  return out;
}

sdk::Result<Registered> ExpirationManager::register_token(const RegisterToken& request) {
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  if (auto ok = validate_token_hash(request.token_hash); !ok) return sdk::error(ok.error());
  std::string path = strip_trailing_slashes(request.path);
  if (path.empty()) return sdk::invalid_argument("a token lease needs the token's path");
  const std::string id = path + "/" + request.token_hash;
  const std::string index_key = token_index_key(request.token_hash, id);
  if (!validate_lease_id(id) || !sdk::validate_key(index_key)) {
    return sdk::invalid_argument("token path \"" + path + "\" cannot name a lease");
  }
  const sdk::WallTime now = clock_.now();

  auto claimed = claim_for_update(id, *epoch, /*refuse_irrevocable=*/false);
  if (!claimed) return sdk::error(claimed.error());
  std::optional<Claim> held = std::move(*claimed);
  auto give_back = [&] {
    if (held) {
      release(*held, *epoch,
              held->prev == State::kIrrevocable ? State::kIrrevocable : State::kScheduled,
              held->prev_due, held->attempts);
    }
  };

  LeaseRecord record;
  if (held) {
    auto stored = load_record(id);
    if (!stored) {
      give_back();
      return sdk::error(stored.error());
    }
    if (*stored) {
      record = std::move(**stored);
      record.last_renewal_time = now;
    }
  }
  if (record.lease_id.empty()) {
    record.lease_id = id;
    record.issue_time = request.issue_time == sdk::WallTime{} ? now : request.issue_time;
  }
  record.kind = LeaseKind::kToken;
  record.path = path;
  record.mount = request.mount;
  record.token_hash = request.token_hash;
  record.expire_time = request.expire_time;
  record.ttl = std::chrono::duration_cast<sdk::Duration>(request.expire_time - now);
  record.renewable = request.renewable;
  record.revoke_attempts = 0;
  record.revoke_error.clear();
  record.irrevocable = false;

  std::array<sdk::StorageOp, 2> ops{sdk::StorageOp::put(record_key(id), encode_record(record)),
                                    sdk::StorageOp::put(index_key, "")};
  if (auto applied = storage_.apply(ops); !applied) {
    give_back();
    return sdk::error(applied.error().with_context("storing token lease"));
  }
  const std::int64_t due = to_ns(record.expire_time);
  if (held) {
    release(*held, *epoch, State::kScheduled, due, 0, kFlagEngineRevoked);
  } else {
    std::lock_guard lock(mu_);
    if (epoch_ok_locked(*epoch)) {
      auto [it, inserted] = map_.try_emplace(id);
      it->second.flags |= kFlagToken;
      if (inserted || it->second.state == State::kScheduled) schedule_locked(&*it, due);
    }
  }
  ++registered_total_;
  Registered out;
  out.lease_id = id;
  out.ttl = record.ttl;
  out.renewable = record.renewable;
  out.expire_time = record.expire_time;
  return out;
}

// --- renewing -------------------------------------------------------------------------

sdk::Result<Renewed> ExpirationManager::renew(std::string_view lease_id, sdk::Duration increment,
                                              const sdk::MountLimits& limits) {
  LEASEFS_TRY(validate_lease_id(lease_id));
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  if (increment.count() < 0) return sdk::invalid_argument("increment must not be negative");
  auto claimed = claim_for_update(lease_id, *epoch, /*refuse_irrevocable=*/true);
  if (!claimed) return sdk::error(claimed.error());
  if (!*claimed) return sdk::invalid_argument("lease not found");
  const Claim c = std::move(**claimed);
  auto refuse = [&](sdk::Status status) -> sdk::Result<Renewed> {
    release(c, *epoch, State::kScheduled, c.prev_due, c.attempts);
    return sdk::error(std::move(status));
  };

  auto stored = load_record(lease_id);
  if (!stored) return refuse(stored.error());
  if (!*stored) return refuse(sdk::Status(sdk::Code::kInvalidArgument, "lease not found"));
  LeaseRecord record = std::move(**stored);
  const sdk::WallTime now = clock_.now();
  if (record.kind == LeaseKind::kToken) {
    return refuse(
        sdk::Status(sdk::Code::kInvalidArgument, "tokens cannot be renewed through this endpoint"));
  }
  if (record.expire_time <= now) {
    return refuse(sdk::Status(sdk::Code::kInvalidArgument, "lease expired"));
  }
  if (!record.renewable) {
    return refuse(sdk::Status(sdk::Code::kInvalidArgument, "lease is not renewable"));
  }
  const sdk::MountLimits effective = clamp_limits(limits);
  sdk::Duration max_ttl = effective.max_lease_ttl;
  if (record.role_max_ttl.count() > 0 && record.role_max_ttl < max_ttl)
    max_ttl = record.role_max_ttl;
  if (record.issue_time + max_ttl <= now) {
    // No point asking the engine for time it may not grant.
    return refuse(sdk::Status(sdk::Code::kInvalidArgument, "past the max TTL, cannot renew"));
  }
  if (!callbacks_.renew_secret) {
    return refuse(sdk::Status(sdk::Code::kInternal, "no renew callback is configured"));
  }
  auto response =
      guarded<sdk::Response>([&] { return callbacks_.renew_secret(record, increment); });
  if (!response) return refuse(response.error());

  sdk::TtlInput input;
  input.increment = increment;
  input.start = record.issue_time;
  input.role_max_ttl = record.role_max_ttl;
  if (response->secret) {
    input.ttl = response->secret->ttl;
    if (response->secret->max_ttl.count() > 0) input.role_max_ttl = response->secret->max_ttl;
  }
  auto ttl = sdk::calculate_ttl(effective, input, now);
  if (!ttl) return refuse(ttl.error());

  record.ttl = ttl->ttl;
  record.expire_time = now + ttl->ttl;
  record.last_renewal_time = now;
  record.role_max_ttl = input.role_max_ttl;
  if (response->secret) record.renewable = response->secret->renewable;
  if (auto put = storage_.put(record_key(record.lease_id), encode_record(record)); !put) {
    return refuse(put.error().with_context("storing renewed lease"));
  }
  release(c, *epoch, State::kScheduled, to_ns(record.expire_time), c.attempts);
  ++renewed_total_;

  Renewed out;
  out.lease_id = record.lease_id;
  out.ttl = ttl->ttl;
  out.renewable = record.renewable;
  out.data = std::move(response->data);
  out.warnings = std::move(response->warnings);
  out.warnings.insert(out.warnings.end(), ttl->warnings.begin(), ttl->warnings.end());
  return out;
}

// --- revoking -------------------------------------------------------------------------

sdk::Status ExpirationManager::call_revoke(const LeaseRecord& record, Actor actor) {
  if (actor == Actor::kTokenDrop) return {};
  if (record.kind == LeaseKind::kToken) {
    if (actor == Actor::kTidy) return {};  // the token is gone already
    if (!callbacks_.revoke_token) return {sdk::Code::kInternal, "no token revoke callback"};
    auto r = guarded<void>([&] { return callbacks_.revoke_token(record); });
    return r ? sdk::Status{} : r.error();
  }
  if (!callbacks_.revoke_secret) return {sdk::Code::kInternal, "no revoke callback"};
  auto r = guarded<void>([&] { return callbacks_.revoke_secret(record); });
  return r ? sdk::Status{} : r.error();
}

sdk::Status ExpirationManager::flush_deletes(std::vector<Done>& done, Actor actor,
                                             std::uint64_t epoch, std::size_t& handled) {
  if (done.empty()) return {};
  std::vector<sdk::StorageOp> ops;
  ops.reserve(done.size() * 2);
  for (const auto& d : done) {
    ops.push_back(sdk::StorageOp::remove(record_key(d.id)));
    if (!d.token_hash.empty())
      ops.push_back(sdk::StorageOp::remove(token_index_key(d.token_hash, d.id)));
  }
  auto applied = storage_.apply(ops);
  sdk::Status status;
  {
    std::lock_guard lock(mu_);
    const bool forced = actor == Actor::kForce || actor == Actor::kTidy;
    for (const auto& d : done) {
      if (!epoch_ok_locked(epoch)) break;
      auto it = map_.find(d.id);
      if (applied) {
        if (it != map_.end()) erase_locked(it);
        ++handled;
        ++(forced ? force_revoked_total_ : revoked_total_);
        continue;
      }
      // Revoked at the engine but still stored: retry only the delete, later.
      if (it == map_.end()) continue;
      it->second.flags |= kFlagEngineRevoked;
      schedule_locked(&*it, now_ns() + options_.revoke_retry_base.count());
    }
    busy_cv_.notify_all();
  }
  if (!applied) {
    status = applied.error().with_context("removing revoked leases");
    sdk::log_error(kLog, status.message());
  }
  done.clear();
  return status;
}

void ExpirationManager::settle_failure(const Claim& claim, std::optional<LeaseRecord> record,
                                       const sdk::Status& error, Actor actor, std::uint64_t epoch) {
  ++revoke_failures_total_;
  if (actor != Actor::kWorker) {
    // The caller hears the error; the lease stays as it was.
    State back = claim.prev == State::kIrrevocable ? State::kIrrevocable : State::kScheduled;
    release(claim, epoch, back, claim.prev_due, claim.attempts);
    return;
  }
  const int attempts = claim.attempts + 1;
  const bool out_of_retries = attempts >= options_.max_revoke_attempts;
  const bool give_up = out_of_retries || unrecoverable(error.code());
  std::string message = error.message();
  if (message.empty()) message = std::string(sdk::code_name(error.code()));
  if (out_of_retries)
    message = "gave up after " + std::to_string(attempts) + " attempts: " + message;
  message = truncate_error(message);
  std::int64_t due = claim.prev_due;
  if (record) {
    record->revoke_attempts = attempts;
    record->revoke_error = message;
    record->irrevocable = give_up;
    due = to_ns(record->expire_time);
    if (auto put = storage_.put(record_key(claim.id), encode_record(*record)); !put) {
      sdk::log_error(kLog, "recording the failed revocation of lease " + claim.id +
                               " failed: " + put.error().message());
    }
  }
  auto stored_attempts = static_cast<std::uint8_t>(std::min(attempts, 255));
  if (give_up) {
    sdk::log_error(kLog, "lease " + claim.id + " is irrevocable: " + message);
    release(claim, epoch, State::kIrrevocable, due, stored_attempts);
    return;
  }
  sdk::Duration delay = backoff(attempts);
  sdk::log_warn(kLog, "revoking lease " + claim.id + " failed (attempt " +
                          std::to_string(attempts) + "), retrying in " + seconds_text(delay) +
                          ": " + message);
  release(claim, epoch, State::kScheduled, now_ns() + delay.count(), stored_attempts);
}

ExpirationManager::BatchResult ExpirationManager::revoke_ids(std::span<const std::string> ids,
                                                             Actor actor, std::uint64_t epoch) {
  BatchResult out;
  std::vector<Done> done;
  std::chrono::steady_clock::time_point first_done{};
  auto note = [&](const sdk::Status& status) {
    if (out.first_error.ok()) out.first_error = status;
  };
  auto flush = [&] {
    if (auto st = flush_deletes(done, actor, epoch, out.handled); !st.ok()) note(st);
  };
  // Expired token leases wait here for one revoke_tokens call (workers only: the other
  // actors report or stop at the first error, lease by lease).
  std::vector<std::pair<Claim, LeaseRecord>> tokens;
  std::chrono::steady_clock::time_point first_token{};
  const bool batch_tokens = actor == Actor::kWorker && callbacks_.revoke_tokens != nullptr;
  auto flush_tokens = [&] {
    if (tokens.empty()) return;
    std::vector<const LeaseRecord*> records;
    records.reserve(tokens.size());
    for (const auto& t : tokens) records.push_back(&t.second);
    auto statuses = guarded<std::vector<sdk::Status>>(
        [&] { return callbacks_.revoke_tokens(std::span<const LeaseRecord* const>(records)); });
    if (statuses && statuses->size() != tokens.size()) {
      statuses = sdk::internal_error("revoke_tokens answered for the wrong number of tokens");
    }
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const sdk::Status status = statuses ? (*statuses)[i] : statuses.error();
      if (status.ok()) {
        if (done.empty()) first_done = std::chrono::steady_clock::now();
        done.push_back({tokens[i].first.id, tokens[i].second.token_hash});
        continue;
      }
      settle_failure(tokens[i].first, std::move(tokens[i].second), status, actor, epoch);
      note(status);
    }
    tokens.clear();
    flush();
  };
  for (const auto& id : ids) {
    if (stop_requested_) break;
    auto claimed = claim(id, actor, epoch);
    if (!claimed) {
      if (actor == Actor::kForce && claimed.error().code() == sdk::Code::kDataLoss) {
        // An unreadable record was never loaded: force removes it all the same.
        sdk::log_warn(kLog, "removing unreadable lease " + id + ": " + claimed.error().message());
        done.push_back({id, {}});
        continue;
      }
      note(claimed.error());
      if (actor == Actor::kExplicit) break;
      continue;
    }
    if (!*claimed) {
      if (actor == Actor::kForce) {
        // Not in memory: maybe a record the restore could not read. Force removes
        // those too (a readable one is a lease being registered right now: left alone).
        auto got = storage_.get(record_key(id));
        if (got && *got && !decode_schedule(**got)) {
          sdk::log_warn(kLog, "removing unreadable lease " + id);
          done.push_back({id, {}});
        }
      }
      continue;
    }
    const Claim c = std::move(**claimed);

    auto stored = load_record(id);
    if (!stored) {
      const bool forced = actor == Actor::kForce || actor == Actor::kTidy;
      if (forced && stored.error().code() == sdk::Code::kDataLoss) {
        sdk::log_warn(kLog, "removing unreadable lease " + id + ": " + stored.error().message());
        done.push_back({id, {}});
        continue;
      }
      settle_failure(c, std::nullopt, stored.error(), actor, epoch);
      note(stored.error());
      if (actor == Actor::kExplicit) break;
      continue;
    }
    if (!*stored) {
      // Gone from storage already: nothing left to revoke.
      std::lock_guard lock(mu_);
      if (epoch_ok_locked(epoch)) {
        if (auto it = map_.find(id); it != map_.end()) erase_locked(it);
      }
      ++out.handled;
      continue;
    }
    LeaseRecord& record = **stored;
    if (batch_tokens && record.kind == LeaseKind::kToken && !(c.flags & kFlagEngineRevoked)) {
      if (tokens.empty()) first_token = std::chrono::steady_clock::now();
      tokens.emplace_back(c, std::move(record));
      if (tokens.size() >= options_.revoke_batch ||
          std::chrono::steady_clock::now() - first_token >= kMaxDeleteDelay) {
        flush_tokens();
      }
      continue;
    }
    sdk::Status status;
    // A token's revocation comes back here through the token store's hook
    // (revoke_by_token), which never waits for leases this thread holds.
    if (!(c.flags & kFlagEngineRevoked)) status = call_revoke(record, actor);
    if (status.ok() || actor == Actor::kForce || actor == Actor::kTidy) {
      if (!status.ok()) {
        sdk::log_warn(
            kLog, "force-removing lease " + id + " despite: " + truncate_error(status.message()));
      }
      if (done.empty()) first_done = std::chrono::steady_clock::now();
      done.push_back({id, record.token_hash});
      // Batched deletes save commits; a slow engine must not hold them back long.
      if (done.size() >= options_.revoke_batch ||
          std::chrono::steady_clock::now() - first_done >= kMaxDeleteDelay) {
        flush();
      }
      continue;
    }
    if (actor != Actor::kWorker) status = status.with_context("failed to revoke lease " + id);
    settle_failure(c, std::move(record), status, actor, epoch);
    note(status);
    if (actor == Actor::kExplicit) break;
  }
  flush_tokens();
  flush();
  return out;
}

sdk::Result<bool> ExpirationManager::mark_due_now(std::string_view id, std::uint64_t epoch) {
  auto exists = ensure_loaded(id, epoch);
  if (!exists) return sdk::error(exists.error());
  if (!*exists) return false;
  std::lock_guard lock(mu_);
  if (!epoch_ok_locked(epoch)) return stopped();
  auto it = map_.find(id);
  if (it == map_.end()) return false;
  Entry& e = it->second;
  const std::int64_t now = now_ns();
  switch (e.state) {
    case State::kScheduled:
      if (e.due_ns > now) schedule_locked(&*it, now);
      break;
    case State::kIrrevocable:
      // One more try; a failure makes it irrevocable again.
      irrevocable_.erase(it->first);
      e.attempts = static_cast<std::uint8_t>(options_.max_revoke_attempts - 1);
      schedule_locked(&*it, now);
      break;
    case State::kUpdating:
      e.flags |= kFlagRevokeRequested;
      break;
    case State::kQueued:
    case State::kRevoking:
      break;
  }
  return true;
}

sdk::Result<void> ExpirationManager::revoke(std::string_view lease_id, RevokeMode mode) {
  LEASEFS_TRY(validate_lease_id(lease_id));
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  if (mode == RevokeMode::kSync) {
    std::string id(lease_id);
    auto result = revoke_ids(std::span<const std::string>(&id, 1), Actor::kExplicit, *epoch);
    if (!result.first_error.ok()) return sdk::error(result.first_error);
    return {};
  }

  // Async: record "expires now" first, so a restart still revokes it promptly.
  auto exists = ensure_loaded(lease_id, *epoch);
  if (!exists) return sdk::error(exists.error());
  if (!*exists) return {};
  std::optional<Claim> held;
  {
    std::lock_guard lock(mu_);
    if (!epoch_ok_locked(*epoch)) return stopped();
    auto it = map_.find(lease_id);
    if (it == map_.end()) return {};
    Entry& e = it->second;
    if (e.state == State::kScheduled) {
      held = Claim{std::string(lease_id), e.state, e.due_ns, e.flags, e.attempts};
      heap_.erase(&*it);
      e.state = State::kUpdating;
    }
  }
  if (!held) {
    // Queued, being revoked or updated, or irrevocable: mark_due_now knows each case.
    auto marked = mark_due_now(lease_id, *epoch);
    if (!marked) return sdk::error(marked.error());
    return {};
  }
  const sdk::WallTime now = clock_.now();
  auto stored = load_record(lease_id);
  if (stored && *stored && (*stored)->expire_time > now) {
    (*stored)->expire_time = now;
    if (auto put = storage_.put(record_key(lease_id), encode_record(**stored)); !put) {
      sdk::log_warn(
          kLog, "lease " + held->id +
                    " is queued for revocation, but storing that failed: " + put.error().message());
    }
  }
  release(*held, *epoch, State::kScheduled, to_ns(now), held->attempts);
  return {};
}

sdk::Result<std::string> ExpirationManager::normalize_prefix(std::string_view prefix,
                                                             std::uint64_t epoch, bool& exact) {
  exact = false;
  if (prefix.empty()) return sdk::invalid_argument("a lease ID prefix is required");
  std::string folder = record_key(prefix);
  if (prefix.back() != '/') {
    if (validate_lease_id(prefix)) {
      auto exists = ensure_loaded(prefix, epoch);
      if (!exists) return sdk::error(exists.error());
      if (*exists) {
        exact = true;
        return std::string(prefix);
      }
    }
    folder += '/';
  }
  if (!sdk::validate_key(folder, /*is_prefix=*/true)) {
    return sdk::invalid_argument("invalid lease ID prefix");
  }
  return folder;
}

sdk::Result<void> ExpirationManager::walk_ids(
    std::string folder, const std::function<sdk::Result<bool>(std::vector<std::string>&)>& visit,
    std::uint64_t epoch) {
  struct Frame {
    std::string folder;
    std::string after;
  };
  std::vector<Frame> stack;
  stack.push_back({std::move(folder), {}});
  while (!stack.empty()) {
    {
      std::lock_guard lock(mu_);
      if (!epoch_ok_locked(epoch)) return stopped();
    }
    auto names = storage_.list_page(stack.back().folder, stack.back().after, options_.restore_page);
    if (!names) return sdk::error(names.error());
    if (names->empty()) {
      stack.pop_back();
      continue;
    }
    stack.back().after = names->back();
    const std::string base = stack.back().folder;
    std::vector<std::string> ids;
    std::vector<Frame> folders;
    for (auto& name : *names) {
      if (name.ends_with('/')) {
        folders.push_back({base + name, {}});
      } else {
        ids.push_back(base.substr(kRecordFolder.size()) + name);
      }
    }
    if (!ids.empty()) {
      auto more = visit(ids);
      if (!more) return sdk::error(more.error());
      if (!*more) return {};
    }
    for (auto& f : folders) stack.push_back(std::move(f));
  }
  return {};
}

sdk::Result<std::size_t> ExpirationManager::revoke_prefix(std::string_view prefix,
                                                          RevokeMode mode) {
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  bool exact = false;
  auto folder = normalize_prefix(prefix, *epoch, exact);
  if (!folder) return sdk::error(folder.error());
  if (exact) {
    LEASEFS_TRY(revoke(*folder, mode));
    return std::size_t{1};
  }
  std::size_t count = 0;
  sdk::Status failed;
  auto walked = walk_ids(
      *folder,
      [&](std::vector<std::string>& ids) -> sdk::Result<bool> {
        if (mode == RevokeMode::kAsync) {
          for (const auto& id : ids) {
            auto marked = mark_due_now(id, *epoch);
            if (!marked) return sdk::error(marked.error());
            if (*marked) ++count;
          }
          return true;
        }
        auto result = revoke_ids(ids, Actor::kExplicit, *epoch);
        count += result.handled;
        if (!result.first_error.ok()) {
          failed = result.first_error;
          return false;
        }
        return true;
      },
      *epoch);
  if (!walked) return sdk::error(walked.error());
  if (!failed.ok()) return sdk::error(failed);
  return count;
}

sdk::Result<std::size_t> ExpirationManager::revoke_force(std::string_view prefix) {
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  bool exact = false;
  auto folder = normalize_prefix(prefix, *epoch, exact);
  if (!folder) return sdk::error(folder.error());
  auto force = [&](std::span<const std::string> ids) -> sdk::Result<std::size_t> {
    auto result = revoke_ids(ids, Actor::kForce, *epoch);
    if (!result.first_error.ok()) return sdk::error(result.first_error);
    return result.handled;
  };
  if (exact) return force(std::span<const std::string>(&*folder, 1));
  std::size_t count = 0;
  auto walked = walk_ids(
      *folder,
      [&](std::vector<std::string>& ids) -> sdk::Result<bool> {
        auto n = force(ids);
        if (!n) return sdk::error(n.error());
        count += *n;
        return true;
      },
      *epoch);
  if (!walked) return sdk::error(walked.error());
  sdk::log_warn(kLog,
                "force-revoked " + std::to_string(count) + " leases under " + std::string(prefix));
  return count;
}

sdk::Result<std::size_t> ExpirationManager::revoke_by_token(std::string_view token_hash,
                                                            RevokeMode mode) {
  LEASEFS_TRY(validate_token_hash(token_hash));
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  const std::string folder = std::string(kTokenIndexFolder) + std::string(token_hash) + "/";
  std::size_t count = 0;
  sdk::Status failed;
  std::string after;
  while (true) {
    if (stop_requested_) return stopped();
    auto names = storage_.list_page(folder, after, options_.restore_page);
    if (!names) return sdk::error(names.error());
    if (names->empty()) break;
    // A short page is the last: no second query to learn that (most tokens own one
    // lease, their own, and an expiry storm revokes them by the hundred thousand).
    const bool last_page = names->size() < options_.restore_page;
    after = names->back();
    for (const auto& name : *names) {
      auto id = unescape_segment(name);
      if (!id || !validate_lease_id(*id)) {
        (void)storage_.remove(folder + name);  // not ours: tidy would drop it too
        continue;
      }
      auto exists = ensure_loaded(*id, *epoch);
      if (!exists) return sdk::error(exists.error());
      if (!*exists) {
        (void)storage_.remove(folder + name);  // points at no lease
        continue;
      }
      bool token_lease = false;
      {
        std::lock_guard lock(mu_);
        if (!epoch_ok_locked(*epoch)) return stopped();
        auto it = map_.find(*id);
        token_lease = it != map_.end() && (it->second.flags & kFlagToken);
      }
      if (token_lease) {
        // The token is being revoked by the caller: drop its lease, no callback.
        count +=
            revoke_ids(std::span<const std::string>(&*id, 1), Actor::kTokenDrop, *epoch).handled;
      } else if (mode == RevokeMode::kAsync) {
        auto marked = mark_due_now(*id, *epoch);
        if (!marked) return sdk::error(marked.error());
        if (*marked) ++count;
      } else {
        auto result = revoke_ids(std::span<const std::string>(&*id, 1), Actor::kTokenSync, *epoch);
        count += result.handled;
        if (!result.first_error.ok() && failed.ok()) failed = result.first_error;
      }
    }
    if (last_page) break;
  }
  if (!failed.ok()) return sdk::error(failed);
  return count;
}

// --- queries --------------------------------------------------------------------------

sdk::Result<LeaseDetails> ExpirationManager::lookup(std::string_view lease_id) {
  LEASEFS_TRY(validate_lease_id(lease_id));
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  auto exists = ensure_loaded(lease_id, *epoch);
  if (!exists) return sdk::error(exists.error());
  // Vault answers a lookup of an unknown lease with 400 "invalid lease".
  if (!*exists) return sdk::invalid_argument("invalid lease");
  auto stored = load_record(lease_id);
  if (!stored) return sdk::error(stored.error());
  if (!*stored) return sdk::invalid_argument("invalid lease");
  const LeaseRecord& r = **stored;
  const sdk::WallTime now = clock_.now();
  LeaseDetails d;
  d.id = r.lease_id;
  d.path = r.path;
  d.mount = r.mount;
  d.kind = r.kind;
  d.issue_time = r.issue_time;
  d.expire_time = r.expire_time;
  if (r.renewed()) d.last_renewal = r.last_renewal_time;
  d.renewable = r.renewable && !r.irrevocable && r.expire_time > now;
  d.ttl = r.expire_time > now ? std::chrono::duration_cast<sdk::Duration>(r.expire_time - now)
                              : sdk::Duration{0};
  d.irrevocable = r.irrevocable;
  d.revoke_error = r.revoke_error;
  return d;
}

sdk::Result<std::vector<std::string>> ExpirationManager::list_page(std::string_view prefix,
                                                                   std::string_view after,
                                                                   std::size_t limit) {
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  std::string folder = record_key(prefix);
  if (folder.back() != '/') folder += '/';
  if (!sdk::validate_key(folder, /*is_prefix=*/true)) {
    return sdk::invalid_argument("invalid lease ID prefix");
  }
  return storage_.list_page(folder, after, limit);
}

sdk::Result<std::vector<std::string>> ExpirationManager::list(std::string_view prefix) {
  return list_page(prefix, "", std::numeric_limits<std::size_t>::max());
}

sdk::Result<IrrevocableList> ExpirationManager::list_irrevocable(std::size_t limit) {
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  std::vector<std::pair<std::int64_t, std::string>> items;
  {
    std::lock_guard lock(mu_);
    items.reserve(irrevocable_.size());
    for (std::string_view id : irrevocable_) {
      auto it = map_.find(id);
      if (it != map_.end()) items.emplace_back(it->second.due_ns, std::string(id));
    }
  }
  std::sort(items.begin(), items.end());
  IrrevocableList out;
  out.total = items.size();
  if (limit > 0 && items.size() > limit) {
    items.resize(limit);
    out.warning = "listed the first " + std::to_string(limit) + " of " + std::to_string(out.total) +
                  " irrevocable leases; ask with no limit to list them all";
  }
  for (const auto& [due, id] : items) {
    auto stored = load_record(id);
    if (!stored) return sdk::error(stored.error());
    if (!*stored) continue;
    IrrevocableLease lease;
    lease.lease_id = id;
    lease.mount = (*stored)->mount;
    lease.error = (*stored)->revoke_error;
    lease.expire_time = (*stored)->expire_time;
    out.leases.push_back(std::move(lease));
  }
  return out;
}

sdk::Result<LeaseCount> ExpirationManager::count_irrevocable() {
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (std::string_view id : irrevocable_) ids.emplace_back(id);
  }
  LeaseCount out;
  for (const auto& id : ids) {
    auto stored = load_record(id);
    if (!stored) return sdk::error(stored.error());
    if (!*stored) continue;
    ++out.lease_count;
    ++out.counts[(*stored)->mount];
  }
  return out;
}

std::uint64_t ExpirationManager::count() const {
  std::lock_guard lock(mu_);
  return map_.size();
}

// --- tidy -----------------------------------------------------------------------------

sdk::Result<TidyReport> ExpirationManager::tidy(const TokenExists& token_exists) {
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  if (!token_exists) return sdk::internal_error("tidy needs a token check");
  {
    std::lock_guard lock(mu_);
    if (tidy_running_) return sdk::error(sdk::Code::kConflict, "a lease tidy is already running");
    tidy_running_ = true;
  }
  struct Reset {
    ExpirationManager* self;
    std::uint64_t epoch;
    ~Reset() {
      std::lock_guard lock(self->mu_);
      if (self->epoch_ == epoch) self->tidy_running_ = false;
    }
  } reset{this, *epoch};

  sdk::log_info(kLog, "tidying leases");
  TidyReport report;
  auto note = [&](const std::string& message) {
    ++report.errors;
    if (report.error_samples.size() < kTidyErrorSamples) report.error_samples.push_back(message);
  };
  std::unordered_map<std::string, bool> token_cache;
  auto walked = walk_ids(
      std::string(kRecordFolder),
      [&](std::vector<std::string>& ids) -> sdk::Result<bool> {
        for (const auto& id : ids) {
          ++report.scanned;
          auto stored = load_record(id);
          if (!stored) {
            note(stored.error().message());
            continue;
          }
          if (!*stored) continue;
          const std::string& hash = (*stored)->token_hash;
          bool exists = false;
          if (!hash.empty()) {
            if (auto cached = token_cache.find(hash); cached != token_cache.end()) {
              exists = cached->second;
            } else {
              auto answer = guarded<bool>([&] { return token_exists(hash); });
              if (!answer) {
                note(answer.error().message());
                continue;
              }
              if (token_cache.size() >= kTidyTokenCacheLimit) token_cache.clear();
              token_cache.emplace(hash, *answer);
              exists = *answer;
            }
          }
          if (exists) continue;
          auto result = revoke_ids(std::span<const std::string>(&id, 1), Actor::kTidy, *epoch);
          report.revoked += result.handled;
          if (!result.first_error.ok()) note(result.first_error.message());
        }
        return true;
      },
      *epoch);
  if (!walked) return sdk::error(walked.error());

  // Token index entries that point at no lease.
  std::string token_after;
  while (true) {
    auto tokens = storage_.list_page(kTokenIndexFolder, token_after, options_.restore_page);
    if (!tokens) return sdk::error(tokens.error());
    if (tokens->empty()) break;
    token_after = tokens->back();
    for (const auto& token : *tokens) {
      const std::string folder = std::string(kTokenIndexFolder) + token;
      if (!token.ends_with('/')) {
        if (storage_.remove(folder)) ++report.index_entries_removed;
        continue;
      }
      std::string after;
      while (true) {
        if (stop_requested_) return stopped();
        auto names = storage_.list_page(folder, after, options_.restore_page);
        if (!names) return sdk::error(names.error());
        if (names->empty()) break;
        after = names->back();
        for (const auto& name : *names) {
          auto id = unescape_segment(name);
          bool dangling = !id || !validate_lease_id(*id);
          if (!dangling) {
            auto got = storage_.get(record_key(*id));
            if (!got) {
              note(got.error().message());
              continue;
            }
            dangling = !got->has_value();
          }
          if (!dangling) continue;
          if (auto removed = storage_.remove(folder + name); removed) {
            ++report.index_entries_removed;
          } else {
            note(removed.error().message());
          }
        }
      }
    }
  }
  sdk::log_info(kLog, "lease tidy done: scanned " + std::to_string(report.scanned) + ", revoked " +
                          std::to_string(report.revoked) + ", index entries removed " +
                          std::to_string(report.index_entries_removed) + ", errors " +
                          std::to_string(report.errors));
  return report;
}

bool ExpirationManager::start_tidy(TokenExists token_exists) {
  std::lock_guard threads_lock(threads_mu_);
  {
    std::lock_guard lock(mu_);
    if (!running_ || tidy_running_) return false;
  }
  if (tidy_thread_.joinable()) tidy_thread_.join();
  try {
    tidy_thread_ = std::thread([this, check = std::move(token_exists)] {
      auto report = tidy(check);
      if (!report) sdk::log_error(kLog, "lease tidy failed: " + report.error().message());
    });
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// --- the timer and the workers --------------------------------------------------------

std::size_t ExpirationManager::queue_cap() const {
  return std::max<std::size_t>(1024, options_.revoke_workers * options_.revoke_batch * 2);
}

std::size_t ExpirationManager::move_due_locked(std::size_t cap) {
  if (heap_.empty()) return 0;
  const std::int64_t now = now_ns();
  std::size_t moved = 0;
  while (!heap_.empty() && queue_.size() < cap) {
    Node* top = heap_.top();
    if (top->second.due_ns > now) break;
    heap_.pop();
    top->second.state = State::kQueued;
    queue_.push_back(top->first);
    ++moved;
  }
  if (moved > 0) work_cv_.notify_all();
  return moved;
}

void ExpirationManager::timer_loop(std::uint64_t epoch) {
  std::unique_lock lock(mu_);
  const std::size_t cap = queue_cap();
  while (!stop_requested_ && epoch_ == epoch) {
    move_due_locked(cap);
    std::chrono::nanoseconds wait = options_.max_timer_wait;
    if (!heap_.empty() && queue_.size() < cap) {
      std::int64_t left = heap_.top()->second.due_ns - now_ns();
      if (left <= 0) continue;  // came due meanwhile
      wait = std::min(wait, std::chrono::nanoseconds(left));
    }
    timer_cv_.wait_for(lock, wait);
  }
}

void ExpirationManager::worker_loop(std::uint64_t epoch) {
  std::vector<std::string> ids;
  const std::size_t cap = queue_cap();
  while (true) {
    ids.clear();
    {
      std::unique_lock lock(mu_);
      work_cv_.wait_for(lock, options_.max_timer_wait,
                        [&] { return stop_requested_ || !queue_.empty(); });
      if (stop_requested_ || epoch_ != epoch) return;
      if (queue_.empty()) continue;
      while (!queue_.empty() && ids.size() < options_.revoke_batch) {
        ids.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++worker_busy_;
      if (queue_.size() < cap / 2) timer_cv_.notify_one();
    }
    revoke_ids(ids, Actor::kWorker, epoch);
    {
      std::lock_guard lock(mu_);
      if (worker_busy_ > 0) --worker_busy_;  // stop() may have reset it
    }
    idle_cv_.notify_all();
  }
}

std::size_t ExpirationManager::process_due() {
  std::lock_guard lock(mu_);
  if (!running_) return 0;
  return move_due_locked(std::numeric_limits<std::size_t>::max());
}

std::size_t ExpirationManager::run_until_idle() {
  auto epoch = current_epoch();
  if (!epoch) return 0;
  auto attempts = [&] {
    return revoked_total_.load() + revoke_failures_total_.load() + force_revoked_total_.load();
  };
  const std::uint64_t before = attempts();
  std::vector<std::string> ids;
  for (int round = 0; round < kMaxIdleRounds; ++round) {
    ids.clear();
    {
      std::lock_guard lock(mu_);
      if (!epoch_ok_locked(*epoch)) break;
      move_due_locked(std::numeric_limits<std::size_t>::max());
      ids.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
      ++worker_busy_;
    }
    if (!ids.empty()) revoke_ids(ids, Actor::kWorker, *epoch);
    {
      std::lock_guard lock(mu_);
      if (worker_busy_ > 0) --worker_busy_;  // stop() may have reset it
    }
    idle_cv_.notify_all();
    if (ids.empty()) break;
  }
  return static_cast<std::size_t>(attempts() - before);
}

bool ExpirationManager::wait_until_idle(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  while (true) {
    bool idle = queue_.empty() && worker_busy_ == 0 &&
                (heap_.empty() || heap_.top()->second.due_ns > now_ns());
    if (idle) return true;
    if (!running_ || std::chrono::steady_clock::now() >= deadline) return false;
    idle_cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
}

void ExpirationManager::notify_clock_changed() {
  std::lock_guard lock(mu_);  // so a timer about to wait cannot miss the wake-up
  timer_cv_.notify_all();
}

// --- restore --------------------------------------------------------------------------

sdk::Result<void> ExpirationManager::load_page(std::vector<std::string>& ids, std::uint64_t epoch) {
  std::vector<std::size_t> wanted;
  {
    std::lock_guard lock(mu_);
    if (!epoch_ok_locked(epoch)) return stopped();
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (map_.find(ids[i]) == map_.end() && !tombstones_.contains(ids[i])) wanted.push_back(i);
    }
  }
  std::vector<LeaseSchedule> records;
  records.reserve(wanted.size());
  for (std::size_t i : wanted) {
    if (stop_requested_) return stopped();
    auto stored = load_schedule(ids[i]);
    if (!stored) {
      if (stored.error().code() != sdk::Code::kDataLoss) return sdk::error(stored.error());
      // One bad record must not keep every other lease from being restored.
      ++restore_errors_;
      sdk::log_error(kLog, stored.error().message() + "; it stays in storage unmanaged");
      continue;
    }
    if (*stored) records.push_back(std::move(**stored));
  }
  std::lock_guard lock(mu_);
  if (!epoch_ok_locked(epoch)) return stopped();
  std::size_t loaded = 0;
  for (const auto& r : records) {
    if (insert_loaded_locked(r)) ++loaded;
  }
  restore_loaded_ += loaded;
  if (loaded > 0) timer_cv_.notify_one();
  return {};
}

sdk::Result<void> ExpirationManager::run_restore(std::uint64_t epoch, std::size_t threads) {
  {
    std::lock_guard lock(mu_);
    if (!epoch_ok_locked(epoch)) return stopped();
    if (restore_complete_) return {};
    progress_.state = RestoreState::kRunning;
    progress_.last_error.clear();
    restore_started_ = std::chrono::steady_clock::now();
  }
  restore_listed_ = 0;
  sdk::log_info(kLog, "restoring leases");
  const std::string root(kRecordFolder);

  sdk::Status failure;
  if (threads <= 1) {
    auto walked = walk_ids(
        root,
        [&](std::vector<std::string>& ids) -> sdk::Result<bool> {
          restore_listed_ += ids.size();
          LEASEFS_TRY(load_page(ids, epoch));
          return true;
        },
        epoch);
    if (!walked) failure = walked.error();
  } else {
    // The scan feeds pages of ids to loader threads through a short queue.
    struct Shared {
      std::mutex mu;
      std::condition_variable cv;
      std::deque<std::vector<std::string>> pages;
      bool done = false;
      sdk::Status error;
    } shared;
    const std::size_t max_pages = threads * 2;
    constexpr auto kSlice = std::chrono::milliseconds(100);
    auto loader = [&] {
      while (true) {
        std::vector<std::string> page;
        {
          std::unique_lock lock(shared.mu);
          shared.cv.wait_for(lock, kSlice, [&] {
            return !shared.pages.empty() || shared.done || !shared.error.ok();
          });
          if (!shared.error.ok() || stop_requested_) return;
          if (shared.pages.empty()) {
            if (shared.done) return;
            continue;
          }
          page = std::move(shared.pages.front());
          shared.pages.pop_front();
        }
        shared.cv.notify_all();
        if (auto loaded = load_page(page, epoch); !loaded) {
          std::lock_guard lock(shared.mu);
          if (shared.error.ok()) shared.error = loaded.error();
          shared.cv.notify_all();
          return;
        }
      }
    };
    std::vector<std::thread> loaders;
    try {
      for (std::size_t i = 0; i < threads; ++i) loaders.emplace_back(loader);
    } catch (const std::exception& e) {
      std::lock_guard lock(shared.mu);
      shared.error = sdk::Status(sdk::Code::kUnavailable,
                                 std::string("cannot start restore threads: ") + e.what());
    }
    auto walked = walk_ids(
        root,
        [&](std::vector<std::string>& ids) -> sdk::Result<bool> {
          restore_listed_ += ids.size();
          std::unique_lock lock(shared.mu);
          while (shared.pages.size() >= max_pages && shared.error.ok() && !stop_requested_) {
            shared.cv.wait_for(lock, kSlice);
          }
          if (!shared.error.ok()) return sdk::error(shared.error);
          if (stop_requested_) return stopped();
          shared.pages.push_back(std::move(ids));
          shared.cv.notify_all();
          return true;
        },
        epoch);
    {
      std::lock_guard lock(shared.mu);
      shared.done = true;
      if (!walked && shared.error.ok()) shared.error = walked.error();
    }
    shared.cv.notify_all();
    for (auto& t : loaders) t.join();
    failure = shared.error;
  }

  std::lock_guard lock(mu_);
  if (!epoch_ok_locked(epoch)) return stopped();
  if (!failure.ok()) {
    progress_.state = RestoreState::kFailed;
    progress_.last_error = failure.message();
    return sdk::error(failure.with_context("restoring leases"));
  }
  restore_complete_ = true;
  decltype(tombstones_)().swap(tombstones_);
  progress_.state = RestoreState::kDone;
  progress_.elapsed = std::chrono::steady_clock::now() - restore_started_;
  restore_cv_.notify_all();
  sdk::log_info(kLog, "lease restore complete: " + std::to_string(map_.size()) + " leases in " +
                          std::to_string(std::chrono::duration<double>(progress_.elapsed).count()) +
                          " s");
  return {};
}

void ExpirationManager::restore_loop(std::uint64_t epoch) {
  while (!stop_requested_) {
    auto restored = run_restore(epoch, options_.restore_threads);
    if (restored || stop_requested_) return;
    sdk::log_error(kLog, restored.error().message() + "; trying again in " +
                             std::to_string(options_.restore_retry.count()) + " ms");
    std::unique_lock lock(mu_);
    restore_cv_.wait_for(lock, options_.restore_retry, [&] { return stop_requested_.load(); });
  }
}

sdk::Result<void> ExpirationManager::restore() {
  auto epoch = current_epoch();
  if (!epoch) return sdk::error(epoch.error());
  return run_restore(*epoch, 1);
}

bool ExpirationManager::wait_restored(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  restore_cv_.wait_for(lock, timeout, [&] { return restore_complete_ || !running_; });
  return restore_complete_;
}

ExpirationMetrics ExpirationManager::metrics() const {
  ExpirationMetrics m;
  {
    std::lock_guard lock(mu_);
    m.irrevocable_leases = irrevocable_.size();
    m.active_leases = map_.size() - irrevocable_.size();
    m.queued_revocations = queue_.size();
    m.restore = progress_;
    if (progress_.state == RestoreState::kRunning) {
      m.restore.elapsed = std::chrono::steady_clock::now() - restore_started_;
    }
  }
  m.restore.listed = restore_listed_;
  m.restore.loaded = restore_loaded_;
  m.restore.errors = restore_errors_;
  m.registered_total = registered_total_;
  m.renewed_total = renewed_total_;
  m.revoked_total = revoked_total_;
  m.revoke_failures_total = revoke_failures_total_;
  m.force_revoked_total = force_revoked_total_;
  return m;
}

}  // namespace leasefs::backend::lease
