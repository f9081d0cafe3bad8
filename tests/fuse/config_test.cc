// Mount configuration parsing and file rendering (no mount, no server).
#include "fs/config.h"

#include <climits>
#include <thread>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/caller.h"
#include "fs/render.h"

namespace leasefs::fs {
namespace {

using nlohmann::json;

json base() {
  return json::parse(R"({
    "server": {"address": "http://127.0.0.1:8200", "timeout": "2s",
               "auth": {"token_file": "/run/leasefs/token"}},
    "mount": {"allow_other": true, "uid": 0, "gid": 0, "revoke_on_exit": false},
    "files": [
      {"path": "app/api_key", "secret": "secret/data/app", "field": "api_key", "mode": "0440", "gid": 2000},
      {"path": "app/config.json", "secret": "secret/data/app", "format": "json"},
      {"path": "app/app.env", "secret": "secret/data/app", "format": "env"},
      {"path": "db/dsn", "secret": "database/creds/ro", "format": "template",
       "template": "postgres://{{username}}:{{password}}@db/app"},
      {"path": "tls/cert.pem", "secret": "pki/issue/web", "method": "POST",
       "args": {"common_name": "web.internal", "ttl": "1h"}, "field": "certificate"},
      {"path": "tls/key.pem", "secret": "pki/issue/web", "method": "POST",
       "args": {"common_name": "web.internal", "ttl": "1h"}, "field": "private_key"},
      {"path": "once/token", "secret": "auth/token/create", "method": "POST",
       "args": {"ttl": "60s"}, "field": "client_token", "share": "per-open",
       "allow": {"uids": [1000], "gids": [], "exe": ["/usr/bin/python3.11"], "cgroups": []}}
    ]})");
}

std::string error_of(const json& config) {
  auto r = parse_mount_config(config);
  return r ? std::string("(parsed)") : r.error().message();
}

TEST(MountConfigTest, ParsesTheIssueExample) {
  auto r = parse_mount_config(base());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->server.timeout, std::chrono::seconds(2));
  EXPECT_EQ(r->server.token_file, "/run/leasefs/token");
  EXPECT_TRUE(r->mount.allow_other);
  EXPECT_TRUE(r->mount.passthrough);  // default
  ASSERT_EQ(r->files.size(), 7u);
  EXPECT_EQ(r->files[0].mode, 0440u);
  EXPECT_EQ(r->files[0].gid, 2000u);
  EXPECT_EQ(r->files[1].mode, 0400u);  // default
  EXPECT_EQ(r->files[1].method, "GET");
  EXPECT_EQ(r->files[1].format, Format::kJson);
  EXPECT_EQ(r->files[3].format, Format::kTemplate);
  EXPECT_EQ(r->files[4].source_key(), r->files[5].source_key());
  EXPECT_NE(r->files[0].source_key(), r->files[4].source_key());
  EXPECT_EQ(r->files[6].share, Share::kPerOpen);
  EXPECT_EQ(r->files[6].allow.uids, std::vector<std::uint32_t>{1000});
  EXPECT_EQ(r->files[6].allow.exe, std::vector<std::string>{"/usr/bin/python3.11"});
}

TEST(MountConfigTest, ErrorsNameTheEntry) {
  json c = base();
  c["files"][2]["colour"] = "blue";
  EXPECT_EQ(error_of(c), R"(files[2] ("app/app.env"): unknown key "colour")");

  c = base();
  c["files"][0]["mode"] = "0999";
  EXPECT_NE(error_of(c).find(R"(files[0] ("app/api_key"): "mode")"), std::string::npos);
  c["files"][0]["mode"] = "0640";
  EXPECT_NE(error_of(c).find("read-only"), std::string::npos);
  c["files"][0]["mode"] = 420;
  EXPECT_NE(error_of(c).find("octal"), std::string::npos);

  c = base();
  c["mount"]["passthrough"] = "no";
  EXPECT_EQ(error_of(c), R"(mount: "passthrough" must be true or false)");
  c["mount"]["passthrough"] = false;
  ASSERT_TRUE(parse_mount_config(c));
  EXPECT_FALSE(parse_mount_config(c)->mount.passthrough);

  c = base();
  c["files"][1]["path"] = "app/api_key";
  EXPECT_EQ(error_of(c), R"(files[1] ("app/api_key"): the same path as files[0])");

  c = base();
  c["files"][1]["path"] = "../etc/passwd";
  EXPECT_NE(error_of(c).find("escapes the mount"), std::string::npos);
  c["files"][1]["path"] = "/etc/passwd";
  EXPECT_NE(error_of(c).find("relative"), std::string::npos);
  c["files"][1]["path"] = ".leasefs/status";
  EXPECT_NE(error_of(c).find("control directory"), std::string::npos);
  c["files"][1]["path"] = "app/api_key/inner";
  EXPECT_NE(error_of(c).find("is the file of files[0]"), std::string::npos);

  c = base();
  c["files"][3].erase("template");
  EXPECT_EQ(error_of(c),
            R"(files[3] ("db/dsn"): "template" is required with "format": "template")");
  c = base();
  c["files"][0]["format"] = "json";
  EXPECT_NE(error_of(c).find("either \"field\" or \"format\""), std::string::npos);
  c = base();
  c["files"][0]["share"] = "sometimes";
  EXPECT_NE(error_of(c).find("\"share\""), std::string::npos);
  c = base();
  c["files"][6]["allow"]["exe"] = json::array({"python"});
  EXPECT_NE(error_of(c).find("absolute"), std::string::npos);
  c = base();
  c["files"][1]["args"] = {{"x", 1}};
  EXPECT_NE(error_of(c).find("POST"), std::string::npos);
  c = base();
  c["files"][1]["method"] = "DELETE";
  EXPECT_NE(error_of(c).find("GET, POST or PUT"), std::string::npos);
}

// ssh/ files: the daemon generates the key pair, so the config names the key type and
// never a public key of its own; the key type is part of what files share.
TEST(MountConfigTest, GenerateKey) {
  json c = base();
  json key = {{"path", "ssh/id_ed25519"}, {"secret", "ssh/sign/ops"}, {"method", "POST"},
              {"args", {{"valid_principals", "deploy"}}}, {"generate_key", "ed25519"},
              {"field", "private_key"}};
  json cert = key;
  cert["path"] = "ssh/id_ed25519-cert.pub";
  cert["field"] = "signed_key";
  c["files"].push_back(key);
  c["files"].push_back(cert);
  auto r = parse_mount_config(c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->files[7].generate_key, "ed25519");
  EXPECT_EQ(r->files[7].source_key(), r->files[8].source_key());

  c["files"][8].erase("generate_key");
  r = parse_mount_config(c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_NE(r->files[7].source_key(), r->files[8].source_key());

  c["files"][7]["generate_key"] = "rsa";
  EXPECT_EQ(error_of(c),
            R"(files[7] ("ssh/id_ed25519"): "generate_key" must be "ed25519", not "rsa")");
  c["files"][7]["generate_key"] = "ed25519";
  c["files"][7]["method"] = "GET";
  c["files"][7].erase("args");
  EXPECT_NE(error_of(c).find("\"generate_key\" needs \"method\""), std::string::npos);
  c["files"][7]["method"] = "POST";
  c["files"][7]["args"] = {{"public_key", "ssh-ed25519 AAAA"}};
  EXPECT_NE(error_of(c).find("must not hold \"public_key\""), std::string::npos);
}

TEST(MountConfigTest, ServerAndAuthAreChecked) {
  json c = base();
  c["server"]["address"] = "ftp://x";
  EXPECT_NE(error_of(c).find("http://"), std::string::npos);
  c = base();
  c["server"]["timeout"] = "soon";
  EXPECT_NE(error_of(c).find("server: \"timeout\""), std::string::npos);
  c = base();
  c["server"]["auth"] = json::object();
  EXPECT_NE(error_of(c).find("exactly one"), std::string::npos);
  c["server"]["auth"] = {{"approle", {{"role_id_file", "/r"}, {"secret_id_file", "/s"}}}};
  auto r = parse_mount_config(c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->server.approle->role_id_file, "/r");
  c = base();
  c["server"]["tls"] = true;
  EXPECT_EQ(error_of(c), R"(server: unknown key "tls")");
  c = base();
  c.erase("files");
  EXPECT_NE(error_of(c).find("\"files\" is required"), std::string::npos);
}

TEST(MountConfigTest, FilesInheritTheMountOwner) {
  json c = base();
  c["mount"]["uid"] = 33;
  c["mount"]["gid"] = 44;
  auto r = parse_mount_config(c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->files[0].uid, 33u);
  EXPECT_EQ(r->files[0].gid, 2000u);
  EXPECT_EQ(r->files[1].gid, 44u);
}

TEST(MountConfigTest, NormalizesPaths) {
  EXPECT_EQ(*normalize_mount_path("a//b/"), "a/b");
  EXPECT_FALSE(normalize_mount_path(""));
  EXPECT_FALSE(normalize_mount_path("a/./b"));
  EXPECT_FALSE(normalize_mount_path("/"));
}

FileSpec spec_with(Format format, std::string field = {}, std::string tmpl = {}) {
  FileSpec f;
  f.format = format;
  f.field = std::move(field);
  f.tmpl = std::move(tmpl);
  return f;
}

TEST(RenderTest, PicksThePayload) {
  auto kv2 = secret_payload(json::parse(R"({"data":{"data":{"a":"1"},"metadata":{"version":1}}})"));
  ASSERT_TRUE(kv2);
  EXPECT_EQ(*kv2, json::parse(R"({"a":"1"})"));
  auto auth = secret_payload(json::parse(R"({"data":null,"auth":{"client_token":"t"}})"));
  ASSERT_TRUE(auth);
  EXPECT_EQ((*auth)["client_token"], "t");
  auto plain = secret_payload(json::parse(R"({"data":{"username":"u"}})"));
  ASSERT_TRUE(plain);
  EXPECT_EQ((*plain)["username"], "u");
  EXPECT_FALSE(secret_payload(json::parse(R"({"data":null})")));
}

TEST(RenderTest, Formats) {
  json p = json::parse(R"({"user":"alice","pass":"p w$\"x","port":5432,"tags":["a"]})");
  EXPECT_EQ(render_file(spec_with(Format::kField, "user"), p)->view(), "alice");
  EXPECT_EQ(render_file(spec_with(Format::kField, "port"), p)->view(), "5432");
  EXPECT_EQ(render_file(spec_with(Format::kField, "tags"), p)->view(), R"(["a"])");
  auto missing = render_file(spec_with(Format::kField, "nope"), p);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("nope"), std::string::npos);
  EXPECT_EQ(json::parse(render_file(spec_with(Format::kJson), p)->view()), p);
  EXPECT_EQ(render_file(spec_with(Format::kEnv), p)->view(),
            "pass=\"p w\\$\\\"x\"\nport=5432\ntags=\"[\\\"a\\\"]\"\nuser=alice\n");
  EXPECT_EQ(render_file(spec_with(Format::kTemplate, {}, "u={{user}} p={{ port }}!"), p)->view(),
            "u=alice p=5432!");
  EXPECT_FALSE(render_file(spec_with(Format::kTemplate, {}, "{{missing}}"), p));
  EXPECT_FALSE(render_file(spec_with(Format::kTemplate, {}, "{{user"), p));
  EXPECT_FALSE(render_file(spec_with(Format::kEnv), json::parse(R"({"bad-key":"x"})")));
}

TEST(AllowRulesTest, EveryNonEmptyListMustMatch) {
  Caller c{.pid = 10,
           .uid = 1000,
           .gid = 100,
           .groups = {2000},
           .exe = "/usr/bin/cat",
           .cgroup = "/system.slice/app.service"};
  EXPECT_EQ(check_allow({}, c), "");
  EXPECT_EQ(check_allow({.uids = {1000}, .gids = {}, .exe = {}, .cgroups = {}}, c), "");
  EXPECT_NE(check_allow({.uids = {0}, .gids = {}, .exe = {}, .cgroups = {}}, c), "");
  EXPECT_EQ(check_allow({.uids = {}, .gids = {2000}, .exe = {}, .cgroups = {}}, c), "");
  EXPECT_NE(check_allow({.uids = {}, .gids = {5}, .exe = {}, .cgroups = {}}, c), "");
  EXPECT_EQ(check_allow({.uids = {}, .gids = {}, .exe = {"/usr/bin/cat"}, .cgroups = {}}, c), "");
  EXPECT_NE(check_allow({.uids = {}, .gids = {}, .exe = {"/usr/bin/head"}, .cgroups = {}}, c), "");
  EXPECT_EQ(check_allow({.uids = {}, .gids = {}, .exe = {}, .cgroups = {"/system.slice"}}, c), "");
  EXPECT_NE(check_allow({.uids = {}, .gids = {}, .exe = {}, .cgroups = {"/system.sl"}}, c), "");
  Caller unknown = c;
  unknown.exe.clear();
  EXPECT_NE(check_allow({.uids = {}, .gids = {}, .exe = {"/usr/bin/cat"}, .cgroups = {}}, unknown),
            "");
}

TEST(CallerTest, AThreadIsReportedAsItsProcess) {
  Caller main_thread = describe_caller(0, 0, ::gettid(), false);
  EXPECT_EQ(main_thread.pid, ::getpid());
  EXPECT_FALSE(main_thread.exe.empty());
  Caller first, second;
  std::thread t([&] {
    first = describe_caller(0, 0, ::gettid(), false);
    second = describe_caller(0, 0, ::gettid(), false);  // through the tgid cache
  });
  t.join();
  EXPECT_EQ(first.pid, ::getpid());
  EXPECT_EQ(second.pid, ::getpid());
  EXPECT_EQ(second.exe, main_thread.exe);
}


// A process that execs is described by its new program at once, also where the cache
// answers without reading /proc (with process events, which need root; without them
// every call reads /proc/TID/exe).
TEST(CallerTest, AnExecIsSeenAtOnce) {
  const std::string why = watch_process_events();
  if (::geteuid() == 0) {
    EXPECT_EQ(why, "");
    EXPECT_EQ(process_events_state(), "on");
  }
  char self[PATH_MAX] = {};
  ASSERT_GT(::readlink("/proc/self/exe", self, sizeof self - 1), 0);
  int in[2], out[2];
  ASSERT_EQ(::pipe(in), 0);
  ASSERT_EQ(::pipe(out), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Waits for one byte, then becomes cat (which echoes the next ones).
    ::close(in[1]);
    ::close(out[0]);
    char go;
    if (::read(in[0], &go, 1) != 1) ::_exit(126);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::execl("/usr/bin/cat", "cat", nullptr);
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  const Caller before = describe_caller(0, 0, child, false, false, false);
  const Caller again = describe_caller(0, 0, child, false, false, false);
  EXPECT_EQ(before.exe, self);
  EXPECT_EQ(again.exe, self);
  EXPECT_EQ(again.pid, child);
  // Once cat has echoed a byte it runs: its exec is behind it.
  ASSERT_EQ(::write(in[1], "gx", 2), 2);
  char echoed = 0;
  ASSERT_EQ(::read(out[0], &echoed, 1), 1);
  EXPECT_EQ(echoed, 'x');
  const Caller after = describe_caller(0, 0, child, false, false, false);
  EXPECT_EQ(after.exe, "/usr/bin/cat");
  EXPECT_EQ(after.pid, child);
  ::close(in[1]);
  ::close(out[0]);
  int status = 0;
  if (::waitpid(child, &status, 0) != child) ::kill(child, SIGKILL);
}

}  // namespace
}  // namespace leasefs::fs
