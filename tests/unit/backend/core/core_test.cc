// The request pipeline on a real core (memory storage, the real engines): routing,
// authentication, ACL, existence checks, logins, use counts, mounts, sealing.
#include "backend/core/core.h"

#include <gtest/gtest.h>

#include "backend/sdk/encoding.h"
#include "backend/storage/inmem_storage.h"
#include "engines/registry.h"

namespace leasefs::backend::core {
namespace {

using nlohmann::json;
using sdk::Code;
using sdk::Operation;

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CoreOptions options;
    options.physical = &storage_;
    options.clock = &clock_;
    options.random = &sdk::SystemRandom::instance();
    options.secrets_engines = &engines::secrets_engines();
    options.auth_methods = &engines::auth_methods();
    core_ = std::make_unique<Core>(options);
    auto init = core_->initialize(3, 2);
    ASSERT_TRUE(init) << init.error().message();
    root_ = init->root_token;
    keys_ = std::move(init->keys);
    ASSERT_TRUE(core_->sealed());
    unseal();
  }

  void unseal() {
    ASSERT_TRUE(core_->submit_unseal_key(sdk::hex_encode(keys_[0].span())));
    auto s = core_->submit_unseal_key(sdk::hex_encode(keys_[2].span()));
    ASSERT_TRUE(s) << s.error().message();
    ASSERT_FALSE(core_->sealed());
  }

  sdk::Result<CoreResponse> call(const std::string& method, const std::string& path,
                                 json data = json::object(), std::string token = "") {
    CoreRequest req;
    req.id = "test";
    req.method = method;
    req.path = path;
    req.data = std::move(data);
    req.client_token = token.empty() ? root_ : token;
    if (method == "GET") req.operation = Operation::kRead;
    if (method == "LIST") req.operation = Operation::kList;
    if (method == "DELETE") req.operation = Operation::kDelete;
    if (method == "PATCH") req.operation = Operation::kPatch;
    if (method == "POST") {
      req.operation = Operation::kUpdate;
      req.create_or_update = true;
    }
    return core_->handle(req);
  }

  std::string token_with(const std::string& policy_name, const std::string& policy) {
    EXPECT_TRUE(call("POST", "sys/policies/acl/" + policy_name, {{"policy", policy}}));
    auto t = call("POST", "auth/token/create", {{"policies", json::array({policy_name})}});
    EXPECT_TRUE(t);
    return t->auth["client_token"].get<std::string>();
  }

  storage::InmemStorage storage_;
  sdk::ManualClock clock_;
  std::unique_ptr<Core> core_;
  std::string root_;
  std::vector<sdk::SecureBuffer> keys_;
};

TEST_F(CoreTest, UnroutedPathsAndBadTokens) {
  auto r = call("GET", "nowhere/at/all");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_EQ(r.error().message(), "no handler for route \"nowhere/at/all\". route entry not found.");
  r = call("GET", "sys/mounts", {}, "hvs.bogus");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kPermissionDenied);
  EXPECT_EQ(r.error().message(), "permission denied");
  for (const char* bad : {"secret/../sys/mounts", "sys//mounts", "sys/./mounts"}) {
    auto b = call("GET", bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().code(), Code::kInvalidArgument) << bad;
  }
}

TEST_F(CoreTest, MountsEnableUseTuneDisable) {
  ASSERT_TRUE(call("POST", "sys/mounts/team/kv", {{"type", "kv"}, {"options", {{"version", "2"}}}}));
  auto again = call("POST", "sys/mounts/team/kv", {{"type", "kv"}});
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find("path is already in use"), std::string::npos);
  auto nested = call("POST", "sys/mounts/team/kv/inner", {{"type", "kv"}});
  ASSERT_FALSE(nested);
  auto unknown = call("POST", "sys/mounts/x", {{"type", "nosuch"}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(), "unknown secrets engine type: nosuch");

  ASSERT_TRUE(call("POST", "team/kv/data/app", {{"data", {{"k", "v"}}}}));
  auto read = call("GET", "team/kv/data/app");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->data["data"]["k"], "v");
  EXPECT_EQ(read->mount_type, "kv");

  ASSERT_TRUE(call("POST", "sys/mounts/team/kv/tune", {{"max_lease_ttl", "2h"}}));
  auto tune = call("GET", "sys/mounts/team/kv/tune");
  ASSERT_TRUE(tune);
  EXPECT_EQ(tune->data["max_lease_ttl"], 7200);
  auto mounts = call("GET", "sys/mounts");
  ASSERT_TRUE(mounts);
  EXPECT_TRUE(mounts->data.contains("team/kv/"));
  EXPECT_EQ(mounts->data["team/kv/"]["options"]["version"], "2");

  ASSERT_TRUE(call("DELETE", "sys/mounts/team/kv"));
  EXPECT_FALSE(call("GET", "team/kv/data/app"));
  ASSERT_TRUE(call("POST", "sys/mounts/team/kv", {{"type", "kv"}, {"options", {{"version", "2"}}}}));
  auto fresh = call("GET", "team/kv/data/app");
  ASSERT_FALSE(fresh);  // a re-enabled mount starts empty
  EXPECT_EQ(fresh.error().code(), Code::kNotFound);
  auto sys = call("DELETE", "sys/mounts/sys");
  ASSERT_FALSE(sys);
}

TEST_F(CoreTest, MountsSurviveSealAndUnseal) {
  ASSERT_TRUE(call("POST", "sys/mounts/kv1", {{"type", "kv"}}));
  ASSERT_TRUE(call("POST", "kv1/app", {{"password", "p"}}));
  core_->seal();
  auto sealed = call("GET", "kv1/app");
  ASSERT_FALSE(sealed);
  EXPECT_EQ(sealed.error().code(), Code::kSealed);
  EXPECT_EQ(sealed.error().message(), "Vault is sealed");
  unseal();
  auto read = call("GET", "kv1/app");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->data["password"], "p");
}

TEST_F(CoreTest, PoliciesAllowHereAndDenyThere) {
  ASSERT_TRUE(call("POST", "sys/mounts/kv1", {{"type", "kv"}}));
  ASSERT_TRUE(call("POST", "kv1/app/config", {{"a", "1"}}));
  ASSERT_TRUE(call("POST", "kv1/other", {{"b", "2"}}));
  std::string token = token_with("app", R"(
    path "kv1/app/*" { capabilities = ["read", "update"] }
    path "kv1/app/secret" { capabilities = ["deny"] }
  )");
  EXPECT_TRUE(call("GET", "kv1/app/config", {}, token));
  auto other = call("GET", "kv1/other", {}, token);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), Code::kPermissionDenied);
  // update is granted, create is not: the existence check decides which is needed.
  EXPECT_TRUE(call("POST", "kv1/app/config", {{"a", "2"}}, token));
  auto create = call("POST", "kv1/app/new", {{"a", "1"}}, token);
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().code(), Code::kPermissionDenied);
  EXPECT_FALSE(call("GET", "kv1/app/secret", {}, token));
  EXPECT_FALSE(call("GET", "sys/mounts", {}, token));
  auto caps = call("POST", "sys/capabilities-self", {{"paths", json::array({"kv1/app/x", "kv1/other"})}}, token);
  ASSERT_TRUE(caps);
  EXPECT_EQ(caps->data["kv1/app/x"], json::array({"read", "update"}));
  EXPECT_EQ(caps->data["kv1/other"], json::array({"deny"}));
}

TEST_F(CoreTest, SudoPathsNeedSudo) {
  std::string admin = token_with("admin", R"(
    path "sys/*" { capabilities = ["create", "read", "update", "delete", "list"] }
  )");
  auto rotate = call("POST", "sys/rotate", {}, admin);
  ASSERT_FALSE(rotate);
  EXPECT_EQ(rotate.error().code(), Code::kPermissionDenied);
  std::string sudo = token_with("admin2", R"(
    path "sys/*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }
  )");
  EXPECT_TRUE(call("POST", "sys/rotate", {}, sudo));
  auto status = call("GET", "sys/key-status", {}, sudo);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->data["term"], 2);
}

TEST_F(CoreTest, AppRoleLoginIssuesATokenWithTheRolesPolicies) {
  ASSERT_TRUE(call("POST", "sys/auth/approle", {{"type", "approle"}}));
  ASSERT_TRUE(call("POST", "sys/policies/acl/web", {{"policy", R"(path "kv1/*" { capabilities = ["read"] })"}}));
  ASSERT_TRUE(call("POST", "auth/approle/role/web", {{"token_policies", "web"}, {"token_ttl", "20m"}}));
  auto role_id = call("GET", "auth/approle/role/web/role-id");
  ASSERT_TRUE(role_id);
  auto secret = call("POST", "auth/approle/role/web/secret-id");
  ASSERT_TRUE(secret);
  CoreRequest login;
  login.method = "POST";
  login.path = "auth/approle/login";
  login.operation = Operation::kUpdate;
  login.create_or_update = true;
  login.data = {{"role_id", role_id->data["role_id"]}, {"secret_id", secret->data["secret_id"]}};
  auto r = core_->handle(login);  // no token: login is unauthenticated
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->auth["policies"], json::array({"default", "web"}));
  EXPECT_EQ(r->auth["lease_duration"], 1200);
  EXPECT_EQ(r->auth["renewable"], true);
  std::string token = r->auth["client_token"];
  auto self = call("GET", "auth/token/lookup-self", {}, token);
  ASSERT_TRUE(self);
  EXPECT_EQ(self->data["path"], "auth/approle/login");
  EXPECT_EQ(self->data["display_name"], "approle");
}

TEST_F(CoreTest, BoundCidrsLimitWhereATokenWorks) {
  ASSERT_TRUE(call("POST", "sys/auth/approle", {{"type", "approle"}}));
  ASSERT_TRUE(call("POST", "auth/approle/role/bound",
                   {{"token_bound_cidrs", "10.1.0.0/16"}, {"token_policies", "default"}}));
  auto role_id = call("GET", "auth/approle/role/bound/role-id");
  auto secret = call("POST", "auth/approle/role/bound/secret-id");
  ASSERT_TRUE(role_id && secret);
  CoreRequest login;
  login.path = "auth/approle/login";
  login.operation = Operation::kUpdate;
  login.create_or_update = true;
  login.remote_address = "192.0.2.7:4000";
  login.data = {{"role_id", role_id->data["role_id"]}, {"secret_id", secret->data["secret_id"]}};
  auto r = core_->handle(login);
  ASSERT_TRUE(r) << r.error().message();
  CoreRequest use;
  use.path = "auth/token/lookup-self";
  use.client_token = r->auth["client_token"];
  use.remote_address = "192.0.2.7:4001";
  auto outside = core_->handle(use);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code(), Code::kPermissionDenied);
  use.remote_address = "10.1.200.3:4001";
  auto inside = core_->handle(use);
  ASSERT_TRUE(inside) << inside.error().message();
  EXPECT_EQ(inside->data["bound_cidrs"], json::array({"10.1.0.0/16"}));
}

TEST_F(CoreTest, LimitedUseTokensAreRevokedAfterTheirLastUse) {
  ASSERT_TRUE(call("POST", "sys/mounts/kv1", {{"type", "kv"}}));
  ASSERT_TRUE(call("POST", "kv1/a", {{"x", "1"}}));
  auto t = call("POST", "auth/token/create", {{"num_uses", 2}});
  ASSERT_TRUE(t);
  std::string token = t->auth["client_token"];
  EXPECT_TRUE(call("GET", "kv1/a", {}, token));
  EXPECT_TRUE(call("GET", "kv1/a", {}, token));
  auto third = call("GET", "kv1/a", {}, token);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code(), Code::kPermissionDenied);
}

TEST_F(CoreTest, TokenEndpointsFollowVault) {
  auto t = call("POST", "auth/token/create", {{"policies", json::array({"web"})}, {"ttl", "1h"}});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->warnings, std::vector<std::string>{"Policy \"web\" does not exist"});
  ASSERT_TRUE(call("POST", "sys/policies/acl/web",
                   {{"policy", R"(path "auth/token/create" { capabilities = ["update"] })"}}));
  std::string token = t->auth["client_token"];
  std::string accessor = t->auth["accessor"];
  auto by_accessor = call("POST", "auth/token/lookup-accessor", {{"accessor", accessor}});
  ASSERT_TRUE(by_accessor);
  EXPECT_EQ(by_accessor->data["id"], "");
  EXPECT_EQ(by_accessor->data["ttl"], 3600);
  clock_.advance(std::chrono::minutes(30));
  auto caps = call("POST", "sys/capabilities-self", {{"path", "auth/token/renew-self"}}, token);
  ASSERT_TRUE(caps) << caps.error().message();
  EXPECT_EQ(caps->data["capabilities"], nlohmann::json::array({"update"}));
  auto renewed = call("POST", "auth/token/renew-self", {{"increment", "2h"}}, token);
  ASSERT_TRUE(renewed) << renewed.error().message();
  EXPECT_EQ(renewed->auth["lease_duration"], 7200);
  auto orphan = call("POST", "auth/token/create", {{"no_parent", true}}, token);
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().message(), "root or sudo privileges required to create orphan token");
  auto child = call("POST", "auth/token/create", {}, token);
  ASSERT_TRUE(child);
  ASSERT_TRUE(call("POST", "auth/token/revoke-accessor", {{"accessor", accessor}}));
  EXPECT_FALSE(call("GET", "auth/token/lookup-self", {}, token));
  EXPECT_FALSE(call("GET", "auth/token/lookup-self", {}, child->auth["client_token"]));
  auto batch = call("POST", "auth/token/create", {{"type", "batch"}});
  ASSERT_FALSE(batch);
  EXPECT_EQ(batch.error().code(), Code::kInvalidArgument);
}

TEST_F(CoreTest, PolicyEndpointsOldAndNew) {
  ASSERT_TRUE(call("POST", "sys/policy/legacy", {{"rules", R"(path "a/*" { capabilities = ["read"] })"}}));
  auto read = call("GET", "sys/policy/legacy");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->data["name"], "legacy");
  EXPECT_TRUE(read->data.contains("rules"));
  auto acl = call("GET", "sys/policies/acl/legacy");
  ASSERT_TRUE(acl);
  EXPECT_TRUE(acl->data.contains("policy"));
  auto list = call("LIST", "sys/policies/acl");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->data["keys"], json::array({"default", "legacy", "root"}));
  auto bad = call("POST", "sys/policies/acl/broken", {{"policy", "path \"x\" { capabilities = [\"reed\"] }"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_FALSE(call("GET", "sys/policies/acl/broken"));
  EXPECT_FALSE(call("DELETE", "sys/policies/acl/default"));
  EXPECT_FALSE(call("POST", "sys/policies/acl/root", {{"policy", "path \"x\" {}"}}));
  ASSERT_TRUE(call("DELETE", "sys/policy/legacy"));
  auto gone = call("GET", "sys/policy/legacy");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Code::kNotFound);
}

TEST_F(CoreTest, SecondInitIsRefused) {
  auto again = core_->initialize(1, 1);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Code::kAlreadyExists);
}

}  // namespace
}  // namespace leasefs::backend::core
