// Token TTL math and lifecycle: Vault's rules for ttl, explicit_max_ttl, period,
// renewal, num_uses, orphans, subset policies and tree revocation.
#include "backend/auth/token_store.h"

#include <gtest/gtest.h>

#include "backend/storage/inmem_storage.h"
#include "tests/support/storage_dump.h"

namespace leasefs::backend::auth {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(store_.setup()); }

  IssuedToken make(TokenCreate req, const TokenEntry* parent = nullptr, bool sudo = true) {
    auto t = store_.create(parent, sudo, std::move(req));
    EXPECT_TRUE(t) << (t ? "" : t.error().message());
    return t ? *t : IssuedToken{};
  }

  storage::InmemStorage storage_;
  sdk::ManualClock clock_;
  TokenStore store_{storage_, clock_, sdk::SystemRandom::instance()};
  sdk::MountLimits limits_{.default_lease_ttl = hours(768), .max_lease_ttl = hours(768)};
};

TEST_F(TokenStoreTest, TokensAreHvsWithEnoughEntropyAndStoredOnlyHashed) {
  auto root = store_.create_root();
  ASSERT_TRUE(root);
  EXPECT_TRUE(root->token.starts_with("hvs."));
  EXPECT_EQ(root->token.size(), 4u + 24u);  // 24 base62 characters: ~143 bits
  EXPECT_EQ(root->entry.policies, std::vector<std::string>{"root"});
  EXPECT_FALSE(root->entry.expires());
  EXPECT_FALSE(root->entry.renewable);
  for (const auto& [key, value] : testing::dump(storage_)) {
    EXPECT_EQ(key.find(root->token.substr(4)), std::string::npos) << key;
    EXPECT_EQ(value.find(root->token.substr(4)), std::string::npos) << key;
  }
  auto found = store_.lookup(root->token);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->accessor, root->entry.accessor);
  EXPECT_FALSE(store_.lookup("hvs.nottherightone")->has_value());
  EXPECT_FALSE(store_.lookup("")->has_value());
}

TEST_F(TokenStoreTest, DefaultTtlIsTheMountDefaultAndCapsWarn) {
  auto root = store_.create_root().value();
  TokenCreate plain;
  plain.limits = {.default_lease_ttl = hours(1), .max_lease_ttl = hours(2)};
  // A root token's child without policies inherits root and, like it, never expires.
  auto inherited = make(plain, &root.entry);
  EXPECT_EQ(inherited.entry.policies, std::vector<std::string>{"root"});
  EXPECT_FALSE(inherited.entry.expires());
  plain.policies = {"web"};
  auto t = make(plain, &root.entry);
  EXPECT_EQ(t.entry.ttl, hours(1));
  EXPECT_TRUE(t.entry.renewable);

  TokenCreate big = plain;
  big.ttl = hours(5);
  big.policies = {"web"};
  auto capped = make(big, &root.entry);
  EXPECT_EQ(capped.entry.ttl, hours(2));
  ASSERT_EQ(capped.warnings.size(), 1u);
  EXPECT_EQ(capped.warnings[0],
            "TTL of \"5h\" exceeded the effective max_ttl of \"2h\"; TTL value is capped accordingly");

  TokenCreate explicit_max = plain;
  explicit_max.policies = {"web"};
  explicit_max.ttl = minutes(45);
  explicit_max.explicit_max_ttl = minutes(30);
  EXPECT_EQ(make(explicit_max, &root.entry).entry.ttl, minutes(30));
}

// A mount tuned to the longest max Vault takes (2562047h, ~292 years) and a token asking
// for all of it: the token must work until the clock's end (2262), not wrap into the past.
TEST_F(TokenStoreTest, TheLongestTtlEndsAtTheClocksEndNotInThePast) {
  auto root = store_.create_root().value();
  TokenCreate req;
  req.policies = {"web"};
  req.limits = {.default_lease_ttl = sdk::Duration::max(), .max_lease_ttl = sdk::Duration::max()};
  req.ttl = sdk::Duration::max();
  auto t = make(req, &root.entry);
  ASSERT_TRUE(t.entry.expires());
  EXPECT_EQ(t.entry.expire_time(), sdk::WallTime::max());
  EXPECT_GT(t.entry.ttl, hours(24 * 365 * 200));
  auto found = store_.lookup(t.token);
  ASSERT_TRUE(found && found->has_value());
  std::vector<std::string> warnings;
  auto renewed = store_.renew(t.entry.id_hash, sdk::Duration::max(), req.limits, warnings);
  ASSERT_TRUE(renewed) << renewed.error().message();
  EXPECT_TRUE(store_.lookup(t.token)->has_value());
  req.period = sdk::Duration::max();
  req.explicit_max_ttl = sdk::Duration::max();
  auto periodic = make(req, &root.entry);
  EXPECT_EQ(periodic.entry.expire_time(), sdk::WallTime::max());
  EXPECT_TRUE(store_.lookup(periodic.token)->has_value());
}

TEST_F(TokenStoreTest, RenewWithinTheMaxCountedFromCreation) {
  auto root = store_.create_root().value();
  TokenCreate req;
  req.policies = {"web"};
  req.ttl = minutes(10);
  req.explicit_max_ttl = minutes(30);
  req.limits = limits_;
  auto t = make(req, &root.entry);
  clock_.advance(minutes(5));
  std::vector<std::string> warnings;
  auto renewed = store_.renew(t.entry.id_hash, minutes(10), limits_, warnings);
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->ttl, minutes(10));
  EXPECT_EQ(renewed->expire_time(), clock_.now() + minutes(10));
  EXPECT_TRUE(warnings.empty());

  clock_.advance(minutes(8));  // 13 minutes after creation; 17 left of the max
  renewed = store_.renew(t.entry.id_hash, hours(1), limits_, warnings);
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->ttl, minutes(17));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "TTL of \"1h\" exceeded the effective max_ttl of \"17m\"; TTL value is capped accordingly");

  clock_.advance(minutes(18));
  EXPECT_FALSE(store_.lookup_hash(t.entry.id_hash)->has_value());  // expired
  auto past = store_.renew(t.entry.id_hash, minutes(1), limits_, warnings);
  ASSERT_FALSE(past);
}

TEST_F(TokenStoreTest, PeriodicTokensRenewToTheirPeriod) {
  auto root = store_.create_root().value();
  TokenCreate req;
  req.policies = {"web"};
  req.period = minutes(15);
  req.limits = {.default_lease_ttl = hours(1), .max_lease_ttl = hours(1)};
  auto t = make(req, &root.entry);
  EXPECT_EQ(t.entry.ttl, minutes(15));
  std::vector<std::string> warnings;
  for (int i = 0; i < 10; ++i) {  // well past the mount max: periods ignore it
    clock_.advance(minutes(10));
    auto r = store_.renew(t.entry.id_hash, hours(3), req.limits, warnings);
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->ttl, minutes(15));
  }
  auto parent = make(TokenCreate{.policies = {"web"}, .limits = req.limits}, &root.entry);
  auto refused = store_.create(&parent.entry, /*sudo=*/false, req);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message(), "root or sudo privileges required to create periodic token");
}

TEST_F(TokenStoreTest, NonRenewableAndRootTokensRefuseRenewal) {
  auto root = store_.create_root().value();
  std::vector<std::string> warnings;
  EXPECT_FALSE(store_.renew(root.entry.id_hash, hours(1), limits_, warnings));
  TokenCreate req;
  req.policies = {"web"};
  req.renewable = false;
  req.limits = limits_;
  auto t = make(req, &root.entry);
  auto r = store_.renew(t.entry.id_hash, hours(1), limits_, warnings);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "lease is not renewable");
}

TEST_F(TokenStoreTest, ChildPoliciesMustBeASubsetUnlessSudo) {
  auto root = store_.create_root().value();
  TokenCreate parent_req;
  parent_req.policies = {"web", "db"};
  parent_req.limits = limits_;
  auto parent = make(parent_req, &root.entry);
  EXPECT_EQ(parent.entry.policies, (std::vector<std::string>{"db", "default", "web"}));

  TokenCreate child;
  child.policies = {"web"};
  child.limits = limits_;
  auto ok = store_.create(&parent.entry, false, child);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->entry.policies, (std::vector<std::string>{"default", "web"}));
  EXPECT_EQ(ok->entry.parent_hash, parent.entry.id_hash);

  child.policies = {"admin"};
  auto bad = store_.create(&parent.entry, false, child);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "child policies must be subset of parent");
  EXPECT_TRUE(store_.create(&parent.entry, true, child));

  child.policies = {"root"};
  auto escalate = store_.create(&parent.entry, true, child);
  ASSERT_FALSE(escalate);
  EXPECT_EQ(escalate.error().message(),
            "root tokens may not be created without parent token being root");
  EXPECT_FALSE(store_.create(&parent.entry, false, TokenCreate{.id = "chosen", .limits = limits_}));
}

TEST_F(TokenStoreTest, NumUsesCountsDownThenTheTokenIsGone) {
  auto root = store_.create_root().value();
  TokenCreate req;
  req.policies = {"web"};
  req.num_uses = 2;
  req.limits = limits_;
  auto t = make(req, &root.entry);
  auto entry = store_.lookup(t.token)->value();
  EXPECT_EQ(entry.num_uses, 2);
  EXPECT_FALSE(store_.use(entry).value());
  entry = store_.lookup(t.token)->value();
  EXPECT_EQ(entry.num_uses, 1);
  EXPECT_TRUE(store_.use(entry).value());  // the last use
  EXPECT_FALSE(store_.lookup(t.token)->has_value());
  EXPECT_FALSE(store_.create(&entry, false, TokenCreate{.limits = limits_}));
  EXPECT_FALSE(store_.create(&root.entry, true, TokenCreate{.num_uses = -1, .limits = limits_}));
}

TEST_F(TokenStoreTest, RevokingAParentRevokesTheWholeTree) {
  auto root = store_.create_root().value();
  TokenCreate req;
  req.policies = {"web"};
  req.limits = limits_;
  auto a = make(req, &root.entry);
  auto b = store_.create(&a.entry, false, req).value();
  auto c = store_.create(&b.entry, false, req).value();
  req.orphan = true;
  auto orphan = make(req, &a.entry);
  EXPECT_TRUE(orphan.entry.orphan());

  ASSERT_TRUE(store_.revoke_tree(a.entry.id_hash));
  EXPECT_FALSE(store_.lookup(a.token)->has_value());
  EXPECT_FALSE(store_.lookup(b.token)->has_value());
  EXPECT_FALSE(store_.lookup(c.token)->has_value());
  EXPECT_FALSE(store_.lookup_accessor(c.entry.accessor)->has_value());
  EXPECT_TRUE(store_.lookup(orphan.token)->has_value());
  EXPECT_TRUE(store_.lookup(root.token)->has_value());
  EXPECT_TRUE(store_.revoke_tree(a.entry.id_hash));  // already gone: fine
  for (const auto& [key, value] : testing::dump(storage_)) {
    EXPECT_EQ(key.find(a.entry.id_hash), std::string::npos) << key;
  }
}

TEST_F(TokenStoreTest, RevokeOrphanLeavesChildrenAsOrphans) {
  auto root = store_.create_root().value();
  TokenCreate req;
  req.policies = {"web"};
  req.limits = limits_;
  auto a = make(req, &root.entry);
  auto b = store_.create(&a.entry, false, req).value();
  ASSERT_TRUE(store_.revoke_orphan(a.entry.id_hash));
  EXPECT_FALSE(store_.lookup(a.token)->has_value());
  auto child = store_.lookup(b.token);
  ASSERT_TRUE(child && child->has_value());
  EXPECT_TRUE((*child)->orphan());
}

TEST_F(TokenStoreTest, RevokeHookRunsForEveryTokenInTheTree) {
  auto root = store_.create_root().value();
  TokenCreate req;
  req.policies = {"web"};
  req.limits = limits_;
  auto a = make(req, &root.entry);
  (void)store_.create(&a.entry, false, req).value();
  int calls = 0;
  store_.set_revoke_hook([&](const TokenEntry&) -> sdk::Result<void> {
    ++calls;
    return {};
  });
  ASSERT_TRUE(store_.revoke_tree(a.entry.id_hash));
  EXPECT_EQ(calls, 2);
}

TEST_F(TokenStoreTest, RevokeTreesRevokesABatchAndFailsTreesAlone) {
  auto root = store_.create_root().value();
  const TokenCreate web{.policies = {"web"}, .limits = limits_};
  auto a = make(web, &root.entry);
  auto b = make(web, &root.entry);
  auto c = make(web, &root.entry);
  auto a_child = store_.create(&a.entry, false, web).value();
  auto c_child = store_.create(&c.entry, false, web).value();
  int calls = 0;
  store_.set_revoke_hook([&](const TokenEntry& entry) -> sdk::Result<void> {
    ++calls;
    if (entry.id_hash == c_child.entry.id_hash) return sdk::internal_error("hook failed");
    return {};
  });
  // a's child is named on its own too (its tree is revoked with a): revoked once.
  const std::vector<std::string> hashes{a.entry.id_hash, a_child.entry.id_hash, b.entry.id_hash,
                                        c.entry.id_hash, "no-such-token"};
  auto statuses = store_.revoke_trees(hashes);
  ASSERT_EQ(statuses.size(), hashes.size());
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_TRUE(statuses[1].ok());
  EXPECT_TRUE(statuses[2].ok());
  EXPECT_FALSE(statuses[3].ok());  // c's child's hook failed: c's tree stays whole
  EXPECT_NE(statuses[3].message().find("hook failed"), std::string::npos);
  EXPECT_TRUE(statuses[4].ok());  // gone already: fine
  EXPECT_EQ(calls, 4);            // a, a's child, b, c's child
  EXPECT_FALSE(store_.lookup(a.token)->has_value());
  EXPECT_FALSE(store_.lookup(a_child.token)->has_value());
  EXPECT_FALSE(store_.lookup(b.token)->has_value());
  EXPECT_TRUE(store_.lookup(c.token)->has_value());
  EXPECT_TRUE(store_.lookup(c_child.token)->has_value());
  EXPECT_TRUE(store_.lookup(root.token)->has_value());
  for (const auto& [key, value] : testing::dump(storage_)) {
    EXPECT_EQ(key.find(a.entry.id_hash), std::string::npos) << key;
    EXPECT_EQ(key.find(b.entry.id_hash), std::string::npos) << key;
  }
}

TEST_F(TokenStoreTest, LookupDataHasVaultsShape) {
  auto root = store_.create_root().value();
  TokenCreate req;
  req.policies = {"web"};
  req.ttl = hours(1);
  req.display_name = "ci job";
  req.meta = {{"team", "infra"}};
  req.limits = limits_;
  auto t = make(req, &root.entry);
  clock_.advance(minutes(10));
  auto data = store_.lookup_data(t.entry, t.token);
  for (const char* key : {"accessor", "creation_time", "creation_ttl", "display_name",
                          "entity_id", "expire_time", "explicit_max_ttl", "id", "issue_time",
                          "meta", "num_uses", "orphan", "path", "policies", "renewable", "ttl",
                          "type"}) {
    EXPECT_TRUE(data.contains(key)) << key;
  }
  EXPECT_EQ(data["ttl"], 3000);
  EXPECT_EQ(data["creation_ttl"], 3600);
  EXPECT_EQ(data["display_name"], "token-ci-job");
  EXPECT_EQ(data["meta"]["team"], "infra");
  EXPECT_EQ(data["id"], t.token);
  EXPECT_EQ(store_.lookup_data(root.entry, root.token)["expire_time"], nullptr);
}

TEST(SanitizePoliciesTest, VaultRules) {
  EXPECT_EQ(sanitize_policies({" Web ", "db", "web"}, true),
            (std::vector<std::string>{"db", "default", "web"}));
  EXPECT_EQ(sanitize_policies({"web", "root"}, true), std::vector<std::string>{"root"});
  EXPECT_EQ(sanitize_policies({}, false), std::vector<std::string>{});
}

}  // namespace
}  // namespace leasefs::backend::auth
