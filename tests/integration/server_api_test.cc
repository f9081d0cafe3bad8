// Proves that a live `leasefs server` (started on port 0 by the fixture) serves the Vault
// HTTP API's main flows with Vault's JSON and status codes, in every storage and
// transport mode: dev (memory), a config with inmem storage, and SQLite in a temp dir,
// each over HTTP and HTTPS with a throwaway CA. Covered: init and unseal through the API
// (with the sealed/uninitialized answers before), KV v1 and v2 round trips with
// versions, delete/undelete/destroy and check-and-set, ACL policy write/read, a token
// with that policy allowed on one path and denied (403 permission denied) on others,
// AppRole role + role-id + secret-id + login, token revoke then 403, and seal -> 503
// "Vault is sealed" -> unseal with the data and tokens still there. Every server is
// stopped with SIGTERM and must exit 0.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/integration/server_test_env.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;

constexpr char kPolicy[] = R"(
path "secret/data/allowed/*" {
  capabilities = ["read"]
}
path "kv1/allowed/*" {
  capabilities = ["read", "list"]
}
)";

bool contains(const json& list, const std::string& value) {
  return list.is_array() && std::find(list.begin(), list.end(), json(value)) != list.end();
}

class ServerApiTest : public ::testing::TestWithParam<Mode> {
 protected:
  ServerSpec spec() const { return {.storage = GetParam().storage, .tls = GetParam().tls}; }
  bool dev() const { return GetParam().storage == StorageKind::kDev; }

  void SetUp() override {
    auto s = bring_up(spec());
    ASSERT_TRUE(s) << s.error();
    s_ = std::move(*s);
  }

  void TearDown() override {
    if (!s_.process) return;
    ExitStatus status = s_.process->stop();
    EXPECT_TRUE(status.clean()) << "server " << status.describe() << "; output:\n"
                                << s_.process->output();
  }

  Reply call(std::string_view method, std::string_view path, const json& body = nullptr,
             std::string_view token = {}) {
    return s_.api->call(method, path, body, token);
  }
  Reply root(std::string_view method, std::string_view path, const json& body = nullptr) {
    return call(method, path, body, s_.root_token);
  }

  // Writes kPolicy as "app-read" and returns a token holding it.
  std::string policy_token() {
    Reply w = root("PUT", "sys/policies/acl/app-read", {{"policy", kPolicy}});
    EXPECT_EQ(w.status, 204) << w.describe();
    Reply t = root("POST", "auth/token/create", {{"policies", {"app-read"}}, {"ttl", "1h"}});
    EXPECT_EQ(t.status, 200) << t.describe();
    if (t.status != 200) return {};
    return t.json["auth"].value("client_token", "");
  }

  void expect_denied(const Reply& r) {
    EXPECT_EQ(r.status, 403) << r.describe();
    EXPECT_TRUE(r.is_error({"permission denied"})) << r.describe();
  }

  LiveServer s_;
};

TEST_P(ServerApiTest, InitializedAndUnsealedThroughTheApi) {
  Reply status = call("GET", "sys/seal-status");
  ASSERT_EQ(status.status, 200) << status.describe();
  EXPECT_EQ(status.json["type"], "shamir");
  EXPECT_EQ(status.json["initialized"], true);
  EXPECT_EQ(status.json["sealed"], false);
  EXPECT_EQ(status.json["t"], dev() ? 1 : 2);
  EXPECT_EQ(status.json["n"], dev() ? 1 : 3);
  EXPECT_EQ(status.json["storage_type"], GetParam().storage == StorageKind::kSqlite ? "sqlite" : "inmem");
  Reply init = call("GET", "sys/init");
  ASSERT_EQ(init.status, 200) << init.describe();
  EXPECT_EQ(init.json, json({{"initialized", true}}));
  Reply health = call("GET", "sys/health");
  EXPECT_EQ(health.status, 200) << health.describe();
  EXPECT_EQ(health.json["sealed"], false);
  // A second init is refused and changes nothing.
  Reply again = call("PUT", "sys/init", {{"secret_shares", 1}, {"secret_threshold", 1}});
  EXPECT_EQ(again.status, 400) << again.describe();
  EXPECT_TRUE(again.json.contains("errors")) << again.describe();
  EXPECT_EQ(root("GET", "auth/token/lookup-self").status, 200);
}

TEST_P(ServerApiTest, KvV1RoundTrip) {
  Reply w = root("POST", "kv1/app/config", {{"user", "alice"}, {"port", 5432}});
  ASSERT_EQ(w.status, 204) << w.describe();
  Reply r = root("GET", "kv1/app/config");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json["data"], json({{"user", "alice"}, {"port", 5432}}));
  EXPECT_EQ(r.json["lease_id"], "");
  EXPECT_EQ(r.json["renewable"], false);
  EXPECT_EQ(r.json["auth"], nullptr);
  EXPECT_TRUE(r.json.contains("request_id"));

  ASSERT_EQ(root("PUT", "kv1/app/other", {{"x", "1"}}).status, 204);
  Reply list = root("LIST", "kv1/app");
  ASSERT_EQ(list.status, 200) << list.describe();
  EXPECT_EQ(list.json["data"]["keys"], json::array({"config", "other"}));
  Reply top = root("GET", "kv1/?list=true");
  ASSERT_EQ(top.status, 200) << top.describe();
  EXPECT_EQ(top.json["data"]["keys"], json::array({"app/"}));

  ASSERT_EQ(root("PUT", "kv1/app/config", {{"user", "bob"}}).status, 204);
  r = root("GET", "kv1/app/config");
  EXPECT_EQ(r.json["data"], json({{"user", "bob"}})) << r.describe();

  EXPECT_EQ(root("DELETE", "kv1/app/config").status, 204);
  Reply gone = root("GET", "kv1/app/config");
  EXPECT_EQ(gone.status, 404) << gone.describe();
  EXPECT_TRUE(gone.is_error({})) << gone.describe();
}

TEST_P(ServerApiTest, KvV2RoundTripWithVersions) {
  Reply w1 = root("POST", "secret/data/app", {{"data", {{"password", "one"}}}});
  ASSERT_EQ(w1.status, 200) << w1.describe();
  EXPECT_EQ(w1.json["data"]["version"], 1);
  EXPECT_EQ(w1.json["data"]["destroyed"], false);
  Reply w2 = root("PUT", "secret/data/app", {{"data", {{"password", "two"}, {"n", 2}}}});
  ASSERT_EQ(w2.status, 200) << w2.describe();
  EXPECT_EQ(w2.json["data"]["version"], 2);

  Reply latest = root("GET", "secret/data/app");
  ASSERT_EQ(latest.status, 200) << latest.describe();
  EXPECT_EQ(latest.json["data"]["data"], json({{"password", "two"}, {"n", 2}}));
  EXPECT_EQ(latest.json["data"]["metadata"]["version"], 2);
  Reply v1 = root("GET", "secret/data/app?version=1");
  ASSERT_EQ(v1.status, 200) << v1.describe();
  EXPECT_EQ(v1.json["data"]["data"], json({{"password", "one"}}));
  EXPECT_EQ(v1.json["data"]["metadata"]["version"], 1);

  Reply meta = root("GET", "secret/metadata/app");
  ASSERT_EQ(meta.status, 200) << meta.describe();
  EXPECT_EQ(meta.json["data"]["current_version"], 2);
  EXPECT_TRUE(meta.json["data"]["versions"].contains("1")) << meta.describe();
  EXPECT_TRUE(meta.json["data"]["versions"].contains("2")) << meta.describe();

  // Check-and-set: a stale version is refused and writes nothing.
  Reply stale = root("POST", "secret/data/app", {{"options", {{"cas", 1}}}, {"data", {{"password", "x"}}}});
  EXPECT_EQ(stale.status, 400) << stale.describe();
  EXPECT_TRUE(stale.is_error({"check-and-set parameter did not match the current version"}))
      << stale.describe();
  Reply cas = root("POST", "secret/data/app", {{"options", {{"cas", 2}}}, {"data", {{"password", "three"}}}});
  ASSERT_EQ(cas.status, 200) << cas.describe();
  EXPECT_EQ(cas.json["data"]["version"], 3);

  // Soft delete of the latest version: 404 carrying the metadata; undelete restores it.
  EXPECT_EQ(root("DELETE", "secret/data/app").status, 204);
  Reply deleted = root("GET", "secret/data/app");
  EXPECT_EQ(deleted.status, 404) << deleted.describe();
  EXPECT_EQ(deleted.json["data"]["data"], nullptr) << deleted.describe();
  EXPECT_NE(deleted.json["data"]["metadata"]["deletion_time"], "") << deleted.describe();
  EXPECT_EQ(root("POST", "secret/undelete/app", {{"versions", {3}}}).status, 204);
  Reply back = root("GET", "secret/data/app");
  EXPECT_EQ(back.status, 200) << back.describe();
  EXPECT_EQ(back.json["data"]["data"]["password"], "three");

  // Destroy version 1 for good.
  EXPECT_EQ(root("PUT", "secret/destroy/app", {{"versions", {1}}}).status, 204);
  Reply destroyed = root("GET", "secret/data/app?version=1");
  EXPECT_EQ(destroyed.status, 404) << destroyed.describe();
  EXPECT_EQ(destroyed.json["data"]["metadata"]["destroyed"], true) << destroyed.describe();
  Reply still = root("GET", "secret/data/app?version=2");
  EXPECT_EQ(still.status, 200) << still.describe();

  ASSERT_EQ(root("POST", "secret/data/dir/leaf", {{"data", {{"k", "v"}}}}).status, 200);
  Reply list = root("LIST", "secret/metadata/");
  ASSERT_EQ(list.status, 200) << list.describe();
  EXPECT_EQ(list.json["data"]["keys"], json::array({"app", "dir/"}));

  EXPECT_EQ(root("DELETE", "secret/metadata/app").status, 204);
  Reply none = root("GET", "secret/data/app?version=2");
  EXPECT_EQ(none.status, 404) << none.describe();
  EXPECT_TRUE(none.is_error({})) << none.describe();
}

TEST_P(ServerApiTest, PolicyTokenIsAllowedHereAndDeniedThere) {
  ASSERT_EQ(root("POST", "secret/data/allowed/db", {{"data", {{"pw", "s3cret"}}}}).status, 200);
  ASSERT_EQ(root("POST", "secret/data/denied/db", {{"data", {{"pw", "other"}}}}).status, 200);
  ASSERT_EQ(root("POST", "kv1/allowed/a", {{"k", "v"}}).status, 204);
  ASSERT_EQ(root("POST", "kv1/denied/a", {{"k", "v"}}).status, 204);

  Reply write = root("PUT", "sys/policies/acl/app-read", {{"policy", kPolicy}});
  ASSERT_EQ(write.status, 204) << write.describe();
  Reply read = root("GET", "sys/policies/acl/app-read");
  ASSERT_EQ(read.status, 200) << read.describe();
  EXPECT_EQ(read.json["data"]["name"], "app-read");
  EXPECT_EQ(read.json["data"]["policy"], kPolicy);
  Reply legacy = root("GET", "sys/policy/app-read");
  ASSERT_EQ(legacy.status, 200) << legacy.describe();
  EXPECT_EQ(legacy.json["rules"], kPolicy) << legacy.describe();
  Reply list = root("LIST", "sys/policies/acl");
  ASSERT_EQ(list.status, 200) << list.describe();
  EXPECT_TRUE(contains(list.json["data"]["keys"], "app-read")) << list.describe();
  EXPECT_TRUE(contains(list.json["data"]["keys"], "default")) << list.describe();

  Reply created = root("POST", "auth/token/create", {{"policies", {"app-read"}}, {"ttl", "1h"}});
  ASSERT_EQ(created.status, 200) << created.describe();
  const json& auth = created.json["auth"];
  EXPECT_EQ(auth["policies"], json::array({"app-read", "default"})) << created.describe();
  EXPECT_EQ(auth["renewable"], true);
  EXPECT_EQ(auth["lease_duration"], 3600);
  const std::string token = auth.value("client_token", "");
  ASSERT_FALSE(token.empty());

  Reply allowed = call("GET", "secret/data/allowed/db", nullptr, token);
  ASSERT_EQ(allowed.status, 200) << allowed.describe();
  EXPECT_EQ(allowed.json["data"]["data"]["pw"], "s3cret");
  Reply allowed_v1 = call("GET", "kv1/allowed/a", nullptr, token);
  EXPECT_EQ(allowed_v1.status, 200) << allowed_v1.describe();
  Reply listed = call("LIST", "kv1/allowed", nullptr, token);
  EXPECT_EQ(listed.status, 200) << listed.describe();

  expect_denied(call("GET", "secret/data/denied/db", nullptr, token));
  expect_denied(call("GET", "kv1/denied/a", nullptr, token));
  expect_denied(call("POST", "secret/data/allowed/db", {{"data", {{"pw", "x"}}}}, token));
  expect_denied(call("GET", "sys/mounts", nullptr, token));
  expect_denied(call("PUT", "sys/policies/acl/app-read", {{"policy", "path \"*\" {}"}}, token));
  // The denied write changed nothing.
  Reply unchanged = root("GET", "secret/data/allowed/db");
  EXPECT_EQ(unchanged.json["data"]["metadata"]["version"], 1) << unchanged.describe();

  // The default policy still applies.
  Reply self = call("GET", "auth/token/lookup-self", nullptr, token);
  ASSERT_EQ(self.status, 200) << self.describe();
  EXPECT_EQ(self.json["data"]["policies"], json::array({"app-read", "default"}));
  Reply caps = call("POST", "sys/capabilities-self", {{"paths", {"secret/data/allowed/db"}}}, token);
  ASSERT_EQ(caps.status, 200) << caps.describe();
  EXPECT_EQ(caps.json["data"]["secret/data/allowed/db"], json::array({"read"})) << caps.describe();

  // A policy deleted takes its grants with it.
  EXPECT_EQ(root("DELETE", "sys/policies/acl/app-read").status, 204);
  expect_denied(call("GET", "secret/data/allowed/db", nullptr, token));
}

TEST_P(ServerApiTest, AppRoleLogin) {
  ASSERT_EQ(root("PUT", "sys/policies/acl/app-read", {{"policy", kPolicy}}).status, 204);
  ASSERT_EQ(root("POST", "secret/data/allowed/db", {{"data", {{"pw", "s3cret"}}}}).status, 200);

  Reply enable = root("POST", "sys/auth/approle", {{"type", "approle"}});
  ASSERT_EQ(enable.status, 204) << enable.describe();
  Reply auths = root("GET", "sys/auth");
  ASSERT_EQ(auths.status, 200) << auths.describe();
  EXPECT_EQ(auths.json["data"]["approle/"]["type"], "approle") << auths.describe();

  Reply role = root("POST", "auth/approle/role/web",
                    {{"token_policies", {"app-read"}}, {"token_ttl", "20m"},
                     {"token_max_ttl", "1h"}, {"secret_id_ttl", "10m"}});
  ASSERT_EQ(role.status, 204) << role.describe();
  Reply role_read = root("GET", "auth/approle/role/web");
  ASSERT_EQ(role_read.status, 200) << role_read.describe();
  EXPECT_EQ(role_read.json["data"]["token_policies"], json::array({"app-read"}));
  EXPECT_EQ(role_read.json["data"]["token_ttl"], 1200);

  Reply role_id = root("GET", "auth/approle/role/web/role-id");
  ASSERT_EQ(role_id.status, 200) << role_id.describe();
  const std::string rid = role_id.json["data"].value("role_id", "");
  ASSERT_FALSE(rid.empty());
  Reply secret_id = root("POST", "auth/approle/role/web/secret-id", json::object());
  ASSERT_EQ(secret_id.status, 200) << secret_id.describe();
  const std::string sid = secret_id.json["data"].value("secret_id", "");
  ASSERT_FALSE(sid.empty());
  EXPECT_FALSE(secret_id.json["data"].value("secret_id_accessor", "").empty());
  EXPECT_EQ(secret_id.json["data"]["secret_id_ttl"], 600);

  // Login needs no token.
  Reply login = call("POST", "auth/approle/login", {{"role_id", rid}, {"secret_id", sid}});
  ASSERT_EQ(login.status, 200) << login.describe();
  const json& auth = login.json["auth"];
  EXPECT_EQ(auth["token_policies"], json::array({"app-read", "default"})) << login.describe();
  EXPECT_EQ(auth["metadata"], json({{"role_name", "web"}})) << login.describe();
  EXPECT_EQ(auth["lease_duration"], 1200);
  EXPECT_EQ(auth["renewable"], true);
  const std::string token = auth.value("client_token", "");
  ASSERT_FALSE(token.empty());

  Reply allowed = call("GET", "secret/data/allowed/db", nullptr, token);
  EXPECT_EQ(allowed.status, 200) << allowed.describe();
  expect_denied(call("GET", "secret/data/denied/db", nullptr, token));
  expect_denied(call("GET", "auth/approle/role/web/role-id", nullptr, token));

  // A wrong secret ID gets no token.
  Reply wrong = call("POST", "auth/approle/login", {{"role_id", rid}, {"secret_id", "nope"}});
  EXPECT_EQ(wrong.status, 400) << wrong.describe();
  EXPECT_TRUE(wrong.json.contains("errors") && !wrong.json["errors"].empty()) << wrong.describe();
  Reply no_role = call("POST", "auth/approle/login", {{"role_id", "nope"}, {"secret_id", sid}});
  EXPECT_EQ(no_role.status, 400) << no_role.describe();
}

TEST_P(ServerApiTest, RevokedTokenIsRefused) {
  const std::string token = policy_token();
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(root("POST", "secret/data/allowed/x", {{"data", {{"k", "v"}}}}).status, 200);
  EXPECT_EQ(call("GET", "secret/data/allowed/x", nullptr, token).status, 200);
  EXPECT_EQ(call("GET", "auth/token/lookup-self", nullptr, token).status, 200);

  Reply revoke = root("POST", "auth/token/revoke", {{"token", token}});
  EXPECT_EQ(revoke.status, 204) << revoke.describe();
  expect_denied(call("GET", "secret/data/allowed/x", nullptr, token));
  expect_denied(call("GET", "auth/token/lookup-self", nullptr, token));
  // Revoking what is already gone succeeds.
  EXPECT_EQ(root("POST", "auth/token/revoke", {{"token", token}}).status, 204);

  // revoke-self, and the Authorization: Bearer form of the token.
  const std::string second = policy_token();
  ASSERT_FALSE(second.empty());
  Reply bearer = s_.api->raw("GET", "/v1/secret/data/allowed/x", {}, {},
                             {{"Authorization", "Bearer " + second}});
  EXPECT_EQ(bearer.status, 200) << bearer.describe();
  EXPECT_EQ(call("POST", "auth/token/revoke-self", nullptr, second).status, 204);
  expect_denied(call("GET", "secret/data/allowed/x", nullptr, second));
  Reply bearer_after = s_.api->raw("GET", "/v1/secret/data/allowed/x", {}, {},
                                   {{"Authorization", "Bearer " + second}});
  expect_denied(bearer_after);
}

TEST_P(ServerApiTest, SealAnswers503AndUnsealKeepsData) {
  ASSERT_EQ(root("POST", "secret/data/keep", {{"data", {{"v", "1"}}}}).status, 200);
  ASSERT_EQ(root("POST", "secret/data/keep", {{"data", {{"v", "2"}}}}).status, 200);
  ASSERT_EQ(root("POST", "kv1/keep", {{"v", "old"}}).status, 204);
  const std::string token = policy_token();
  ASSERT_FALSE(token.empty());

  // Sealing needs sudo: the policy token may not.
  expect_denied(call("PUT", "sys/seal", nullptr, token));
  Reply seal = root("PUT", "sys/seal");
  ASSERT_EQ(seal.status, 204) << seal.describe();

  Reply status = call("GET", "sys/seal-status");
  ASSERT_EQ(status.status, 200) << status.describe();
  EXPECT_EQ(status.json["sealed"], true);
  EXPECT_EQ(status.json["progress"], 0);
  EXPECT_EQ(call("GET", "sys/health").status, 503);
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "secret/data/keep"}, {"POST", "secret/data/keep"}, {"LIST", "kv1/"},
           {"GET", "sys/mounts"}, {"GET", "auth/token/lookup-self"}, {"PUT", "sys/seal"},
           {"GET", "nosuchmount/x"}, {"POST", "auth/approle/login"}}) {
    json body = method == "POST" ? json({{"data", {{"v", "3"}}}}) : json(nullptr);
    Reply r = root(method, path, body);
    EXPECT_EQ(r.status, 503) << method << " " << path << ": " << r.describe();
    EXPECT_TRUE(r.is_error({"Vault is sealed"})) << method << " " << path << ": " << r.describe();
  }
  Reply anonymous = call("GET", "secret/data/keep");
  EXPECT_EQ(anonymous.status, 503) << anonymous.describe();

  auto unsealed = s_.unseal();
  ASSERT_TRUE(unsealed) << unsealed.error();
  Reply kept = root("GET", "secret/data/keep");
  ASSERT_EQ(kept.status, 200) << kept.describe();
  EXPECT_EQ(kept.json["data"]["data"], json({{"v", "2"}}));
  EXPECT_EQ(kept.json["data"]["metadata"]["version"], 2);
  Reply v1 = root("GET", "kv1/keep");
  EXPECT_EQ(v1.json["data"], json({{"v", "old"}})) << v1.describe();
  // Tokens and policies survive the seal, mounts too.
  EXPECT_EQ(call("GET", "auth/token/lookup-self", nullptr, token).status, 200);
  expect_denied(call("GET", "kv1/keep", nullptr, token));
  Reply mounts = root("GET", "sys/mounts");
  EXPECT_TRUE(mounts.json["data"].contains("kv1/")) << mounts.describe();
  // The sealed write did not happen.
  Reply meta = root("GET", "secret/metadata/keep");
  EXPECT_EQ(meta.json["data"]["current_version"], 2) << meta.describe();
}

// A fresh non-dev server answers as Vault does before init and between unseal keys.
using ServerFreshTest = ::testing::TestWithParam<Mode>;

TEST_P(ServerFreshTest, UninitializedAndPartlyUnsealedAnswers) {
  auto fresh = bring_up({.storage = GetParam().storage, .tls = GetParam().tls}, /*init=*/false);
  ASSERT_TRUE(fresh) << fresh.error();
  ApiCaller& api = *fresh->api;

  Reply init = api.call("GET", "sys/init");
  ASSERT_EQ(init.status, 200) << init.describe();
  EXPECT_EQ(init.json, json({{"initialized", false}}));
  Reply health = api.call("GET", "sys/health");
  EXPECT_EQ(health.status, 501) << health.describe();
  EXPECT_EQ(health.json["initialized"], false);
  Reply status = api.call("GET", "sys/seal-status");
  EXPECT_EQ(status.json["initialized"], false) << status.describe();
  EXPECT_EQ(status.json["sealed"], true) << status.describe();
  Reply early = api.call("GET", "secret/data/x", nullptr, "whatever");
  EXPECT_EQ(early.status, 503) << early.describe();
  EXPECT_TRUE(early.is_error({"Vault is sealed"})) << early.describe();
  Reply unseal_early = api.call("PUT", "sys/unseal", {{"key", std::string(66, 'a')}});
  EXPECT_EQ(unseal_early.status, 400) << unseal_early.describe();

  Reply bad_init = api.call("PUT", "sys/init", {{"secret_shares", 2}, {"secret_threshold", 3}});
  EXPECT_EQ(bad_init.status, 400) << bad_init.describe();
  auto keys = init_server(api, 5, 3);
  ASSERT_TRUE(keys) << keys.error();
  status = api.call("GET", "sys/seal-status");
  EXPECT_EQ(status.json["initialized"], true) << status.describe();
  EXPECT_EQ(status.json["sealed"], true) << status.describe();
  EXPECT_EQ(status.json["t"], 3);
  EXPECT_EQ(status.json["n"], 5);
  Reply sealed_health = api.call("GET", "sys/health");
  EXPECT_EQ(sealed_health.status, 503) << sealed_health.describe();
  Reply sealed = api.call("GET", "sys/mounts", nullptr, keys->root_token);
  EXPECT_EQ(sealed.status, 503) << sealed.describe();
  EXPECT_TRUE(sealed.is_error({"Vault is sealed"})) << sealed.describe();

  // A wrong key is refused without counting; reset clears progress.
  Reply first = api.call("PUT", "sys/unseal", {{"key", keys->keys[0]}});
  EXPECT_EQ(first.json["progress"], 1) << first.describe();
  Reply reset = api.call("PUT", "sys/unseal", {{"reset", true}});
  EXPECT_EQ(reset.json["progress"], 0) << reset.describe();
  Reply garbage = api.call("PUT", "sys/unseal", {{"key", "not-a-key"}});
  EXPECT_EQ(garbage.status, 400) << garbage.describe();
  auto unsealed = unseal_server(api, {keys->keys[4], keys->keys[1], keys->keys[2]});
  ASSERT_TRUE(unsealed) << unsealed.error();
  EXPECT_EQ(api.call("GET", "sys/health").status, 200);
  Reply mounts = api.call("GET", "sys/mounts", nullptr, keys->root_token);
  EXPECT_EQ(mounts.status, 200) << mounts.describe();
  EXPECT_TRUE(mounts.json["data"].contains("sys/")) << mounts.describe();

  ExitStatus stopped = fresh->process->stop();
  EXPECT_TRUE(stopped.clean()) << stopped.describe();
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerApiTest, ::testing::ValuesIn(all_modes()), mode_name);
INSTANTIATE_TEST_SUITE_P(ConfigModes, ServerFreshTest, ::testing::ValuesIn(config_modes()), mode_name);

}  // namespace
}  // namespace leasefs::testing
