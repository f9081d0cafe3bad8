// The leasefs command against a real server, as a Vault user drives it: each test starts
// `leasefs server` on port 0 (dev mode with a random root token, or a sealed server
// with SQLite storage in a temp dir) and runs the CLI with LEASEFS_ADDR / LEASEFS_TOKEN
// in its environment. Failure messages show exit codes and stderr only: stdout may hold
// tokens and unseal keys, and never reaches a test log.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "tests/integration/cli_test_server.h"
#include "tests/integration/cli_test_support.h"
#include "tests/support/process.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;

// A dev server with a random root token; the CLI sees its address and the token.
class DevServerTest : public ::testing::Test, protected ClientEnvironment {
 protected:
  void SetUp() override {
    root_ = "root-" + random_hex(12);
    std::string why;
    server_ = CliTestServer::start({"-dev", "-dev-root-token=" + root_, "-listen=127.0.0.1:0"},
                                   dir_ / "server.log", why);
    ASSERT_NE(server_, nullptr) << why;
    addr_ = std::make_unique<ScopedEnv>("LEASEFS_ADDR", server_->address());
    token_ = std::make_unique<ScopedEnv>("LEASEFS_TOKEN", root_);
  }

  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->stop(), 0) << "the server did not exit 0 within 5 s of SIGTERM";
    }
  }

  // Runs the CLI with `token` as LEASEFS_TOKEN (nullopt: no LEASEFS_TOKEN at all).
  ProcessResult as(const std::optional<std::string>& token, const std::vector<std::string>& args,
                   const std::string& input = "") {
    ScopedEnv scoped("LEASEFS_TOKEN", token);
    return leasefs(args, input);
  }

  std::string root_;
  std::unique_ptr<CliTestServer> server_;
  std::unique_ptr<ScopedEnv> addr_, token_;
};

TEST_F(DevServerTest, KvV2PutGetVersionsDeleteUndeleteDestroyMetadata) {
  auto put = leasefs({"kv", "put", "secret/app", "user=alice", "pass=one"});
  ASSERT_EXIT_CODE(put, 0);
  EXPECT_TRUE(has(put.out, "^= Secret Path =\nsecret/data/app\n\n=+ Metadata =+\n")) << put.out;
  EXPECT_TRUE(has(put.out, "version\\s+1\n")) << put.out;

  auto put2 = leasefs({"kv", "put", "-mount=secret", "app", "pass=two"});
  ASSERT_EXIT_CODE(put2, 0);
  EXPECT_TRUE(has(put2.out, "version\\s+2\n")) << put2.out;

  auto get = leasefs({"kv", "get", "secret/app"});
  ASSERT_EXIT_CODE(get, 0);
  EXPECT_TRUE(has(get.out, "= Secret Path =\nsecret/data/app\n")) << get.out;
  EXPECT_TRUE(has(get.out, "=+ Metadata =+\nKey +Value\n--- +-----\n")) << get.out;
  EXPECT_TRUE(has(get.out, "=+ Data =+\nKey +Value\n--- +-----\npass +two\n")) << get.out;
  EXPECT_FALSE(has(get.out, "user")) << "version 2 has only pass";

  auto v1 = leasefs({"kv", "get", "-version=1", "-field=pass", "secret/app"});
  ASSERT_EXIT_CODE(v1, 0);
  EXPECT_EQ(v1.out, "one");  // raw, no newline when stdout is not a terminal

  auto js = leasefs({"kv", "get", "-format=json", "-mount=secret", "app"});
  ASSERT_EXIT_CODE(js, 0);
  auto doc = parse(js.out);
  ASSERT_TRUE(doc.is_object()) << js.out;
  EXPECT_EQ(doc["data"]["data"]["pass"], "two");
  EXPECT_EQ(doc["data"]["metadata"]["version"], 2);

  auto del = leasefs({"kv", "delete", "secret/app"});
  ASSERT_EXIT_CODE(del, 0);
  EXPECT_EQ(del.out, "Success! Data deleted (if it existed) at: secret/data/app\n");
  auto gone = leasefs({"kv", "get", "-field=pass", "secret/app"});
  EXPECT_EXIT_CODE(gone, 2);
  EXPECT_EQ(gone.err, "leasefs: No data found at secret/data/app\n");
  auto meta_only = leasefs({"kv", "get", "-format=json", "secret/app"});
  ASSERT_EXIT_CODE(meta_only, 0);  // as Vault: the deleted version's metadata is shown
  EXPECT_NE(parse(meta_only.out)["data"]["metadata"]["deletion_time"], "");

  auto undelete = leasefs({"kv", "undelete", "-versions=2", "secret/app"});
  ASSERT_EXIT_CODE(undelete, 0);
  EXPECT_EQ(undelete.out, "Success! Data written to: secret/undelete/app\n");
  EXPECT_EQ(leasefs({"kv", "get", "-field=pass", "secret/app"}).out, "two");

  auto soft = leasefs({"kv", "delete", "-versions=1,2", "secret/app"});
  ASSERT_EXIT_CODE(soft, 0);
  EXPECT_EXIT_CODE(leasefs({"kv", "get", "-field=pass", "secret/app"}), 2);
  ASSERT_EXIT_CODE(leasefs({"kv", "undelete", "-versions=1", "-versions=2", "secret/app"}), 0);

  auto destroy = leasefs({"kv", "destroy", "-versions=1", "secret/app"});
  ASSERT_EXIT_CODE(destroy, 0);
  EXPECT_EQ(destroy.out, "Success! Data written to: secret/destroy/app\n");
  auto destroyed = leasefs({"kv", "get", "-version=1", "-format=json", "secret/app"});
  ASSERT_EXIT_CODE(destroyed, 0);
  EXPECT_EQ(parse(destroyed.out)["data"]["metadata"]["destroyed"], true);

  auto cas = leasefs({"kv", "put", "-cas=1", "secret/app", "pass=three"});
  EXPECT_EXIT_CODE(cas, 1);
  EXPECT_TRUE(one_line_error(cas)) << cas.err;
  EXPECT_TRUE(
      has(cas.err,
          "^leasefs: Error writing data to secret/data/app: Code: 400\\. Errors: .*check-and-set"))
      << cas.err;
  ASSERT_EXIT_CODE(leasefs({"kv", "put", "-cas=2", "secret/app", "pass=three"}), 0);
  auto patch = leasefs({"kv", "patch", "-cas=3", "secret/app", "extra=e"});
  ASSERT_EXIT_CODE(patch, 0);
  EXPECT_TRUE(has(patch.out, "version\\s+4\n")) << patch.out;
  EXPECT_EQ(parse(leasefs({"kv", "get", "-format=json", "secret/app"}).out)["data"]["data"],
            json({{"pass", "three"}, {"extra", "e"}}));

  auto mput = leasefs({"kv", "metadata", "put", "-max-versions=5", "-cas-required",
                       "-custom-metadata=owner=ops", "-custom-metadata=tier=1", "secret/app"});
  ASSERT_EXIT_CODE(mput, 0);
  EXPECT_EQ(mput.out, "Success! Data written to: secret/metadata/app\n");
  auto meta = parse(leasefs({"kv", "metadata", "get", "-format=json", "secret/app"}).out);
  EXPECT_EQ(meta["data"]["max_versions"], 5);
  EXPECT_EQ(meta["data"]["cas_required"], true);
  EXPECT_EQ(meta["data"]["custom_metadata"], json({{"owner", "ops"}, {"tier", "1"}}));
  EXPECT_EQ(meta["data"]["versions"].size(), 4u);

  auto mpatch = leasefs({"kv", "metadata", "patch", "-remove-custom-metadata=owner",
                         "-cas-required=false", "secret/app"});
  ASSERT_EXIT_CODE(mpatch, 0);
  meta = parse(leasefs({"kv", "metadata", "get", "-format=json", "secret/app"}).out);
  EXPECT_EQ(meta["data"]["custom_metadata"], json({{"tier", "1"}}));
  EXPECT_EQ(meta["data"]["cas_required"], false);
  EXPECT_EQ(meta["data"]["max_versions"], 5);

  auto mtable = leasefs({"kv", "metadata", "get", "secret/app"});
  ASSERT_EXIT_CODE(mtable, 0);
  EXPECT_TRUE(has(mtable.out, "^== Metadata Path ==\nsecret/metadata/app\n\n=+ Metadata =+\n"))
      << mtable.out;
  EXPECT_TRUE(has(mtable.out, "=+ Version 1 =+\n(.|\n)*destroyed +true")) << mtable.out;
  EXPECT_TRUE(has(mtable.out, "=+ Version 3 =+\n")) << mtable.out;

  ASSERT_EXIT_CODE(leasefs({"kv", "put", "secret/team/db", "pw=x"}), 0);
  auto list = leasefs({"kv", "list", "secret/"});
  ASSERT_EXIT_CODE(list, 0);
  EXPECT_EQ(list.out, "Keys\n----\napp\nteam/\n");
  EXPECT_EQ(parse(leasefs({"kv", "list", "-format=json", "-mount=secret", "team"}).out),
            json::array({"db"}));
  auto none = leasefs({"kv", "list", "secret/nothing"});
  EXPECT_EXIT_CODE(none, 2);
  EXPECT_EQ(none.err, "leasefs: No value found at secret/metadata/nothing\n");

  auto mdel = leasefs({"kv", "metadata", "delete", "secret/app"});
  ASSERT_EXIT_CODE(mdel, 0);
  EXPECT_EQ(mdel.out, "Success! Data deleted (if it existed) at: secret/metadata/app\n");
  auto after = leasefs({"kv", "get", "secret/app"});
  EXPECT_EXIT_CODE(after, 2);
  EXPECT_EQ(after.err, "leasefs: No value found at secret/data/app\n");

  EXPECT_EXIT_CODE(leasefs({"kv", "undelete", "secret/app"}), 2);  // -versions is required
  EXPECT_EXIT_CODE(leasefs({"kv", "put", "secret/app"}), 2);       // no data
}

TEST_F(DevServerTest, KvV1ThroughSecretsEnable) {
  auto enable = leasefs({"secrets", "enable", "-path=kv1", "-description=plain kv", "kv"});
  ASSERT_EXIT_CODE(enable, 0);
  EXPECT_EQ(enable.out, "Success! Enabled the kv secrets engine at: kv1/\n");

  auto put = leasefs({"kv", "put", "kv1/app", "a=b", "c=d"});
  ASSERT_EXIT_CODE(put, 0);
  EXPECT_EQ(put.out, "Success! Data written to: kv1/app\n");
  auto get = leasefs({"kv", "get", "kv1/app"});
  ASSERT_EXIT_CODE(get, 0);
  EXPECT_EQ(get.out, "== Data ==\nKey    Value\n---    -----\na      b\nc      d\n");
  EXPECT_EQ(leasefs({"kv", "get", "-mount=kv1", "-field=c", "app"}).out, "d");
  EXPECT_EQ(leasefs({"kv", "list", "kv1"}).out, "Keys\n----\napp\n");

  auto undelete = leasefs({"kv", "undelete", "-versions=1", "kv1/app"});
  EXPECT_EXIT_CODE(undelete, 1);
  EXPECT_EQ(undelete.err, "leasefs: Undelete not supported on KV Version 1\n");
  auto meta = leasefs({"kv", "metadata", "get", "kv1/app"});
  EXPECT_EXIT_CODE(meta, 1);
  EXPECT_EQ(meta.err, "leasefs: Metadata not supported on KV Version 1\n");

  ASSERT_EXIT_CODE(leasefs({"kv", "delete", "-mount=kv1", "app"}), 0);
  EXPECT_EXIT_CODE(leasefs({"kv", "get", "kv1/app"}), 2);

  ASSERT_EXIT_CODE(leasefs({"secrets", "enable", "-path=kv2b", "-version=2", "kv"}), 0);
  auto mounts = parse(leasefs({"secrets", "list", "-format=json"}).out);
  EXPECT_EQ(mounts["kv2b/"]["options"]["version"], "2");
  EXPECT_EQ(mounts["kv1/"]["description"], "plain kv");
  ASSERT_EXIT_CODE(leasefs({"kv", "put", "kv2b/x", "k=v"}), 0);
  EXPECT_EQ(leasefs({"kv", "get", "-field=k", "kv2b/x"}).out, "v");

  auto table = leasefs({"secrets", "list"});
  ASSERT_EXIT_CODE(table, 0);
  EXPECT_TRUE(
      has(table.out, "^Path +Type +Accessor +Description\n---- +---- +-------- +-----------\n"))
      << table.out;
  EXPECT_TRUE(has(table.out, "\nkv1/ +kv +kv_\\w+ +plain kv\n")) << table.out;
  EXPECT_TRUE(has(leasefs({"secrets", "list", "-detailed"}).out, "Default TTL +Max TTL"));

  auto tune = leasefs({"secrets", "tune", "-default-lease-ttl=1h", "-max-lease-ttl=2h", "kv1"});
  ASSERT_EXIT_CODE(tune, 0);
  EXPECT_EQ(tune.out, "Success! Tuned the secrets engine at: kv1/\n");
  auto tuned = parse(leasefs({"read", "-format=json", "sys/mounts/kv1/tune"}).out);
  EXPECT_EQ(tuned["data"]["default_lease_ttl"], 3600);
  EXPECT_EQ(tuned["data"]["max_lease_ttl"], 7200);

  auto disable = leasefs({"secrets", "disable", "kv2b/"});
  ASSERT_EXIT_CODE(disable, 0);
  EXPECT_EQ(disable.out, "Success! Disabled the secrets engine (if it existed) at: kv2b/\n");
  EXPECT_FALSE(parse(leasefs({"secrets", "list", "-format=json"}).out).contains("kv2b/"));
}

TEST_F(DevServerTest, GenericReadWriteListDelete) {
  ASSERT_EXIT_CODE(leasefs({"secrets", "enable", "-path=kv1", "kv"}), 0);
  std::string file = dir_ / "cert.pem";
  std::ofstream(file, std::ios::binary) << "line one\nline two\n";

  auto write = leasefs({"write", "kv1/g", "plain=v", "file=@" + file, "stdin=-", "lit=\\@x"},
                       "from stdin\n");
  ASSERT_EXIT_CODE(write, 0);
  EXPECT_EQ(write.out, "Success! Data written to: kv1/g\n");
  auto g = parse(leasefs({"read", "-format=json", "kv1/g"}).out);
  EXPECT_EQ(g["data"]["plain"], "v");
  EXPECT_EQ(g["data"]["file"], "line one\nline two\n");
  EXPECT_EQ(g["data"]["stdin"], "from stdin\n");
  EXPECT_EQ(g["data"]["lit"], "@x");
  EXPECT_EQ(g["lease_duration"], 2764800);

  auto body =
      leasefs({"write", "kv1/j", "-"}, R"({"n": 5, "list": ["a", "b"], "obj": {"k": true}})");
  ASSERT_EXIT_CODE(body, 0);
  auto j = parse(leasefs({"read", "-format=json", "kv1/j"}).out);
  EXPECT_EQ(j["data"]["n"], 5);
  EXPECT_EQ(j["data"]["list"], json::array({"a", "b"}));
  EXPECT_EQ(leasefs({"read", "-field=obj", "-format=json", "kv1/j"}).out, "{\n  \"k\": true\n}");
  EXPECT_EQ(leasefs({"read", "-field=list", "kv1/j"}).out, "[a b]");
  ASSERT_EXIT_CODE(leasefs({"write", "kv1/r", "k=a", "k=b"}), 0);
  EXPECT_EQ(parse(leasefs({"read", "-format=json", "kv1/r"}).out)["data"]["k"],
            json::array({"a", "b"}));

  auto table = leasefs({"read", "kv1/g"});
  ASSERT_EXIT_CODE(table, 0);
  EXPECT_TRUE(has(table.out, "^Key +Value\n--- +-----\nrefresh_interval +768h\n")) << table.out;
  EXPECT_TRUE(has(table.out, "\nplain +v\n")) << table.out;
  EXPECT_EQ(leasefs({"read", "-field=plain", "kv1/g"}).out, "v");

  auto list = leasefs({"list", "kv1"});
  ASSERT_EXIT_CODE(list, 0);
  EXPECT_EQ(list.out, "Keys\n----\ng\nj\nr\n");
  EXPECT_EQ(parse(leasefs({"list", "-format=json", "kv1/"}).out), json::array({"g", "j", "r"}));
  auto empty = leasefs({"list", "kv1/nothing"});
  EXPECT_EXIT_CODE(empty, 2);
  EXPECT_EQ(empty.err, "leasefs: No value found at kv1/nothing/\n");

  auto del = leasefs({"delete", "kv1/g"});
  ASSERT_EXIT_CODE(del, 0);
  EXPECT_EQ(del.out, "Success! Data deleted (if it existed) at: kv1/g\n");
  auto missing = leasefs({"read", "kv1/g"});
  EXPECT_EXIT_CODE(missing, 2);
  EXPECT_EQ(missing.err, "leasefs: No value found at kv1/g\n");

  // The KV v2 API through the generic commands, with a whole JSON body.
  ASSERT_EXIT_CODE(leasefs({"write", "secret/data/raw", "-"}, R"({"data": {"x": "1"}})"), 0);
  EXPECT_EQ(leasefs({"read", "-field=data", "-format=json", "secret/data/raw"}).out,
            "{\n  \"x\": \"1\"\n}");

  // A write whose answer carries data: the response is shown (JSON parses).
  auto created =
      leasefs({"write", "-format=json", "auth/token/create", "policies=default", "ttl=10m"});
  ASSERT_EXIT_CODE(created, 0);
  auto auth = parse(created.out)["auth"];
  EXPECT_TRUE(auth["client_token"].is_string());
  EXPECT_EQ(auth["lease_duration"], 600);

  auto field = leasefs({"read", "-field=missing", "kv1/j"});
  EXPECT_EXIT_CODE(field, 1);
  EXPECT_EQ(field.err, "leasefs: Field \"missing\" not present in secret\n");
  auto no_data = leasefs({"write", "kv1/x"});
  EXPECT_EXIT_CODE(no_data, 2);
  EXPECT_TRUE(has(no_data.err, "Must supply data or use -force")) << no_data.err;
  auto bad_file = leasefs({"write", "kv1/x", "k=@" + dir_ / "absent"});
  EXPECT_EXIT_CODE(bad_file, 1);
  EXPECT_TRUE(one_line_error(bad_file)) << bad_file.err;
  auto bad_json = leasefs({"write", "kv1/x", "-"}, "{not json");
  EXPECT_EXIT_CODE(bad_json, 1);
  EXPECT_TRUE(one_line_error(bad_json)) << bad_json.err;
  auto bad_pair = leasefs({"write", "kv1/x", "hunter2"});
  EXPECT_EXIT_CODE(bad_pair, 1);
  EXPECT_EQ(bad_pair.err.find("hunter2"), std::string::npos) << "a value may be a secret";
}

TEST_F(DevServerTest, PolicyWriteAndTokenAllowedOnOnePathDeniedOnAnother) {
  std::string file = dir_ / "app.hcl";
  std::ofstream(file) << "path \"secret/data/allowed/*\" {\n"
                         "  capabilities = [\"create\", \"read\", \"update\"]\n}\n";
  auto write = leasefs({"policy", "write", "app", file});
  ASSERT_EXIT_CODE(write, 0);
  EXPECT_EQ(write.out, "Success! Uploaded policy: app\n");
  auto from_stdin = leasefs({"policy", "write", "lister", "-"},
                            R"({"path": {"secret/metadata/*": {"capabilities": ["list"]}}})");
  ASSERT_EXIT_CODE(from_stdin, 0);

  auto list = leasefs({"policy", "list"});
  ASSERT_EXIT_CODE(list, 0);
  EXPECT_EQ(list.out, "app\ndefault\nlister\nroot\n");
  EXPECT_EQ(parse(leasefs({"policy", "list", "-format=json"}).out),
            json::array({"app", "default", "lister", "root"}));
  auto read = leasefs({"policy", "read", "app"});
  ASSERT_EXIT_CODE(read, 0);
  EXPECT_EQ(read.out, read_file(file));
  EXPECT_TRUE(has(
      parse(leasefs({"policy", "read", "-format=json", "lister"}).out)["policy"].get<std::string>(),
      "secret/metadata"));
  auto nope = leasefs({"policy", "read", "nope"});
  EXPECT_EXIT_CODE(nope, 2);
  EXPECT_EQ(nope.err, "leasefs: No policy named: nope\n");

  auto created = leasefs({"token", "create", "-policy=app", "-policy=lister", "-field=token"});
  ASSERT_EXIT_CODE(created, 0);
  const std::string token = created.out;
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(token.find('\n'), std::string::npos);

  auto allowed = as(token, {"kv", "put", "secret/allowed/db", "password=p"});
  EXPECT_EXIT_CODE(allowed, 0);
  EXPECT_EQ(as(token, {"kv", "get", "-field=password", "secret/allowed/db"}).out, "p");
  EXPECT_EQ(as(token, {"kv", "list", "secret/"}).out, "Keys\n----\nallowed/\n");

  auto denied = as(token, {"kv", "put", "secret/denied", "password=p"});
  EXPECT_EXIT_CODE(denied, 1);
  EXPECT_TRUE(one_line_error(denied)) << denied.err;
  EXPECT_EQ(
      denied.err,
      "leasefs: Error writing data to secret/data/denied: Code: 403. Errors: permission denied\n");
  EXPECT_EQ(denied.err.find(token), std::string::npos);
  auto denied_read = as(token, {"read", "sys/mounts"});
  EXPECT_EXIT_CODE(denied_read, 1);
  EXPECT_EQ(denied_read.err,
            "leasefs: Error reading sys/mounts: Code: 403. Errors: permission denied\n");

  EXPECT_EQ(leasefs({"token", "capabilities", token, "secret/data/allowed/db"}).out,
            "create, read, update\n");
  EXPECT_EQ(as(token, {"token", "capabilities", "secret/data/denied"}).out, "deny\n");
  EXPECT_EQ(parse(as(token, {"token", "capabilities", "-format=json", "secret/metadata/x"}).out),
            json::array({"list"}));

  auto del = leasefs({"policy", "delete", "lister"});
  ASSERT_EXIT_CODE(del, 0);
  EXPECT_EQ(del.out, "Success! Deleted policy: lister\n");
  EXPECT_EXIT_CODE(leasefs({"policy", "read", "lister"}), 2);
}

TEST_F(DevServerTest, TokenCreateLookupRenewRevoke) {
  ASSERT_EXIT_CODE(leasefs({"policy", "write", "creator", "-"},
                           "path \"auth/token/create\" { capabilities = [\"update\"] }"),
                   0);
  auto created = leasefs({"token", "create", "-format=json", "-policy=creator", "-ttl=1h",
                          "-explicit-max-ttl=10h", "-display-name=ci", "-metadata=team=blue"});
  ASSERT_EXIT_CODE(created, 0);
  auto auth = parse(created.out)["auth"];
  const std::string token = auth["client_token"].get<std::string>();
  const std::string accessor = auth["accessor"].get<std::string>();
  EXPECT_EQ(auth["lease_duration"], 3600);
  EXPECT_EQ(auth["metadata"]["team"], "blue");
  auto limited = parse(leasefs({"token", "create", "-format=json", "-use-limit=3"}).out);
  EXPECT_EQ(limited["auth"]["num_uses"], 3);

  auto table = leasefs({"token", "create", "-policy=default", "-ttl=90m", "-renewable=false"});
  ASSERT_EXIT_CODE(table, 0);
  EXPECT_TRUE(has(table.out,
                  "^Key +Value\n--- +-----\ntoken +\\S+\ntoken_accessor +\\S+\n"
                  "token_duration +1h30m\ntoken_renewable +false\n"
                  "token_policies +\\[\"default\"\\]\n"));

  auto lookup = parse(leasefs({"token", "lookup", "-format=json", token}).out);
  EXPECT_EQ(lookup["data"]["display_name"], "token-ci");
  EXPECT_EQ(lookup["data"]["meta"]["team"], "blue");
  EXPECT_EQ(lookup["data"]["explicit_max_ttl"], 36000);
  EXPECT_EQ(parse(leasefs({"token", "lookup", "-format=json", "-accessor", accessor})
                      .out)["data"]["accessor"],
            accessor);
  auto self = as(token, {"token", "lookup"});
  ASSERT_EXIT_CODE(self, 0);
  EXPECT_TRUE(has(self.out, "\ndisplay_name +token-ci\n"));
  EXPECT_TRUE(has(self.out, "\nexplicit_max_ttl +10h\n"));
  EXPECT_EQ(as(token, {"token", "lookup", "-field=display_name"}).out, "token-ci");

  auto renew = parse(leasefs({"token", "renew", "-increment=2h", "-format=json", token}).out);
  EXPECT_EQ(renew["auth"]["lease_duration"], 7200);
  auto renew_self = as(token, {"token", "renew", "-i", "30m", "-field=token_duration"});
  ASSERT_EXIT_CODE(renew_self, 0);
  EXPECT_EQ(renew_self.out, "1800");

  // A child of `token`, revoked with its parent; an orphan survives.
  auto child = as(token, {"token", "create", "-field=token", "-policy=creator"});
  ASSERT_EXIT_CODE(child, 0);
  auto orphan = leasefs({"token", "create", "-orphan", "-format=json"});
  ASSERT_EXIT_CODE(orphan, 0);
  EXPECT_EQ(parse(orphan.out)["auth"]["orphan"], true);

  auto revoke = leasefs({"token", "revoke", token});
  ASSERT_EXIT_CODE(revoke, 0);
  EXPECT_EQ(revoke.out, "Success! Revoked token (if it existed)\n");
  auto after = as(token, {"token", "lookup"});
  EXPECT_EXIT_CODE(after, 1);
  EXPECT_TRUE(one_line_error(after)) << after.err;
  EXPECT_TRUE(has(after.err, "Code: 403")) << after.err;
  EXPECT_EQ(after.err.find(token), std::string::npos);
  EXPECT_EXIT_CODE(as(child.out, {"token", "lookup"}), 1);
  auto gone = leasefs({"token", "lookup", token});
  EXPECT_EXIT_CODE(gone, 1);
  EXPECT_EQ(gone.err.find(token), std::string::npos);

  // -self, -accessor and -mode=orphan.
  auto parent = leasefs({"token", "create", "-field=token"});
  auto kept = as(parent.out, {"token", "create", "-field=token"});
  ASSERT_EXIT_CODE(kept, 0);
  ASSERT_EXIT_CODE(leasefs({"token", "revoke", "-mode=orphan", parent.out}), 0);
  EXPECT_EXIT_CODE(as(parent.out, {"token", "lookup"}), 1);
  EXPECT_EXIT_CODE(as(kept.out, {"token", "lookup"}), 0);
  ASSERT_EXIT_CODE(as(kept.out, {"token", "revoke", "-self"}), 0);
  EXPECT_EXIT_CODE(as(kept.out, {"token", "lookup"}), 1);
  const std::string orphan_accessor = parse(orphan.out)["auth"]["accessor"];
  ASSERT_EXIT_CODE(leasefs({"token", "revoke", "-accessor", orphan_accessor}), 0);
  EXPECT_EXIT_CODE(leasefs({"token", "lookup", "-accessor", orphan_accessor}), 1);

  EXPECT_EXIT_CODE(leasefs({"token", "revoke"}), 2);
  EXPECT_EXIT_CODE(leasefs({"token", "revoke", "-self", "x"}), 2);
  auto stray = leasefs({"token", "create", "hvs.straytokenvalue"});
  EXPECT_EXIT_CODE(stray, 2);
  EXPECT_EQ(stray.err.find("straytokenvalue"), std::string::npos) << "a token was echoed";
}

TEST_F(DevServerTest, AppRoleLoginThroughGenericCommandsAndLogin) {
  auto enable = leasefs({"auth", "enable", "approle"});
  ASSERT_EXIT_CODE(enable, 0);
  EXPECT_EQ(enable.out, "Success! Enabled approle auth method at: approle/\n");
  auto list = leasefs({"auth", "list"});
  ASSERT_EXIT_CODE(list, 0);
  EXPECT_TRUE(has(list.out, "^Path +Type +Accessor +Description +Version\n")) << list.out;
  EXPECT_TRUE(has(list.out, "\napprole/ +approle +approle_\\w+ +n/a +n/a\n")) << list.out;
  EXPECT_TRUE(parse(leasefs({"auth", "list", "-format=json"}).out).contains("token/"));

  ASSERT_EXIT_CODE(leasefs({"policy", "write", "app", "-"},
                           "path \"secret/data/app/*\" { capabilities = [\"read\"] }"),
                   0);
  auto role = leasefs({"write", "auth/approle/role/web", "token_policies=app", "token_ttl=20m"});
  ASSERT_EXIT_CODE(role, 0);
  EXPECT_EQ(role.out, "Success! Data written to: auth/approle/role/web\n");
  auto role_id = leasefs({"read", "-field=role_id", "auth/approle/role/web/role-id"});
  ASSERT_EXIT_CODE(role_id, 0);
  auto secret_id = leasefs({"write", "-f", "-field=secret_id", "auth/approle/role/web/secret-id"});
  ASSERT_EXIT_CODE(secret_id, 0);
  ASSERT_FALSE(role_id.out.empty());
  ASSERT_FALSE(secret_id.out.empty());

  auto login = as(std::nullopt, {"write", "-format=json", "auth/approle/login",
                                 "role_id=" + role_id.out, "secret_id=" + secret_id.out});
  ASSERT_EXIT_CODE(login, 0);
  auto auth = parse(login.out)["auth"];
  EXPECT_EQ(auth["lease_duration"], 1200);
  EXPECT_EQ(auth["token_policies"], json::array({"app", "default"}));
  const std::string app_token = auth["client_token"];
  ASSERT_EXIT_CODE(leasefs({"kv", "put", "secret/app/db", "pw=x"}), 0);
  EXPECT_EQ(as(app_token, {"kv", "get", "-field=pw", "secret/app/db"}).out, "x");

  // `login -method=approle` stores the token in ~/.leasefs-token, used when no
  // LEASEFS_TOKEN is set; Vault's ~/.vault-token is left alone.
  auto second = leasefs({"write", "-f", "-field=secret_id", "auth/approle/role/web/secret-id"});
  auto stored = as(std::nullopt, {"login", "-method=approle", "-format=json",
                                  "role_id=" + role_id.out, "secret_id=" + second.out});
  ASSERT_EXIT_CODE(stored, 0);
  const std::string stored_token = parse(stored.out)["auth"]["client_token"];
  const std::string helper = home_ + "/.leasefs-token";
  EXPECT_EQ(read_file(helper), stored_token);
  struct stat st {};
  ASSERT_EQ(stat(helper.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(stat((home_ + "/.vault-token").c_str(), &st), 0);
  auto who = as(std::nullopt, {"token", "lookup", "-format=json"});
  ASSERT_EXIT_CODE(who, 0);
  EXPECT_EQ(parse(who.out)["data"]["policies"], json::array({"app", "default"}));

  // A bad secret ID: one line, exit 1, nothing stored.
  auto bad = as(std::nullopt, {"login", "-method=approle", "role_id=" + role_id.out,
                               "secret_id=00000000-0000-0000-0000-000000000000"});
  EXPECT_EXIT_CODE(bad, 1);
  EXPECT_TRUE(one_line_error(bad)) << bad.err;
  EXPECT_EQ(read_file(helper), stored_token);

  // `login TOKEN` checks the token and stores it; -no-store leaves the file alone.
  auto no_store = as(std::nullopt, {"login", "-no-store", root_});
  ASSERT_EXIT_CODE(no_store, 0);
  EXPECT_EQ(read_file(helper), stored_token);
  auto root_login =
      as(std::nullopt, {"login", "-field=token_policies", "-format=json"}, root_ + "\n");
  ASSERT_EXIT_CODE(root_login, 0);
  EXPECT_EQ(parse(root_login.out), json::array({"root"}));
  EXPECT_EQ(read_file(helper), root_);
  auto wrong = as(std::nullopt, {"login", "not-a-token"});
  EXPECT_EXIT_CODE(wrong, 1);
  EXPECT_EQ(wrong.err.find("not-a-token"), std::string::npos);

  auto disable = leasefs({"auth", "disable", "approle"});
  ASSERT_EXIT_CODE(disable, 0);
  EXPECT_EQ(disable.out, "Success! Disabled the auth method (if it existed) at: approle/\n");
}

TEST_F(DevServerTest, EnvironmentFallbacksAndFlagsWin) {
  const std::string good = server_->address();
  const std::string dead = "http://127.0.0.1:" + std::to_string(unused_port());
  {
    // Only the VAULT_* names set.
    ScopedEnv a("LEASEFS_ADDR", std::nullopt), t("LEASEFS_TOKEN", std::nullopt);
    ScopedEnv va("VAULT_ADDR", good), vt("VAULT_TOKEN", root_);
    auto r = leasefs({"token", "lookup", "-field=policies", "-format=json"});
    ASSERT_EXIT_CODE(r, 0);
    EXPECT_EQ(parse(r.out), json::array({"root"}));
  }
  {
    // LEASEFS_ADDR wins over VAULT_ADDR, and -address over both.
    ScopedEnv va("VAULT_ADDR", dead);
    EXPECT_EXIT_CODE(leasefs({"status"}), 0);
    ScopedEnv a("LEASEFS_ADDR", dead);
    EXPECT_EXIT_CODE(leasefs({"status"}), 1);
    EXPECT_EXIT_CODE(leasefs({"status", "-address=" + good}), 0);
  }
  {
    // No token in the environment: the token helper file.
    ScopedEnv t("LEASEFS_TOKEN", std::nullopt);
    EXPECT_EXIT_CODE(leasefs({"token", "lookup"}), 1);
    std::ofstream(home_ + "/.leasefs-token") << root_ << "\n";
    auto r = leasefs({"token", "lookup", "-field=policies", "-format=json"});
    ASSERT_EXIT_CODE(r, 0);
    EXPECT_EQ(parse(r.out), json::array({"root"}));
  }
  {
    ScopedEnv bad("LEASEFS_SKIP_VERIFY", "maybe");
    auto r = leasefs({"status"});
    EXPECT_EXIT_CODE(r, 1);
    EXPECT_TRUE(has(r.err, "LEASEFS_SKIP_VERIFY")) << r.err;
  }
  auto bad_address = leasefs({"status", "-address=ftp://x"});
  EXPECT_EXIT_CODE(bad_address, 1);
  EXPECT_TRUE(one_line_error(bad_address)) << bad_address.err;
}

class NoServerTest : public ::testing::Test, protected ClientEnvironment {};

TEST_F(NoServerTest, ServerDownIsOneLineNamingTheAddressInBoundedTime) {
  const std::string address = "http://127.0.0.1:" + std::to_string(unused_port());
  ScopedEnv a("LEASEFS_ADDR", address), t("LEASEFS_TOKEN", "some-token");
  for (std::vector<std::string> cmd : {std::vector<std::string>{"read", "secret/x"},
                                       {"kv", "get", "secret/x"},
                                       {"status"},
                                       {"operator", "init"},
                                       {"token", "lookup"}}) {
    auto start = std::chrono::steady_clock::now();
    auto r = leasefs(cmd);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EXIT_CODE(r, 1);
    EXPECT_TRUE(one_line_error(r)) << r.err;
    EXPECT_NE(r.err.find(address), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("some-token"), std::string::npos);
    EXPECT_TRUE(r.out.empty());
    EXPECT_LT(took, std::chrono::seconds(5)) << cmd[0];
  }

  // A server that accepts and never answers: bounded by -client-timeout.
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  const std::string hanging = "http://127.0.0.1:" + std::to_string(silent.port());
  auto start = std::chrono::steady_clock::now();
  auto r = leasefs({"read", "-address=" + hanging, "-client-timeout=1s", "secret/x"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(one_line_error(r)) << r.err;
  EXPECT_NE(r.err.find(hanging), std::string::npos) << r.err;
  EXPECT_TRUE(has(r.err, "timed out")) << r.err;
  EXPECT_LT(took, std::chrono::seconds(4));
  ScopedEnv timeout("LEASEFS_CLIENT_TIMEOUT", "500ms");
  start = std::chrono::steady_clock::now();
  EXPECT_EXIT_CODE(leasefs({"status", "-address=" + hanging}), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(NoServerTest, BadUsageExitsTwo) {
  ScopedEnv a("LEASEFS_ADDR", "http://127.0.0.1:" + std::to_string(unused_port()));
  for (std::vector<std::string> cmd : {std::vector<std::string>{"read"},
                                       {"kv", "get"},
                                       {"kv", "put", "secret/x"},
                                       {"kv", "bogus"},
                                       {"kv", "destroy", "secret/x"},
                                       {"write", "secret/x"},
                                       {"token", "create", "-ttl"},
                                       {"token", "revoke"},
                                       {"token", "revoke", "-mode=sideways", "x"},
                                       {"token", "capabilities"},
                                       {"policy", "write", "name"},
                                       {"secrets", "enable"},
                                       {"auth"},
                                       {"read", "-format=yaml", "secret/x"},
                                       {"status", "-no-such-flag"},
                                       {"operator", "key-status", "key1"},
                                       {"operator", "unseal", "-reset", "key1"}}) {
    auto r = leasefs(cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd[0] << " " << (cmd.size() > 1 ? cmd[1] : "") << ": " << r.err;
  }
}

// A server as in production: a config file, SQLite storage, starts sealed.
class SealedServerTest : public ::testing::Test, protected ClientEnvironment {
 protected:
  void SetUp() override {
    std::ofstream(config_) << json({{"listener", {{"address", "127.0.0.1:0"}}},
                                    {"storage",
                                     {{"type", "sqlite"}, {"path", dir_ / "leasefs.db"}}}})
                                  .dump();
    start();
  }

  void start() {
    std::string why;
    server_ = CliTestServer::start({"-config", config_}, dir_ / "server.log", why);
    ASSERT_NE(server_, nullptr) << why;
    addr_.reset();  // restore before the next one saves the value
    addr_ = std::make_unique<ScopedEnv>("LEASEFS_ADDR", server_->address());
  }

  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->stop(), 0) << "the server did not exit 0 after SIGTERM";
    }
  }

  ProcessResult with_root(const std::vector<std::string>& args) {
    ScopedEnv t("LEASEFS_TOKEN", root_);
    return leasefs(args);
  }

  std::string config_ = dir_ / "config.json";
  std::unique_ptr<CliTestServer> server_;
  std::unique_ptr<ScopedEnv> addr_;
  std::vector<std::string> hex_, b64_;
  std::string root_;
};

// A store initialized offline (operator init -storage, before the first start) gets
// what sys/init gives: keys, the built-in mounts and a root token that works once a
// server opens and unseals it.
class OfflineInitTest : public SealedServerTest {
 protected:
  void SetUp() override {
    std::ofstream(config_) << json({{"listener", {{"address", "127.0.0.1:0"}}},
                                    {"storage", {{"type", "sqlite"}, {"path", db_}}}})
                                  .dump();
    auto init = leasefs({"operator", "init", "-storage", db_, "-key-shares=1",
                         "-key-threshold=1", "-format=json"});
    ASSERT_EXIT_CODE(init, 0);
    auto keys = parse(init.out);
    b64_ = keys["unseal_keys_b64"].get<std::vector<std::string>>();
    root_ = keys.value("root_token", "");
    start();
  }
  std::string db_ = dir_ / "offline.db";
};

TEST_F(OfflineInitTest, RootTokenWorksOnTheServer) {
  ASSERT_TRUE(root_.starts_with("hvs.")) << "no root token from offline init";
  ASSERT_EXIT_CODE(leasefs({"operator", "unseal", b64_[0]}), 0);
  auto whoami = with_root({"token", "lookup", "-format=json"});
  ASSERT_EXIT_CODE(whoami, 0);
  EXPECT_EQ(parse(whoami.out)["data"]["policies"], json::array({"root"}));
  auto mounts = with_root({"secrets", "list", "-format=json"});
  ASSERT_EXIT_CODE(mounts, 0);
  EXPECT_TRUE(parse(mounts.out).contains("sys/"));
  EXPECT_EXIT_CODE(with_root({"secrets", "enable", "-path=kv", "kv"}), 0);
}

TEST_F(SealedServerTest, OperatorInitUnsealSealStatus) {
  auto fresh = leasefs({"status"});
  EXPECT_EXIT_CODE(fresh, 2);
  EXPECT_TRUE(has(fresh.out, "\nInitialized +false\nSealed +true\n")) << fresh.out;
  auto init_status = leasefs({"operator", "init", "-status"});
  EXPECT_EXIT_CODE(init_status, 2);
  EXPECT_EQ(init_status.out, "Vault is not initialized\n");

  auto init = leasefs({"operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json"});
  ASSERT_EXIT_CODE(init, 0);
  auto keys = parse(init.out);
  ASSERT_TRUE(keys.is_object());
  hex_ = keys["unseal_keys_hex"].get<std::vector<std::string>>();
  b64_ = keys["unseal_keys_b64"].get<std::vector<std::string>>();
  root_ = keys["root_token"].get<std::string>();
  ASSERT_EQ(hex_.size(), 3u);
  EXPECT_EQ(keys["unseal_threshold"], 2);
  EXPECT_EQ(leasefs({"operator", "init", "-status"}).exit_code, 0);

  auto again = leasefs({"operator", "init"});
  EXPECT_EXIT_CODE(again, 1);
  EXPECT_TRUE(one_line_error(again)) << again.err;
  EXPECT_TRUE(
      has(again.err, "^leasefs: Error initializing: Code: 400\\. Errors: .*already initialized"))
      << again.err;
  EXPECT_TRUE(again.out.empty());

  auto sealed = leasefs({"status", "-format=json"});
  EXPECT_EXIT_CODE(sealed, 2);
  auto s = parse(sealed.out);
  EXPECT_EQ(s["sealed"], true);
  EXPECT_EQ(s["t"], 2);
  EXPECT_EQ(s["n"], 3);
  EXPECT_EQ(s["ha_enabled"], false);

  auto one = leasefs({"operator", "unseal", b64_[1]});
  ASSERT_EXIT_CODE(one, 0);
  EXPECT_TRUE(has(one.out, "\nUnseal Progress +1/2\n")) << one.out;
  auto reset = leasefs({"operator", "unseal", "-reset"});
  ASSERT_EXIT_CODE(reset, 0);
  EXPECT_TRUE(has(reset.out, "\nUnseal Progress +0/2\n")) << reset.out;

  const std::string stranger(66, '7');
  auto wrong = leasefs({"operator", "unseal", hex_[0], stranger});
  EXPECT_EXIT_CODE(wrong, 1);
  EXPECT_TRUE(one_line_error(wrong)) << wrong.err;
  for (const auto& k : hex_) EXPECT_EQ(wrong.err.find(k.substr(0, 16)), std::string::npos);
  ASSERT_EXIT_CODE(leasefs({"operator", "unseal", "-reset"}), 0);

  // Keys on standard input, one per line, hex and base64 mixed.
  auto unseal = leasefs({"operator", "unseal"}, hex_[0] + "\n\n" + b64_[2] + "\n");
  ASSERT_EXIT_CODE(unseal, 0);
  EXPECT_TRUE(has(unseal.out, "\nSealed +false\n")) << unseal.out;
  EXPECT_EXIT_CODE(leasefs({"status"}), 0);

  auto key_status = with_root({"operator", "key-status", "-format=json"});
  ASSERT_EXIT_CODE(key_status, 0);
  EXPECT_EQ(parse(key_status.out)["term"], 1);
  auto rotate = with_root({"operator", "rotate"});
  ASSERT_EXIT_CODE(rotate, 0);
  EXPECT_TRUE(has(rotate.out, "^Success! Rotated key\n\nKey +Value\n--- +-----\nKey Term +2\n"))
      << rotate.out;

  ASSERT_EXIT_CODE(with_root({"secrets", "enable", "-path=kv", "-version=2", "kv"}), 0);
  ASSERT_EXIT_CODE(with_root({"kv", "put", "kv/app", "k=kept"}), 0);

  auto denied_seal = leasefs({"operator", "seal"});  // no token
  EXPECT_EXIT_CODE(denied_seal, 1);
  EXPECT_TRUE(has(denied_seal.err, "Code: 403")) << denied_seal.err;
  auto seal = with_root({"operator", "seal"});
  ASSERT_EXIT_CODE(seal, 0);
  EXPECT_EQ(seal.out, "Success! Vault is sealed.\n");
  EXPECT_EXIT_CODE(leasefs({"status"}), 2);
  auto while_sealed = with_root({"read", "kv/data/app"});
  EXPECT_EXIT_CODE(while_sealed, 1);
  EXPECT_EQ(while_sealed.err,
            "leasefs: Error reading kv/data/app: Code: 503. Errors: Vault is sealed\n");

  // A restart keeps everything; two keys as arguments unseal it.
  EXPECT_EQ(server_->stop(), 0);
  start();
  auto restarted = leasefs({"status", "-format=json"});
  EXPECT_EXIT_CODE(restarted, 2);
  EXPECT_EQ(parse(restarted.out)["initialized"], true);
  ASSERT_EXIT_CODE(leasefs({"operator", "unseal", hex_[2], b64_[0]}), 0);
  EXPECT_EQ(with_root({"kv", "get", "-field=k", "kv/app"}).out, "kept");
  EXPECT_EQ(parse(with_root({"operator", "key-status", "-format=json"}).out)["term"], 2);
}

// A TLS listener with a self-signed certificate: the CLI refuses it until told which CA
// to trust (-ca-cert, LEASEFS_CACERT, VAULT_CACERT) or to skip verification.
TEST_F(NoServerTest, TlsServerNeedsItsCaOrSkipVerify) {
  const std::string cert = dir_ / "cert.pem", key = dir_ / "key.pem";
  auto gen = run_process({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                          "-days", "1", "-subj", "/CN=localhost", "-addext",
                          "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const std::string config = dir_ / "config.json";
  std::ofstream(config)
      << json({{"listener",
                {{"address", "127.0.0.1:0"}, {"tls_cert_file", cert}, {"tls_key_file", key}}},
               {"storage", {{"type", "sqlite"}, {"path", dir_ / "tls.db"}}}})
             .dump();
  std::string why;
  auto server = CliTestServer::start({"-config", config}, dir_ / "server.log", why);
  ASSERT_NE(server, nullptr) << why;
  ASSERT_TRUE(server->address().starts_with("https://")) << server->address();
  ScopedEnv a("LEASEFS_ADDR", server->address());

  auto untrusted = leasefs({"status"});
  EXPECT_EXIT_CODE(untrusted, 1);
  EXPECT_TRUE(one_line_error(untrusted)) << untrusted.err;
  EXPECT_NE(untrusted.err.find(server->address()), std::string::npos) << untrusted.err;

  // Reaching the (sealed, uninitialized) server is exit 2.
  EXPECT_EXIT_CODE(leasefs({"status", "-ca-cert=" + cert}), 2);
  EXPECT_EXIT_CODE(leasefs({"status", "-tls-skip-verify"}), 2);
  {
    ScopedEnv ca("LEASEFS_CACERT", cert);
    EXPECT_EXIT_CODE(leasefs({"status"}), 2);
  }
  {
    ScopedEnv ca("VAULT_CACERT", cert);
    EXPECT_EXIT_CODE(leasefs({"status"}), 2);
  }
  {
    ScopedEnv skip("LEASEFS_SKIP_VERIFY", "true");
    EXPECT_EXIT_CODE(leasefs({"status"}), 2);
  }
  auto missing_ca = leasefs({"status", "-ca-cert=" + dir_ / "absent.pem"});
  EXPECT_EXIT_CODE(missing_ca, 1);
  EXPECT_TRUE(one_line_error(missing_ca)) << missing_ca.err;
  EXPECT_EQ(server->stop(), 0);
}

}  // namespace
}  // namespace leasefs::testing
