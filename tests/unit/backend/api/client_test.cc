// The client against a real leasefs HTTP server on port 0, a silent listener and a
// closed port: headers it sends, bounded waits, error codes, connection reuse across a
// server restart, TLS verification and concurrent use.
#include "backend/api/client.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/api/server_address.h"
#include "backend/http/server.h"
#include "tests/unit/backend/http/http_test_support.h"

namespace leasefs::backend::api {
namespace {

using namespace std::chrono_literals;
using http::HttpRequest;
using http::HttpResponse;
using nlohmann::json;
using sdk::Code;
namespace support = http::testing;

HttpResponse echo(HttpRequest& request) {
  json headers = json::object();
  for (const auto& [name, value] : request.headers) headers[name] = value;
  HttpResponse response;
  if (request.path == "/missing") response.status = 404;
  if (request.path == "/huge") response.body.assign(kResponseBodyLimit + 1, 'x');
  if (response.body.empty()) {
    response.body = json{{"method", request.method},
                         {"target", request.target},
                         {"headers", headers},
                         {"body", request.body},
                         {"remote", request.remote_address}}
                        .dump();
  }
  return response;
}

class ClientTest : public ::testing::Test {
 protected:
  void start_server(std::string listen = "127.0.0.1:0",
                    std::optional<http::TlsOptions> tls = std::nullopt) {
    http::ServerOptions options;
    options.listen = std::move(listen);
    options.tls = std::move(tls);
    options.io_threads = 2;
    options.workers = 8;
    auto server = http::Server::start(options, echo);
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
  }

  std::unique_ptr<Client> make_client(ClientOptions options) {
    auto client = Client::create(std::move(options));
    EXPECT_TRUE(client) << client.error().message();
    return client ? std::move(*client) : nullptr;
  }

  void TearDown() override {
    if (server_) server_->shutdown(2s);
  }

  std::unique_ptr<http::Server> server_;
};

TEST_F(ClientTest, SendsVaultHeadersAndReturnsAnyStatus) {
  start_server();
  auto client = make_client({.address = server_->address()});
  ASSERT_TRUE(client);
  EXPECT_EQ(client->address(), server_->address());

  auto read = client->request("GET", "/v1/secret/data/a?version=2", {}, "s.token",
                              {{"X-Vault-Namespace", "team/"}});
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->status, 200);
  EXPECT_EQ(read->content_type, "application/json");
  EXPECT_EQ(read->header("cache-control"), "no-store");
  json echoed = json::parse(read->body);
  EXPECT_EQ(echoed["target"], "/v1/secret/data/a?version=2");
  EXPECT_EQ(echoed["headers"]["x-vault-token"], "s.token");
  EXPECT_EQ(echoed["headers"]["x-vault-request"], "true");
  EXPECT_EQ(echoed["headers"]["x-vault-namespace"], "team/");
  EXPECT_EQ(echoed["headers"]["user-agent"], "leasefs/" + std::string(kClientVersion));
  EXPECT_EQ(echoed["headers"]["host"], server_->address().substr(7));
  EXPECT_FALSE(echoed["headers"].contains("content-type"));

  auto write = client->request("PUT", "/v1/secret/data/a", R"({"data":{"k":"v"}})");
  ASSERT_TRUE(write);
  echoed = json::parse(write->body);
  EXPECT_EQ(echoed["body"], R"({"data":{"k":"v"}})");
  EXPECT_EQ(echoed["headers"]["content-type"], "application/json");
  EXPECT_FALSE(echoed["headers"].contains("x-vault-token"));

  auto missing = client->request("GET", "/missing");
  ASSERT_TRUE(missing) << "a 404 is a response, not a transport error";
  EXPECT_EQ(missing->status, 404);

  auto head = client->request("HEAD", "/v1/sys/health");
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");

  auto after = client->request("GET", "/after");  // HEAD left the connection usable
  ASSERT_TRUE(after);
  EXPECT_EQ(json::parse(after->body)["remote"], echoed["remote"]);
}

TEST_F(ClientTest, TimesOutAgainstAServerThatNeverAnswers) {
  support::SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  std::string address = "http://127.0.0.1:" + std::to_string(silent.port());
  auto client = make_client({.address = address, .timeout = 300ms});
  ASSERT_TRUE(client);
  auto started = std::chrono::steady_clock::now();
  auto response = client->request("GET", "/v1/sys/health");
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code(), Code::kDeadlineExceeded);
  EXPECT_NE(response.error().message().find(address), std::string::npos)
      << response.error().message();
  EXPECT_NE(response.error().message().find("300ms"), std::string::npos);
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(ClientTest, ReportsARefusedConnectionAsUnavailable) {
  std::string address = "http://127.0.0.1:" + std::to_string(support::unused_port());
  auto client = make_client({.address = address, .timeout = 2s, .max_retries = 2});
  ASSERT_TRUE(client);
  auto started = std::chrono::steady_clock::now();
  auto response = client->request("POST", "/v1/auth/approle/login", "{}");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code(), Code::kUnavailable);
  EXPECT_NE(response.error().message().find(address), std::string::npos);
  EXPECT_NE(response.error().message().find("refused"), std::string::npos)
      << response.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);  // two short backoffs
}

TEST_F(ClientTest, ReconnectsWhenTheServerClosedAKeptConnection) {
  start_server();
  std::uint16_t port = server_->port();
  auto client = make_client({.address = server_->address()});
  ASSERT_TRUE(client);
  for (std::string method : {"GET", "PUT"}) {
    ASSERT_TRUE(client->request("GET", "/warm"));  // leaves a kept-alive connection
    server_->shutdown(1s);
    server_.reset();
    start_server("127.0.0.1:" + std::to_string(port));
    auto response = client->request(method, "/again", method == "PUT" ? "{}" : "");
    ASSERT_TRUE(response) << method << ": " << response.error().message();
    EXPECT_EQ(json::parse(response->body)["method"], method);
  }
}

TEST_F(ClientTest, RefusesBadArguments) {
  for (std::string address :
       {"", "127.0.0.1:8200", "ftp://h:1", "http://", "http://h:0", "http://h:65536", "http://h:x",
        "http://h:8200/v1", "http://::1:80", "http://[::1", "http://u@h:1"}) {
    auto client = Client::create({.address = address});
    ASSERT_FALSE(client) << address;
    EXPECT_EQ(client.error().code(), Code::kInvalidArgument) << address;
  }
  EXPECT_FALSE(Client::create({.address = "http://h:1", .timeout = 0ms}));
  auto missing_ca = Client::create({.address = "https://h:1", .ca_file = "/nonexistent/ca.pem"});
  ASSERT_FALSE(missing_ca);
  EXPECT_NE(missing_ca.error().message().find("/nonexistent/ca.pem"), std::string::npos);

  auto client = make_client({.address = "http://127.0.0.1:1"});
  ASSERT_TRUE(client);
  EXPECT_EQ(client->request("GE T", "/").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(client->request("GET", "no-slash").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(client->request("GET", "/a b").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(client->request("GET", "/", {}, "t\r\nX: y").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(client->request("GET", "/", {}, {}, {{"X-A", "a\nb"}}).error().code(),
            Code::kInvalidArgument);
}

TEST_F(ClientTest, RefusesResponsesOverTheBodyLimit) {
  start_server();
  auto client = make_client({.address = server_->address(), .timeout = 20s});
  ASSERT_TRUE(client);
  auto response = client->request("GET", "/huge");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code(), Code::kTooLarge);
  EXPECT_TRUE(client->request("GET", "/small"));
}

TEST_F(ClientTest, ServesEightThreadsAtOnce) {
  start_server();
  auto client = make_client({.address = server_->address()});
  ASSERT_TRUE(client);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string body = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
        auto response = client->request(i % 2 ? "PUT" : "LIST", "/v1/x", body);
        if (response && response->status == 200 && json::parse(response->body)["body"] == body) {
          ++good;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), 200);
}

TEST_F(ClientTest, UsesIpv6Addresses) {
  http::ServerOptions options;
  options.listen = "[::1]:0";
  auto server = http::Server::start(options, echo);
  if (!server) GTEST_SKIP() << "no IPv6 loopback here: " << server.error().message();
  auto client = make_client({.address = (*server)->address()});
  ASSERT_TRUE(client);
  auto response = client->request("GET", "/six");
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(json::parse(response->body)["headers"]["host"], (*server)->address().substr(7));
}

class TlsClientTest : public ClientTest {
 protected:
  void SetUp() override {
    std::string error;
    tls_ = support::make_tls_files(dir_.path(), &error);
    ASSERT_FALSE(tls_.ca_cert.empty()) << error;
  }

  void start_tls(const std::string& cert, const std::string& key) {
    start_server("127.0.0.1:0", http::TlsOptions{.cert_file = cert, .key_file = key});
  }

  leasefs::testing::TempDir dir_;
  support::TlsFiles tls_;
};

TEST_F(TlsClientTest, VerifiesTheServerWithTheRightCa) {
  start_tls(tls_.server_cert, tls_.server_key);
  std::string port = std::to_string(server_->port());
  for (std::string address : {"https://127.0.0.1:" + port, "https://localhost:" + port}) {
    auto client = make_client({.address = address, .ca_file = tls_.ca_cert});
    ASSERT_TRUE(client);
    auto response = client->request("GET", "/v1/sys/health");
    ASSERT_TRUE(response) << address << ": " << response.error().message();
    EXPECT_EQ(response->status, 200);
  }
}

TEST_F(TlsClientTest, FailsWithTheWrongCaUnlessVerificationIsSkipped) {
  start_tls(tls_.server_cert, tls_.server_key);
  auto strict = make_client({.address = server_->address(), .ca_file = tls_.other_ca_cert});
  ASSERT_TRUE(strict);
  auto refused = strict->request("GET", "/v1/sys/health");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kUnavailable);
  EXPECT_NE(refused.error().message().find("certificate verify failed"), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find(server_->address()), std::string::npos);

  auto lax = make_client(
      {.address = server_->address(), .ca_file = tls_.other_ca_cert, .tls_skip_verify = true});
  ASSERT_TRUE(lax);
  auto response = lax->request("GET", "/v1/sys/health");
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 200);
}

TEST_F(TlsClientTest, FailsWhenTheCertificateNamesAnotherHost) {
  start_tls(tls_.wrong_host_cert, tls_.wrong_host_key);
  auto client = make_client({.address = server_->address(), .ca_file = tls_.ca_cert});
  ASSERT_TRUE(client);
  auto response = client->request("GET", "/");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code(), Code::kUnavailable);
  EXPECT_NE(response.error().message().find("mismatch"), std::string::npos)
      << response.error().message();
}

TEST_F(TlsClientTest, TimesOutInTheHandshakeAgainstASilentServer) {
  support::SilentListener silent;
  auto client = make_client({.address = "https://127.0.0.1:" + std::to_string(silent.port()),
                             .ca_file = tls_.ca_cert,
                             .timeout = 300ms});
  ASSERT_TRUE(client);
  auto started = std::chrono::steady_clock::now();
  auto response = client->request("GET", "/");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code(), Code::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST(ServerAddressTest, ParsesSchemesHostsAndPorts) {
  auto plain = parse_server_address("http://127.0.0.1:8200/");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, 8200);
  EXPECT_EQ(plain->url, "http://127.0.0.1:8200");
  auto named = parse_server_address("https://vault.example.com");
  ASSERT_TRUE(named);
  EXPECT_TRUE(named->tls);
  EXPECT_EQ(named->port, 443);
  EXPECT_EQ(named->authority, "vault.example.com:443");
  auto six = parse_server_address("https://[::1]:8443");
  ASSERT_TRUE(six);
  EXPECT_EQ(six->host, "::1");
  EXPECT_EQ(six->authority, "[::1]:8443");
  EXPECT_EQ(parse_server_address("http://h")->port, 80);
}

TEST(CodeForHttpStatusTest, VaultStatusesMapToCodes) {
  EXPECT_EQ(code_for_http_status(400), Code::kInvalidArgument);
  EXPECT_EQ(code_for_http_status(403), Code::kPermissionDenied);
  EXPECT_EQ(code_for_http_status(404), Code::kNotFound);
  EXPECT_EQ(code_for_http_status(405), Code::kUnsupported);
  EXPECT_EQ(code_for_http_status(413), Code::kTooLarge);
  EXPECT_EQ(code_for_http_status(429), Code::kResourceExhausted);
  EXPECT_EQ(code_for_http_status(501), Code::kUnimplemented);
  EXPECT_EQ(code_for_http_status(503), Code::kUnavailable);
  EXPECT_EQ(code_for_http_status(500), Code::kInternal);
  EXPECT_EQ(code_for_http_status(502), Code::kInternal);
  EXPECT_EQ(code_for_http_status(412), Code::kInvalidArgument);
}

}  // namespace
}  // namespace leasefs::backend::api
