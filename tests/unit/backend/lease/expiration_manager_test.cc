// The expiration manager against InmemStorage and SqliteStorage, with a ManualClock and
// a fake engine that counts its calls and fails on demand: registration and TTL
// clamping, renewal, expiry, revoke/prefix/force/by-token, backoff to irrevocable,
// restore (stop/start, process restart, on demand), tidy, concurrency and a storm.
#include "backend/lease/expiration_manager.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <thread>

#include <gtest/gtest.h>

#include "backend/sdk/storage_view.h"
#include "backend/storage/inmem_storage.h"
#include "backend/storage/sqlite_storage.h"
#include "tests/unit/backend/storage/test_files.h"

namespace leasefs::backend::lease {
namespace {

using namespace std::chrono_literals;
using storage::testing::TempDir;

// The engine and the core, as far as the manager can tell: counts every call per
// lease and fails while told to.
class FakeEngine {
 public:
  ExpirationCallbacks callbacks() {
    ExpirationCallbacks cb;
    cb.revoke_secret = [this](const LeaseRecord& r) -> sdk::Result<void> {
      std::chrono::milliseconds pause;
      {
        std::lock_guard lock(mu_);
        ++revokes_[r.lease_id];
        last_revoked_ = r;
        pause = delay_;
      }
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
      std::lock_guard lock(mu_);
      if (fail_) return sdk::error(fail_code_, fail_message_);
      return {};
    };
    cb.renew_secret = [this](const LeaseRecord& r,
                             sdk::Duration increment) -> sdk::Result<sdk::Response> {
      std::lock_guard lock(mu_);
      ++renews_;
      renew_info_ = r.lease_info(increment);
      if (fail_renew_) return sdk::error(sdk::Code::kUnavailable, "engine renew failed");
      sdk::Response resp;
      resp.secret = renew_secret_;
      return resp;
    };
    cb.revoke_token = [this](const LeaseRecord& r) -> sdk::Result<void> {
      std::function<sdk::Result<void>(const LeaseRecord&)> hook;
      {
        std::lock_guard lock(mu_);
        ++token_revokes_[r.token_hash];
        hook = token_hook_;
      }
      if (hook) return hook(r);
      return {};
    };
    if (batch_tokens_) {
      // The core's TokenStore::revoke_trees: one call for a worker's batch.
      cb.revoke_tokens = [this](std::span<const LeaseRecord* const> records) {
        std::lock_guard lock(mu_);
        token_batches_.push_back(records.size());
        std::vector<sdk::Status> out;
        for (const auto* r : records) {
          ++token_revokes_[r->token_hash];
          out.push_back(failing_tokens_.contains(r->token_hash)
                            ? sdk::Status(sdk::Code::kUnavailable, "token store unreachable")
                            : sdk::Status{});
        }
        return out;
      };
    }
    return cb;
  }

  // Before make(): hand expired token leases over in batches (revoke_tokens).
  void batch_tokens(bool on) { batch_tokens_ = on; }
  void fail_token(const std::string& hash, bool on) {
    std::lock_guard lock(mu_);
    if (on) {
      failing_tokens_.insert(hash);
    } else {
      failing_tokens_.erase(hash);
    }
  }
  std::vector<std::size_t> token_batches() {
    std::lock_guard lock(mu_);
    return token_batches_;
  }

  void fail(bool on, sdk::Code code = sdk::Code::kUnavailable,
            std::string message = "engine unreachable") {
    std::lock_guard lock(mu_);
    fail_ = on;
    fail_code_ = code;
    fail_message_ = std::move(message);
  }
  void fail_renew(bool on) {
    std::lock_guard lock(mu_);
    fail_renew_ = on;
  }
  void set_delay(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    delay_ = d;
  }
  void set_renew_secret(std::optional<sdk::SecretInfo> s) {
    std::lock_guard lock(mu_);
    renew_secret_ = std::move(s);
  }
  void set_token_hook(std::function<sdk::Result<void>(const LeaseRecord&)> hook) {
    std::lock_guard lock(mu_);
    token_hook_ = std::move(hook);
  }
  int revokes(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = revokes_.find(id);
    return it == revokes_.end() ? 0 : it->second;
  }
  int total_revokes() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [id, c] : revokes_) n += c;
    return n;
  }
  std::map<std::string, int> all_revokes() {
    std::lock_guard lock(mu_);
    return revokes_;
  }
  int token_revokes(const std::string& hash) {
    std::lock_guard lock(mu_);
    auto it = token_revokes_.find(hash);
    return it == token_revokes_.end() ? 0 : it->second;
  }
  int renews() {
    std::lock_guard lock(mu_);
    return renews_;
  }
  sdk::LeaseInfo renew_info() {
    std::lock_guard lock(mu_);
    return renew_info_;
  }
  LeaseRecord last_revoked() {
    std::lock_guard lock(mu_);
    return last_revoked_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> revokes_;
  std::map<std::string, int> token_revokes_;
  bool batch_tokens_ = false;
  std::set<std::string> failing_tokens_;
  std::vector<std::size_t> token_batches_;
  int renews_ = 0;
  sdk::LeaseInfo renew_info_;
  LeaseRecord last_revoked_;
  bool fail_ = false;
  bool fail_renew_ = false;
  sdk::Code fail_code_ = sdk::Code::kUnavailable;
  std::string fail_message_;
  std::chrono::milliseconds delay_{0};
  std::optional<sdk::SecretInfo> renew_secret_;
  std::function<sdk::Result<void>(const LeaseRecord&)> token_hook_;
};

// A storage whose next writes can be made to fail.
class FlakyStorage final : public sdk::Storage {
 public:
  explicit FlakyStorage(sdk::Storage& inner) : inner_(inner) {}
  std::atomic<int> fail_applies{0};

  sdk::Result<std::optional<std::string>> get(std::string_view key) override {
    return inner_.get(key);
  }
  sdk::Result<void> put(std::string_view key, std::string_view value) override {
    return inner_.put(key, value);
  }
  sdk::Result<void> remove(std::string_view key) override { return inner_.remove(key); }
  sdk::Result<std::vector<std::string>> list(std::string_view prefix) override {
    return inner_.list(prefix);
  }
  sdk::Result<std::vector<std::string>> list_page(std::string_view prefix, std::string_view after,
                                                  std::size_t limit) override {
    return inner_.list_page(prefix, after, limit);
  }
  sdk::Result<void> apply(std::span<const sdk::StorageOp> ops) override {
    if (fail_applies.load() > 0) {
      --fail_applies;
      return sdk::error(sdk::Code::kUnavailable, "injected storage failure");
    }
    return inner_.apply(ops);
  }

 private:
  sdk::Storage& inner_;
};

// SeededRandom behind a mutex: the manager draws lease ids from many threads.
class LockedRandom final : public sdk::Random {
 public:
  explicit LockedRandom(std::uint64_t seed) : inner_(seed) {}
  sdk::Result<void> fill(std::span<std::uint8_t> out) override {
    std::lock_guard lock(mu_);
    return inner_.fill(out);
  }

 private:
  std::mutex mu_;
  sdk::SeededRandom inner_;
};

enum class Backing { kInmem, kSqlite };

class ExpirationTest : public ::testing::TestWithParam<Backing> {
 protected:
  void SetUp() override { open_storage(); }

  void open_storage() {
    if (GetParam() == Backing::kInmem) {
      if (!inmem_) inmem_ = std::make_unique<storage::InmemStorage>();
      physical_ = inmem_.get();
    } else {
      ASSERT_TRUE(dir_.ok());
      auto opened = storage::SqliteStorage::open(dir_ / "leases.db");
      ASSERT_TRUE(opened) << opened.error().message();
      sqlite_ = std::move(*opened);
      physical_ = sqlite_.get();
    }
    flaky_ = std::make_unique<FlakyStorage>(*physical_);
    view_ = std::make_unique<sdk::StorageView>(*flaky_, "sys/expire/");
  }

  // Drops the manager and the storage object, as a process exit would.
  void restart_process() {
    manager_.reset();
    view_.reset();
    flaky_.reset();
    sqlite_.reset();
    open_storage();
  }

  static ExpirationOptions foreground() {
    ExpirationOptions o;
    o.background = false;
    o.busy_timeout = 5s;
    return o;
  }

  ExpirationManager& make(ExpirationOptions options = foreground(), bool start = true) {
    manager_ =
        std::make_unique<ExpirationManager>(*view_, clock_, random_, engine_.callbacks(), options);
    if (start) {
      EXPECT_TRUE(manager_->start());
    }
    return *manager_;
  }

  RegisterSecret secret(std::string path, sdk::Duration ttl, std::string token = "htoken1") {
    RegisterSecret r;
    r.path = std::move(path);
    r.mount = r.path.substr(0, r.path.find('/') + 1);
    r.token_hash = std::move(token);
    r.secret.type = "creds";
    r.secret.internal = {{"username", "v-user"}};
    r.secret.ttl = ttl;
    r.secret.renewable = true;
    return r;
  }

  std::string reg(std::string path, sdk::Duration ttl, std::string token = "htoken1") {
    auto r = manager_->register_secret(secret(std::move(path), ttl, std::move(token)));
    EXPECT_TRUE(r) << r.error().message();
    return r ? r->lease_id : std::string();
  }

  bool stored(const std::string& key) {
    auto got = view_->get(key);
    return got && got->has_value();
  }

  TempDir dir_;
  std::unique_ptr<storage::InmemStorage> inmem_;
  std::unique_ptr<storage::SqliteStorage> sqlite_;
  sdk::Storage* physical_ = nullptr;
  std::unique_ptr<FlakyStorage> flaky_;
  std::unique_ptr<sdk::StorageView> view_;
  sdk::ManualClock clock_;
  LockedRandom random_{42};
  FakeEngine engine_;
  std::unique_ptr<ExpirationManager> manager_;
};

INSTANTIATE_TEST_SUITE_P(Storages, ExpirationTest,
                         ::testing::Values(Backing::kInmem, Backing::kSqlite),
                         [](const auto& param_info) {
                           return param_info.param == Backing::kInmem ? "Inmem" : "Sqlite";
                         });

// --- registration and lookup ---------------------------------------------------------

TEST_P(ExpirationTest, RegisterPersistsAndLookupShowsIt) {
  auto& m = make();
  auto r = m.register_secret(secret("database/creds/ro", 1h));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->lease_id.starts_with("database/creds/ro/"));
  std::string suffix = r->lease_id.substr(std::string("database/creds/ro/").size());
  EXPECT_EQ(suffix.size(), 24u);
  for (char c : suffix) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << suffix;
  EXPECT_EQ(r->ttl, 1h);
  EXPECT_TRUE(r->renewable);
  EXPECT_TRUE(r->warnings.empty());

  // Persisted before register returned: the record and the token index.
  EXPECT_TRUE(stored("id/" + r->lease_id));
  EXPECT_TRUE(stored(token_index_key("htoken1", r->lease_id)));
  auto rec = decode_record(view_->get("id/" + r->lease_id)->value());
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->mount, "database/");
  EXPECT_EQ(rec->secret_type, "creds");
  EXPECT_EQ(rec->internal["username"], "v-user");
  EXPECT_EQ(rec->token_hash, "htoken1");

  clock_.advance(10min);
  auto d = m.lookup(r->lease_id);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->id, r->lease_id);
  EXPECT_EQ(d->path, "database/creds/ro");
  EXPECT_EQ(d->issue_time + 1h, d->expire_time);
  EXPECT_FALSE(d->last_renewal);
  EXPECT_TRUE(d->renewable);
  EXPECT_EQ(d->ttl, 50min);
  EXPECT_EQ(m.count(), 1u);
  EXPECT_EQ(m.metrics().registered_total, 1u);
  EXPECT_EQ(m.metrics().active_leases, 1u);

  auto missing = m.lookup("database/creds/ro/nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), sdk::Code::kInvalidArgument);
  EXPECT_EQ(missing.error().message(), "invalid lease");
}

TEST_P(ExpirationTest, RegisterRefusesBadInput) {
  auto& m = make();
  EXPECT_FALSE(m.register_secret(secret("", 1h)));
  EXPECT_FALSE(m.register_secret(secret("a/b", 1h, "")));
  EXPECT_FALSE(m.register_secret(secret("a/../b", 1h)));
  EXPECT_FALSE(m.register_secret(secret(std::string(1100, 'p'), 1h)));
}

TEST_P(ExpirationTest, ClampsToRoleMountAndSystemMaxWithVaultsWarning) {
  ExpirationOptions o = foreground();
  o.system_max_ttl = 24h;
  auto& m = make(o);

  auto role = secret("db/creds/a", 2h);
  role.secret.max_ttl = 1h;
  auto r1 = m.register_secret(role);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->ttl, 1h);
  ASSERT_EQ(r1->warnings.size(), 1u);
  EXPECT_EQ(
      r1->warnings[0],
      "TTL of \"2h\" exceeded the effective max_ttl of \"1h\"; TTL value is capped accordingly");

  auto mount = secret("db/creds/a", 2h);
  mount.limits.max_lease_ttl = 30min;
  auto r2 = m.register_secret(mount);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->ttl, 30min);
  ASSERT_EQ(r2->warnings.size(), 1u);
  EXPECT_EQ(
      r2->warnings[0],
      "TTL of \"2h\" exceeded the effective max_ttl of \"30m\"; TTL value is capped accordingly");

  auto system = secret("db/creds/a", 48h);  // mount max 768h, system max 24h
  auto r3 = m.register_secret(system);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->ttl, 24h);
  ASSERT_EQ(r3->warnings.size(), 1u);
  EXPECT_EQ(
      r3->warnings[0],
      "TTL of \"48h\" exceeded the effective max_ttl of \"24h\"; TTL value is capped accordingly");

  auto dflt = secret("db/creds/a", 0s);
  dflt.limits.default_lease_ttl = 15min;
  auto r4 = m.register_secret(dflt);
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->ttl, 15min);
  EXPECT_TRUE(r4->warnings.empty());
}

// --- renewal ------------------------------------------------------------------------

TEST_P(ExpirationTest, RenewCountsFromNowAndStopsAtTheMax) {
  auto& m = make();
  auto req = secret("db/creds/a", 10min);
  req.secret.max_ttl = 1h;
  auto reg = m.register_secret(req);
  ASSERT_TRUE(reg);
  sdk::SecretInfo engine_says;
  engine_says.max_ttl = 1h;
  engine_says.renewable = true;
  engine_says.internal = nlohmann::json::object();
  engine_.set_renew_secret(engine_says);

  clock_.advance(5min);
  auto r1 = m.renew(reg->lease_id, 20min, {});
  ASSERT_TRUE(r1) << r1.error().message();
  EXPECT_EQ(r1->ttl, 20min);
  EXPECT_TRUE(r1->warnings.empty());
  EXPECT_EQ(engine_.renews(), 1);
  EXPECT_EQ(engine_.renew_info().increment, 20min);
  EXPECT_EQ(engine_.renew_info().lease_id, reg->lease_id);
  auto d = m.lookup(reg->lease_id);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->expire_time, clock_.now() + 20min);  // from now, not from the old expiry
  ASSERT_TRUE(d->last_renewal);
  EXPECT_EQ(*d->last_renewal, clock_.now());

  // Renewed every 15 minutes; at 50 minutes into a 1h max a 20m increment is capped to
  // 10m, with Vault's warning.
  clock_.advance(15min);  // t = 20m
  ASSERT_TRUE(m.renew(reg->lease_id, 20min, {}));
  clock_.advance(15min);  // t = 35m
  ASSERT_TRUE(m.renew(reg->lease_id, 20min, {}));
  clock_.advance(15min);  // t = 50m
  auto capped = m.renew(reg->lease_id, 20min, {});
  ASSERT_TRUE(capped) << capped.error().message();
  EXPECT_EQ(capped->ttl, 10min);
  ASSERT_EQ(capped->warnings.size(), 1u);
  EXPECT_EQ(
      capped->warnings[0],
      "TTL of \"20m\" exceeded the effective max_ttl of \"10m\"; TTL value is capped accordingly");

  // The mount's max shrank to 30m: at t = 51m the lease is past it.
  clock_.advance(1min);
  int before = engine_.renews();
  sdk::MountLimits tight;
  tight.max_lease_ttl = 30min;
  auto past = m.renew(reg->lease_id, 1min, tight);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().message(), "past the max TTL, cannot renew");
  EXPECT_EQ(engine_.renews(), before);  // refused before asking the engine
  // And once expired, it is expired.
  clock_.advance(10min);
  auto expired = m.renew(reg->lease_id, 1min, {});
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().message(), "lease expired");
}

TEST_P(ExpirationTest, RenewRefusals) {
  auto& m = make();
  auto fixed = secret("db/creds/a", 10min);
  fixed.secret.renewable = false;
  auto reg = m.register_secret(fixed);
  ASSERT_TRUE(reg);
  EXPECT_FALSE(reg->renewable);
  auto r = m.renew(reg->lease_id, 1min, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "lease is not renewable");
  EXPECT_EQ(engine_.renews(), 0);

  auto none = m.renew("db/creds/a/unknown", 1min, {});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "lease not found");

  RegisterToken tok;
  tok.token_hash = "hT";
  tok.path = "auth/token/create";
  tok.mount = "auth/token/";
  tok.expire_time = clock_.now() + 1h;
  auto t = m.register_token(tok);
  ASSERT_TRUE(t);
  auto tr = m.renew(t->lease_id, 1min, {});
  ASSERT_FALSE(tr);
  EXPECT_EQ(tr.error().message(), "tokens cannot be renewed through this endpoint");

  // An engine failure leaves the lease as it was.
  std::string id = reg->lease_id;
  auto ok_req = secret("db/creds/b", 10min);
  auto renewable = m.register_secret(ok_req);
  ASSERT_TRUE(renewable);
  engine_.fail_renew(true);
  auto failed = m.renew(renewable->lease_id, 1min, {});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message(), "engine renew failed");
  auto d = m.lookup(renewable->lease_id);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->ttl, 10min);
  clock_.advance(10min);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(renewable->lease_id), 1);
}

// --- expiry and revocation ------------------------------------------------------------

TEST_P(ExpirationTest, ExpiresThroughProcessDue) {
  auto& m = make();
  std::string id = reg("db/creds/a", 1min);
  EXPECT_EQ(m.run_until_idle(), 0u);
  clock_.advance(59s);
  EXPECT_EQ(m.process_due(), 0u);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(id), 0);
  clock_.advance(1s);
  EXPECT_EQ(m.run_until_idle(), 1u);
  EXPECT_EQ(engine_.revokes(id), 1);
  EXPECT_EQ(engine_.last_revoked().internal["username"], "v-user");
  EXPECT_FALSE(stored("id/" + id));
  EXPECT_FALSE(stored(token_index_key("htoken1", id)));
  EXPECT_FALSE(m.lookup(id));
  EXPECT_EQ(m.count(), 0u);
  EXPECT_EQ(m.metrics().revoked_total, 1u);
  clock_.advance(1h);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(id), 1);
}

TEST_P(ExpirationTest, RevokeSyncAsyncAndMissing) {
  auto& m = make();
  std::string a = reg("db/creds/a", 1h);
  std::string b = reg("db/creds/a", 1h);

  ASSERT_TRUE(m.revoke(a, RevokeMode::kSync));
  EXPECT_EQ(engine_.revokes(a), 1);
  EXPECT_FALSE(stored("id/" + a));

  ASSERT_TRUE(m.revoke(b));  // async: queued, its expiry recorded as now
  EXPECT_EQ(engine_.revokes(b), 0);
  auto d = m.lookup(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->expire_time, clock_.now());
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(b), 1);

  // Gone already, or never there: success, no engine call.
  EXPECT_TRUE(m.revoke(a, RevokeMode::kSync));
  EXPECT_TRUE(m.revoke(a));
  EXPECT_TRUE(m.revoke("db/creds/a/neverexisted", RevokeMode::kSync));
  EXPECT_EQ(engine_.total_revokes(), 2);
  EXPECT_FALSE(m.revoke(""));
  EXPECT_FALSE(m.revoke("a//b", RevokeMode::kSync));
}

TEST_P(ExpirationTest, SyncRevokeFailureKeepsTheLease) {
  auto& m = make();
  std::string id = reg("db/creds/a", 1h);
  engine_.fail(true);
  auto r = m.revoke(id, RevokeMode::kSync);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("engine unreachable"), std::string::npos);
  EXPECT_NE(r.error().message().find(id), std::string::npos);
  auto d = m.lookup(id);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->ttl, 1h);
  EXPECT_FALSE(d->irrevocable);
  engine_.fail(false);
  ASSERT_TRUE(m.revoke(id, RevokeMode::kSync));
  EXPECT_EQ(engine_.revokes(id), 2);
}

TEST_P(ExpirationTest, RevokePrefix) {
  auto& m = make();
  std::vector<std::string> a, b;
  for (int i = 0; i < 3; ++i) a.push_back(reg("db/creds/a", 1h));
  for (int i = 0; i < 2; ++i) b.push_back(reg("db/creds/b", 1h));
  std::string other = reg("kvx/creds/a", 1h);
  std::string prefixed = reg("db/creds/ab", 1h);  // shares a string prefix, not a folder

  auto n = m.revoke_prefix("db/creds/a");  // async; "/" implied
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(engine_.total_revokes(), 0);
  m.run_until_idle();
  for (const auto& id : a) EXPECT_EQ(engine_.revokes(id), 1);
  EXPECT_EQ(engine_.revokes(prefixed), 0);

  auto s = m.revoke_prefix("db/", RevokeMode::kSync);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, 3u);
  for (const auto& id : b) EXPECT_EQ(engine_.revokes(id), 1);
  EXPECT_EQ(engine_.revokes(prefixed), 1);
  EXPECT_EQ(engine_.revokes(other), 0);
  EXPECT_EQ(m.count(), 1u);

  // An exact lease id revokes just that lease.
  auto one = m.revoke_prefix(other, RevokeMode::kSync);
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, 1u);
  EXPECT_EQ(engine_.revokes(other), 1);
  EXPECT_FALSE(m.revoke_prefix(""));
  auto nothing = m.revoke_prefix("nothing/here/");
  ASSERT_TRUE(nothing);
  EXPECT_EQ(*nothing, 0u);
}

TEST_P(ExpirationTest, SyncPrefixStopsAtTheFirstError) {
  auto& m = make();
  for (int i = 0; i < 4; ++i) reg("db/creds/a", 1h);
  engine_.fail(true);
  auto r = m.revoke_prefix("db/creds/a/", RevokeMode::kSync);
  ASSERT_FALSE(r);
  EXPECT_EQ(engine_.total_revokes(), 1);
  EXPECT_EQ(m.count(), 4u);
}

// Backoff after failure n is (1 << n) * base, +-50%: nothing before the low end, a
// retry by the high end.
void expect_retry_window(sdk::ManualClock& clock, ExpirationManager& m, FakeEngine& engine,
                         const std::string& id, sdk::Duration low, sdk::Duration high) {
  int before = engine.revokes(id);
  clock.advance(low - 1ms);
  m.run_until_idle();
  EXPECT_EQ(engine.revokes(id), before) << "retried before " << low.count();
  clock.advance(high - low + 1ms);
  m.run_until_idle();
  EXPECT_EQ(engine.revokes(id), before + 1) << "no retry by " << high.count();
}

TEST_P(ExpirationTest, FailedRevocationsBackOffThenBecomeIrrevocable) {
  auto& m = make();
  std::string id = reg("db/creds/a", 1min);
  std::string long_error(500, 'e');
  engine_.fail(true, sdk::Code::kUnavailable, "connection refused " + long_error);
  clock_.advance(1min);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(id), 1);
  for (int n = 1; n <= 5; ++n) {
    sdk::Duration expected = std::chrono::seconds(10) * (1 << n);
    expect_retry_window(clock_, m, engine_, id, expected / 2, expected * 3 / 2);
  }
  EXPECT_EQ(engine_.revokes(id), 6);
  auto metrics = m.metrics();
  EXPECT_EQ(metrics.irrevocable_leases, 1u);
  EXPECT_EQ(metrics.active_leases, 0u);
  EXPECT_EQ(metrics.revoke_failures_total, 6u);

  // No timer any more.
  clock_.advance(24h);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(id), 6);

  auto list = m.list_irrevocable(10'000);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->leases.size(), 1u);
  EXPECT_EQ(list->total, 1u);
  EXPECT_EQ(list->leases[0].lease_id, id);
  EXPECT_EQ(list->leases[0].mount, "db/");
  EXPECT_LE(list->leases[0].error.size(), kMaxRevokeErrorBytes);
  EXPECT_TRUE(list->leases[0].error.starts_with("gave up after 6 attempts: connection refused"))
      << list->leases[0].error;
  auto count = m.count_irrevocable();
  ASSERT_TRUE(count);
  EXPECT_EQ(count->lease_count, 1u);
  EXPECT_EQ(count->counts["db/"], 1u);
  auto d = m.lookup(id);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->irrevocable);
  EXPECT_FALSE(d->renewable);
  auto renew = m.renew(id, 1min, {});
  ASSERT_FALSE(renew);
  EXPECT_EQ(renew.error().message(),
            "lease is expired and has failed previous revocation attempts");

  // revoke-force removes it despite the engine.
  auto forced = m.revoke_force("db/creds/");
  ASSERT_TRUE(forced) << forced.error().message();
  EXPECT_EQ(*forced, 1u);
  EXPECT_EQ(engine_.revokes(id), 7);
  EXPECT_EQ(m.metrics().irrevocable_leases, 0u);
  EXPECT_FALSE(m.lookup(id));
  EXPECT_FALSE(stored("id/" + id));
  EXPECT_EQ(m.metrics().force_revoked_total, 1u);
}

TEST_P(ExpirationTest, UnrecoverableErrorsAreIrrevocableAtOnce) {
  auto& m = make();
  std::string id = reg("db/creds/a", 1min);
  engine_.fail(true, sdk::Code::kInvalidArgument, "role does not exist");
  clock_.advance(1min);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(id), 1);
  auto list = m.list_irrevocable(0);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->leases.size(), 1u);
  EXPECT_EQ(list->leases[0].error, "role does not exist");

  // An explicit revoke tries once more; success clears it.
  engine_.fail(false);
  ASSERT_TRUE(m.revoke(id));
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(id), 2);
  EXPECT_EQ(m.metrics().irrevocable_leases, 0u);
  EXPECT_FALSE(m.lookup(id));
}

TEST_P(ExpirationTest, IrrevocableListingIsLimitedAndSorted) {
  auto& m = make();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(reg("db/creds/a", std::chrono::minutes(10 - i)));
  }
  engine_.fail(true, sdk::Code::kUnsupported, "no");
  clock_.advance(1h);
  m.run_until_idle();
  auto all = m.list_irrevocable(0);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->leases.size(), 5u);
  EXPECT_TRUE(all->warning.empty());
  EXPECT_EQ(all->leases[0].lease_id, ids[4]);  // earliest expiry first
  auto some = m.list_irrevocable(2);
  ASSERT_TRUE(some);
  EXPECT_EQ(some->leases.size(), 2u);
  EXPECT_EQ(some->total, 5u);
  EXPECT_FALSE(some->warning.empty());
}

TEST_P(ExpirationTest, DeleteFailureRetriesOnlyTheDelete) {
  auto& m = make();
  std::string id = reg("db/creds/a", 1min);
  clock_.advance(1min);
  flaky_->fail_applies = 1;
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(id), 1);
  EXPECT_TRUE(stored("id/" + id));
  clock_.advance(10s);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(id), 1);  // not revoked at the engine again
  EXPECT_FALSE(stored("id/" + id));
  EXPECT_EQ(m.count(), 0u);
}

TEST_P(ExpirationTest, FailedRegistrationHandsTheSecretBack) {
  auto& m = make();
  flaky_->fail_applies = 1;
  auto r = m.register_secret(secret("db/creds/a", 1h));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), sdk::Code::kUnavailable);
  EXPECT_EQ(engine_.total_revokes(), 1);
  EXPECT_EQ(engine_.last_revoked().internal["username"], "v-user");
  EXPECT_EQ(m.count(), 0u);
}

// --- tokens -------------------------------------------------------------------------

RegisterToken token_lease(std::string hash, sdk::WallTime expire) {
  RegisterToken t;
  t.token_hash = std::move(hash);
  t.path = "auth/token/create";
  t.mount = "auth/token/";
  t.expire_time = expire;
  return t;
}

TEST_P(ExpirationTest, RevokingATokenRevokesItsLeases) {
  auto& m = make();
  auto tok = m.register_token(token_lease("hT", clock_.now() + 1h));
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->lease_id, "auth/token/create/hT");
  std::vector<std::string> owned;
  for (int i = 0; i < 3; ++i) owned.push_back(reg("db/creds/a", 1h, "hT"));
  std::string others = reg("db/creds/a", 1h, "hU");

  auto n = m.revoke_by_token("hT");  // async, as the token store's hook would
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 4u);
  EXPECT_FALSE(m.lookup(tok->lease_id));      // the token's own lease is dropped at once...
  EXPECT_EQ(engine_.token_revokes("hT"), 0);  // ...without calling back for the token
  m.run_until_idle();
  for (const auto& id : owned) EXPECT_EQ(engine_.revokes(id), 1);
  EXPECT_EQ(engine_.revokes(others), 0);
  auto rest = view_->list("token/hT/");
  ASSERT_TRUE(rest);
  EXPECT_TRUE(rest->empty());

  // Sync, and for a token with nothing left.
  std::string more = reg("db/creds/a", 1h, "hU");
  auto s = m.revoke_by_token("hU", RevokeMode::kSync);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, 2u);
  EXPECT_EQ(engine_.revokes(others), 1);
  EXPECT_EQ(engine_.revokes(more), 1);
  auto none = m.revoke_by_token("hNobody");
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
}

TEST_P(ExpirationTest, ExpiredTokenLeaseCallsBackIntoTheCore) {
  for (RevokeMode hook_mode : {RevokeMode::kAsync, RevokeMode::kSync}) {
    auto& m = make();
    std::string hash = hook_mode == RevokeMode::kAsync ? "hA" : "hS";
    // The core's revoke_token: the token store revokes the tree; its hook revokes the
    // token's leases through the manager — re-entering it from a worker.
    engine_.set_token_hook([&m](const LeaseRecord& r) -> sdk::Result<void> {
      auto n = m.revoke_by_token(r.token_hash,
                                 r.token_hash == "hS" ? RevokeMode::kSync : RevokeMode::kAsync);
      if (!n) return sdk::error(n.error());
      return {};
    });
    auto tok = m.register_token(token_lease(hash, clock_.now() + 1min));
    ASSERT_TRUE(tok);
    std::string a = reg("db/creds/a", 1h, hash);
    std::string b = reg("db/creds/b", 1h, hash);
    clock_.advance(1min);
    m.run_until_idle();
    EXPECT_EQ(engine_.token_revokes(hash), 1);
    EXPECT_EQ(engine_.revokes(a), 1);
    EXPECT_EQ(engine_.revokes(b), 1);
    EXPECT_EQ(m.count(), 0u);
    EXPECT_FALSE(stored("id/" + tok->lease_id));
    m.stop();
  }
}

TEST_P(ExpirationTest, ExpiredTokensAreRevokedInBatches) {
  engine_.batch_tokens(true);
  auto& m = make();
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    auto tok = m.register_token(token_lease("hB" + std::to_string(i), clock_.now() + 1min));
    ASSERT_TRUE(tok);
    ids.push_back(tok->lease_id);
  }
  engine_.fail_token("hB3", true);
  clock_.advance(1min);
  m.run_until_idle();
  // Every token went in one call, not one call per token...
  ASSERT_FALSE(engine_.token_batches().empty());
  EXPECT_EQ(engine_.token_batches().front(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(engine_.token_revokes("hB" + std::to_string(i)), 1);
  // ...the nine that went are gone, and the one that failed stays for a retry.
  EXPECT_EQ(m.count(), 1u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(stored("id/" + ids[i]), i == 3) << "lease of token " << i;
  }
  engine_.fail_token("hB3", false);
  clock_.advance(1h);
  m.run_until_idle();
  EXPECT_EQ(engine_.token_revokes("hB3"), 2);
  EXPECT_EQ(m.count(), 0u);
  EXPECT_FALSE(stored("id/" + ids[3]));
  m.stop();
}

TEST_P(ExpirationTest, RegisterTokenAgainMovesTheExpiry) {
  auto& m = make();
  auto first = m.register_token(token_lease("hT", clock_.now() + 1min));
  ASSERT_TRUE(first);
  clock_.advance(30s);
  auto again = m.register_token(token_lease("hT", clock_.now() + 10min));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->lease_id, first->lease_id);
  clock_.advance(2min);
  m.run_until_idle();
  EXPECT_EQ(engine_.token_revokes("hT"), 0);
  auto d = m.lookup(first->lease_id);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->last_renewal);
  EXPECT_EQ(d->kind, LeaseKind::kToken);
  clock_.advance(10min);
  m.run_until_idle();
  EXPECT_EQ(engine_.token_revokes("hT"), 1);
}

// --- restore ------------------------------------------------------------------------

TEST_P(ExpirationTest, RestoreAfterStopStartLosesNothingAndRevokesOnce) {
  auto& m = make();
  std::vector<std::string> short_lived, long_lived;
  for (int i = 0; i < 30; ++i) short_lived.push_back(reg("db/creds/a", 1min));
  for (int i = 0; i < 30; ++i) long_lived.push_back(reg("db/creds/b/deeper", 1h));
  std::string gone = reg("db/creds/a", 1h);
  ASSERT_TRUE(m.revoke(gone, RevokeMode::kSync));
  clock_.advance(1min);
  m.run_until_idle();  // the short-lived ones expire while running
  std::vector<std::string> in_gap;
  for (int i = 0; i < 20; ++i) in_gap.push_back(reg("db/creds/gap", 2min));
  m.stop();
  EXPECT_EQ(m.count(), 0u);
  // Sealed for 10 minutes: `in_gap` expires meanwhile.
  clock_.advance(10min);
  ASSERT_TRUE(m.start());
  EXPECT_EQ(m.count(), 0u);
  // A request before the restore loads its lease on demand.
  auto d = m.lookup(long_lived[5]);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(m.count(), 1u);
  ASSERT_TRUE(m.restore());
  EXPECT_EQ(m.count(), 50u);
  EXPECT_EQ(m.metrics().restore.state, RestoreState::kDone);
  EXPECT_EQ(m.metrics().restore.listed, 50u);
  m.run_until_idle();
  for (const auto& id : in_gap) EXPECT_EQ(engine_.revokes(id), 1) << id;
  for (const auto& id : long_lived) EXPECT_EQ(engine_.revokes(id), 0);
  for (const auto& id : short_lived) EXPECT_EQ(engine_.revokes(id), 1);
  EXPECT_EQ(engine_.revokes(gone), 1);

  // Once more: nothing is revoked twice.
  m.stop();
  ASSERT_TRUE(m.start());
  ASSERT_TRUE(m.restore());
  EXPECT_EQ(m.count(), 30u);
  m.run_until_idle();
  for (const auto& [id, calls] : engine_.all_revokes()) EXPECT_EQ(calls, 1) << id;
  clock_.advance(2h);
  m.run_until_idle();
  for (const auto& [id, calls] : engine_.all_revokes()) EXPECT_EQ(calls, 1) << id;
  EXPECT_EQ(m.count(), 0u);
}

TEST_P(ExpirationTest, IrrevocableLeasesSurviveARestart) {
  auto& m = make();
  std::string id = reg("db/creds/a", 1min);
  engine_.fail(true, sdk::Code::kUnsupported, "no such role");
  clock_.advance(1min);
  m.run_until_idle();
  ASSERT_EQ(m.metrics().irrevocable_leases, 1u);
  m.stop();
  ASSERT_TRUE(m.start());
  ASSERT_TRUE(m.restore());
  EXPECT_EQ(m.metrics().irrevocable_leases, 1u);
  clock_.advance(1h);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(id), 1);
  auto list = m.list_irrevocable(0);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->leases.size(), 1u);
  EXPECT_EQ(list->leases[0].error, "no such role");
}

TEST_P(ExpirationTest, RestoreAfterProcessRestart) {
  if (GetParam() != Backing::kSqlite) GTEST_SKIP() << "a process restart needs a file";
  auto& m = make();
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i)
    ids.push_back(reg(i % 2 ? "db/creds/a" : "pki/issue/web", std::chrono::minutes(1 + i % 3)));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(m.revoke(ids[i], RevokeMode::kSync));
  auto tok = m.register_token(token_lease("hT", clock_.now() + 1h));
  ASSERT_TRUE(tok);
  restart_process();  // new storage object on the same file, new manager

  clock_.advance(2min);  // some expired while the process was down
  auto& again = make();
  ASSERT_TRUE(again.restore());
  EXPECT_EQ(again.count(), 91u);
  again.run_until_idle();
  clock_.advance(5min);
  again.run_until_idle();
  for (const auto& id : ids) EXPECT_EQ(engine_.revokes(id), 1) << id;
  EXPECT_EQ(again.count(), 1u);  // the token lease
  EXPECT_TRUE(again.lookup(tok->lease_id));
}

TEST_P(ExpirationTest, OnDemandLoadBeforeRestoreNeverRevokesTwice) {
  auto& m = make();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(reg("db/creds/a", 1h));
  m.stop();
  ASSERT_TRUE(m.start());
  // Before the restore: a revoke, a renew and an async revoke of unloaded leases.
  ASSERT_TRUE(m.revoke(ids[0], RevokeMode::kSync));
  ASSERT_TRUE(m.renew(ids[1], 2h, {}));
  ASSERT_TRUE(m.revoke(ids[2]));
  auto progress = m.metrics().restore;
  EXPECT_EQ(progress.state, RestoreState::kIdle);
  ASSERT_TRUE(m.restore());
  EXPECT_EQ(m.count(), 19u);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(ids[0]), 1);
  EXPECT_EQ(engine_.revokes(ids[2]), 1);
  clock_.advance(90min);
  m.run_until_idle();
  EXPECT_EQ(engine_.revokes(ids[1]), 0);  // renewed to 2h
  EXPECT_EQ(engine_.revokes(ids[3]), 1);
  clock_.advance(1h);
  m.run_until_idle();
  for (const auto& id : ids) EXPECT_EQ(engine_.revokes(id), 1) << id;
}

TEST_P(ExpirationTest, BackgroundRestoreAndTimer) {
  {
    auto& m = make();
    for (int i = 0; i < 200; ++i) reg(i % 2 ? "db/creds/a" : "db/creds/b", 1min);
    m.stop();
  }
  ExpirationOptions o;
  o.max_timer_wait = 20ms;
  o.restore_threads = 3;
  o.restore_page = 7;
  o.revoke_workers = 4;
  auto& m = make(o);
  ASSERT_TRUE(m.wait_restored(30s));
  EXPECT_EQ(m.count(), 200u);
  EXPECT_EQ(m.metrics().restore.loaded, 200u);
  clock_.advance(1min);
  m.notify_clock_changed();
  ASSERT_TRUE(m.wait_until_idle(30s));
  EXPECT_EQ(engine_.total_revokes(), 200);
  for (const auto& [id, calls] : engine_.all_revokes()) EXPECT_EQ(calls, 1) << id;
  EXPECT_EQ(m.count(), 0u);
  m.stop();
  EXPECT_FALSE(m.running());
}

// --- queries, tidy, lifecycle ---------------------------------------------------------

TEST_P(ExpirationTest, ListsOneLevel) {
  auto& m = make();
  std::string a = reg("db/creds/a", 1h);
  reg("db/creds/b", 1h);
  auto top = m.list("db/");
  ASSERT_TRUE(top);
  EXPECT_EQ(*top, std::vector<std::string>{"creds/"});
  auto creds = m.list("db/creds");
  ASSERT_TRUE(creds);
  EXPECT_EQ(*creds, (std::vector<std::string>{"a/", "b/"}));
  auto leaf = m.list("db/creds/a/");
  ASSERT_TRUE(leaf);
  ASSERT_EQ(leaf->size(), 1u);
  EXPECT_EQ("db/creds/a/" + (*leaf)[0], a);
  auto page = m.list_page("db/creds/", "a/", 10);
  ASSERT_TRUE(page);
  EXPECT_EQ(*page, std::vector<std::string>{"b/"});
  auto root = m.list("");
  ASSERT_TRUE(root);
  EXPECT_EQ(*root, std::vector<std::string>{"db/"});
}

TEST_P(ExpirationTest, TidyRemovesLeasesOfMissingTokensAndDanglingIndexEntries) {
  auto& m = make();
  std::string kept = reg("db/creds/a", 1h, "hLive");
  std::string orphan1 = reg("db/creds/a", 1h, "hGone");
  std::string orphan2 = reg("db/creds/b", 1h, "hGone");
  auto tok = m.register_token(token_lease("hGone2", clock_.now() + 1h));
  ASSERT_TRUE(tok);
  ASSERT_TRUE(view_->put(token_index_key("hLive", "db/creds/a/missing"), ""));
  engine_.fail(true);  // tidy ignores engine errors
  int token_exists_calls = 0;
  auto report = m.tidy([&](std::string_view hash) -> sdk::Result<bool> {
    ++token_exists_calls;
    return hash == "hLive";
  });
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->scanned, 4u);
  EXPECT_EQ(report->revoked, 3u);
  EXPECT_EQ(report->index_entries_removed, 1u);
  EXPECT_EQ(report->errors, 0u);
  EXPECT_EQ(token_exists_calls, 3);  // cached per token
  EXPECT_EQ(engine_.revokes(orphan1), 1);
  EXPECT_EQ(engine_.revokes(orphan2), 1);
  EXPECT_EQ(engine_.token_revokes("hGone2"), 0);
  EXPECT_TRUE(m.lookup(kept));
  EXPECT_FALSE(m.lookup(orphan1));
  EXPECT_FALSE(stored(token_index_key("hLive", "db/creds/a/missing")));
  EXPECT_TRUE(stored(token_index_key("hLive", kept)));
  EXPECT_EQ(m.count(), 1u);
}

TEST_P(ExpirationTest, UnreadableRecordsAreReportedAndForceRemovable) {
  auto& m = make();
  std::string good = reg("db/creds/a", 1min);
  ASSERT_TRUE(view_->put("id/db/creds/a/garbage", "{not json"));
  m.stop();
  ASSERT_TRUE(m.start());
  ASSERT_TRUE(m.restore());  // one bad record does not stop the restore
  EXPECT_EQ(m.count(), 1u);
  EXPECT_EQ(m.metrics().restore.errors, 1u);
  EXPECT_FALSE(m.lookup("db/creds/a/garbage"));
  auto forced = m.revoke_force("db/creds/a/");
  ASSERT_TRUE(forced) << forced.error().message();
  EXPECT_EQ(*forced, 2u);
  EXPECT_FALSE(stored("id/db/creds/a/garbage"));
  EXPECT_EQ(engine_.revokes(good), 1);

  // Before the restore, the on-demand load meets it and says so.
  ASSERT_TRUE(view_->put("id/db/creds/a/garbage2", "L1 s 0 0 1\n{not json"));
  ASSERT_TRUE(view_->put("id/db/creds/a/garbage3", "junk"));
  m.stop();
  ASSERT_TRUE(m.start());
  auto looked = m.lookup("db/creds/a/garbage3");
  ASSERT_FALSE(looked);
  EXPECT_EQ(looked.error().code(), sdk::Code::kDataLoss);
  auto again = m.revoke_force("db/creds/a/");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, 2u);
  EXPECT_FALSE(stored("id/db/creds/a/garbage2"));
  EXPECT_FALSE(stored("id/db/creds/a/garbage3"));
}

TEST_P(ExpirationTest, TidyInTheBackground) {
  auto& m = make();
  std::string orphan = reg("db/creds/a", 1h, "hGone");
  ASSERT_TRUE(m.start_tidy([](std::string_view) -> sdk::Result<bool> { return false; }));
  for (int i = 0; i < 500 && m.count() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(m.count(), 0u);
  EXPECT_EQ(engine_.revokes(orphan), 1);
  m.stop();  // joins the tidy thread
  EXPECT_FALSE(m.start_tidy([](std::string_view) -> sdk::Result<bool> { return true; }));
}

TEST_P(ExpirationTest, StopRefusesCallsAndStartRestoresThem) {
  auto& m = make();
  std::string id = reg("db/creds/a", 1h);
  EXPECT_FALSE(m.start());  // already running
  m.stop();
  m.stop();  // idempotent
  auto r = m.register_secret(secret("db/creds/a", 1h));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), sdk::Code::kSealed);
  EXPECT_EQ(m.lookup(id).error().code(), sdk::Code::kSealed);
  EXPECT_FALSE(m.revoke(id));
  ASSERT_TRUE(m.start());
  EXPECT_TRUE(m.lookup(id));
}

TEST_P(ExpirationTest, MetricsSnapshot) {
  auto& m = make();
  for (int i = 0; i < 5; ++i) reg("db/creds/a", 1min);
  std::string r = reg("db/creds/a", 1h);
  ASSERT_TRUE(m.renew(r, 30min, {}));
  clock_.advance(1min);
  EXPECT_EQ(m.process_due(), 5u);
  auto before = m.metrics();
  EXPECT_EQ(before.queued_revocations, 5u);
  EXPECT_EQ(before.active_leases, 6u);
  m.run_until_idle();
  auto after = m.metrics();
  EXPECT_EQ(after.registered_total, 6u);
  EXPECT_EQ(after.renewed_total, 1u);
  EXPECT_EQ(after.revoked_total, 5u);
  EXPECT_EQ(after.active_leases, 1u);
  EXPECT_EQ(after.queued_revocations, 0u);
  EXPECT_EQ(restore_state_name(after.restore.state), "idle");
}

// --- concurrency ----------------------------------------------------------------------

TEST_P(ExpirationTest, ExpiryRacingAnExplicitRevokeCallsTheEngineOnce) {
  ExpirationOptions o;
  o.max_timer_wait = 1ms;
  o.revoke_workers = 4;
  o.revoke_batch = 1;
  auto& m = make(o);
  ASSERT_TRUE(m.wait_restored(10s));
  engine_.set_delay(2ms);
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(reg("db/creds/a", 1s));
  clock_.advance(1s);
  m.notify_clock_changed();
  std::vector<std::thread> explicit_revokers;
  for (int t = 0; t < 2; ++t) {
    explicit_revokers.emplace_back([&, t] {
      for (std::size_t i = static_cast<std::size_t>(t); i < ids.size(); i += 2) {
        EXPECT_TRUE(m.revoke(ids[i], RevokeMode::kSync));
        EXPECT_TRUE(m.revoke(ids[ids.size() - 1 - i], RevokeMode::kSync));
      }
    });
  }
  for (auto& t : explicit_revokers) t.join();
  ASSERT_TRUE(m.wait_until_idle(30s));
  for (const auto& id : ids) EXPECT_EQ(engine_.revokes(id), 1) << id;
  EXPECT_EQ(m.count(), 0u);
}

TEST_P(ExpirationTest, ConcurrentRegisterRevokeRenewAndExpire) {
  ExpirationOptions o;
  o.max_timer_wait = 2ms;
  o.revoke_workers = 4;
  o.revoke_batch = 8;
  auto& m = make(o);
  ASSERT_TRUE(m.wait_restored(10s));
  const int kThreads = 4;
  const int kPerThread = GetParam() == Backing::kSqlite ? 150 : 600;
  std::mutex ids_mu;
  std::vector<std::string> ids;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 gen(static_cast<unsigned>(t));
      for (int i = 0; i < kPerThread; ++i) {
        auto ttl = std::chrono::milliseconds(100 + gen() % 2000);
        auto r = m.register_secret(secret("db/creds/t" + std::to_string(t), ttl));
        ASSERT_TRUE(r) << r.error().message();
        std::lock_guard lock(ids_mu);
        ids.push_back(r->lease_id);
      }
    });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 gen(static_cast<unsigned>(100 + t));
      while (!done) {
        std::string id;
        {
          std::lock_guard lock(ids_mu);
          if (!ids.empty()) id = ids[gen() % ids.size()];
        }
        if (id.empty()) continue;
        switch (gen() % 3) {
          case 0:
            EXPECT_TRUE(m.revoke(id, RevokeMode::kSync));
            break;
          case 1:
            EXPECT_TRUE(m.revoke(id));
            break;
          default:
            (void)m.renew(id, 500ms, {});
            break;  // may find it expired
        }
      }
    });
  }
  std::thread ticker([&] {
    while (!done) {
      clock_.advance(50ms);
      m.notify_clock_changed();
      std::this_thread::sleep_for(1ms);
    }
  });
  for (int t = 0; t < kThreads; ++t) threads[static_cast<std::size_t>(t)].join();
  done = true;
  for (std::size_t t = kThreads; t < threads.size(); ++t) threads[t].join();
  ticker.join();
  clock_.advance(1h);
  m.notify_clock_changed();
  ASSERT_TRUE(m.wait_until_idle(60s));
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  auto calls = engine_.all_revokes();
  for (const auto& id : ids) EXPECT_EQ(calls[id], 1) << id;
  EXPECT_EQ(m.count(), 0u);
}

// Sanitizer builds run about 20 times slower: they get a smaller storm, same deadline.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kStormLeases = 20'000;
#else
constexpr int kStormLeases = 100'000;
#endif

TEST_P(ExpirationTest, StormOfExpiriesIsRevokedFast) {
  const int kLeases = GetParam() == Backing::kInmem ? kStormLeases : 2'000;
  {
    auto& m = make();
    for (int i = 0; i < kLeases; ++i) {
      ASSERT_TRUE(m.register_secret(secret("db/creds/storm", 1min))) << i;
    }
  }
  ExpirationOptions o;
  o.max_timer_wait = 10ms;
  auto& m = make(o);
  ASSERT_TRUE(m.wait_restored(60s));
  ASSERT_EQ(m.count(), static_cast<std::uint64_t>(kLeases));
  auto start = std::chrono::steady_clock::now();
  clock_.advance(1min);
  m.notify_clock_changed();
  ASSERT_TRUE(m.wait_until_idle(120s));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(m.count(), 0u);
  EXPECT_EQ(engine_.total_revokes(), kLeases);
  EXPECT_EQ(m.metrics().revoked_total, static_cast<std::uint64_t>(kLeases));
  EXPECT_LT(took, 30s);
  auto left = view_->list("id/db/creds/storm/");
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
}

}  // namespace
}  // namespace leasefs::backend::lease
