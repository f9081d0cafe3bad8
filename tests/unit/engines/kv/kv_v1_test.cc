// KV v1 (pass-through) and the factory that picks the KV version.
#include <gtest/gtest.h>

#include "tests/unit/engines/kv/kv_test_util.h"

namespace leasefs::engines::kv {
namespace {

using std::chrono::seconds;

TEST(KvFactoryTest, VersionOptionPicksTheEngine) {
  backend::storage::InmemStorage storage;
  sdk::ManualClock clock;
  sdk::BackendConfig config{.mount_path = "secret/",
                            .type = "kv",
                            .options = {},
                            .storage = &storage,
                            .clock = &clock,
                            .random = nullptr};
  EXPECT_TRUE(make_kv(config));
  config.options["version"] = "1";
  EXPECT_TRUE(make_kv(config));
  config.options["version"] = "2";
  EXPECT_TRUE(make_kv(config));
  config.options["version"] = "3";
  auto bad = make_kv(config);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("\"3\""), std::string::npos);

  config.options["version"] = "2";
  config.storage = nullptr;
  bad = make_kv(config);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
}

class KvV1Test : public KvTestBase {
 protected:
  void SetUp() override { mount(""); }
};

TEST_F(KvV1Test, WriteReadUpdateDelete) {
  EXPECT_EQ(exists("team/db"), std::optional<bool>(false));
  auto w = write("team/db", {{"user", "app"}, {"password", "s3cr3t"}});
  KV_ASSERT_OK(w);
  EXPECT_TRUE(w->is_empty());  // 204
  EXPECT_EQ(exists("team/db"), std::optional<bool>(true));

  auto r = read("team/db");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->data, (json{{"user", "app"}, {"password", "s3cr3t"}}));
  EXPECT_FALSE(r->secret);  // no lease
  EXPECT_EQ(r->status, 0);
  EXPECT_TRUE(r->warnings.empty());

  // A write replaces the whole object; no "unrecognized parameters" warning.
  w = write("team/db", {{"password", "n3w"}, {"path", "kept-as-data"}});
  KV_ASSERT_OK(w);
  EXPECT_TRUE(w->warnings.empty());
  r = read("team/db");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->data, (json{{"password", "n3w"}, {"path", "kept-as-data"}}));

  KV_ASSERT_OK(call(Operation::kDelete, "team/db"));
  auto gone = read("team/db");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Code::kNotFound);
  EXPECT_EQ(gone.error().message(), "");              // Vault's {"errors":[]}
  KV_ASSERT_OK(call(Operation::kDelete, "team/db"));  // deleting again is fine
  EXPECT_TRUE(raw().empty());
}

TEST_F(KvV1Test, StoresTheObjectUnderItsPath) {
  KV_ASSERT_OK(write("a/b", {{"k", 1}}));
  auto stored = raw();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(json::parse(stored.at("a/b")), (json{{"k", 1}}));
}

TEST_F(KvV1Test, RejectsEmptyWritesAndBadPaths) {
  auto w = write("x", json::object());
  KV_EXPECT_ERROR(w, Code::kInvalidArgument);
  EXPECT_EQ(w.error().message(), "missing data fields");
  w = write("", {{"a", "b"}});
  KV_EXPECT_ERROR(w, Code::kInvalidArgument);
  EXPECT_EQ(w.error().message(), "missing path");
  KV_EXPECT_ERROR(write("a//b", {{"a", "b"}}), Code::kInvalidArgument);
  KV_EXPECT_ERROR(write("a/../b", {{"a", "b"}}), Code::kInvalidArgument);
  KV_EXPECT_ERROR(read(""), Code::kNotFound);
  KV_EXPECT_ERROR(read("missing"), Code::kNotFound);
  EXPECT_TRUE(raw().empty());
}

TEST_F(KvV1Test, ListIsOneLevelWithFolders) {
  KV_ASSERT_OK(write("app/db", {{"a", 1}}));
  KV_ASSERT_OK(write("app/web/tls", {{"a", 1}}));
  KV_ASSERT_OK(write("app/web", {{"a", 1}}));
  KV_ASSERT_OK(write("top", {{"a", 1}}));

  auto root = call(Operation::kList, "");
  KV_ASSERT_OK(root);
  EXPECT_EQ(root->data, (json{{"keys", {"app/", "top"}}}));
  auto app = call(Operation::kList, "app/");
  KV_ASSERT_OK(app);
  EXPECT_EQ(app->data, (json{{"keys", {"db", "web", "web/"}}}));
  auto no_slash = call(Operation::kList, "app");  // a folder, with or without '/'
  KV_ASSERT_OK(no_slash);
  EXPECT_EQ(no_slash->data, app->data);

  auto empty = call(Operation::kList, "nothing/");
  KV_EXPECT_ERROR(empty, Code::kNotFound);
  KV_EXPECT_ERROR(call(Operation::kList, "top/"), Code::kNotFound);
}

TEST_F(KvV1Test, TtlKeyIsOnlyAnAdvisoryLeaseDuration) {
  KV_ASSERT_OK(write("with-ttl", {{"v", "x"}, {"ttl", "1h"}}));
  KV_ASSERT_OK(write("with-lease", {{"v", "x"}, {"lease", 90}}));
  KV_ASSERT_OK(write("plain", {{"v", "x"}}));
  KV_ASSERT_OK(write("bad-ttl", {{"v", "x"}, {"ttl", "soon"}}));

  auto r = read("with-ttl");
  KV_ASSERT_OK(r);
  ASSERT_TRUE(r->advisory_ttl);
  EXPECT_EQ(*r->advisory_ttl, seconds(3600));
  EXPECT_FALSE(r->secret);
  EXPECT_EQ(r->data["ttl"], "1h");  // the key stays in the data

  r = read("with-lease");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->advisory_ttl, std::optional<sdk::Duration>(seconds(90)));

  // Without a usable ttl, Vault shows the mount's default lease TTL.
  auto req = request(Operation::kRead, "plain", json::object());
  req.limits.default_lease_ttl = seconds(1234);
  r = engine_->handle(req);
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->advisory_ttl, std::optional<sdk::Duration>(seconds(1234)));
  req.path = "bad-ttl";
  r = engine_->handle(req);
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->advisory_ttl, std::optional<sdk::Duration>(seconds(1234)));
}

TEST_F(KvV1Test, OversizedSecretIsRefusedAndNothingIsStored) {
  auto w = write("big", {{"blob", std::string(kMaxSecretBytes, 'x')}});
  KV_EXPECT_ERROR(w, Code::kTooLarge);
  EXPECT_EQ(w.error().message().find("xxxx"), std::string::npos);  // no secret in errors
  EXPECT_TRUE(raw().empty());
}

}  // namespace
}  // namespace leasefs::engines::kv
