// The AppRole engine against an in-memory store, a manual clock and the system RNG:
// role CRUD and Vault's shapes, role IDs, secret IDs, login and its failures, CIDR
// bindings, use counting under concurrency, and what ends up in storage.
#include "engines/approle/approle.h"

#include <atomic>
#include <latch>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "backend/sdk/encoding.h"
#include "backend/storage/inmem_storage.h"
#include "backend/sdk/cidr.h"

namespace leasefs::engines::approle {

using backend::sdk::parse_ip;
using backend::sdk::parse_cidr;
using backend::sdk::parse_remote_address;
using backend::sdk::block_contains;
using backend::sdk::cidr_subset;
namespace {

using nlohmann::json;
using sdk::Code;
using sdk::Operation;
using namespace std::chrono_literals;

constexpr std::string_view kInside = "10.1.2.3:5555";
constexpr std::string_view kOutside = "192.168.1.1:1234";

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> out;
  for (const auto& [k, v] : object.items()) out.insert(k);
  return out;
}

// A storage that pauses after every read of a secret ID or accessor entry, so that
// concurrent logins overlap inside their read-modify-write: without the engine's
// per-secret-ID lock they all read the entry before any of them deletes it.
class SlowSecretIdReads final : public sdk::Storage {
 public:
  explicit SlowSecretIdReads(sdk::Storage& inner) : inner_(inner) {}
  sdk::Result<std::optional<std::string>> get(std::string_view key) override {
    auto value = inner_.get(key);
    if (key.starts_with("secret_id/") || key.starts_with("accessor/")) {
      std::this_thread::sleep_for(2ms);  // after the read: the value goes stale meanwhile
    }
    return value;
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
    return inner_.apply(ops);
  }

 private:
  sdk::Storage& inner_;
};

class AppRoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sdk::BackendConfig config;
    config.mount_path = "auth/approle/";
    config.type = "approle";
    auto made = make_approle(config);
    ASSERT_TRUE(made) << made.error().message();
    engine_ = std::move(*made);
  }

  sdk::Request request(Operation op, std::string path, json data = json::object(),
                       std::string_view remote = kInside) {
    sdk::Request r;
    r.operation = op;
    r.path = std::move(path);
    r.mount_point = "auth/approle/";
    r.data = std::move(data);
    r.caller.remote_address = std::string(remote);
    r.limits = limits_;
    r.storage = &storage_;
    r.clock = &clock_;
    r.random = &sdk::SystemRandom::instance();
    return r;
  }

  sdk::Result<sdk::Response> call(Operation op, std::string path, json data = json::object(),
                                  std::string_view remote = kInside) {
    auto r = request(op, std::move(path), std::move(data), remote);
    return engine_->handle(r);
  }

  void create_role(const std::string& name, json data = json::object()) {
    auto r = call(Operation::kCreate, "role/" + name, std::move(data));
    ASSERT_TRUE(r) << r.error().message();
  }

  std::string role_id(const std::string& name) {
    auto r = call(Operation::kRead, "role/" + name + "/role-id");
    EXPECT_TRUE(r) << r.error().message();
    return r ? r->data.value("role_id", "") : "";
  }

  struct Issued {
    std::string secret_id;
    std::string accessor;
    json data;
  };
  Issued new_secret_id(const std::string& name, json data = json::object()) {
    auto r = call(Operation::kUpdate, "role/" + name + "/secret-id", std::move(data));
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return {};
    return {r->data.value("secret_id", ""), r->data.value("secret_id_accessor", ""), r->data};
  }

  sdk::Result<sdk::Response> login(const std::string& rid, const std::string& sid,
                                   std::string_view remote = kInside) {
    json body = {{"role_id", rid}};
    if (!sid.empty()) body["secret_id"] = sid;
    return call(Operation::kUpdate, "login", body, remote);
  }

  // Every key and value in the store.
  std::map<std::string, std::string> dump(const std::string& prefix = "") {
    std::map<std::string, std::string> out;
    auto names = storage_.list(prefix);
    EXPECT_TRUE(names);
    if (!names) return out;
    for (const auto& n : *names) {
      if (n.back() == '/') {
        out.merge(dump(prefix + n));
      } else {
        auto v = storage_.get(prefix + n);
        out[prefix + n] = v && v->has_value() ? **v : "";
      }
    }
    return out;
  }

  std::size_t count_under(const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& [k, v] : dump()) n += k.starts_with(prefix) ? 1 : 0;
    return n;
  }

  static void expect_error(const sdk::Result<sdk::Response>& r, Code code, std::string_view text) {
    ASSERT_FALSE(r) << "expected an error containing: " << text;
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    EXPECT_NE(r.error().message().find(text), std::string::npos) << r.error().message();
  }

  backend::storage::InmemStorage storage_;
  sdk::ManualClock clock_;
  sdk::MountLimits limits_{};
  std::unique_ptr<sdk::Backend> engine_;
};

TEST_F(AppRoleTest, RoleCrudAndReadShape) {
  create_role("web", {{"token_ttl", "1h"},
                      {"token_max_ttl", 7200},
                      {"token_policies", "b,a"},
                      {"secret_id_ttl", "10m"},
                      {"secret_id_num_uses", 5},
                      {"token_bound_cidrs", json::array({"10.0.0.0/8"})},
                      {"token_num_uses", 3},
                      {"token_explicit_max_ttl", "3h"},
                      {"token_no_default_policy", true}});
  auto r = call(Operation::kRead, "role/web");
  ASSERT_TRUE(r) << r.error().message();
  const std::set<std::string> expected = {"bind_secret_id",
                                          "secret_id_bound_cidrs",
                                          "secret_id_num_uses",
                                          "secret_id_ttl",
                                          "local_secret_ids",
                                          "token_bound_cidrs",
                                          "token_explicit_max_ttl",
                                          "token_max_ttl",
                                          "token_no_default_policy",
                                          "token_num_uses",
                                          "token_period",
                                          "token_policies",
                                          "token_ttl",
                                          "token_type"};
  EXPECT_EQ(keys_of(r->data), expected);
  EXPECT_EQ(r->data["bind_secret_id"], true);
  EXPECT_EQ(r->data["secret_id_bound_cidrs"], json::array());
  EXPECT_EQ(r->data["secret_id_num_uses"], 5);
  EXPECT_EQ(r->data["secret_id_ttl"], 600);
  EXPECT_EQ(r->data["local_secret_ids"], false);
  EXPECT_EQ(r->data["token_bound_cidrs"], json::array({"10.0.0.0/8"}));
  EXPECT_EQ(r->data["token_explicit_max_ttl"], 10800);
  EXPECT_EQ(r->data["token_max_ttl"], 7200);
  EXPECT_EQ(r->data["token_no_default_policy"], true);
  EXPECT_EQ(r->data["token_num_uses"], 3);
  EXPECT_EQ(r->data["token_period"], 0);
  EXPECT_EQ(r->data["token_policies"], json::array({"b", "a"}));  // as given, like Vault
  EXPECT_EQ(r->data["token_ttl"], 3600);
  EXPECT_EQ(r->data["token_type"], "default");

  // An update changes only what it sends.
  ASSERT_TRUE(call(Operation::kUpdate, "role/web", {{"token_ttl", 60}}));
  r = call(Operation::kRead, "role/WEB");  // names are case-insensitive
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data["token_ttl"], 60);
  EXPECT_EQ(r->data["token_max_ttl"], 7200);
  EXPECT_EQ(r->data["secret_id_num_uses"], 5);

  create_role("api");
  auto list = call(Operation::kList, "role/");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->data["keys"], json::array({"api", "web"}));

  auto del = call(Operation::kDelete, "role/web");
  ASSERT_TRUE(del);
  EXPECT_TRUE(del->is_empty());
  expect_error(call(Operation::kRead, "role/web"), Code::kNotFound, "");
  EXPECT_TRUE(call(Operation::kDelete, "role/web"));  // deleting what is gone succeeds
  ASSERT_TRUE(call(Operation::kDelete, "role/api"));
  expect_error(call(Operation::kList, "role"), Code::kNotFound, "");
}

TEST_F(AppRoleTest, ExistenceCheckSaysWhetherTheRoleExists) {
  auto r = request(Operation::kCreate, "role/web");
  auto e = engine_->exists(r);
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->has_value());
  EXPECT_FALSE(**e);
  create_role("web");
  e = engine_->exists(r);
  ASSERT_TRUE(e && e->has_value());
  EXPECT_TRUE(**e);
  EXPECT_EQ(engine_->special_paths().unauthenticated, std::vector<std::string>{"login"});
}

TEST_F(AppRoleTest, LegacyPoliciesAndPeriodFollowVault) {
  create_role("web", {{"policies", " B, a ,a"}, {"period", 60}});
  auto r = call(Operation::kRead, "role/web");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data["token_policies"], json::array({"a", "b"}));
  EXPECT_EQ(r->data["policies"], json::array({"a", "b"}));
  EXPECT_EQ(r->data["token_period"], 60);
  EXPECT_EQ(r->data["period"], 60);

  // The new name alone drops the legacy one.
  ASSERT_TRUE(
      call(Operation::kUpdate, "role/web", {{"token_policies", "c"}, {"token_period", 30}}));
  r = call(Operation::kRead, "role/web");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data["token_policies"], json::array({"c"}));
  EXPECT_FALSE(r->data.contains("policies"));
  EXPECT_EQ(r->data["token_period"], 30);
  EXPECT_FALSE(r->data.contains("period"));
}

TEST_F(AppRoleTest, TokenTypeAcceptsServiceOnly) {
  expect_error(call(Operation::kCreate, "role/web", {{"token_type", "batch"}}),
               Code::kInvalidArgument, "batch\" is not supported");
  expect_error(call(Operation::kCreate, "role/web", {{"token_type", "default-batch"}}),
               Code::kInvalidArgument, "not supported");
  expect_error(call(Operation::kCreate, "role/web", {{"token_type", "bogus"}}),
               Code::kInvalidArgument, "invalid 'token_type' value \"bogus\"");
  expect_error(call(Operation::kRead, "role/web"), Code::kNotFound, "");  // nothing stored

  create_role("web", {{"token_type", "service"}});
  EXPECT_EQ(call(Operation::kRead, "role/web")->data["token_type"], "service");
  auto r = call(Operation::kUpdate, "role/web", {{"token_type", "default-service"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0], "default-service has no useful meaning; adjusting to service");
  ASSERT_TRUE(call(Operation::kUpdate, "role/web", {{"token_type", "default"}}));
  EXPECT_EQ(call(Operation::kRead, "role/web")->data["token_type"], "default");
}

TEST_F(AppRoleTest, RoleValidation) {
  expect_error(call(Operation::kCreate, "role/web", {{"token_ttl", 100}, {"token_max_ttl", 50}}),
               Code::kInvalidArgument, "'token_ttl' cannot be greater than 'token_max_ttl'");
  expect_error(call(Operation::kCreate, "role/web", {{"secret_id_num_uses", -1}}),
               Code::kInvalidArgument, "secret_id_num_uses cannot be negative");
  expect_error(call(Operation::kCreate, "role/web", {{"token_num_uses", -1}}),
               Code::kInvalidArgument, "'token_num_uses' cannot be negative");
  expect_error(call(Operation::kCreate, "role/web", {{"bind_secret_id", false}}),
               Code::kInvalidArgument, "at least one constraint should be enabled on the role");
  expect_error(call(Operation::kCreate, "role/web", {{"secret_id_bound_cidrs", "10.0.0.0/33"}}),
               Code::kInvalidArgument, "invalid CIDR blocks");
  expect_error(call(Operation::kCreate, "role/web", {{"token_bound_cidrs", "nope"}}),
               Code::kInvalidArgument, "token_bound_cidrs");
  expect_error(call(Operation::kCreate, "role/web", {{"token_period", "800h"}}),
               Code::kInvalidArgument, "is greater than the backend's maximum lease TTL");
  expect_error(call(Operation::kCreate, "role/web", {{"role_id", ""}}), Code::kInvalidArgument,
               "invalid role_id supplied");
  auto r = call(Operation::kCreate, "role/web", {{"token_max_ttl", "1000h"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("token_max_ttl is greater than"), std::string::npos);
  expect_error(call(Operation::kUpdate, "role/web", {{"local_secret_ids", true}}),
               Code::kInvalidArgument,
               "local_secret_ids can only be modified during role creation");
}

TEST_F(AppRoleTest, BadFieldTypesNameTheField) {
  struct Case {
    std::string path;
    json body;
    std::string field;
  };
  create_role("web");
  const std::vector<Case> cases = {
      {"role/api", {{"token_ttl", "soon"}}, "token_ttl"},
      {"role/api", {{"bind_secret_id", "maybe"}}, "bind_secret_id"},
      {"role/api", {{"secret_id_num_uses", "many"}}, "secret_id_num_uses"},
      {"role/api", {{"token_policies", {{"a", 1}}}}, "token_policies"},
      {"role/api", {{"token_no_default_policy", json::array()}}, "token_no_default_policy"},
      {"role/web/secret-id", {{"num_uses", "x"}}, "num_uses"},
      {"role/web/secret-id", {{"ttl", true}}, "ttl"},
      {"role/web/secret-id", {{"metadata", 5}}, "metadata"},
      {"role/web/secret-id", {{"cidr_list", {{"a", "b"}}}}, "cidr_list"},
      {"role/bad$name", json::object(), "role_name"},
  };
  for (const auto& c : cases) {
    auto r = call(Operation::kUpdate, c.path, c.body);
    ASSERT_FALSE(r) << c.path << " " << c.body.dump();
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << r.error().message();
    EXPECT_NE(r.error().message().find("\"" + c.field + "\""), std::string::npos)
        << r.error().message();
  }
  EXPECT_EQ(count_under("role/api"), 0u);
}

TEST_F(AppRoleTest, RoleIdReadAndCustomRoleIdsAreUnique) {
  create_role("web");
  std::string generated = role_id("web");
  EXPECT_EQ(generated.size(), 36u);  // a UUID

  ASSERT_TRUE(call(Operation::kUpdate, "role/web/role-id", {{"role_id", "my-role-id"}}));
  EXPECT_EQ(role_id("web"), "my-role-id");
  auto secret = new_secret_id("web");
  expect_error(login(generated, secret.secret_id), Code::kInvalidArgument,
               "invalid role or secret ID");  // the old one no longer works
  EXPECT_TRUE(login("my-role-id", secret.secret_id));

  expect_error(call(Operation::kCreate, "role/api", {{"role_id", "my-role-id"}}),
               Code::kInvalidArgument, "role_id already in use");
  create_role("api");
  expect_error(call(Operation::kUpdate, "role/api/role-id", {{"role_id", "my-role-id"}}),
               Code::kInvalidArgument, "role_id already in use");
  expect_error(call(Operation::kUpdate, "role/api/role-id", json::object()), Code::kInvalidArgument,
               "missing role_id");
  expect_error(call(Operation::kUpdate, "role/nope/role-id", {{"role_id", "x"}}), Code::kNotFound,
               "role \"nope\" does not exist");
  expect_error(call(Operation::kRead, "role/nope/role-id"), Code::kNotFound, "");
  // Setting the same role id again is fine, and an update may set it too.
  ASSERT_TRUE(call(Operation::kUpdate, "role/web/role-id", {{"role_id", "my-role-id"}}));
  ASSERT_TRUE(call(Operation::kUpdate, "role/api", {{"role_id", "api-id"}}));
  EXPECT_EQ(role_id("api"), "api-id");
  EXPECT_EQ(count_under("role_id/"), 2u);  // old indexes are gone
}

TEST_F(AppRoleTest, SecretIdGenerateListLookupDestroy) {
  create_role("web");
  auto issued = new_secret_id("web", {{"metadata", R"({"env":"prod"})"},
                                      {"cidr_list", "10.0.0.0/8"},
                                      {"token_bound_cidrs", "10.1.0.0/16"}});
  EXPECT_EQ(keys_of(issued.data), (std::set<std::string>{"secret_id", "secret_id_accessor",
                                                         "secret_id_ttl", "secret_id_num_uses"}));
  EXPECT_EQ(issued.secret_id.size(), 36u);
  EXPECT_EQ(issued.accessor.size(), 36u);
  EXPECT_EQ(issued.data["secret_id_ttl"], 0);
  EXPECT_EQ(issued.data["secret_id_num_uses"], 0);

  auto list = call(Operation::kList, "role/web/secret-id/");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->data["keys"], json::array({issued.accessor}));

  auto lookup =
      call(Operation::kUpdate, "role/web/secret-id/lookup", {{"secret_id", issued.secret_id}});
  ASSERT_TRUE(lookup) << lookup.error().message();
  EXPECT_EQ(keys_of(lookup->data),
            (std::set<std::string>{"secret_id_accessor", "secret_id_num_uses", "secret_id_ttl",
                                   "creation_time", "expiration_time", "last_updated_time",
                                   "metadata", "cidr_list", "token_bound_cidrs"}));
  EXPECT_EQ(lookup->data["secret_id_accessor"], issued.accessor);
  EXPECT_EQ(lookup->data["metadata"], json({{"env", "prod"}}));
  EXPECT_EQ(lookup->data["cidr_list"], json::array({"10.0.0.0/8"}));
  EXPECT_EQ(lookup->data["token_bound_cidrs"], json::array({"10.1.0.0/16"}));
  EXPECT_EQ(lookup->data["expiration_time"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(lookup->data["creation_time"], sdk::rfc3339(clock_.now()));
  EXPECT_FALSE(lookup->data.contains("secret_id"));

  auto by_accessor = call(Operation::kUpdate, "role/web/secret-id-accessor/lookup",
                          {{"secret_id_accessor", issued.accessor}});
  ASSERT_TRUE(by_accessor);
  EXPECT_EQ(by_accessor->data, lookup->data);

  ASSERT_TRUE(call(Operation::kUpdate, "role/web/secret-id-accessor/destroy",
                   {{"secret_id_accessor", issued.accessor}}));
  expect_error(call(Operation::kList, "role/web/secret-id"), Code::kNotFound, "");
  expect_error(call(Operation::kUpdate, "role/web/secret-id-accessor/lookup",
                    {{"secret_id_accessor", issued.accessor}}),
               Code::kNotFound, "failed to find accessor entry for secret_id_accessor");
  expect_error(call(Operation::kUpdate, "role/web/secret-id-accessor/destroy",
                    {{"secret_id_accessor", issued.accessor}}),
               Code::kNotFound, "failed to find accessor entry");
  auto gone =
      call(Operation::kUpdate, "role/web/secret-id/lookup", {{"secret_id", issued.secret_id}});
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->is_empty());

  auto second = new_secret_id("web");
  ASSERT_TRUE(
      call(Operation::kDelete, "role/web/secret-id/destroy", {{"secret_id", second.secret_id}}));
  expect_error(login(role_id("web"), second.secret_id), Code::kInvalidArgument,
               "invalid role or secret ID");
  EXPECT_TRUE(call(Operation::kUpdate, "role/web/secret-id/destroy",
                   {{"secret_id", second.secret_id}}));  // destroying again succeeds
  EXPECT_EQ(count_under("secret_id/"), 0u);
  EXPECT_EQ(count_under("accessor/"), 0u);

  expect_error(call(Operation::kUpdate, "role/web/secret-id/lookup", json::object()),
               Code::kInvalidArgument, "missing secret_id");
  expect_error(call(Operation::kUpdate, "role/web/secret-id-accessor/lookup", json::object()),
               Code::kInvalidArgument, "missing secret_id_accessor");
  expect_error(call(Operation::kUpdate, "role/nope/secret-id"), Code::kNotFound,
               "role \"nope\" does not exist");
  expect_error(call(Operation::kList, "role/nope/secret-id"), Code::kNotFound,
               "role \"nope\" does not exist");
}

TEST_F(AppRoleTest, AccessorOfAnotherRoleIsNotFound) {
  create_role("web");
  create_role("api");
  auto issued = new_secret_id("web");
  expect_error(call(Operation::kUpdate, "role/api/secret-id-accessor/lookup",
                    {{"secret_id_accessor", issued.accessor}}),
               Code::kNotFound, "failed to find accessor entry");
  expect_error(call(Operation::kUpdate, "role/api/secret-id-accessor/destroy",
                    {{"secret_id_accessor", issued.accessor}}),
               Code::kNotFound, "failed to find accessor entry");
  EXPECT_TRUE(login(role_id("web"), issued.secret_id));
}

TEST_F(AppRoleTest, MetadataFormsVaultAccepts) {
  create_role("web");
  auto check = [&](json metadata, json want) {
    auto issued = new_secret_id("web", {{"metadata", metadata}});
    auto r =
        call(Operation::kUpdate, "role/web/secret-id/lookup", {{"secret_id", issued.secret_id}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->data["metadata"], want) << metadata.dump();
  };
  check(R"({"a":"1","b":"2"})", {{"a", "1"}, {"b", "2"}});
  check("a=1, b=2", {{"a", "1"}, {"b", "2"}});
  check(sdk::base64_encode(std::string_view(R"({"c":"3"})")), {{"c", "3"}});
  check(json{{"d", "4"}}, {{"d", "4"}});
  check("", json::object());
  expect_error(call(Operation::kUpdate, "role/web/secret-id", {{"metadata", R"({"a":1})"}}),
               Code::kInvalidArgument, "failed to parse metadata");
  expect_error(call(Operation::kUpdate, "role/web/secret-id", {{"metadata", "novalue"}}),
               Code::kInvalidArgument, "failed to parse metadata");
  // Valid base64 that is not a JSON object is read as "k=v" (and fails as such).
  expect_error(call(Operation::kUpdate, "role/web/secret-id", {{"metadata", "abcd"}}),
               Code::kInvalidArgument, "invalid key/value pair \"abcd\"");
}

TEST_F(AppRoleTest, BytesThatAreNotUtf8NeverThrow) {
  create_role("web", {{"secret_id_bound_cidrs", "10.0.0.0/8"}});
  const std::string junk = "\xff\xfe\x80";
  expect_error(call(Operation::kUpdate, "role/web/secret-id-accessor/lookup",
                    {{"secret_id_accessor", junk}}),
               Code::kNotFound, "failed to find accessor entry");
  // Stored with the bad bytes replaced by U+FFFD.
  auto odd = new_secret_id("web", {{"metadata", "k=" + junk}});
  auto lookup =
      call(Operation::kUpdate, "role/web/secret-id/lookup", {{"secret_id", odd.secret_id}});
  ASSERT_TRUE(lookup);
  EXPECT_EQ(lookup->data["metadata"]["k"], "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  auto issued = new_secret_id("web");
  expect_error(login(role_id("web"), issued.secret_id, junk), Code::kInvalidArgument,
               "unauthorized by CIDR restrictions on the role");
  expect_error(login(junk, issued.secret_id), Code::kInvalidArgument, "invalid role or secret ID");
  expect_error(login(role_id("web"), junk), Code::kInvalidArgument, "invalid role or secret ID");
}

TEST_F(AppRoleTest, SecretIdLimitsMayOnlyNarrowTheRole) {
  create_role("web", {{"secret_id_num_uses", 3}, {"secret_id_ttl", 600}});
  auto defaults = new_secret_id("web");
  EXPECT_EQ(defaults.data["secret_id_num_uses"], 3);
  EXPECT_EQ(defaults.data["secret_id_ttl"], 600);

  const std::string kHigher = "num_uses cannot be higher than the role's secret_id_num_uses";
  const std::string kLonger = "ttl cannot be longer than the role's secret_id_ttl";
  expect_error(call(Operation::kUpdate, "role/web/secret-id", {{"num_uses", 5}}),
               Code::kInvalidArgument, kHigher);
  expect_error(call(Operation::kUpdate, "role/web/secret-id", {{"num_uses", 0}}),
               Code::kInvalidArgument, kHigher);
  expect_error(call(Operation::kUpdate, "role/web/secret-id", {{"num_uses", -1}}),
               Code::kInvalidArgument, "num_uses cannot be negative");
  expect_error(call(Operation::kUpdate, "role/web/secret-id", {{"ttl", 1200}}),
               Code::kInvalidArgument, kLonger);
  expect_error(call(Operation::kUpdate, "role/web/secret-id", {{"ttl", 0}}), Code::kInvalidArgument,
               kLonger);
  auto narrow = new_secret_id("web", {{"num_uses", 2}, {"ttl", "5m"}});
  EXPECT_EQ(narrow.data["secret_id_num_uses"], 2);
  EXPECT_EQ(narrow.data["secret_id_ttl"], 300);

  // An unlimited role lets a secret ID pick any limits.
  create_role("open");
  auto any = new_secret_id("open", {{"num_uses", 100}, {"ttl", "1h"}});
  EXPECT_EQ(any.data["secret_id_num_uses"], 100);

  // The lifetime is capped at the mount's max lease TTL (the stored ttl is not).
  limits_.max_lease_ttl = 100s;
  auto capped = new_secret_id("open", {{"ttl", "1h"}});
  EXPECT_EQ(capped.data["secret_id_ttl"], 100);
  auto lookup =
      call(Operation::kUpdate, "role/open/secret-id/lookup", {{"secret_id", capped.secret_id}});
  ASSERT_TRUE(lookup);
  EXPECT_EQ(lookup->data["secret_id_ttl"], 3600);
  EXPECT_EQ(lookup->data["expiration_time"], sdk::rfc3339(clock_.now() + 100s));
}

TEST_F(AppRoleTest, CustomSecretId) {
  create_role("web");
  auto r = call(Operation::kUpdate, "role/web/custom-secret-id", {{"secret_id", "my-secret"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->data["secret_id"], "my-secret");
  EXPECT_EQ(r->data["secret_id_accessor"].get<std::string>().size(), 36u);
  EXPECT_TRUE(login(role_id("web"), "my-secret"));
  expect_error(call(Operation::kUpdate, "role/web/custom-secret-id", {{"secret_id", "my-secret"}}),
               Code::kInvalidArgument, "SecretID is already registered");
  expect_error(call(Operation::kUpdate, "role/web/custom-secret-id", json::object()),
               Code::kInvalidArgument, "missing secret_id");
}

TEST_F(AppRoleTest, LoginReturnsTheRoleTokenSettings) {
  create_role("web", {{"token_policies", "dev,ops"},
                      {"token_ttl", "1h"},
                      {"token_max_ttl", "2h"},
                      {"token_explicit_max_ttl", "3h"},
                      {"token_period", "30m"},
                      {"token_num_uses", 7},
                      {"token_no_default_policy", true},
                      {"token_bound_cidrs", "10.0.0.0/8"}});
  auto issued = new_secret_id("web", {{"metadata", R"({"env":"prod","role_name":"spoof"})"},
                                      {"token_bound_cidrs", "10.1.0.0/16"}});
  auto r = login("  " + role_id("web") + "\n", issued.secret_id);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->data.is_null());
  EXPECT_FALSE(r->secret.has_value());
  ASSERT_TRUE(r->auth.has_value());
  const sdk::AuthInfo& auth = *r->auth;
  EXPECT_EQ(auth.policies, (std::vector<std::string>{"dev", "ops"}));
  EXPECT_EQ(auth.metadata,
            (std::map<std::string, std::string>{{"env", "prod"}, {"role_name", "web"}}));
  EXPECT_EQ(auth.display_name, "");
  EXPECT_EQ(auth.ttl, 1h);
  EXPECT_EQ(auth.max_ttl, 2h);
  EXPECT_EQ(auth.explicit_max_ttl, 3h);
  EXPECT_EQ(auth.period, 30min);
  EXPECT_EQ(auth.num_uses, 7);
  EXPECT_TRUE(auth.renewable);
  EXPECT_TRUE(auth.no_default_policy);
  EXPECT_EQ(auth.internal["role_name"], "web");
  EXPECT_EQ(auth.internal["role_id"], role_id("web"));
  EXPECT_EQ(auth.bound_cidrs, std::vector<std::string>{"10.1.0.0/16"});  // the secret ID's

  auto plain = new_secret_id("web");
  r = login(role_id("web"), plain.secret_id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->auth->bound_cidrs, std::vector<std::string>{"10.0.0.0/8"});  // the role's
  EXPECT_EQ(r->auth->metadata, (std::map<std::string, std::string>{{"role_name", "web"}}));
}

TEST_F(AppRoleTest, LoginFailures) {
  create_role("web");
  create_role("api");
  auto web_secret = new_secret_id("web");
  auto api_secret = new_secret_id("api");
  const std::string kInvalid = "invalid role or secret ID";

  expect_error(login("", web_secret.secret_id), Code::kInvalidArgument, "missing role_id");
  expect_error(login("   ", web_secret.secret_id), Code::kInvalidArgument, "missing role_id");
  expect_error(login("no-such-role-id", web_secret.secret_id), Code::kInvalidArgument, kInvalid);
  expect_error(login(std::string(5000, 'r'), web_secret.secret_id), Code::kInvalidArgument,
               kInvalid);
  expect_error(login(role_id("web"), ""), Code::kInvalidArgument, "missing secret_id");
  expect_error(login(role_id("web"), "not-a-secret-id"), Code::kInvalidArgument, kInvalid);
  expect_error(login(role_id("web"), std::string(5000, 's')), Code::kInvalidArgument, kInvalid);
  expect_error(login(role_id("web"), api_secret.secret_id), Code::kInvalidArgument, kInvalid);
  expect_error(login(role_id("api"), web_secret.secret_id), Code::kInvalidArgument, kInvalid);
  // No message repeats what the client sent.
  auto r = login(role_id("web"), api_secret.secret_id);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), kInvalid);
  // Both still work for their own roles.
  EXPECT_TRUE(login(role_id("web"), web_secret.secret_id));
  EXPECT_TRUE(login(role_id("api"), api_secret.secret_id));
}

TEST_F(AppRoleTest, ExpiredSecretIdIsInvalidAndCleaned) {
  create_role("web", {{"secret_id_ttl", 60}});
  auto issued = new_secret_id("web");
  clock_.advance(59s);
  EXPECT_TRUE(login(role_id("web"), issued.secret_id));
  clock_.advance(2s);
  expect_error(login(role_id("web"), issued.secret_id), Code::kInvalidArgument,
               "invalid role or secret ID");
  EXPECT_EQ(count_under("secret_id/"), 0u);
  EXPECT_EQ(count_under("accessor/"), 0u);
}

TEST_F(AppRoleTest, NumUsesCountsLoginsAndTheLastUseDeletes) {
  create_role("web");
  auto issued = new_secret_id("web", {{"num_uses", 2}});
  ASSERT_TRUE(login(role_id("web"), issued.secret_id));
  clock_.advance(5s);
  auto lookup =
      call(Operation::kUpdate, "role/web/secret-id/lookup", {{"secret_id", issued.secret_id}});
  ASSERT_TRUE(lookup);
  EXPECT_EQ(lookup->data["secret_id_num_uses"], 1);
  ASSERT_TRUE(login(role_id("web"), issued.secret_id));
  expect_error(login(role_id("web"), issued.secret_id), Code::kInvalidArgument,
               "invalid role or secret ID");
  EXPECT_EQ(count_under("secret_id/"), 0u);
  EXPECT_EQ(count_under("accessor/"), 0u);
}

TEST_F(AppRoleTest, CidrBindingsAreChecked) {
  create_role("web");
  auto bound = new_secret_id("web", {{"cidr_list", "10.0.0.0/8"}, {"num_uses", 1}});
  expect_error(login(role_id("web"), bound.secret_id, kOutside), Code::kInvalidArgument,
               "source address \"192.168.1.1:1234\" unauthorized by CIDR restrictions on the "
               "secret ID");
  // The refused login did not use it up.
  EXPECT_TRUE(login(role_id("web"), bound.secret_id, kInside));

  create_role("net", {{"secret_id_bound_cidrs", "10.0.0.0/8,2001:db8::/32"}});
  auto net = new_secret_id("net");
  expect_error(login(role_id("net"), net.secret_id, kOutside), Code::kInvalidArgument,
               "unauthorized by CIDR restrictions on the role");
  EXPECT_TRUE(login(role_id("net"), net.secret_id, "10.200.0.1"));
  EXPECT_TRUE(login(role_id("net"), net.secret_id, "[2001:db8::1]:443"));
  EXPECT_TRUE(login(role_id("net"), net.secret_id, "::ffff:10.0.0.9"));
  expect_error(login(role_id("net"), net.secret_id, "[2001:db9::1]:443"), Code::kInvalidArgument,
               "unauthorized by CIDR restrictions on the role");
  expect_error(login(role_id("net"), net.secret_id, ""), Code::kInternal,
               "failed to get connection information");

  // A secret ID's blocks must lie inside the role's.
  expect_error(call(Operation::kUpdate, "role/net/secret-id", {{"cidr_list", "192.168.0.0/16"}}),
               Code::kInvalidArgument, "failed to verify subset relationship");
  expect_error(call(Operation::kUpdate, "role/net/secret-id", {{"cidr_list", "10.0.0.0/33"}}),
               Code::kInvalidArgument, "failed to validate CIDR blocks");
  auto narrow = new_secret_id("net", {{"cidr_list", "10.1.0.0/16"}});
  EXPECT_TRUE(login(role_id("net"), narrow.secret_id, "10.1.9.9:1"));
  expect_error(login(role_id("net"), narrow.secret_id, "10.2.0.1:1"), Code::kInvalidArgument,
               "on the secret ID");

  create_role("tok", {{"token_bound_cidrs", "10.0.0.0/8"}});
  expect_error(
      call(Operation::kUpdate, "role/tok/secret-id", {{"token_bound_cidrs", "11.0.0.0/8"}}),
      Code::kInvalidArgument, "failed to verify subset relationship");
}

TEST_F(AppRoleTest, BindSecretIdFalseNeedsAnotherConstraint) {
  expect_error(call(Operation::kCreate, "role/web", {{"bind_secret_id", false}}),
               Code::kInvalidArgument, "at least one constraint should be enabled on the role");
  create_role("web", {{"bind_secret_id", false}, {"secret_id_bound_cidrs", "10.0.0.0/8"}});
  auto r = login(role_id("web"), "");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->auth->metadata, (std::map<std::string, std::string>{{"role_name", "web"}}));
  expect_error(login(role_id("web"), "", kOutside), Code::kInvalidArgument,
               "unauthorized by CIDR restrictions on the role");
  expect_error(call(Operation::kUpdate, "role/web/secret-id"), Code::kInvalidArgument,
               "bind_secret_id is not set on the role");
  // Dropping the last constraint is refused.
  expect_error(call(Operation::kDelete, "role/web/secret-id-bound-cidrs"), Code::kInvalidArgument,
               "at least one constraint");

  // With only token_bound_cidrs, anyone with the role ID logs in; the token is bound.
  create_role("tok", {{"bind_secret_id", false}, {"token_bound_cidrs", "10.0.0.0/8"}});
  r = login(role_id("tok"), "", kOutside);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->auth->bound_cidrs, std::vector<std::string>{"10.0.0.0/8"});
}

TEST_F(AppRoleTest, ConcurrentLoginsOnTheLastUseHaveOneWinner) {
  create_role("web");
  const std::string rid = role_id("web");
  SlowSecretIdReads slow(storage_);
  constexpr int kThreads = 12;
  for (int round = 0; round < 10; ++round) {
    auto issued = new_secret_id("web", {{"num_uses", 1}});
    std::atomic<int> wins{0};
    std::atomic<int> refusals{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        auto r = request(Operation::kUpdate, "login",
                         {{"role_id", rid}, {"secret_id", issued.secret_id}});
        r.storage = &slow;
        start.arrive_and_wait();
        auto result = engine_->handle(r);
        if (result) {
          ++wins;
        } else if (result.error().message() == "invalid role or secret ID") {
          ++refusals;
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(wins.load(), 1) << "round " << round;
    ASSERT_EQ(refusals.load(), kThreads - 1) << "round " << round;
  }
  EXPECT_EQ(count_under("secret_id/"), 0u);
}

TEST_F(AppRoleTest, RoleDeleteRemovesSecretIdsAndIndexes) {
  create_role("web");
  create_role("api");
  const std::string web_id = role_id("web");
  std::vector<Issued> web;
  for (int i = 0; i < 3; ++i) web.push_back(new_secret_id("web", {{"metadata", "n=1"}}));
  auto api = new_secret_id("api");
  EXPECT_EQ(count_under("accessor/"), 4u);

  ASSERT_TRUE(call(Operation::kDelete, "role/web"));
  auto all = dump();
  for (const auto& [key, value] : all) {
    EXPECT_FALSE(key.starts_with("secret_id/web/")) << key;
    EXPECT_NE(key, "role/web");
    EXPECT_EQ(value.find(web_id), std::string::npos) << key;
  }
  EXPECT_EQ(count_under("accessor/"), 1u);
  EXPECT_EQ(count_under("role_id/"), 1u);
  EXPECT_EQ(count_under("secret_id/"), 1u);
  expect_error(login(web_id, web[0].secret_id), Code::kInvalidArgument,
               "invalid role or secret ID");
  EXPECT_TRUE(login(role_id("api"), api.secret_id));

  // A new role of the same name starts clean.
  create_role("web");
  expect_error(login(role_id("web"), web[0].secret_id), Code::kInvalidArgument,
               "invalid role or secret ID");
  expect_error(call(Operation::kList, "role/web/secret-id"), Code::kNotFound, "");
}

TEST_F(AppRoleTest, StorageNeverHoldsASecretId) {
  create_role("web", {{"secret_id_num_uses", 5}});
  std::vector<std::string> secrets;
  for (int i = 0; i < 5; ++i) secrets.push_back(new_secret_id("web").secret_id);
  ASSERT_TRUE(call(Operation::kUpdate, "role/web/custom-secret-id",
                   {{"secret_id", "custom-Secret-Value-123"}}));
  secrets.push_back("custom-Secret-Value-123");
  ASSERT_TRUE(login(role_id("web"), secrets[0]));  // a login rewrites the entry
  ASSERT_TRUE(login(role_id("web"), secrets.back()));
  auto all = dump();
  ASSERT_FALSE(all.empty());
  for (const auto& [key, value] : all) {
    for (const auto& s : secrets) {
      EXPECT_EQ(key.find(s), std::string::npos) << key;
      EXPECT_EQ(value.find(s), std::string::npos) << key << " = " << value;
    }
  }
}

TEST_F(AppRoleTest, TidyRemovesExpiredAndDanglingEntries) {
  create_role("web");
  auto short_lived = new_secret_id("web", {{"ttl", 60}});
  auto forever = new_secret_id("web");
  ASSERT_TRUE(storage_.put("accessor/deadbeef",
                           json{{"secret_id_hmac", "cafe"}, {"role_name", "web"}}.dump()));
  clock_.advance(120s);
  auto r = call(Operation::kUpdate, "tidy/secret-id");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 202);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("removed 1 secret IDs and 1 dangling"), std::string::npos)
      << r->warnings[0];
  auto list = call(Operation::kList, "role/web/secret-id");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->data["keys"], json::array({forever.accessor}));
  EXPECT_EQ(count_under("accessor/"), 1u);
  EXPECT_TRUE(login(role_id("web"), forever.secret_id));
}

TEST_F(AppRoleTest, SingleSettingPaths) {
  create_role("web", {{"token_ttl", 60}});
  ASSERT_TRUE(call(Operation::kUpdate, "role/web/policies", {{"token_policies", "x,y"}}));
  auto r = call(Operation::kRead, "role/web/policies");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data, json({{"token_policies", {"x", "y"}}}));
  ASSERT_TRUE(call(Operation::kUpdate, "role/web/policies", {{"policies", "Z"}}));
  r = call(Operation::kRead, "role/web/policies");
  EXPECT_EQ(r->data, json({{"token_policies", {"z"}}, {"policies", {"z"}}}));
  ASSERT_TRUE(call(Operation::kDelete, "role/web/policies"));
  EXPECT_EQ(call(Operation::kRead, "role/web/policies")->data,
            json({{"token_policies", json::array()}}));

  ASSERT_TRUE(call(Operation::kUpdate, "role/web/secret-id-ttl", {{"secret_id_ttl", "2m"}}));
  EXPECT_EQ(call(Operation::kRead, "role/web/secret-id-ttl")->data["secret_id_ttl"], 120);
  ASSERT_TRUE(call(Operation::kDelete, "role/web/secret-id-ttl"));
  EXPECT_EQ(call(Operation::kRead, "role/web/secret-id-ttl")->data["secret_id_ttl"], 0);

  ASSERT_TRUE(call(Operation::kUpdate, "role/web/secret-id-num-uses", {{"secret_id_num_uses", 4}}));
  EXPECT_EQ(call(Operation::kRead, "role/web")->data["secret_id_num_uses"], 4);
  ASSERT_TRUE(call(Operation::kUpdate, "role/web/token-max-ttl", {{"token_max_ttl", "1h"}}));
  expect_error(call(Operation::kUpdate, "role/web/token-ttl", {{"token_ttl", "2h"}}),
               Code::kInvalidArgument, "'token_ttl' cannot be greater than 'token_max_ttl'");
  expect_error(call(Operation::kUpdate, "role/web/token-ttl", json::object()),
               Code::kInvalidArgument, "missing token_ttl");
  ASSERT_TRUE(call(Operation::kUpdate, "role/web/period", {{"period", 90}}));
  EXPECT_EQ(call(Operation::kRead, "role/web/period")->data,
            json({{"token_period", 90}, {"period", 90}}));
  expect_error(call(Operation::kUpdate, "role/web/bind-secret-id", {{"bind_secret_id", false}}),
               Code::kInvalidArgument, "at least one constraint");  // no other constraint
  EXPECT_EQ(call(Operation::kRead, "role/web/bind-secret-id")->data["bind_secret_id"], true);
  ASSERT_TRUE(call(Operation::kUpdate, "role/web/token-num-uses", {{"token_num_uses", 2}}));
  EXPECT_EQ(call(Operation::kRead, "role/web/token-num-uses")->data["token_num_uses"], 2);
  ASSERT_TRUE(call(Operation::kUpdate, "role/web/token-bound-cidrs",
                   {{"token_bound_cidrs", "10.0.0.0/8"}}));
  EXPECT_EQ(call(Operation::kRead, "role/web/token-bound-cidrs")->data["token_bound_cidrs"],
            json::array({"10.0.0.0/8"}));
  EXPECT_EQ(call(Operation::kRead, "role/web/local-secret-ids")->data["local_secret_ids"], false);
  expect_error(call(Operation::kRead, "role/nope/token-ttl"), Code::kNotFound, "");
  expect_error(call(Operation::kUpdate, "role/nope/token-ttl", {{"token_ttl", 1}}), Code::kNotFound,
               "role \"nope\" does not exist");
}

TEST(CidrTest, ParsesAndMatches) {
  auto block = parse_cidr("10.1.2.3/8");
  ASSERT_TRUE(block);
  EXPECT_EQ(block->prefix, 8);
  EXPECT_EQ(block->network.bytes[1], 0);  // host bits cleared
  EXPECT_TRUE(block_contains(*block, *parse_ip("10.255.0.1")));
  EXPECT_FALSE(block_contains(*block, *parse_ip("11.0.0.1")));
  EXPECT_TRUE(block_contains(*block, *parse_ip("::ffff:10.0.0.1")));
  EXPECT_FALSE(block_contains(*block, *parse_ip("::1")));
  EXPECT_TRUE(block_contains(*parse_cidr("192.0.2.7"), *parse_ip("192.0.2.7")));
  EXPECT_FALSE(block_contains(*parse_cidr("192.0.2.7"), *parse_ip("192.0.2.8")));
  EXPECT_TRUE(block_contains(*parse_cidr("2001:db8::/32"), *parse_ip("2001:db8:ffff::1")));
  EXPECT_TRUE(block_contains(*parse_cidr("0.0.0.0/0"), *parse_ip("8.8.8.8")));
  EXPECT_TRUE(block_contains(*parse_cidr("10.0.0.0/23"), *parse_ip("10.0.1.255")));
  EXPECT_FALSE(block_contains(*parse_cidr("10.0.0.0/23"), *parse_ip("10.0.2.0")));
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0", "x", "10.0.0.0/-1",
                          "10.0.0.0/8/8", "1.2.3.4 "}) {
    EXPECT_FALSE(parse_cidr(bad)) << bad;
  }
  // inet_pton stops at a NUL: the text after it must not slip through unread.
  using namespace std::string_view_literals;
  for (auto bad : {"10.0.0.1\0/0"sv, "10.0.0.1\0garbage"sv, "::1\0"sv}) {
    EXPECT_FALSE(parse_cidr(bad)) << bad.substr(0, bad.find('\0'));
    EXPECT_FALSE(parse_ip(bad)) << bad.substr(0, bad.find('\0'));
    EXPECT_FALSE(parse_remote_address(bad)) << bad.substr(0, bad.find('\0'));
  }
  // A zone belongs to an IPv6 address and is not empty.
  EXPECT_TRUE(parse_ip("fe80::1%eth0"));
  for (const char* bad : {"10.0.0.1%eth0", "fe80::1%", "10.0.0.0%x/8", "fe80::1%a/b"}) {
    EXPECT_FALSE(parse_ip(bad)) << bad;
    EXPECT_FALSE(parse_cidr(bad)) << bad;
  }
  EXPECT_TRUE(parse_remote_address("[::1]:8200"));
  EXPECT_TRUE(parse_remote_address("127.0.0.1:8200"));
  EXPECT_TRUE(parse_remote_address("fe80::1%eth0"));
  EXPECT_FALSE(parse_remote_address("[::1"));
  EXPECT_FALSE(parse_remote_address("localhost:80"));
  EXPECT_TRUE(cidr_subset({"10.0.0.0/8"}, {"10.1.0.0/16", "10.2.3.4"}));
  EXPECT_FALSE(cidr_subset({"10.0.0.0/8"}, {"10.0.0.0/7"}));
  EXPECT_TRUE(cidr_subset({}, {"1.2.3.4"}));
}

}  // namespace
}  // namespace leasefs::engines::approle
