// Proves the server's life cycle across processes: a SQLite-backed server stopped with
// SIGTERM (exit 0) and started again on the same file comes back initialized and sealed,
// and after unseal serves everything written before (kv v1 and v2 with all versions,
// mounts, policies, tokens with their grants, AppRole roles and secret IDs), over HTTP
// and HTTPS; an inmem server starts empty. Graceful shutdown: a request whose headers
// the server has read when SIGTERM arrives (made certain with Expect: 100-continue)
// still completes and is answered, new connections are refused meanwhile, the server
// exits 0, and the write that request made is on disk after a restart.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/integration/server_test_env.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kPolicy[] = R"(path "secret/data/allowed/*" { capabilities = ["read"] })";

// A plain-HTTP connection written and read byte by byte, for what a client library
// would hide: a request sent in two halves.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }

  bool send_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `done(received)` holds, the peer closes, or the deadline passes.
  template <typename Done>
  std::string read_until(Done done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done(received_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      pollfd p = {fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      received_.append(buf, static_cast<std::size_t>(n));
    }
    return received_;
  }
  void clear() { received_.clear(); }

 private:
  int fd_ = -1;
  std::string received_{};
};

// True once `text` holds a whole HTTP response with a Content-Length body (or none).
bool complete_response(const std::string& text) {
  auto end = text.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string head = text.substr(0, end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto cl = head.find("content-length:");
  if (cl == std::string::npos) return true;
  std::size_t length = std::stoul(head.substr(cl + 15));
  return text.size() >= end + 4 + length;
}

class ServerPersistenceTest : public ::testing::TestWithParam<bool> {};

TEST_P(ServerPersistenceTest, SqliteRestartKeepsEverything) {
  TempDir dir;
  ServerSpec spec{.storage = StorageKind::kSqlite, .tls = GetParam(), .dir = dir.path()};
  auto first = bring_up(spec);
  ASSERT_TRUE(first) << first.error();
  ApiCaller& api = *first->api;
  const std::string root = first->root_token;

  ASSERT_EQ(api.call("POST", "secret/data/allowed/db", {{"data", {{"pw", "one"}}}}, root).status, 200);
  ASSERT_EQ(api.call("POST", "secret/data/allowed/db", {{"data", {{"pw", "two"}}}}, root).status, 200);
  ASSERT_EQ(api.call("POST", "kv1/cfg", {{"k", "v"}}, root).status, 204);
  ASSERT_EQ(api.call("PUT", "sys/policies/acl/app-read", {{"policy", kPolicy}}, root).status, 204);
  Reply created = api.call("POST", "auth/token/create", {{"policies", {"app-read"}}}, root);
  ASSERT_EQ(created.status, 200) << created.describe();
  const std::string token = created.json["auth"].value("client_token", "");
  ASSERT_EQ(api.call("POST", "sys/auth/approle", {{"type", "approle"}}, root).status, 204);
  ASSERT_EQ(api.call("POST", "auth/approle/role/web", {{"token_policies", {"app-read"}}}, root).status, 204);
  Reply rid = api.call("GET", "auth/approle/role/web/role-id", nullptr, root);
  Reply sid = api.call("POST", "auth/approle/role/web/secret-id", json::object(), root);
  ASSERT_EQ(rid.status, 200) << rid.describe();
  ASSERT_EQ(sid.status, 200) << sid.describe();
  const std::string role_id = rid.json["data"].value("role_id", "");
  const std::string secret_id = sid.json["data"].value("secret_id", "");

  ExitStatus stopped = first->process->stop();
  ASSERT_TRUE(stopped.clean()) << stopped.describe() << "\n" << first->process->output();
  const ServerSpec used = first->process->spec();  // same file, same certificates
  first->api.reset();
  first->process.reset();

  auto second = bring_up(used, /*init=*/false);
  ASSERT_TRUE(second) << second.error();
  ApiCaller& again = *second->api;
  Reply status = again.call("GET", "sys/seal-status");
  ASSERT_EQ(status.status, 200) << status.describe();
  EXPECT_EQ(status.json["initialized"], true);
  EXPECT_EQ(status.json["sealed"], true);
  EXPECT_EQ(status.json["t"], 2);
  EXPECT_EQ(status.json["n"], 3);
  Reply sealed = again.call("GET", "secret/data/allowed/db", nullptr, root);
  EXPECT_EQ(sealed.status, 503) << sealed.describe();
  EXPECT_TRUE(sealed.is_error({"Vault is sealed"})) << sealed.describe();
  auto unsealed = unseal_server(again, first->unseal_keys, 2);
  ASSERT_TRUE(unsealed) << unsealed.error();

  Reply latest = again.call("GET", "secret/data/allowed/db", nullptr, root);
  ASSERT_EQ(latest.status, 200) << latest.describe();
  EXPECT_EQ(latest.json["data"]["data"], json({{"pw", "two"}}));
  Reply v1 = again.call("GET", "secret/data/allowed/db?version=1", nullptr, root);
  EXPECT_EQ(v1.json["data"]["data"], json({{"pw", "one"}})) << v1.describe();
  Reply kv1 = again.call("GET", "kv1/cfg", nullptr, root);
  EXPECT_EQ(kv1.json["data"], json({{"k", "v"}})) << kv1.describe();
  Reply policy = again.call("GET", "sys/policies/acl/app-read", nullptr, root);
  EXPECT_EQ(policy.json["data"]["policy"], kPolicy) << policy.describe();
  Reply mounts = again.call("GET", "sys/mounts", nullptr, root);
  EXPECT_EQ(mounts.json["data"]["secret/"]["options"]["version"], "2") << mounts.describe();
  EXPECT_EQ(mounts.json["data"]["kv1/"]["type"], "kv") << mounts.describe();

  EXPECT_EQ(again.call("GET", "secret/data/allowed/db", nullptr, token).status, 200);
  Reply denied = again.call("GET", "kv1/cfg", nullptr, token);
  EXPECT_EQ(denied.status, 403) << denied.describe();
  Reply login = again.call("POST", "auth/approle/login", {{"role_id", role_id}, {"secret_id", secret_id}});
  ASSERT_EQ(login.status, 200) << login.describe();
  EXPECT_EQ(login.json["auth"]["token_policies"], json::array({"app-read", "default"}));

  ExitStatus stopped_again = second->process->stop();
  EXPECT_TRUE(stopped_again.clean()) << stopped_again.describe() << "\n" << second->process->output();
}

TEST_P(ServerPersistenceTest, InmemRestartStartsEmpty) {
  ServerSpec spec{.storage = StorageKind::kInmem, .tls = GetParam()};
  auto first = bring_up(spec);
  ASSERT_TRUE(first) << first.error();
  ASSERT_EQ(first->api->call("POST", "kv1/x", {{"k", "v"}}, first->root_token).status, 204);
  ExitStatus stopped = first->process->stop();
  ASSERT_TRUE(stopped.clean()) << stopped.describe();

  auto second = bring_up(first->process->spec(), /*init=*/false);
  ASSERT_TRUE(second) << second.error();
  Reply init = second->api->call("GET", "sys/init");
  EXPECT_EQ(init.json, json({{"initialized", false}})) << init.describe();
  ExitStatus stopped_again = second->process->stop();
  EXPECT_TRUE(stopped_again.clean()) << stopped_again.describe();
}

std::string transport_name(const ::testing::TestParamInfo<bool>& param) {
  return param.param ? "tls" : "plain";
}

INSTANTIATE_TEST_SUITE_P(Transport, ServerPersistenceTest, ::testing::Values(false, true),
                         transport_name);

TEST(ServerShutdownTest, RequestInFlightCompletesAndExitIsZero) {
  TempDir dir;
  auto s = bring_up({.storage = StorageKind::kSqlite, .dir = dir.path()});
  ASSERT_TRUE(s) << s.error();
  const std::uint16_t port = s->process->port();

  // Before SIGTERM: the server has read this request's headers (it said 100 Continue)
  // and waits for the body.
  const std::string body = json({{"data", {{"written", "during shutdown"}}}}).dump();
  RawConnection conn(port);
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send_all("PUT /v1/secret/data/inflight HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "X-Vault-Token: " + s->root_token +
                            "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  std::string got = conn.read_until(
      [](const std::string& t) { return t.find("\r\n\r\n") != std::string::npos; },
      std::chrono::seconds(5));
  ASSERT_TRUE(got.starts_with("HTTP/1.1 100 Continue\r\n")) << got;
  conn.clear();

  s->process->terminate();
  // Shutdown has begun once new connections are refused; the request is still open.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  bool refused = false;
  while (Clock::now() < deadline) {
    RawConnection probe(port);
    if (!probe.connected()) {
      refused = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(refused) << "the server kept accepting connections after SIGTERM";
  EXPECT_TRUE(s->process->running()) << "the server exited with a request in flight";

  ASSERT_TRUE(conn.send_all(body));
  std::string response = conn.read_until(complete_response, std::chrono::seconds(10));
  ASSERT_TRUE(response.starts_with("HTTP/1.1 200")) << response;
  auto at = response.find("\r\n\r\n");
  json answer = json::parse(response.substr(at + 4), nullptr, false);
  EXPECT_EQ(answer["data"]["version"], 1) << response;

  auto exited = s->process->wait_exit(std::chrono::seconds(15));
  ASSERT_TRUE(exited.has_value()) << "the server did not exit after SIGTERM";
  EXPECT_TRUE(exited->clean()) << exited->describe() << "\n" << s->process->output();

  // The write that was in flight is on disk.
  auto again = bring_up(s->process->spec(), /*init=*/false);
  ASSERT_TRUE(again) << again.error();
  ASSERT_TRUE(unseal_server(*again->api, s->unseal_keys, 2));
  Reply r = again->api->call("GET", "secret/data/inflight", nullptr, s->root_token);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json["data"]["data"], json({{"written", "during shutdown"}}));
  ExitStatus stopped = again->process->stop();
  EXPECT_TRUE(stopped.clean()) << stopped.describe();
}

TEST(ServerShutdownTest, IdleServerStopsPromptlyOnSigterm) {
  for (StorageKind kind : {StorageKind::kDev, StorageKind::kSqlite}) {
    auto s = bring_up({.storage = kind});
    ASSERT_TRUE(s) << s.error();
    // An idle keep-alive connection must not hold the shutdown up.
    ASSERT_EQ(s->api->call("GET", "sys/health").status, 200);
    const auto before = Clock::now();
    ExitStatus stopped = s->process->stop(std::chrono::seconds(15));
    EXPECT_TRUE(stopped.clean()) << storage_name(kind) << ": " << stopped.describe();
    EXPECT_LT(Clock::now() - before, std::chrono::seconds(3)) << storage_name(kind);
    EXPECT_NE(s->process->output().find("stopped"), std::string::npos) << s->process->output();
  }
}

}  // namespace
}  // namespace leasefs::testing
