// Audit devices through a live server: a file device records a request and a response
// entry per request with the same id, HMACs every secret value and token (the log is
// scanned for the exact values), matches sys/audit-hash, keeps a hash chain that
// verifies and breaks when a line is edited, dropped or swapped; sys/access-events
// lands as "access" entries; a request that no device can record fails with 500 and
// changes nothing; a device that blocks does not stall requests past its timeout.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend/audit/chain.h"
#include "tests/integration/server_test_env.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

std::expected<void, std::string> audit_verify(const std::string& path) {
  backend::audit::VerifyReport report;
  std::vector<std::filesystem::path> files{path};
  auto ok = backend::audit::verify_logs(files, {}, &report);
  if (!ok) return std::unexpected(ok.error().message());
  return {};
}

bool verifies(const std::string& path) { return audit_verify(path).has_value(); }

class ServerAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = bring_up({.storage = StorageKind::kDev});
    ASSERT_TRUE(s) << s.error();
    s_ = std::move(*s);
  }
  void TearDown() override {
    if (!s_.process) return;
    ExitStatus status = s_.process->stop();
    EXPECT_TRUE(status.clean()) << "server " << status.describe() << "; output:\n"
                                << s_.process->output();
  }
  Reply root(std::string_view method, std::string_view path, const json& body = nullptr) {
    return s_.api->call(method, path, body, s_.root_token);
  }
  void enable_file(const std::string& name, const std::string& path, json extra = json::object()) {
    json options = {{"file_path", path}};
    options.update(extra);
    Reply r = root("PUT", "sys/audit/" + name, {{"type", "file"}, {"options", options}});
    ASSERT_EQ(r.status, 204) << r.describe();
  }

  LiveServer s_;
  TempDir dir_;
};

TEST_F(ServerAuditTest, FileDeviceHashesSecretsAndChainsEntries) {
  const std::string log = dir_ / "audit.log";
  enable_file("file", log);
  Reply listed = root("GET", "sys/audit");
  ASSERT_EQ(listed.status, 200) << listed.describe();
  EXPECT_EQ(listed.json["data"]["file/"]["type"], "file");

  const std::string value = "hunter2-the-audited-secret-value";
  ASSERT_EQ(root("POST", "secret/data/app", {{"data", {{"password", value}}}}).status, 200);
  Reply read = root("GET", "secret/data/app");
  ASSERT_EQ(read.status, 200);
  Reply t = root("POST", "auth/token/create", {{"ttl", "1h"}});
  ASSERT_EQ(t.status, 200);
  const std::string child = t.json["auth"]["client_token"];
  ASSERT_EQ(s_.api->call("GET", "auth/token/lookup-self", nullptr, child).status, 200);

  struct stat st{};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string text = read_file(log);
  EXPECT_EQ(text.find(value), std::string::npos) << "secret value in the audit log";
  EXPECT_EQ(text.find(s_.root_token), std::string::npos) << "root token in the audit log";
  EXPECT_EQ(text.find(child), std::string::npos) << "issued token in the audit log";

  // Request and response entries share an id; the write's value is its HMAC.
  Reply hashed = root("PUT", "sys/audit-hash/file", {{"input", value}});
  ASSERT_EQ(hashed.status, 200) << hashed.describe();
  const std::string hmac = hashed.json["data"]["hash"];
  EXPECT_TRUE(hmac.starts_with("hmac-sha256:")) << hmac;
  EXPECT_NE(text.find(hmac), std::string::npos) << "sys/audit-hash does not match the log";

  std::map<std::string, int> types_by_id;
  int requests = 0, responses = 0;
  for (const std::string& line : lines_of(text)) {
    auto brace = line.find('{');
    ASSERT_NE(brace, std::string::npos) << line;
    json entry = json::parse(line.substr(brace), nullptr, false);
    ASSERT_FALSE(entry.is_discarded()) << line;
    const std::string type = entry.value("type", "");
    if (type == "request") ++requests;
    if (type == "response") ++responses;
    if (type == "request" || type == "response") ++types_by_id[entry["request"].value("id", "")];
  }
  EXPECT_GE(requests, 5);
  EXPECT_EQ(requests, responses);
  for (const auto& [id, count] : types_by_id) EXPECT_EQ(count, 2) << id;

  ASSERT_TRUE(verifies(log)) << audit_verify(log).error();
  auto lines = lines_of(text);
  ASSERT_GE(lines.size(), 4u);
  const std::string edited_path = dir_ / "edited.log";
  auto edited = lines;
  auto at = edited[2].find("\"path\":\"");
  ASSERT_NE(at, std::string::npos);
  edited[2].insert(at + 8, "x");
  write_lines(edited_path, edited);
  EXPECT_FALSE(verifies(edited_path));
  auto dropped = lines;
  dropped.erase(dropped.begin() + 2);
  write_lines(edited_path, dropped);
  EXPECT_FALSE(verifies(edited_path));
  auto swapped = lines;
  std::swap(swapped[1], swapped[2]);
  write_lines(edited_path, swapped);
  EXPECT_FALSE(verifies(edited_path));
}

TEST_F(ServerAuditTest, AccessEventsAreAuditedAsAccessEntries) {
  const std::string log = dir_ / "audit.log";
  enable_file("file", log);
  json event = {{"host", "web-1"}, {"mount", "/run/secrets"}, {"file", "db/password"},
                {"path", "database/creds/ro"}, {"lease_id", "database/creds/ro/abc"},
                {"pid", 4242}, {"exe", "/usr/bin/cat"}, {"uid", 1000}, {"gid", 1000},
                {"cgroup", "/system.slice/web.service"}, {"result", "allowed"}};
  Reply r = root("POST", "sys/access-events", {{"events", json::array({event})}});
  ASSERT_EQ(r.status, 200) << r.describe();
  bool found = false;
  int batch_entries = 0;
  for (const std::string& line : lines_of(read_file(log))) {
    json entry = json::parse(line.substr(line.find('{')), nullptr, false);
    const std::string type = entry.value("type", "");
    if ((type == "request" || type == "response") &&
        entry["request"].value("path", "") == "sys/access-events") {
      // The batch's own entries count its events instead of repeating them.
      ++batch_entries;
      EXPECT_EQ(entry["request"]["data"], json({{"event_count", 1}})) << line;
      EXPECT_EQ(line.find("4242"), std::string::npos) << line;
    }
    if (type != "access") continue;
    found = true;
    EXPECT_NE(line.find("4242"), std::string::npos) << line;
    EXPECT_NE(line.find("/usr/bin/cat"), std::string::npos) << line;
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(batch_entries, 2);
}

TEST_F(ServerAuditTest, RefusedOrRejectedAccessEventBatchesKeepTheirEvents) {
  // Neither becomes access entries, so the batch's own entries are the only record of
  // what was sent: a forged batch from a token without update, and a malformed one.
  const std::string log = dir_ / "audit.log";
  enable_file("file", log);
  Reply t = root("POST", "auth/token/create", {{"policies", {"default"}}, {"ttl", "1h"}});
  ASSERT_EQ(t.status, 200) << t.describe();
  const std::string token = t.json["auth"]["client_token"];
  json forged = {{"file", "forged-file"}, {"pid", 1}, {"result", "allowed"}};
  Reply denied = s_.api->call("POST", "sys/access-events", {{"events", json::array({forged})}}, token);
  EXPECT_EQ(denied.status, 403) << denied.describe();
  Reply bad = root("POST", "sys/access-events",
                   {{"events", json::array({{{"file", "malformed-file"}, {"pid", "x"}}})}, {"note", "n"}});
  EXPECT_EQ(bad.status, 400) << bad.describe();

  auto hashed = [&](const std::string& value) {
    Reply h = root("PUT", "sys/audit-hash/file", {{"input", value}});
    return h.json["data"].value("hash", "");
  };
  const std::string forged_hash = hashed("forged-file");
  const std::string malformed_hash = hashed("malformed-file");
  bool forged_seen = false;
  bool malformed_in_response = false;
  for (const std::string& line : lines_of(read_file(log))) {
    json entry = json::parse(line.substr(line.find('{')), nullptr, false);
    const std::string type = entry.value("type", "");
    EXPECT_NE(type, "access") << line;
    EXPECT_EQ(line.find("forged-file"), std::string::npos) << "HMAC'd, never plain: " << line;
    EXPECT_EQ(line.find("malformed-file"), std::string::npos) << "HMAC'd, never plain: " << line;
    if (entry["request"].value("path", "") != "sys/access-events") continue;
    const json& data = entry["request"]["data"];
    if (type == "request" && data.contains("events") &&
        data["events"][0].value("file", "") == forged_hash) {
      forged_seen = true;
    }
    if (type == "response" && data.contains("events") &&
        data["events"][0].value("file", "") == malformed_hash) {
      malformed_in_response = true;
      EXPECT_TRUE(data.contains("note")) << "other keys are kept: " << line;
    }
    if (type == "request" && data.contains("event_count")) {
      EXPECT_TRUE(data.contains("note")) << "a summary keeps the other keys: " << line;
    }
  }
  EXPECT_TRUE(forged_seen) << read_file(log);
  EXPECT_TRUE(malformed_in_response) << read_file(log);
}

TEST_F(ServerAuditTest, MountCallerHeadersAreInTheRequestEntry) {
  const std::string log = dir_ / "audit.log";
  enable_file("file", log);
  Reply r = s_.api->raw("GET", "/v1/secret/data/none", {}, s_.root_token,
                        {{"X-Leasefs-Caller-Pid", "31337"}, {"X-Leasefs-Caller-Exe", "/usr/bin/cat"},
                         {"X-Other", "not-audited"}});
  EXPECT_EQ(r.status, 404) << r.describe();
  bool found = false;
  for (const std::string& line : lines_of(read_file(log))) {
    json entry = json::parse(line.substr(line.find('{')), nullptr, false);
    if (entry.value("type", "") != "request") continue;
    const json& headers = entry["request"]["headers"];
    if (!headers.is_object() || !headers.contains("x-leasefs-caller-pid")) continue;
    found = true;
    EXPECT_EQ(headers["x-leasefs-caller-pid"], json::array({"31337"})) << line;
    EXPECT_EQ(headers["x-leasefs-caller-exe"], json::array({"/usr/bin/cat"})) << line;
    EXPECT_FALSE(headers.contains("x-other")) << line;
  }
  EXPECT_TRUE(found) << read_file(log);
}

TEST_F(ServerAuditTest, WithTheOnlyDeviceFailingRequestsGet500AndChangeNothing) {
  // /dev/full takes the open and fails every write (ENOSPC).
  enable_file("full", "/dev/full", {{"mode", "0000"}});
  Reply write = root("POST", "secret/data/lost", {{"data", {{"k", "v"}}}});
  EXPECT_EQ(write.status, 500) << write.describe();
  Reply mount = root("POST", "sys/mounts/other", {{"type", "kv"}});
  EXPECT_EQ(mount.status, 500) << mount.describe();
  // Disabling the device goes through the pipeline too, so it is refused as well: take
  // it away with a second, working device.
  const std::string log = dir_ / "audit.log";
  Reply second = root("PUT", "sys/audit/file", {{"type", "file"}, {"options", {{"file_path", log}}}});
  EXPECT_EQ(second.status, 500) << "enabling is a request no device recorded: " << second.describe();
}

// A request's entry is written before it runs, except a refusal's, written together
// with its response entry (nothing runs). Either way, while the only device fails, the
// client gets a 500 and no secret, and nothing happens: not even a use of a limited
// token.
TEST_F(ServerAuditTest, WhileTheOnlyDeviceFailsReadsGiveNoSecretAndUseNothing) {
  const std::filesystem::path sub = dir_ / "sub";
  std::filesystem::create_directory(sub);
  const std::string log = sub / "audit.log";
  enable_file("file", log);
  const std::string value = "the-value-a-failed-audit-must-not-give";
  ASSERT_EQ(root("POST", "secret/data/app", {{"data", {{"password", value}}}}).status, 200);
  ASSERT_EQ(root("PUT", "sys/policies/acl/reader",
                 {{"policy", R"(path "secret/data/app" { capabilities = ["read"] })"}})
                .status,
            204);
  Reply limited = root("POST", "auth/token/create", {{"policies", {"reader"}}, {"num_uses", 2}});
  ASSERT_EQ(limited.status, 200) << limited.describe();
  const std::string two_uses = limited.json["auth"]["client_token"];
  Reply plain = root("POST", "auth/token/create", {{"policies", {"default"}}});
  ASSERT_EQ(plain.status, 200) << plain.describe();
  const std::string no_access = plain.json["auth"]["client_token"];

  // The device's directory goes away: the file was deleted and cannot be made again.
  std::filesystem::remove_all(sub);
  Reply read = root("GET", "secret/data/app");
  EXPECT_EQ(read.status, 500) << read.describe();
  EXPECT_EQ(read.body.find(value), std::string::npos) << "a read no device recorded answered";
  Reply refused = s_.api->call("GET", "secret/data/app", nullptr, no_access);
  EXPECT_EQ(refused.status, 500) << refused.describe();
  Reply used = s_.api->call("GET", "secret/data/app", nullptr, two_uses);
  EXPECT_EQ(used.status, 500) << used.describe();
  EXPECT_EQ(used.body.find(value), std::string::npos) << used.describe();

  // Back: the failed read did not take one of the token's two uses.
  std::filesystem::create_directory(sub);
  for (int use = 1; use <= 2; ++use) {
    Reply ok = s_.api->call("GET", "secret/data/app", nullptr, two_uses);
    ASSERT_EQ(ok.status, 200) << "use " << use << ": " << ok.describe();
    EXPECT_EQ(ok.json["data"]["data"]["password"], value);
  }
  EXPECT_EQ(s_.api->call("GET", "secret/data/app", nullptr, two_uses).status, 403);
  Reply denied = s_.api->call("GET", "secret/data/app", nullptr, no_access);
  EXPECT_EQ(denied.status, 403) << denied.describe();

  // The new file holds every entry in pairs, each request right before its response
  // (requests were sent one at a time), and the chain verifies across the gap.
  const auto lines = lines_of(read_file(log));
  ASSERT_EQ(lines.size() % 2, 0u) << read_file(log);
  ASSERT_GE(lines.size(), 8u);
  for (std::size_t i = 0; i < lines.size(); i += 2) {
    json request = json::parse(lines[i].substr(lines[i].find('{')), nullptr, false);
    json response = json::parse(lines[i + 1].substr(lines[i + 1].find('{')), nullptr, false);
    EXPECT_EQ(request.value("type", ""), "request") << lines[i];
    EXPECT_EQ(response.value("type", ""), "response") << lines[i + 1];
    EXPECT_EQ(request["request"]["id"], response["request"]["id"]);
    EXPECT_LE(request.value("time", ""), response.value("time", ""));
  }
  EXPECT_EQ(read_file(log).find(value), std::string::npos) << "secret value in the audit log";
  EXPECT_TRUE(verifies(log)) << audit_verify(log).error();
}

TEST_F(ServerAuditTest, FailingDeviceNextToAWorkingOneDoesNotFailRequests) {
  const std::string log = dir_ / "audit.log";
  enable_file("file", log);
  enable_file("full", "/dev/full", {{"mode", "0000"}});
  ASSERT_EQ(root("POST", "secret/data/kept", {{"data", {{"k", "v"}}}}).status, 200);
  ASSERT_EQ(root("DELETE", "sys/audit/full").status, 204);
  Reply read = root("GET", "secret/data/kept");
  EXPECT_EQ(read.status, 200) << read.describe();
  EXPECT_TRUE(verifies(log)) << audit_verify(log).error();
}

TEST_F(ServerAuditTest, BlockedSocketDeviceDoesNotStallRequests) {
  // A TCP peer that accepts and never reads: once the socket buffers fill, writes block.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int small = 4096;
  ::setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  const std::string log = dir_ / "audit.log";
  enable_file("file", log);
  Reply sock = root("PUT", "sys/audit/sock",
                    {{"type", "socket"},
                     {"options", {{"address", address}, {"write_timeout", "300ms"}, {"log_raw", true}}}});
  ASSERT_EQ(sock.status, 204) << sock.describe();
  // Raw entries of 256 KiB values fill the peer's buffers after a few requests; every
  // request still completes (the client gives up after 10 s, far above the timeout).
  const std::string big(256 * 1024, 'b');
  ApiCaller quick(*s_.process, std::chrono::seconds(10));
  for (int i = 0; i < 24; ++i) {
    Reply r = quick.call("POST", "secret/data/big", {{"data", {{"v", big}}}}, s_.root_token);
    ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.describe();
  }
  ::close(listener);
  EXPECT_TRUE(verifies(log)) << audit_verify(log).error();
}

TEST_F(ServerAuditTest, BadDeviceRequestsGetClearErrors) {
  Reply no_type = root("PUT", "sys/audit/x", {{"options", {{"file_path", "/tmp/x"}}}});
  EXPECT_EQ(no_type.status, 400) << no_type.describe();
  Reply relative = root("PUT", "sys/audit/x", {{"type", "file"}, {"options", {{"file_path", "rel.log"}}}});
  EXPECT_EQ(relative.status, 400) << relative.describe();
  Reply unknown = root("PUT", "sys/audit/x", {{"type", "file"},
                                              {"options", {{"file_path", dir_ / "a.log"}, {"nope", "1"}}}});
  EXPECT_EQ(unknown.status, 400) << unknown.describe();
  Reply hash = root("PUT", "sys/audit-hash/missing", {{"input", "x"}});
  EXPECT_EQ(hash.status, 400) << hash.describe();
  // A token without sudo cannot touch devices.
  Reply t = root("POST", "auth/token/create", {{"policies", {"default"}}, {"ttl", "1h"}});
  const std::string token = t.json["auth"]["client_token"];
  Reply denied = s_.api->call("GET", "sys/audit", nullptr, token);
  EXPECT_EQ(denied.status, 403) << denied.describe();
}

}  // namespace
}  // namespace leasefs::testing
