// KV v2 (versioned): versions, check-and-set, metadata, soft delete, undelete,
// destroy, patch, subkeys, delete_version_after, limits, atomicity and concurrency.
#include <latch>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend/sdk/storage.h"
#include "tests/unit/engines/kv/kv_test_util.h"

namespace leasefs::engines::kv {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> out;
  for (const auto& [k, v] : object.items()) out.insert(k);
  return out;
}

class KvV2Test : public KvTestBase {
 protected:
  void SetUp() override { mount("2"); }

  // Writes `data` at data/<path> with optional cas; asserts success; returns the version.
  std::uint64_t put(const std::string& path, json data, std::optional<int> cas = std::nullopt) {
    json body = {{"data", std::move(data)}};
    if (cas) body["options"] = {{"cas", *cas}};
    auto r = write("data/" + path, std::move(body));
    EXPECT_TRUE(r) << r.error().message();
    return r ? r->data.value("version", std::uint64_t{0}) : 0;
  }
  json metadata(const std::string& path) {
    auto r = read("metadata/" + path);
    EXPECT_TRUE(r) << r.error().message();
    return r ? r->data : json();
  }
  std::string now_text() { return sdk::rfc3339(clock_.now()); }
  // The HTTP status a read would get: 200, the response's own status, or -1 on error.
  int status_of(const std::string& path, json query = json::object()) {
    auto r = read(path, std::move(query));
    EXPECT_TRUE(r) << path << ": " << r.error().message();
    if (!r) return -1;
    return r->status == 0 ? 200 : r->status;
  }
};

TEST_F(KvV2Test, WritesCreateIncreasingVersions) {
  EXPECT_EQ(exists("data/app"), std::optional<bool>(false));
  auto w = write("data/app", {{"data", {{"password", "one"}}}});
  KV_ASSERT_OK(w);
  EXPECT_EQ(w->data, (json{{"version", 1},
                           {"created_time", now_text()},
                           {"deletion_time", ""},
                           {"destroyed", false},
                           {"custom_metadata", nullptr}}));
  EXPECT_EQ(exists("data/app"), std::optional<bool>(true));
  clock_.advance(seconds(5));
  EXPECT_EQ(put("app", {{"password", "two"}}), 2u);
  EXPECT_EQ(put("app", {{"password", "three"}}), 3u);

  auto latest = read("data/app");
  KV_ASSERT_OK(latest);
  EXPECT_EQ(latest->status, 0);
  EXPECT_EQ(latest->data["data"], (json{{"password", "three"}}));
  EXPECT_EQ(latest->data["metadata"], (json{{"version", 3},
                                            {"created_time", now_text()},
                                            {"deletion_time", ""},
                                            {"destroyed", false},
                                            {"custom_metadata", nullptr}}));

  // Query parameters arrive as strings.
  auto first = read("data/app", {{"version", "1"}});
  KV_ASSERT_OK(first);
  EXPECT_EQ(first->data["data"], (json{{"password", "one"}}));
  EXPECT_EQ(first->data["metadata"]["version"], 1);
  auto zero = read("data/app", {{"version", "0"}});  // 0 = latest
  KV_ASSERT_OK(zero);
  EXPECT_EQ(zero->data["metadata"]["version"], 3);

  auto none = read("data/app", {{"version", "9"}});
  KV_EXPECT_ERROR(none, Code::kNotFound);
  EXPECT_EQ(none.error().message(), "");
  KV_EXPECT_ERROR(read("data/other"), Code::kNotFound);
}

TEST_F(KvV2Test, StorageLayoutIsPlainKeysUnderMetaAndVer) {
  put("team/db", {{"u", "x"}});
  put("team/db", {{"u", "y"}});
  auto stored = raw();
  std::set<std::string> keys;
  for (const auto& [k, v] : stored) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"meta/team/db", "ver/team/db/1", "ver/team/db/2"}));
  EXPECT_EQ(json::parse(stored.at("ver/team/db/2")), (json{{"data", {{"u", "y"}}}}));
}

TEST_F(KvV2Test, CheckAndSet) {
  // cas 0: only if the secret does not exist yet.
  EXPECT_EQ(put("k", {{"a", 1}}, 0), 1u);
  auto again = write("data/k", {{"data", {{"a", 2}}}, {"options", {{"cas", 0}}}});
  KV_EXPECT_ERROR(again, Code::kConflict);
  EXPECT_EQ(again.error().message(), "check-and-set parameter did not match the current version");

  auto stale = write("data/k", {{"data", {{"a", 2}}}, {"options", {{"cas", 5}}}});
  KV_EXPECT_ERROR(stale, Code::kConflict);
  EXPECT_EQ(put("k", {{"a", 2}}, 1), 2u);
  // Vault decodes cas weakly: a numeric string works, anything else is a parse error.
  auto text = write("data/k", {{"data", {{"a", 3}}}, {"options", {{"cas", "2"}}}});
  KV_ASSERT_OK(text);
  EXPECT_EQ(text->data["version"], 3);
  auto junk = write("data/k", {{"data", {{"a", 4}}}, {"options", {{"cas", "three"}}}});
  KV_EXPECT_ERROR(junk, Code::kInvalidArgument);
  EXPECT_EQ(junk.error().message(), "error parsing check-and-set parameter");
  EXPECT_EQ(metadata("k")["current_version"], 3);
}

TEST_F(KvV2Test, CasRequiredByMountConfig) {
  KV_ASSERT_OK(write("config", {{"cas_required", true}}));
  auto no_cas = write("data/k", {{"data", {{"a", 1}}}});
  KV_EXPECT_ERROR(no_cas, Code::kInvalidArgument);
  EXPECT_EQ(no_cas.error().message(), "check-and-set parameter required for this call");
  EXPECT_EQ(put("k", {{"a", 1}}, 0), 1u);

  // Turning it off per key cannot override the mount: Vault warns and keeps requiring.
  auto m = write("metadata/k", {{"cas_required", false}});
  KV_ASSERT_OK(m);
  ASSERT_EQ(m->warnings.size(), 1u);
  EXPECT_EQ(m->warnings[0],
            "\"cas_required\" set to false, but is mandated by backend config. This value "
            "will be ignored.");
  KV_EXPECT_ERROR(write("data/k", {{"data", {{"a", 2}}}}), Code::kInvalidArgument);
}

TEST_F(KvV2Test, CasRequiredPerKey) {
  put("strict", {{"a", 1}});
  put("loose", {{"a", 1}});
  auto m = write("metadata/strict", {{"cas_required", true}});
  KV_ASSERT_OK(m);
  EXPECT_TRUE(m->is_empty());
  KV_EXPECT_ERROR(write("data/strict", {{"data", {{"a", 2}}}}), Code::kInvalidArgument);
  EXPECT_EQ(put("strict", {{"a", 2}}, 1), 2u);
  EXPECT_EQ(put("loose", {{"a", 2}}), 2u);
  EXPECT_EQ(metadata("strict")["cas_required"], true);
}

TEST_F(KvV2Test, MountMaxVersionsPrunesOldestVersions) {
  KV_ASSERT_OK(write("config", {{"max_versions", 3}}));
  for (int i = 1; i <= 5; ++i) put("k", {{"i", i}});
  json m = metadata("k");
  EXPECT_EQ(m["current_version"], 5);
  EXPECT_EQ(m["oldest_version"], 3);
  EXPECT_EQ(keys_of(m["versions"]), (std::set<std::string>{"3", "4", "5"}));
  KV_EXPECT_ERROR(read("data/k", {{"version", "2"}}), Code::kNotFound);
  auto v3 = read("data/k", {{"version", "3"}});
  KV_ASSERT_OK(v3);
  EXPECT_EQ(v3->data["data"]["i"], 3);
  auto stored = raw();
  EXPECT_FALSE(stored.contains("ver/k/1"));
  EXPECT_FALSE(stored.contains("ver/k/2"));
  EXPECT_TRUE(stored.contains("ver/k/3"));
}

TEST_F(KvV2Test, DefaultKeepsTenVersionsAndOldestStartsAtZero) {
  for (int i = 1; i <= 9; ++i) put("k", {{"i", i}});
  EXPECT_EQ(metadata("k")["oldest_version"], 0);  // as Vault: untouched until the window fills
  put("k", {{"i", 10}});
  EXPECT_EQ(metadata("k")["oldest_version"], 1);
  EXPECT_EQ(metadata("k")["versions"].size(), 10u);
  put("k", {{"i", 11}});
  json m = metadata("k");
  EXPECT_EQ(m["oldest_version"], 2);
  EXPECT_EQ(m["versions"].size(), 10u);
  EXPECT_FALSE(m["versions"].contains("1"));
  EXPECT_FALSE(raw().contains("ver/k/1"));
}

TEST_F(KvV2Test, PerKeyMaxVersionsCanOnlyRaiseTheMountLimit) {
  // Vault keeps max(key, mount) versions; 0 on both means 10.
  KV_ASSERT_OK(write("metadata/small", {{"max_versions", 2}}));
  for (int i = 1; i <= 4; ++i) put("small", {{"i", i}});
  EXPECT_EQ(keys_of(metadata("small")["versions"]), (std::set<std::string>{"3", "4"}));
  EXPECT_EQ(metadata("small")["max_versions"], 2);

  KV_ASSERT_OK(write("config", {{"max_versions", 3}}));
  KV_ASSERT_OK(write("metadata/raised", {{"max_versions", 4}}));
  KV_ASSERT_OK(write("metadata/lowered", {{"max_versions", 1}}));
  for (int i = 1; i <= 6; ++i) {
    put("raised", {{"i", i}});
    put("lowered", {{"i", i}});
  }
  EXPECT_EQ(metadata("raised")["versions"].size(), 4u);
  EXPECT_EQ(metadata("lowered")["versions"].size(), 3u);
}

TEST_F(KvV2Test, SoftDeleteAnswers404WithMetadata) {
  put("k", {{"a", 1}});
  clock_.advance(seconds(1));
  put("k", {{"a", 2}});
  clock_.advance(seconds(1));
  std::string deleted_at = now_text();
  auto d = call(Operation::kDelete, "data/k");
  KV_ASSERT_OK(d);
  EXPECT_TRUE(d->is_empty());

  auto r = read("data/k");
  KV_ASSERT_OK(r);  // data with a 404 status, not an error
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(r->data["data"].is_null());
  EXPECT_EQ(r->data["metadata"]["version"], 2);
  EXPECT_EQ(r->data["metadata"]["deletion_time"], deleted_at);
  EXPECT_EQ(r->data["metadata"]["destroyed"], false);
  auto v1 = read("data/k", {{"version", 1}});
  KV_ASSERT_OK(v1);
  EXPECT_EQ(v1->status, 0);
  EXPECT_EQ(v1->data["data"], (json{{"a", 1}}));
  // The data is still stored: a soft delete only marks the metadata.
  EXPECT_TRUE(raw().contains("ver/k/2"));
  // Deleting again changes nothing.
  clock_.advance(seconds(1));
  KV_ASSERT_OK(call(Operation::kDelete, "data/k"));
  EXPECT_EQ(metadata("k")["versions"]["2"]["deletion_time"], deleted_at);
  // Deleting a missing secret is fine.
  KV_ASSERT_OK(call(Operation::kDelete, "data/none"));
}

TEST_F(KvV2Test, DeleteAndUndeleteChosenVersions) {
  for (int i = 1; i <= 3; ++i) put("k", {{"i", i}});
  KV_ASSERT_OK(write("delete/k", {{"versions", {1, 3}}}));
  EXPECT_EQ(status_of("data/k", {{"version", "1"}}), 404);
  EXPECT_EQ(status_of("data/k", {{"version", "2"}}), 200);
  EXPECT_EQ(status_of("data/k"), 404);

  KV_ASSERT_OK(write("undelete/k", {{"versions", "1,3"}}));  // comma form
  auto r = read("data/k");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(r->data["data"]["i"], 3);
  EXPECT_EQ(r->data["metadata"]["deletion_time"], "");
  EXPECT_EQ(status_of("data/k", {{"version", "1"}}), 200);

  auto none = write("delete/k", json::object());
  KV_EXPECT_ERROR(none, Code::kInvalidArgument);
  EXPECT_EQ(none.error().message(), "No version number provided");
  none = write("undelete/k", {{"versions", json::array()}});
  KV_EXPECT_ERROR(none, Code::kInvalidArgument);
  EXPECT_EQ(none.error().message(), "No version number provided");
  auto bad = write("delete/k", {{"versions", {"one"}}});
  KV_EXPECT_ERROR(bad, Code::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("versions"), std::string::npos);
  // Unknown versions and unknown secrets are skipped silently.
  KV_ASSERT_OK(write("delete/k", {{"versions", {42}}}));
  KV_ASSERT_OK(write("delete/none", {{"versions", {1}}}));
}

TEST_F(KvV2Test, DestroyRemovesTheDataForGood) {
  put("k", {{"a", 1}});
  put("k", {{"a", 2}});
  KV_ASSERT_OK(write("destroy/k", {{"versions", {1}}}));
  EXPECT_FALSE(raw().contains("ver/k/1"));
  EXPECT_TRUE(raw().contains("ver/k/2"));
  auto r = read("data/k", {{"version", "1"}});
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->data["metadata"]["destroyed"], true);
  EXPECT_TRUE(r->data["data"].is_null());
  // A destroyed version cannot be undeleted.
  KV_ASSERT_OK(write("undelete/k", {{"versions", {1}}}));
  EXPECT_EQ(status_of("data/k", {{"version", "1"}}), 404);
  EXPECT_EQ(metadata("k")["versions"]["1"]["destroyed"], true);

  auto none = write("destroy/k", json::object());
  KV_EXPECT_ERROR(none, Code::kInvalidArgument);
  EXPECT_EQ(none.error().message(), "no version number provided");
}

TEST_F(KvV2Test, MetadataReadHasEveryFieldVaultReturns) {
  std::string first = now_text();
  put("k", {{"a", 1}});
  clock_.advance(minutes(1));
  std::string second = now_text();
  put("k", {{"a", 2}});
  KV_ASSERT_OK(write("metadata/k", {{"max_versions", 5},
                                    {"delete_version_after", "3h"},
                                    {"custom_metadata", {{"owner", "ops"}}}}));
  json m = metadata("k");
  EXPECT_EQ(keys_of(m),
            (std::set<std::string>{"cas_required", "created_time", "current_version",
                                   "custom_metadata", "delete_version_after", "max_versions",
                                   "oldest_version", "updated_time", "versions"}));
  EXPECT_EQ(m["cas_required"], false);
  EXPECT_EQ(m["created_time"], first);
  EXPECT_EQ(m["updated_time"], second);
  EXPECT_EQ(m["current_version"], 2);
  EXPECT_EQ(m["oldest_version"], 0);
  EXPECT_EQ(m["max_versions"], 5);
  EXPECT_EQ(m["delete_version_after"], "3h0m0s");
  EXPECT_EQ(m["custom_metadata"], (json{{"owner", "ops"}}));
  EXPECT_EQ(m["versions"],
            (json{{"1", {{"created_time", first}, {"deletion_time", ""}, {"destroyed", false}}},
                  {"2", {{"created_time", second}, {"deletion_time", ""}, {"destroyed", false}}}}));
  // custom_metadata is echoed in the version metadata of reads and writes too.
  auto r = read("data/k");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->data["metadata"]["custom_metadata"], (json{{"owner", "ops"}}));
  KV_EXPECT_ERROR(read("metadata/none"), Code::kNotFound);
}

TEST_F(KvV2Test, MetadataWriteBeforeAnyData) {
  // No fields: nothing happens, as in Vault.
  KV_ASSERT_OK(write("metadata/k", json::object()));
  EXPECT_TRUE(raw().empty());

  std::string created = now_text();
  KV_ASSERT_OK(write("metadata/k", {{"custom_metadata", {{"team", "a"}}}}));
  EXPECT_EQ(exists("data/k"), std::optional<bool>(true));
  json m = metadata("k");
  EXPECT_EQ(m["current_version"], 0);
  EXPECT_EQ(m["created_time"], created);
  EXPECT_EQ(m["versions"], json::object());
  KV_EXPECT_ERROR(read("data/k"), Code::kNotFound);

  clock_.advance(seconds(10));
  EXPECT_EQ(put("k", {{"a", 1}}, 0), 1u);  // still "new" for check-and-set
  m = metadata("k");
  EXPECT_EQ(m["created_time"], created);
  EXPECT_EQ(m["updated_time"], now_text());
  EXPECT_EQ(m["custom_metadata"], (json{{"team", "a"}}));

  auto missing = write("metadata/", {{"max_versions", 1}});
  KV_EXPECT_ERROR(missing, Code::kInvalidArgument);
  EXPECT_EQ(missing.error().message(), "missing path");
}

TEST_F(KvV2Test, MetadataDeleteRemovesEverything) {
  for (int i = 1; i <= 3; ++i) put("gone", {{"i", i}});
  KV_ASSERT_OK(write("destroy/gone", {{"versions", {2}}}));
  put("kept", {{"a", 1}});
  auto d = call(Operation::kDelete, "metadata/gone");
  KV_ASSERT_OK(d);
  EXPECT_TRUE(d->is_empty());
  for (const auto& [k, v] : raw()) {
    EXPECT_EQ(k.find("gone"), std::string::npos) << k;
  }
  EXPECT_TRUE(raw().contains("meta/kept"));
  KV_EXPECT_ERROR(read("data/gone"), Code::kNotFound);
  KV_EXPECT_ERROR(read("metadata/gone"), Code::kNotFound);
  // A new secret at the same path starts from version 1.
  EXPECT_EQ(put("gone", {{"i", 1}}, 0), 1u);
  KV_ASSERT_OK(call(Operation::kDelete, "metadata/never-was"));
}

TEST_F(KvV2Test, ListMetadataIsFolderStyle) {
  put("a", {{"x", 1}});
  put("b/c", {{"x", 1}});
  put("b/d/e", {{"x", 1}});
  KV_ASSERT_OK(write("metadata/b/f", {{"max_versions", 1}}));  // metadata only still lists

  auto root = call(Operation::kList, "metadata/");
  KV_ASSERT_OK(root);
  EXPECT_EQ(root->data, (json{{"keys", {"a", "b/"}}}));
  auto bare = call(Operation::kList, "metadata");
  KV_ASSERT_OK(bare);
  EXPECT_EQ(bare->data, root->data);
  auto b = call(Operation::kList, "metadata/b");
  KV_ASSERT_OK(b);
  EXPECT_EQ(b->data, (json{{"keys", {"c", "d/", "f"}}}));
  KV_EXPECT_ERROR(call(Operation::kList, "metadata/nothing/"), Code::kNotFound);

  KV_ASSERT_OK(call(Operation::kDelete, "metadata/a"));
  root = call(Operation::kList, "metadata/");
  KV_ASSERT_OK(root);
  EXPECT_EQ(root->data, (json{{"keys", {"b/"}}}));
}

TEST_F(KvV2Test, PatchIsAJsonMergePatchOfTheLatestVersion) {
  put("k", {{"a", 1}, {"b", {{"c", 2}, {"d", 3}}}, {"gone", "x"}});
  auto p = call(Operation::kPatch, "data/k",
                {{"data", {{"b", {{"c", nullptr}, {"e", 4}}}, {"gone", nullptr}, {"f", 5}}}});
  KV_ASSERT_OK(p);
  EXPECT_EQ(p->data["version"], 2);
  auto r = read("data/k");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->data["data"], (json{{"a", 1}, {"b", {{"d", 3}, {"e", 4}}}, {"f", 5}}));
  auto v1 = read("data/k", {{"version", "1"}});
  EXPECT_EQ(v1->data["data"]["gone"], "x");

  // Check-and-set applies to patches too; cas 0 can never match an existing secret.
  auto zero = call(Operation::kPatch, "data/k", {{"data", {{"a", 9}}}, {"options", {{"cas", 0}}}});
  KV_EXPECT_ERROR(zero, Code::kConflict);
  auto ok = call(Operation::kPatch, "data/k", {{"data", {{"a", 9}}}, {"options", {{"cas", 2}}}});
  KV_ASSERT_OK(ok);
  EXPECT_EQ(ok->data["version"], 3);

  auto no_data = call(Operation::kPatch, "data/k", json::object());
  KV_EXPECT_ERROR(no_data, Code::kInvalidArgument);
  EXPECT_EQ(no_data.error().message(), "no data provided");
  KV_EXPECT_ERROR(call(Operation::kPatch, "data/none", {{"data", {{"a", 1}}}}), Code::kNotFound);
}

TEST_F(KvV2Test, PatchNeedsALiveLatestVersion) {
  put("k", {{"a", 1}});
  KV_ASSERT_OK(call(Operation::kDelete, "data/k"));
  auto p = call(Operation::kPatch, "data/k", {{"data", {{"a", 2}}}});
  KV_ASSERT_OK(p);
  EXPECT_EQ(p->status, 404);
  EXPECT_EQ(p->data["version"], 1);  // Vault's flat version metadata
  EXPECT_NE(p->data["deletion_time"], "");
  EXPECT_EQ(metadata("k")["current_version"], 1);

  put("d", {{"a", 1}});
  KV_ASSERT_OK(write("destroy/d", {{"versions", {1}}}));
  p = call(Operation::kPatch, "data/d", {{"data", {{"a", 2}}}});
  KV_ASSERT_OK(p);
  EXPECT_EQ(p->status, 404);
  EXPECT_EQ(p->data["destroyed"], true);
}

TEST_F(KvV2Test, MetadataPatchMergesSettingsAndCustomMetadata) {
  put("k", {{"a", 1}});
  KV_ASSERT_OK(write(
      "metadata/k", {{"max_versions", 4}, {"custom_metadata", {{"owner", "ops"}, {"tier", "1"}}}}));
  auto p =
      call(Operation::kPatch, "metadata/k",
           {{"cas_required", true}, {"custom_metadata", {{"tier", nullptr}, {"env", "prod"}}}});
  KV_ASSERT_OK(p);
  json m = metadata("k");
  EXPECT_EQ(m["max_versions"], 4);  // untouched
  EXPECT_EQ(m["cas_required"], true);
  EXPECT_EQ(m["custom_metadata"], (json{{"owner", "ops"}, {"env", "prod"}}));

  // A full write replaces custom_metadata.
  KV_ASSERT_OK(write("metadata/k", {{"custom_metadata", {{"only", "this"}}}}));
  EXPECT_EQ(metadata("k")["custom_metadata"], (json{{"only", "this"}}));
  EXPECT_EQ(metadata("k")["cas_required"], true);

  KV_EXPECT_ERROR(call(Operation::kPatch, "metadata/none", {{"max_versions", 1}}), Code::kNotFound);
}

TEST_F(KvV2Test, SubkeysReplaceValuesWithNull) {
  put("k", {{"a", "secret"}, {"b", {{"c", {{"d", 2}}}, {"e", json::object()}}}, {"f", {1, 2}}});
  auto r = read("subkeys/k");
  KV_ASSERT_OK(r);
  EXPECT_EQ(
      r->data["subkeys"],
      (json{{"a", nullptr}, {"b", {{"c", {{"d", nullptr}}}, {"e", nullptr}}}, {"f", nullptr}}));
  EXPECT_EQ(r->data["metadata"]["version"], 1);

  r = read("subkeys/k", {{"depth", "1"}});
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->data["subkeys"], (json{{"a", nullptr}, {"b", nullptr}, {"f", nullptr}}));
  r = read("subkeys/k", {{"depth", "2"}});
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->data["subkeys"],
            (json{{"a", nullptr}, {"b", {{"c", nullptr}, {"e", nullptr}}}, {"f", nullptr}}));

  KV_ASSERT_OK(call(Operation::kDelete, "data/k"));
  r = read("subkeys/k");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(r->data["subkeys"].is_null());
  KV_EXPECT_ERROR(read("subkeys/none"), Code::kNotFound);
}

TEST_F(KvV2Test, DeleteVersionAfterUsesTheInjectedClock) {
  KV_ASSERT_OK(write("config", {{"delete_version_after", "1h"}}));
  auto c = read("config");
  KV_ASSERT_OK(c);
  EXPECT_EQ(
      c->data,
      (json{{"cas_required", false}, {"delete_version_after", "1h0m0s"}, {"max_versions", 0}}));

  std::string expires = sdk::rfc3339(clock_.now() + hours(1));
  auto w = write("data/k", {{"data", {{"a", 1}}}});
  KV_ASSERT_OK(w);
  EXPECT_EQ(w->data["deletion_time"], expires);
  clock_.advance(minutes(59));
  EXPECT_EQ(status_of("data/k"), 200);
  clock_.advance(minutes(1));
  auto r = read("data/k");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->data["metadata"]["deletion_time"], expires);

  // Undelete starts a fresh window from now.
  KV_ASSERT_OK(write("undelete/k", {{"versions", {1}}}));
  EXPECT_EQ(status_of("data/k"), 200);
  EXPECT_EQ(metadata("k")["versions"]["1"]["deletion_time"], sdk::rfc3339(clock_.now() + hours(1)));

  // The smaller of key and mount settings wins.
  KV_ASSERT_OK(write("metadata/short", {{"delete_version_after", "10m"}}));
  w = write("data/short", {{"data", {{"a", 1}}}});
  KV_ASSERT_OK(w);
  EXPECT_EQ(w->data["deletion_time"], sdk::rfc3339(clock_.now() + minutes(10)));
  EXPECT_EQ(metadata("short")["delete_version_after"], "10m0s");

  // A negative mount setting switches the feature off, even for keys that set it.
  KV_ASSERT_OK(write("config", {{"delete_version_after", "-1s"}}));
  EXPECT_EQ(read("config")->data["delete_version_after"], "-1s");
  w = write("data/short", {{"data", {{"a", 2}}}});
  KV_ASSERT_OK(w);
  EXPECT_EQ(w->data["deletion_time"], "");
  // 0 clears the mount setting.
  KV_ASSERT_OK(write("config", {{"delete_version_after", 0}}));
  EXPECT_EQ(read("config")->data["delete_version_after"], "0s");
}

TEST_F(KvV2Test, CustomMetadataLimits) {
  json ok = json::object();
  for (int i = 0; i < 64; ++i) {
    std::string key = std::to_string(i) + std::string(120, 'k');
    ok[key.substr(0, 128)] = std::string(512, 'v');
  }
  KV_ASSERT_OK(write("metadata/k", {{"custom_metadata", ok}}));

  json too_many = ok;
  too_many["one-more"] = "x";
  auto r = write("metadata/k", {{"custom_metadata", too_many}});
  KV_EXPECT_ERROR(r, Code::kInvalidArgument);
  EXPECT_EQ(r.error().message(),
            "custom_metadata validation failed: payload must contain at most 64 keys, "
            "provided 65");

  r = write("metadata/k", {{"custom_metadata", {{std::string(129, 'k'), "v"}}}});
  KV_EXPECT_ERROR(r, Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("length of key"), std::string::npos);
  EXPECT_NE(r.error().message().find("is 129 but must be 0 < len(key) <= 128"), std::string::npos);
  r = write("metadata/k", {{"custom_metadata", {{"k", std::string(513, 'v')}}}});
  KV_EXPECT_ERROR(r, Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("is 513 but must be 0 < len(value) <= 512"),
            std::string::npos);
  r = write("metadata/k", {{"custom_metadata", {{"k", ""}}}});
  KV_EXPECT_ERROR(r, Code::kInvalidArgument);
  r = write("metadata/k", {{"custom_metadata", {{"k", "line\nbreak"}}}});
  KV_EXPECT_ERROR(r, Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("unprintable"), std::string::npos);
  r = write("metadata/k", {{"custom_metadata", {{"k", {{"nested", 1}}}}}});
  KV_EXPECT_ERROR(r, Code::kInvalidArgument);

  // A patch may not push the merged map over the limit either.
  auto p = call(Operation::kPatch, "metadata/k", {{"custom_metadata", {{"one-more", "x"}}}});
  KV_EXPECT_ERROR(p, Code::kInvalidArgument);
  // Numbers and bools are turned into text, as Vault's weak decoding does.
  KV_ASSERT_OK(write("metadata/n", {{"custom_metadata", {{"port", 5432}, {"on", true}}}}));
  EXPECT_EQ(metadata("n")["custom_metadata"], (json{{"port", "5432"}, {"on", "1"}}));
  EXPECT_EQ(metadata("k")["custom_metadata"], ok);  // failed writes changed nothing
}

TEST_F(KvV2Test, BadFieldTypesNameTheField) {
  put("k", {{"a", 1}});
  struct Case {
    std::string path;
    json body;
    std::string field;
  };
  std::vector<Case> cases = {
      {"config", {{"max_versions", "many"}}, "max_versions"},
      {"config", {{"max_versions", -1}}, "max_versions"},
      {"config", {{"cas_required", "maybe"}}, "cas_required"},
      {"config", {{"delete_version_after", "soon"}}, "delete_version_after"},
      {"metadata/k", {{"max_versions", {1}}}, "max_versions"},
      {"metadata/k", {{"delete_version_after", "-5m"}}, "delete_version_after"},
      {"metadata/k", {{"custom_metadata", "not an object"}}, "custom_metadata"},
      {"data/k", {{"data", "not an object"}}, "data"},
      {"data/k", {{"data", {{"a", 1}}}, {"options", 7}}, "options"},
      {"destroy/k", {{"versions", {{"a", 1}}}}, "versions"},
  };
  auto before = raw();
  for (const auto& c : cases) {
    auto r = write(c.path, c.body);
    ASSERT_FALSE(r) << c.path << " " << c.body;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << c.body;
    EXPECT_NE(r.error().message().find(c.field), std::string::npos)
        << c.body << ": " << r.error().message();
  }
  auto r = read("data/k", {{"version", "latest"}});
  KV_EXPECT_ERROR(r, Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("version"), std::string::npos);
  EXPECT_EQ(raw(), before);

  // Unknown fields are ignored with Vault's warning.
  auto w = write("data/k", {{"data", {{"a", 2}}}, {"bogus", 1}});
  KV_ASSERT_OK(w);
  ASSERT_EQ(w->warnings.size(), 1u);
  EXPECT_EQ(w->warnings[0], "Endpoint ignored these unrecognized parameters: [bogus]");
}

TEST_F(KvV2Test, InvalidPathsAnswer404WithVaultsWarning) {
  auto r = read("data");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->status, 404);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0],
            "Non-listing operations on the root of a K/V v2 mount are not supported.");

  r = read("app/db");  // a v1-style path
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->status, 404);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("Invalid path for a versioned K/V secrets engine"),
            std::string::npos);
  EXPECT_NE(r->warnings[0].find("'vault kv get'"), std::string::npos);

  auto w = write("data/dir/", {{"data", {{"a", 1}}}});
  KV_ASSERT_OK(w);
  EXPECT_EQ(w->status, 404);
  ASSERT_EQ(w->warnings.size(), 1u);
  EXPECT_NE(w->warnings[0].find("'vault kv put'"), std::string::npos);

  auto list = call(Operation::kList, "data/dir/");
  KV_ASSERT_OK(list);
  EXPECT_EQ(list->status, 404);
  ASSERT_EQ(list->warnings.size(), 1u);
  EXPECT_NE(list->warnings[0].find("'vault kv list'"), std::string::npos);

  KV_EXPECT_ERROR(write("data/a//b", {{"data", {{"a", 1}}}}), Code::kInvalidArgument);
  KV_EXPECT_ERROR(write("data/a/./b", {{"data", {{"a", 1}}}}), Code::kInvalidArgument);
  KV_EXPECT_ERROR(write("data/" + std::string(769, 'p'), {{"data", {{"a", 1}}}}),
                  Code::kInvalidArgument);
  KV_ASSERT_OK(write("data/" + std::string(768, 'p'), {{"data", {{"a", 1}}}}));
  KV_EXPECT_ERROR(call(Operation::kDelete, "config"), Code::kUnsupported);
  EXPECT_EQ(raw().size(), 2u);  // only the 768-byte path's metadata and version
}

TEST_F(KvV2Test, LimitsOnSizeAndNesting) {
  auto big = write("data/k", {{"data", {{"blob", std::string(kMaxSecretBytes, 's')}}}});
  KV_EXPECT_ERROR(big, Code::kTooLarge);
  EXPECT_EQ(big.error().message().find("sss"), std::string::npos);

  json deep = 1;
  for (int i = 0; i < 300; ++i) deep = json{{"n", std::move(deep)}};
  auto nested = write("data/k", {{"data", deep}});
  KV_EXPECT_ERROR(nested, Code::kInvalidArgument);
  EXPECT_TRUE(raw().empty());

  // A patch that grows a secret past the limit is refused too.
  put("k", {{"blob", std::string(kMaxSecretBytes / 2, 's')}});
  auto p = call(Operation::kPatch, "data/k",
                {{"data", {{"more", std::string(kMaxSecretBytes / 2, 't')}}}});
  KV_EXPECT_ERROR(p, Code::kTooLarge);
  EXPECT_EQ(metadata("k")["current_version"], 1);
}

TEST_F(KvV2Test, EveryOperationIsOneAtomicBatch) {
  KV_ASSERT_OK(write("config", {{"max_versions", 2}}));
  for (int i = 1; i <= 2; ++i) put("k", {{"i", i}});
  auto count = [&](auto&& op) {
    recording_.puts = 0;
    recording_.removes = 0;
    recording_.applies = 0;
    op();
    EXPECT_EQ(recording_.puts.load(), 0);
    EXPECT_EQ(recording_.removes.load(), 0);
    return recording_.applies.load();
  };
  // A write that also prunes version 1: one batch.
  EXPECT_EQ(count([&] { put("k", {{"i", 3}}); }), 1);
  EXPECT_FALSE(raw().contains("ver/k/1"));
  EXPECT_EQ(count([&] {
              KV_ASSERT_OK(call(Operation::kPatch, "data/k", {{"data", {{"j", 1}}}}));
            }),
            1);
  EXPECT_EQ(count([&] { KV_ASSERT_OK(write("destroy/k", {{"versions", {3}}})); }), 1);
  EXPECT_EQ(count([&] { KV_ASSERT_OK(call(Operation::kDelete, "metadata/k")); }), 1);
  EXPECT_EQ(raw().size(), 1u);  // only the config remains
  EXPECT_TRUE(raw().contains("config"));
}

TEST_F(KvV2Test, AFailedWriteLeavesStorageUnchanged) {
  KV_ASSERT_OK(write("config", {{"max_versions", 2}}));
  put("k", {{"i", 1}});
  put("k", {{"i", 2}});
  auto before = raw();

  recording_.fail_apply = true;
  KV_EXPECT_ERROR(write("data/k", {{"data", {{"i", 3}}}}), Code::kUnavailable);
  KV_EXPECT_ERROR(call(Operation::kPatch, "data/k", {{"data", {{"i", 3}}}}), Code::kUnavailable);
  KV_EXPECT_ERROR(write("destroy/k", {{"versions", {1, 2}}}), Code::kUnavailable);
  KV_EXPECT_ERROR(call(Operation::kDelete, "metadata/k"), Code::kUnavailable);
  KV_EXPECT_ERROR(write("metadata/k", {{"max_versions", 1}}), Code::kUnavailable);
  KV_EXPECT_ERROR(write("data/new", {{"data", {{"i", 1}}}}), Code::kUnavailable);
  EXPECT_EQ(raw(), before);
  recording_.fail_apply = false;

  // Refused writes do not touch storage either.
  KV_EXPECT_ERROR(write("data/k", {{"data", {{"i", 3}}}, {"options", {{"cas", 1}}}}),
                  Code::kConflict);
  EXPECT_EQ(raw(), before);
  auto r = read("data/k");
  KV_ASSERT_OK(r);
  EXPECT_EQ(r->data["data"], (json{{"i", 2}}));
}

TEST_F(KvV2Test, ConcurrentCasWritersOnlyOneWins) {
  constexpr int kWriters = 16;
  for (int round = 0; round < 20; ++round) {
    std::string path = "race" + std::to_string(round);
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    std::latch start(kWriters);
    std::vector<std::thread> threads;
    for (int t = 0; t < kWriters; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        auto r = write("data/" + path, {{"data", {{"writer", t}}}, {"options", {{"cas", 0}}}});
        if (r) {
          ++wins;
        } else if (r.error().code() == Code::kConflict) {
          ++conflicts;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins, 1);
    EXPECT_EQ(conflicts, kWriters - 1);
    EXPECT_EQ(metadata(path)["current_version"], 1);
  }

  // Writers that each read the current version and write with it: every successful
  // write moves the version by exactly one, and versions never repeat.
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto m = read("metadata/race0");
        if (!m) continue;
        int current = m->data["current_version"].get<int>();
        auto r = write("data/race0", {{"data", {{"i", i}}}, {"options", {{"cas", current}}}});
        if (r) ++wins;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(metadata("race0")["current_version"], 1 + wins.load());
}

}  // namespace
}  // namespace leasefs::engines::kv
