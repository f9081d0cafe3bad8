// The mount, observed through the filesystem with ordinary tools (cat, stat, ls,
// getfattr, setpriv, unshare) against a real `leasefs server -dev` on port 0. Every test
// mounts in its own temporary directory; the fixture unmounts on every path.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/fuse/mount_test_fixture.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A shell that opens `path` on fd 3 (and on fd 4 too, read at once into `early`, when
// that is given), creates `opened`, waits up to 20 s for `go` to exist, then reads fd 3.
ProcessResult hold_open_then_read(const std::string& path, const std::string& opened,
                                  const std::string& go, const std::string& early = "") {
  const std::string open_and_read_early =
      early.empty() ? "exec 3<\"$1\" || exit 9; "
                    : "exec 3<\"$1\" 4<\"$1\" || exit 9; cat <&4 >\"$4\"; ";
  return run({"/bin/sh", "-c",
              open_and_read_early + "touch \"$2\"; i=0; "
                                    "while [ ! -e \"$3\" ] && [ $i -lt 400 ]; do sleep 0.05; "
                                    "i=$((i+1)); done; cat <&3",
              "sh", path, opened, go, early});
}

TEST_F(MountTest, RendersFieldJsonEnvAndTemplate) {
  mount(json::parse(R"([
    {"path": "app/api_key", "secret": "secret/data/app", "field": "api_key", "mode": "0440", "gid": 2000},
    {"path": "app/config.json", "secret": "secret/data/app", "format": "json"},
    {"path": "app/app.env", "secret": "secret/data/app", "format": "env"},
    {"path": "app/dsn", "secret": "secret/data/app", "format": "template",
     "template": "postgres://{{user}}:{{pass}}@db/app"}
  ])"));
  auto key = cat("app/api_key");
  EXPECT_EQ(key.exit_code, 0) << key.err;
  EXPECT_EQ(key.out, "k-123");
  EXPECT_EQ(json::parse(cat("app/config.json").out),
            json::parse(R"({"api_key":"k-123","user":"alice","pass":"s3 cret"})"));
  EXPECT_EQ(cat("app/app.env").out, "api_key=k-123\npass=\"s3 cret\"\nuser=alice\n");
  EXPECT_EQ(cat("app/dsn").out, "postgres://alice:s3 cret@db/app");

  auto st = run({"/usr/bin/stat", "-c", "%a %u %g %s %F", mount_->path("app/api_key")});
  EXPECT_EQ(st.out, "440 0 2000 5 regular file\n");
  st = run({"/usr/bin/stat", "-c", "%a", mount_->path("app/config.json")});
  EXPECT_EQ(st.out, "400\n");
  // Read-only: no writes, even for root.
  auto write = run({"/bin/sh", "-c", "echo x > " + mount_->path("app/api_key")});
  EXPECT_NE(write.exit_code, 0);
}

TEST_F(MountTest, CertificateAndKeyComeFromOneLease) {
  ASSERT_EQ(api_->call("POST", "sys/mounts/pki", {{"type", "pki"}}, root_).status / 100, 2);
  auto root = api_->call("POST", "pki/root/generate/internal",
                         {{"common_name", "Test Root"}, {"ttl", "24h"}}, root_);
  ASSERT_EQ(root.status, 200) << root.describe();
  ASSERT_EQ(
      api_->call("POST", "pki/roles/web",
                 {{"allowed_domains", "internal"}, {"allow_subdomains", true}, {"max_ttl", "2h"}},
                 root_)
              .status /
          100,
      2);
  mount(json::parse(R"([
    {"path": "tls/cert.pem", "secret": "pki/issue/web", "method": "POST",
     "args": {"common_name": "web.internal", "ttl": "1h"}, "field": "certificate"},
    {"path": "tls/key.pem", "secret": "pki/issue/web", "method": "POST",
     "args": {"common_name": "web.internal", "ttl": "1h"}, "field": "private_key"}
  ])"));
  auto cert_key =
      run({"/usr/bin/openssl", "x509", "-noout", "-pubkey", "-in", mount_->path("tls/cert.pem")});
  auto key = run({"/usr/bin/openssl", "pkey", "-pubout", "-in", mount_->path("tls/key.pem")});
  ASSERT_EQ(cert_key.exit_code, 0) << cert_key.err;
  ASSERT_EQ(key.exit_code, 0) << key.err;
  EXPECT_EQ(cert_key.out, key.out);
  auto subject =
      run({"/usr/bin/openssl", "x509", "-noout", "-subject", "-in", mount_->path("tls/cert.pem")});
  EXPECT_NE(subject.out.find("web.internal"), std::string::npos) << subject.out;
  EXPECT_EQ(status_field("backend", "fetches"), "1");
  // Both files name the same lease.
  EXPECT_EQ(xattr("tls/cert.pem", "lease_id"), xattr("tls/key.pem", "lease_id"));
}

TEST_F(MountTest, MissingFieldIsEioUntilTheSecretHasIt) {
  mount(json::parse(R"([{"path": "later", "secret": "secret/data/app", "field": "added_later"}])"));
  auto missing = cat("later");
  EXPECT_NE(missing.err.find("Input/output error"), std::string::npos) << missing.err;
  EXPECT_EQ(mount_->log().find("k-123"), std::string::npos);  // no secret values in the log
  ASSERT_EQ(
      api_->call("POST", "secret/data/app", {{"data", {{"added_later", "now"}}}}, root_).status,
      200);
  EXPECT_TRUE(eventually([&] { return cat("later").out == "now"; }));
}

TEST_F(MountTest, ListingAndStatNeverTalkToTheServer) {
  mount(json::parse(R"([
    {"path": "app/api_key", "secret": "secret/data/app", "field": "api_key"},
    {"path": "gen/token", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "60s"}, "field": "client_token"}
  ])"));
  auto ls = run({"/usr/bin/ls", "-lRa", mount_->mountpoint()});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find("api_key"), std::string::npos);
  EXPECT_NE(ls.out.find("token"), std::string::npos);
  run({"/usr/bin/stat", mount_->path("app/api_key"), mount_->path("gen/token"), mount_->path("app"),
       mount_->path("nope")});
  run({"/usr/bin/find", mount_->mountpoint(), "-type", "f"});
  EXPECT_EQ(status_field("backend", "fetches"), "0");
  EXPECT_EQ(status_field("opens", "allowed"), "0");
  EXPECT_EQ(cat("app/api_key").out, "k-123");
  EXPECT_EQ(cat("app/api_key").out, "k-123");
  EXPECT_EQ(status_field("backend", "fetches"), "1");  // shared: one fetch, cached
  EXPECT_EQ(status_field("opens", "allowed"), "2");
}

TEST_F(MountTest, SharedFilesShareOneLeasePerOpenFilesGetTheirOwn) {
  mount(json::parse(R"([
    {"path": "shared/token", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "60s", "display_name": "s"}, "field": "client_token"},
    {"path": "shared/accessor", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "60s", "display_name": "s"}, "field": "accessor"},
    {"path": "once/token", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "60s"}, "field": "client_token", "share": "per-open"}
  ])"));
  std::string a = cat("shared/token").out;
  std::string b = cat("shared/token").out;
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  // Two files of one response belong together.
  auto lookup = api_->call("GET", "auth/token/lookup-self", nullptr, a);
  ASSERT_EQ(lookup.status, 200) << lookup.describe();
  EXPECT_EQ(lookup.json["data"]["accessor"], cat("shared/accessor").out);
  EXPECT_EQ(xattr("shared/token", "lease_id"), "auth/token/accessor/" + cat("shared/accessor").out);
  EXPECT_EQ(xattr("shared/token", "source"), "auth/token/create");
  EXPECT_EQ(xattr("shared/token", "renewable"), "true");

  std::string x = cat("once/token").out;
  std::string y = cat("once/token").out;
  ASSERT_FALSE(x.empty());
  EXPECT_NE(x, y);
  EXPECT_NE(x, a);
  // A per-open lease ends with its handle: revoked on the server.
  EXPECT_TRUE(eventually([&] { return !token_valid(x) && !token_valid(y); }));
  EXPECT_TRUE(token_valid(a));
  // .leasefs/leases/ shows the shared lease only.
  auto leases = run({"/usr/bin/ls", mount_->path(".leasefs/leases")});
  EXPECT_EQ(leases.out, "auth_token_accessor_" + cat("shared/accessor").out + "\n");
  EXPECT_EQ(status_field("leases", "live"), "1");
}

TEST_F(MountTest, ExpiredLeaseTakesItsContentAndTheNextOpenGeneratesAnew) {
  mount(json::parse(R"([
    {"path": "t", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "2s", "renewable": false}, "field": "client_token"}
  ])"));
  std::string first = cat("t").out;
  ASSERT_FALSE(first.empty());
  EXPECT_NE(xattr("t", "lease_id"), "");
  EXPECT_EQ(xattr("t", "renewable"), "false");
  // Watch without opening: the lease file and the xattr go when the lease ends.
  EXPECT_TRUE(eventually([&] { return xattr("t", "lease_id").empty(); }));
  EXPECT_EQ(run({"/usr/bin/ls", mount_->path(".leasefs/leases")}).out, "");
  EXPECT_EQ(run({"/usr/bin/stat", "-c", "%s", mount_->path("t")}).out, "0\n");
  EXPECT_FALSE(token_valid(first));
  std::string second = cat("t").out;
  EXPECT_FALSE(second.empty());
  EXPECT_NE(second, first);
}

TEST_F(MountTest, WithoutPassthroughAHandleHeldOpenPastItsLeaseReadsEio) {
  mount(json::parse(R"([
    {"path": "t", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "2s", "renewable": false}, "field": "client_token"}
  ])"),
        {{"passthrough", false}});
  EXPECT_EQ(status_field("passthrough", "enabled"), "false");
  // A shell holds the file open (fd 3) without reading, until the test says "go".
  std::string opened = dir_ / "opened", go = dir_ / "go";
  ProcessResult late;
  std::thread holder([&] { late = hold_open_then_read(mount_->path("t"), opened, go); });
  EXPECT_TRUE(eventually([&] { return ::access(opened.c_str(), F_OK) == 0; }));
  // The lease ends (2 s, not renewable) while the handle is open.
  EXPECT_TRUE(eventually([&] { return xattr("t", "lease_id").empty(); }));
  std::ofstream(go) << "";
  holder.join();
  EXPECT_NE(late.exit_code, 0);
  EXPECT_EQ(late.out, "");
  EXPECT_NE(late.err.find("Input/output error"), std::string::npos) << late.err;
  // A new open gets a new lease.
  EXPECT_FALSE(cat("t").out.empty());
  EXPECT_NE(status_field("reads", ""), "0");
}

// With FUSE passthrough (the default where the kernel offers it) the kernel reads a
// shared file's bytes from the mount's backing file: no read reaches the daemon. A
// handle held past its lease reads nothing (its backing file was wiped), and while it
// is held a new open of the same path gets the new lease, through a new inode.
TEST_F(MountTest, WithPassthroughAHandleHeldPastItsLeaseReadsNothingAndNewOpensGetTheNewLease) {
  mount(json::parse(R"([
    {"path": "t", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "2s", "renewable": false}, "field": "client_token"},
    {"path": "once", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "60s"}, "field": "client_token", "share": "per-open"}
  ])"));
  if (status_field("passthrough", "enabled") != "true") {
    GTEST_SKIP() << "this kernel does not offer FUSE passthrough (Linux 6.9+, as root)";
  }
  // Two handles: fd 4 is read at once, fd 3 only after the lease ended.
  std::string opened = dir_ / "opened", go = dir_ / "go", early = dir_ / "early";
  ProcessResult late;
  std::thread holder([&] { late = hold_open_then_read(mount_->path("t"), opened, go, early); });
  EXPECT_TRUE(eventually([&] { return ::access(opened.c_str(), F_OK) == 0; }));
  const std::string first = slurp(early);
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(token_valid(first));
  EXPECT_EQ(cat("t").out, first);
  EXPECT_TRUE(eventually([&] { return xattr("t", "lease_id").empty(); }));
  // The old inode's backing file is held open by fd 3: the open moves to a new inode.
  const std::string second = cat("t").out;
  EXPECT_FALSE(second.empty());
  EXPECT_NE(second, first);
  EXPECT_TRUE(token_valid(second));
  EXPECT_NE(status_field("passthrough", "stale_retries"), "0");
  std::ofstream(go) << "";
  holder.join();
  EXPECT_EQ(late.exit_code, 0) << late.err;
  EXPECT_EQ(late.out, "");  // never the old bytes
  EXPECT_EQ(cat("t").out, second);
  EXPECT_EQ(status_field("passthrough", "opens"), "5");
  EXPECT_EQ(status_field("reads", ""), "0");  // the kernel read every shared byte
  // Per-open files are read through the daemon (each handle has its own bytes).
  EXPECT_FALSE(cat("once").out.empty());
  EXPECT_NE(status_field("reads", ""), "0");
}

// Readers racing lease ends: every open succeeds, also when a file moves to a new inode
// because handles on the old content are open (passthrough); a handle caught by the end
// of its lease reads nothing (passthrough) or EIO, never an error at open.
// Run with passthrough (where the kernel offers it) and without.
TEST_F(MountTest, ReadersRacingLeaseEndsNeverFailToOpen) {
  for (bool configured : {true, false}) {
    SCOPED_TRACE(configured ? "passthrough on" : "passthrough off");
    mount_.reset();  // unmounts the previous round's
    mount(json::parse(R"([
    {"path": "t", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "1s", "renewable": false}, "field": "client_token"}
  ])"),
          {{"passthrough", configured}});
    const bool passthrough = status_field("passthrough", "enabled") == "true";
    const std::string path = mount_->path("t");
    std::atomic<bool> stop{false};
    std::atomic<int> opens{0}, empty_reads{0};
    std::mutex mu;
    std::set<std::string> tokens;
    std::vector<std::string> errors;
    auto reader = [&] {
      while (!stop.load()) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          std::lock_guard lock(mu);
          errors.push_back(std::string("open: ") + std::strerror(errno));
          continue;
        }
        ++opens;
        char buf[512];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        const int read_errno = errno;
        ::close(fd);
        std::lock_guard lock(mu);
        if (n > 0) {
          tokens.emplace(buf, static_cast<std::size_t>(n));
        } else if (n == 0) {
          ++empty_reads;
        } else if (passthrough || read_errno != EIO) {
          errors.push_back(std::string("read: ") + std::strerror(read_errno));
        }
      }
    };
    std::vector<std::thread> readers;
    for (int i = 0; i < 4; ++i) readers.emplace_back(reader);
    std::this_thread::sleep_for(4500ms);
    stop = true;
    for (auto& t : readers) t.join();
    EXPECT_TRUE(errors.empty()) << errors.size() << " errors, the first: " << errors.front();
    // A token lives 1 s: over 4.5 s the readers saw at least three.
    EXPECT_GE(tokens.size(), 3u) << opens.load() << " opens";
    std::cout << (passthrough ? "passthrough: " : "daemon reads: ") << opens.load() << " opens, "
              << tokens.size() << " tokens, " << empty_reads.load()
              << " empty reads, stale_retries " << status_field("passthrough", "stale_retries")
              << "\n";
  }
}

TEST_F(MountTest, LeaseRevokedOnTheServerTakesItsContent) {
  mount(json::parse(R"([
    {"path": "t", "secret": "auth/token/create", "method": "POST", "args": {"ttl": "1h"},
     "field": "client_token"},
    {"path": "a", "secret": "auth/token/create", "method": "POST", "args": {"ttl": "1h"},
     "field": "accessor"}
  ])"),
        {{"revocation_check", "300ms"}});
  std::string first = cat("t").out;
  std::string accessor = cat("a").out;
  ASSERT_TRUE(token_valid(first));
  ASSERT_EQ(
      api_->call("POST", "auth/token/revoke-accessor", {{"accessor", accessor}}, root_).status /
          100,
      2);
  EXPECT_TRUE(eventually([&] { return xattr("t", "lease_id").empty(); }));
  EXPECT_EQ(status_field("backend", "revoked_on_server"), "1");
  std::string second = cat("t").out;
  EXPECT_FALSE(second.empty());
  EXPECT_NE(second, first);
  EXPECT_TRUE(token_valid(second));
}

TEST_F(MountTest, LeaseInUseIsRenewed) {
  mount(json::parse(R"([
    {"path": "t", "secret": "auth/token/create", "method": "POST",
     "args": {"ttl": "3s", "explicit_max_ttl": "1h"}, "field": "client_token"}
  ])"));
  std::string token = cat("t").out;
  ASSERT_FALSE(token.empty());
  // Keep using it for well past its TTL: the same lease keeps serving.
  auto until = std::chrono::steady_clock::now() + 7s;
  while (std::chrono::steady_clock::now() < until) {
    EXPECT_EQ(cat("t").out, token);
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_TRUE(token_valid(token));
  EXPECT_NE(status_field("backend", "renewals"), "0");
  EXPECT_EQ(status_field("backend", "fetches"), "1");
}

TEST_F(MountTest, AllowRulesRefuseWithEaccesAndAreAudited) {
  mount(json::parse(R"([
    {"path": "root_only", "secret": "secret/data/app", "field": "api_key", "mode": "0444",
     "allow": {"uids": [0]}},
    {"path": "cat_only", "secret": "secret/data/app", "field": "api_key", "mode": "0444",
     "allow": {"exe": ["/usr/bin/cat"]}},
    {"path": "mode_only", "secret": "secret/data/app", "field": "user", "mode": "0400"}
  ])"));
  auto other = run({"/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                    "/usr/bin/cat", mount_->path("root_only")});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("Permission denied"), std::string::npos) << other.err;
  EXPECT_EQ(cat("root_only").out, "k-123");
  // Mode bits: the kernel refuses uid 65534 before the daemon sees the open.
  auto mode = run({"/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                   "/usr/bin/cat", mount_->path("mode_only")});
  EXPECT_NE(mode.err.find("Permission denied"), std::string::npos) << mode.err;

  EXPECT_EQ(cat("cat_only").out, "k-123");
  auto head = run({"/usr/bin/head", "-c", "100", mount_->path("cat_only")});
  EXPECT_NE(head.exit_code, 0);
  EXPECT_NE(head.err.find("Permission denied"), std::string::npos) << head.err;
  EXPECT_EQ(status_field("opens", "denied"), "2");
}

TEST_F(MountTest, AccessEventsNameTheProcess) {
  mount(json::parse(R"([
    {"path": "k", "secret": "secret/data/app", "field": "api_key", "allow": {"exe": ["/usr/bin/cat"]}}
  ])"));
  EXPECT_EQ(cat("k").out, "k-123");
  run({"/usr/bin/head", mount_->path("k")});
  // Where the events went: the server (sys/access-events) or, while it lacks the
  // endpoint, the spool file. Either way they carry pid and exe.
  std::string spool = dir_ / "spool.jsonl";
  ASSERT_TRUE(eventually([&] {
    json s = json::parse(slurp(mount_->path(".leasefs/status")), nullptr, false);
    return !s.is_discarded() &&
           s["access_events"]["sent"].get<int>() + s["access_events"]["spooled"].get<int>() == 2;
  }));
  bool missing = status_field("access_events", "endpoint_missing") == "true";
  if (missing) {
    std::vector<json> events;
    std::istringstream lines(slurp(spool));
    for (std::string line; std::getline(lines, line);) events.push_back(json::parse(line));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0]["exe"], "/usr/bin/cat");
    EXPECT_EQ(events[0]["result"], "allowed");
    EXPECT_EQ(events[0]["file"], "k");
    EXPECT_EQ(events[0]["path"], "secret/data/app");
    EXPECT_GT(events[0]["pid"].get<int>(), 0);
    EXPECT_EQ(events[1]["exe"], "/usr/bin/head");
    EXPECT_EQ(events[1]["result"], "denied");
  } else {
    EXPECT_EQ(status_field("access_events", "sent"), "2");
  }
}

TEST_F(MountTest, CentralAuditLogShowsThePidAndExeOfTheReader) {
  std::string log = dir_ / "audit.log";
  if (!enable_file_audit(log)) GTEST_SKIP() << "this server has no sys/audit";
  mount(json::parse(R"([
    {"path": "k", "secret": "secret/data/app", "field": "api_key", "allow": {"exe": ["/usr/bin/cat"]}}
  ])"));
  // The shell execs cat, so the pid it prints is cat's.
  auto r = run({"/bin/sh", "-c", "echo $$; exec /usr/bin/cat " + mount_->path("k")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::int64_t pid = std::stoll(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(r.out.substr(r.out.find('\n') + 1), "k-123");
  auto denied = run({"/bin/sh", "-c", "echo $$; exec /usr/bin/head " + mount_->path("k")});
  std::int64_t denied_pid = std::stoll(denied.out.substr(0, denied.out.find('\n')));

  json allowed_entry, denied_entry;
  EXPECT_TRUE(eventually([&] {
    std::istringstream lines(slurp(log));
    for (std::string line; std::getline(lines, line);) {
      json e = json::parse(line, nullptr, false);
      if (e.is_discarded() || e.value("type", "") != "access") continue;
      if (e["access"].value("pid", -1) == pid) allowed_entry = e["access"];
      if (e["access"].value("pid", -1) == denied_pid) denied_entry = e["access"];
    }
    return !allowed_entry.is_null() && !denied_entry.is_null();
  })) << slurp(log);
  EXPECT_EQ(allowed_entry["exe"], "/usr/bin/cat");
  EXPECT_EQ(allowed_entry["result"], "allowed");
  EXPECT_EQ(allowed_entry["file"], "k");
  EXPECT_EQ(allowed_entry["path"], "secret/data/app");
  EXPECT_EQ(allowed_entry["mount"], mount_->mountpoint());
  EXPECT_EQ(denied_entry["exe"], "/usr/bin/head");
  EXPECT_EQ(denied_entry["result"], "denied");
}

// A spool left by an earlier run holds a line cut short (the daemon died while spooling)
// and an event the server refuses (an unknown result). Both are set aside in
// spool.jsonl.rejected; the good events around them still reach the central log.
TEST_F(MountTest, BadSpoolLinesAreSetAsideAndTheRestStillDelivered) {
  std::string log = dir_ / "audit.log";
  if (!enable_file_audit(log)) GTEST_SKIP() << "this server has no sys/audit";
  auto event = [](int pid, const std::string& result) {
    return json{{"time", "2026-11-29T10:00:00Z"},
                {"host", "earlier-run"},
                {"mount", "/m"},
                {"file", "k"},
                {"path", "secret/data/app"},
                {"lease_id", ""},
                {"exe", "/usr/bin/cat"},
                {"cgroup", "/"},
                {"result", result},
                {"pid", pid},
                {"uid", 0},
                {"gid", 0}}
        .dump();
  };
  const std::string torn = event(424243, "allowed").substr(0, 60);
  const std::string refused = event(424244, "sideways");
  {
    std::ofstream spool(dir_ / "spool.jsonl");
    spool << event(424241, "allowed") << "\n"
          << torn << "\n"
          << refused << "\n"
          << event(424242, "denied") << "\n";
  }
  mount(json::parse(R"([{"path": "k", "secret": "secret/data/app", "field": "api_key"}])"));

  std::set<std::int64_t> delivered;
  EXPECT_TRUE(eventually([&] {
    std::istringstream lines(slurp(log));
    for (std::string line; std::getline(lines, line);) {
      json e = json::parse(line, nullptr, false);
      if (e.is_discarded() || e.value("type", "") != "access") continue;
      if (e["access"].value("host", "") == "earlier-run")
        delivered.insert(e["access"]["pid"].get<std::int64_t>());
    }
    return delivered.size() >= 2 && ::access((dir_ / "spool.jsonl").c_str(), F_OK) != 0;
  })) << slurp(log)
      << mount_->log();
  EXPECT_EQ(delivered, (std::set<std::int64_t>{424241, 424242}));
  EXPECT_EQ(slurp(dir_ / "spool.jsonl.rejected"), torn + "\n" + refused + "\n");
  EXPECT_EQ(status_field("access_events", "rejected"), "2");
  EXPECT_NE(mount_->log().find("spool.jsonl.rejected"), std::string::npos) << mount_->log();
}

// The mount remembers a reader's executable between opens (with process events, read
// from the kernel's exec notifications rather than /proc on every open); a process that
// execs must still be reported as its new program. bash opens the file, then becomes cat
// (same pid), which opens it again.
TEST_F(MountTest, AnOpenAfterAnExecIsAttributedToTheNewProgram) {
  std::string log = dir_ / "audit.log";
  if (!enable_file_audit(log)) GTEST_SKIP() << "this server has no sys/audit";
  mount(json::parse(R"([{"path": "k", "secret": "secret/data/app", "field": "api_key"}])"));
  if (::geteuid() == 0) {
    json status = json::parse(slurp(mount_->path(".leasefs/status")));
    EXPECT_EQ(status["process_events"], "on");
  }
  auto r = run({"/usr/bin/bash", "-c",
                "echo $$; for i in 1 2 3; do read -r x < \"$0\"; done; exec /usr/bin/cat \"$0\"",
                mount_->path("k")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::int64_t pid = std::stoll(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(r.out.substr(r.out.find('\n') + 1), "k-123");
  std::vector<std::string> exes;
  EXPECT_TRUE(eventually([&] {
    exes.clear();
    std::istringstream lines(slurp(log));
    for (std::string line; std::getline(lines, line);) {
      json e = json::parse(line, nullptr, false);
      if (e.is_discarded() || e.value("type", "") != "access") continue;
      if (e["access"].value("pid", -1) == pid) exes.push_back(e["access"].value("exe", ""));
    }
    return exes.size() == 4;
  })) << slurp(log);
  EXPECT_EQ(exes, (std::vector<std::string>{"/usr/bin/bash", "/usr/bin/bash", "/usr/bin/bash",
                                            "/usr/bin/cat"}));
}

TEST_F(MountTest, ServerOutageServesCachedFilesAndFailsOthersThenRecovers) {
  mount(json::parse(R"([
    {"path": "cached", "secret": "secret/data/app", "field": "api_key"},
    {"path": "uncached", "secret": "secret/data/other", "field": "v"}
  ])"));
  ASSERT_EQ(cat("cached").out, "k-123");
  ASSERT_EQ(api_->call("POST", "secret/data/other", {{"data", {{"v", "back"}}}}, root_).status,
            200);
  // A hung server (stopped, so connections are accepted but never answered): the worst
  // case for a client without deadlines.
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  auto cached = cat("cached");
  auto failed = cat("uncached");
  auto status = json::parse(slurp(mount_->path(".leasefs/status")), nullptr, false);
  ::kill(server_->pid(), SIGCONT);
  EXPECT_EQ(cached.out, "k-123");
  EXPECT_FALSE(failed.timed_out);
  EXPECT_NE(failed.exit_code, 0);
  EXPECT_NE(failed.err.find("Input/output error"), std::string::npos) << failed.err;
  EXPECT_EQ(status["server"]["reachable"], false) << status.dump();
  // Back again: the next open works without any restart.
  EXPECT_TRUE(eventually([&] { return cat("uncached").out == "back"; }));
  EXPECT_EQ(status_field("server", "reachable"), "true");
  // Events of the outage reach the server afterwards (at least once) and the spool empties.
  EXPECT_TRUE(eventually([&] {
    json s = json::parse(slurp(mount_->path(".leasefs/status")), nullptr, false);
    return !s.is_discarded() &&
           s["access_events"]["sent"].get<int>() >= s["access_events"]["recorded"].get<int>() &&
           ::access((dir_ / "spool.jsonl").c_str(), F_OK) != 0;
  })) << slurp(mount_->path(".leasefs/status"));
}

TEST_F(MountTest, ServerGoneFailsUncachedOpensWithEio) {
  mount(json::parse(R"([
    {"path": "cached", "secret": "secret/data/app", "field": "api_key"},
    {"path": "uncached", "secret": "secret/data/other", "field": "v"}
  ])"));
  ASSERT_EQ(cat("cached").out, "k-123");
  server_->stop();
  EXPECT_EQ(cat("cached").out, "k-123");
  auto failed = cat("uncached");
  EXPECT_FALSE(failed.timed_out);
  EXPECT_NE(failed.err.find("Input/output error"), std::string::npos) << failed.err;
  EXPECT_EQ(status_field("server", "reachable"), "false");
  // The events of the outage wait in the spool file, the failed open among them.
  std::string spool = dir_ / "spool.jsonl";
  ASSERT_TRUE(eventually([&] {
    return slurp(spool).find("\"result\":\"error\"") != std::string::npos;
  })) << slurp(spool);
  std::istringstream lines(slurp(spool));
  for (std::string line; std::getline(lines, line);) {
    json e = json::parse(line, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << line;
    EXPECT_EQ(e["mount"], mount_->mountpoint());
    EXPECT_EQ(e["exe"], "/usr/bin/cat");
  }
}

TEST_F(MountTest, ContainerViewThroughABindMountInAnotherNamespace) {
  mount(json::parse(R"([{"path": "k", "secret": "secret/data/app", "field": "api_key"}])"));
  std::string target = dir_ / "container";
  ::mkdir(target.c_str(), 0755);
  auto r = run({"/usr/bin/unshare", "-m", "/bin/sh", "-c",
                "mount --bind " + mount_->mountpoint() + " " + target +
                    " && mount -o remount,bind,ro " + target + " && cat " + target + "/k"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "k-123");
}

// SIGHUP (a logrotate script signalling every leasefs process) leaves the mount alone.
// A daemon killed without unmounting leaves a dead mount ("Transport endpoint is not
// connected"); the next daemon on that mountpoint detaches it and mounts.
TEST_F(MountTest, SighupIsIgnoredAndADeadMountIsReplaced) {
  mount(json::parse(R"([{"path": "k", "secret": "secret/data/app", "field": "api_key"}])"));
  ASSERT_EQ(::kill(mount_->pid(), SIGHUP), 0);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(mount_->running()) << mount_->log();
  EXPECT_EQ(cat("k").out, "k-123");

  const std::string mnt = mount_->mountpoint();
  ASSERT_EQ(::kill(mount_->pid(), SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return !mount_->running(); }, 5s));
  auto dead = run({"/usr/bin/stat", mnt});
  EXPECT_NE(dead.exit_code, 0);
  EXPECT_NE(dead.err.find("not connected"), std::string::npos) << dead.err;

  ::unlink((dir_ / "mount.log").c_str());  // so the old daemon's "mounted" line is gone
  auto again = MountProcess::start(
      config(json::parse(R"([{"path": "k", "secret": "secret/data/app", "field": "api_key"}])")),
      dir_.path());
  ASSERT_TRUE(again) << again.error();
  mount_->disown_mountpoint();
  mount_ = std::move(*again);
  // start() returns as soon as a leasefs mount is there, which the dead one already is.
  EXPECT_TRUE(eventually([&] {
    return mount_->log().find("mounted 1 files") != std::string::npos;
  })) << mount_->log();
  EXPECT_NE(mount_->log().find("detached a dead leasefs mount"), std::string::npos)
      << mount_->log();
  EXPECT_EQ(cat("k").out, "k-123");

  // A live mount is not mounted over.
  auto twice = run({leasefs_binary(), "mount", mount_->mountpoint(), "--config",
                    dir_ / "mount.json", "--foreground"});
  EXPECT_EQ(twice.exit_code, 4) << twice.err;
  EXPECT_NE(twice.err.find("already mounted here"), std::string::npos) << twice.err;
  EXPECT_EQ(cat("k").out, "k-123");
}

// Without --foreground, fuse_daemonize points stderr at /dev/null; --log-file keeps the
// log of a daemonized mount.
TEST_F(MountTest, ADaemonizedMountLogsToItsLogFile) {
  std::string mnt = dir_ / "bg", cfg = dir_ / "bg.json", log = dir_ / "bg.log";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::ofstream(cfg)
      << config(json::parse(R"([{"path": "k", "secret": "secret/data/app", "field": "api_key"}])"))
             .dump();
  // The daemon is not our child: find it through /proc to wait for its exit.
  auto daemon_alive = [&] {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      std::string cmdline = slurp(entry.path().string() + "/cmdline");
      if (cmdline.find(cfg) != std::string::npos && cmdline.find("--log-file") != std::string::npos)
        return true;
    }
    return false;
  };
  struct Unmount {
    std::string mnt;
    ~Unmount() {
      if (is_leasefs_mount(mnt)) run({"/usr/bin/fusermount3", "-uz", mnt});
    }
  } guard{mnt};
  auto started = run({leasefs_binary(), "mount", mnt, "--config", cfg, "--log-file", log});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  ASSERT_TRUE(eventually([&] { return is_leasefs_mount(mnt); }));
  EXPECT_EQ(run({"/usr/bin/cat", mnt + "/k"}).out, "k-123");
  EXPECT_TRUE(eventually([&] { return slurp(log).find("mounted 1 files") != std::string::npos; }))
      << slurp(log);
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(run({"/usr/bin/fusermount3", "-u", mnt}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !daemon_alive(); }));
  EXPECT_NE(slurp(log).find("unmounting"), std::string::npos) << slurp(log);
  EXPECT_EQ(slurp(log).find("k-123"), std::string::npos);  // no secret values in the log
  // A log file that cannot be opened is refused before mounting.
  auto bad =
      run({leasefs_binary(), "mount", mnt, "--config", cfg, "--log-file", dir_ / "no/such/log"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--log-file"), std::string::npos) << bad.err;
  EXPECT_FALSE(is_leasefs_mount(mnt));
}

TEST_F(MountTest, SigtermUnmountsAndRevokesOnExit) {
  mount(json::parse(R"([
    {"path": "t", "secret": "auth/token/create", "method": "POST", "args": {"ttl": "1h"},
     "field": "client_token"}
  ])"),
        {{"revoke_on_exit", true}});
  std::string token = cat("t").out;
  ASSERT_TRUE(token_valid(token));
  auto exit = mount_->stop();
  EXPECT_EQ(exit.exit_code, 0) << mount_->log();
  EXPECT_FALSE(is_leasefs_mount(mount_->mountpoint()));
  EXPECT_FALSE(token_valid(token));
  mount_.reset();
}

TEST_F(MountTest, RenewsItsOwnShortLivedToken) {
  // The mount's token lives 3 s unless renewed; the daemon renews it (renew-self).
  auto created =
      api_->call("POST", "auth/token/create",
                 {{"ttl", "3s"}, {"explicit_max_ttl", "1h"}, {"policies", {"root"}}}, root_);
  ASSERT_EQ(created.status, 200) << created.describe();
  std::string short_token = created.json["auth"]["client_token"];
  std::ofstream(token_file_, std::ios::trunc) << short_token << "\n";
  mount(json::parse(R"([
    {"path": "a", "secret": "secret/data/app", "field": "api_key", "share": "per-open"}
  ])"));
  auto until = std::chrono::steady_clock::now() + 7s;
  while (std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(200ms);
  EXPECT_EQ(cat("a").out, "k-123") << mount_->log();
  EXPECT_TRUE(token_valid(short_token));
}

TEST_F(MountTest, RereadsARotatedTokenFileWhenTheOldTokenDies) {
  auto make_token = [&] {
    auto created = api_->call("POST", "auth/token/create", {{"policies", {"root"}}}, root_);
    return created.json["auth"]["client_token"].get<std::string>();
  };
  std::string old_token = make_token();
  std::ofstream(token_file_, std::ios::trunc) << old_token << "\n";
  mount(json::parse(R"([
    {"path": "a", "secret": "secret/data/app", "field": "api_key", "share": "per-open"}
  ])"));
  ASSERT_EQ(cat("a").out, "k-123");
  ASSERT_EQ(api_->call("POST", "auth/token/revoke", {{"token", old_token}}, root_).status / 100, 2);
  std::ofstream(token_file_, std::ios::trunc) << make_token() << "\n";
  // The first open after the revocation is refused; the daemon then notices its token
  // is dead, re-reads the file, and opens work again.
  EXPECT_TRUE(eventually([&] { return cat("a").out == "k-123"; })) << mount_->log();
}

TEST_F(MountTest, AppRoleLogin) {
  ASSERT_EQ(api_->call("POST", "sys/auth/approle", {{"type", "approle"}}, root_).status / 100, 2);
  ASSERT_EQ(
      api_->call("POST", "sys/policies/acl/app",
                 {{"policy", "path \"secret/data/app\" { capabilities = [\"read\"] }"}}, root_)
              .status /
          100,
      2);
  ASSERT_EQ(
      api_->call("POST", "auth/approle/role/web", {{"token_policies", {"app"}}}, root_).status /
          100,
      2);
  auto role_id = api_->call("GET", "auth/approle/role/web/role-id", nullptr, root_);
  auto secret_id = api_->call("POST", "auth/approle/role/web/secret-id", nullptr, root_);
  ASSERT_EQ(role_id.status, 200) << role_id.describe();
  ASSERT_EQ(secret_id.status, 200) << secret_id.describe();
  std::ofstream(dir_ / "role_id") << role_id.json["data"]["role_id"].get<std::string>();
  std::ofstream(dir_ / "secret_id") << secret_id.json["data"]["secret_id"].get<std::string>();
  json c = config(json::parse(R"([
    {"path": "a", "secret": "secret/data/app", "field": "api_key"},
    {"path": "forbidden", "secret": "secret/data/other", "field": "v"}
  ])"));
  c["server"]["auth"] = {
      {"approle", {{"role_id_file", dir_ / "role_id"}, {"secret_id_file", dir_ / "secret_id"}}}};
  auto m = MountProcess::start(c, dir_.path());
  ASSERT_TRUE(m) << m.error();
  mount_ = std::move(*m);
  EXPECT_TRUE(eventually([&] { return cat("a").out == "k-123"; })) << mount_->log();
  // The server's refusal is the reader's EACCES.
  auto refused = cat("forbidden");
  EXPECT_NE(refused.err.find("Permission denied"), std::string::npos) << refused.err;
}

TEST_F(MountTest, SigtermWhileAnOpenWaitsOnAHungServerStillExitsCleanly) {
  mount(json::parse(R"([{"path": "u", "secret": "secret/data/other", "field": "v"}])"));
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  ProcessResult blocked;
  std::thread reader([&] { blocked = cat("u"); });
  std::this_thread::sleep_for(300ms);  // let the open reach the daemon
  auto exit = mount_->stop();
  reader.join();
  ::kill(server_->pid(), SIGCONT);
  EXPECT_FALSE(exit.timed_out) << mount_->log();
  EXPECT_EQ(exit.exit_code, 0) << mount_->log();
  EXPECT_FALSE(is_leasefs_mount(mount_->mountpoint()));
  EXPECT_FALSE(blocked.timed_out);
  EXPECT_NE(blocked.exit_code, 0);
  mount_.reset();
}

TEST_F(MountTest, TellsSystemdItIsReadyOnceMounted) {
  std::string socket_path = dir_ / "notify.sock";
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto m = MountProcess::start(
      config(json::parse(R"([{"path": "k", "secret": "secret/data/app", "field": "api_key"}])")),
      dir_.path(), 15s, {"NOTIFY_SOCKET=" + socket_path});
  ASSERT_TRUE(m) << m.error();
  mount_ = std::move(*m);
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1) << "no sd_notify message";
  char buf[512] = {};
  ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf).find("READY=1"), std::string::npos) << buf;
  EXPECT_EQ(cat("k").out, "k-123");
}

TEST_F(MountTest, ConfigErrorsStopBeforeMounting) {
  json bad =
      config(json::parse(R"([{"path": "../x", "secret": "secret/data/app", "field": "a"}])"));
  auto m = MountProcess::start(bad, dir_.path(), 10s);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().find("code 3"), std::string::npos) << m.error();
  EXPECT_NE(m.error().find("files[0] (\"../x\")"), std::string::npos) << m.error();
  EXPECT_FALSE(is_leasefs_mount(dir_ / "mnt"));
}

}  // namespace
}  // namespace leasefs::testing
