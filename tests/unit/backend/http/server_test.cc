// The HTTP server against real sockets on port 0: driven by the leasefs client, by
// curl and by a raw socket that misbehaves on purpose. Covers keep-alive, method
// pass-through, decoding, limits, timeouts, worker isolation, overload, connection
// limits, TLS and graceful shutdown.
#include "backend/http/server.h"

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/api/client.h"
#include "tests/unit/backend/http/http_test_support.h"

namespace leasefs::backend::http {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using sdk::Code;
using testing::curl;
using testing::Gate;
using testing::RawConnection;

// Answers with what it received, as JSON; "/block" waits at the gate first, "/throw"
// throws, "/status/N" answers N.
class EchoHandler {
 public:
  HttpResponse operator()(HttpRequest& request) {
    ++calls;
    if (request.path == "/block") gate.arrive_and_wait();
    if (request.path == "/throw") throw std::runtime_error("handler failure");
    HttpResponse response;
    if (request.path.starts_with("/status/")) response.status = std::stoi(request.path.substr(8));
    json query = json::array();
    for (const auto& [name, value] : request.query) query.push_back({name, value});
    json headers = json::object();
    for (const auto& [name, value] : request.headers) headers[name] = value;
    response.body = json{{"method", request.method},
                         {"target", request.target},
                         {"path", request.path},
                         {"query", query},
                         {"headers", headers},
                         {"body", request.body},
                         {"remote", request.remote_address},
                         {"tls", request.tls},
                         {"version", request.version}}
                        .dump();
    response.headers.emplace_back("X-Echo", "yes");
    response.headers.emplace_back("X-Bad", "a\r\nInjected: 1");
    response.headers.emplace_back("Content-Length", "999");
    return response;
  }

  Gate gate;
  std::atomic<int> calls{0};
};

class ServerTest : public ::testing::Test {
 protected:
  static ServerOptions small_options() {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.io_threads = 2;
    options.workers = 4;
    options.read_timeout = 5s;
    options.write_timeout = 5s;
    options.idle_timeout = 5s;
    return options;
  }

  void start(ServerOptions options = small_options()) {
    auto server = Server::start(std::move(options), [this](HttpRequest& r) { return echo_(r); });
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
  }

  std::unique_ptr<api::Client> client(std::string address = {}) {
    api::ClientOptions options;
    options.address = address.empty() ? server_->address() : address;
    options.timeout = 5s;
    auto made = api::Client::create(options);
    EXPECT_TRUE(made) << made.error().message();
    return made ? std::move(*made) : nullptr;
  }

  static json parse(const std::string& body) { return json::parse(body, nullptr, false); }

  void TearDown() override {
    echo_.gate.open();  // never leave a handler waiting
    if (server_) server_->shutdown(2s);
  }

  EchoHandler echo_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, StartRejectsBadListenAddresses) {
  for (std::string listen : {"nonsense", "127.0.0.1", "127.0.0.1:99999", "::1:80", "[::1]",
                             "example.com:80", "127.0.0.1:http"}) {
    ServerOptions options = small_options();
    options.listen = listen;
    auto server = Server::start(options, [](HttpRequest&) { return HttpResponse{}; });
    ASSERT_FALSE(server) << listen;
    EXPECT_EQ(server.error().code(), Code::kInvalidArgument) << listen;
    EXPECT_NE(server.error().message().find(listen), std::string::npos) << server.error().message();
  }
}

TEST_F(ServerTest, StartReportsPortInUse) {
  start();
  ServerOptions options = small_options();
  options.listen = "127.0.0.1:" + std::to_string(server_->port());
  auto second = Server::start(options, [](HttpRequest&) { return HttpResponse{}; });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Code::kUnavailable);
  EXPECT_NE(second.error().message().find("in use"), std::string::npos) << second.error().message();
}

TEST_F(ServerTest, AddressNamesTheBoundPort) {
  start();
  EXPECT_NE(server_->port(), 0);
  EXPECT_EQ(server_->address(), "http://127.0.0.1:" + std::to_string(server_->port()));
}

TEST_F(ServerTest, ServesManyRequestsOnOneKeepAliveConnection) {
  start();
  auto api = client();
  ASSERT_TRUE(api);
  std::string first_remote;
  for (int i = 0; i < 5; ++i) {
    auto response = api->request("GET", "/v1/sys/health?i=" + std::to_string(i));
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 200);
    json echo = parse(response->body);
    if (i == 0) first_remote = echo["remote"];
    EXPECT_EQ(echo["remote"], first_remote) << "request " << i << " used a new connection";
  }
  EXPECT_EQ(echo_.calls.load(), 5);
}

TEST_F(ServerTest, PassesMethodsThroughVerbatim) {
  start();
  auto api = client();
  ASSERT_TRUE(api);
  for (std::string method : {"GET", "PUT", "POST", "PATCH", "DELETE", "LIST", "FROB"}) {
    auto response = api->request(method, "/v1/secret/metadata/", method == "PATCH" ? "{}" : "");
    ASSERT_TRUE(response) << method << ": " << response.error().message();
    EXPECT_EQ(parse(response->body)["method"], method);
  }
  auto listed = curl({"-X", "LIST", server_->address() + "/v1/secret/metadata/"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(parse(listed.out)["method"], "LIST");
}

TEST_F(ServerTest, DecodesPathAndQuery) {
  start();
  auto api = client();
  ASSERT_TRUE(api);
  auto response =
      api->request("GET", "/v1/secret/data/a%20b%2Fc+d?version=2&list=true&x=a+b%26c&flag&&e=%3D");
  ASSERT_TRUE(response) << response.error().message();
  json echo = parse(response->body);
  EXPECT_EQ(echo["path"], "/v1/secret/data/a b/c+d");
  EXPECT_EQ(echo["target"],
            "/v1/secret/data/a%20b%2Fc+d?version=2&list=true&x=a+b%26c&flag&&e=%3D");
  EXPECT_EQ(echo["query"], json::parse(R"([["version","2"],["list","true"],["x","a b&c"],
                                            ["flag",""],["e","="]])"));
}

TEST_F(ServerTest, LowerCasesRequestHeadersAndFiltersResponseHeaders) {
  start();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.send("GET /h HTTP/1.1\r\nHost: x\r\nX-Vault-Token: s.abc\r\n\r\n"));
  auto response = raw.read_response(5s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(parse(response->body)["headers"]["x-vault-token"], "s.abc");
  EXPECT_EQ(response->header("cache-control"), "no-store");
  EXPECT_EQ(response->header("content-type"), "application/json");
  EXPECT_EQ(response->header("content-length"), std::to_string(response->body.size()));
  EXPECT_EQ(response->header("x-echo"), "yes");
  EXPECT_EQ(response->header("x-bad"), "");
  EXPECT_EQ(response->header("injected"), "");
}

TEST_F(ServerTest, AnswersStatusesAndHandlerExceptions) {
  start();
  auto api = client();
  ASSERT_TRUE(api);
  auto not_found = api->request("GET", "/status/404");
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->status, 404);
  auto no_content = api->request("DELETE", "/status/204");
  ASSERT_TRUE(no_content);
  EXPECT_EQ(no_content->status, 204);
  EXPECT_EQ(no_content->body, "");
  auto thrown = api->request("GET", "/throw");
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(thrown->body, R"({"errors":["internal error"]})");
  auto invalid = api->request("GET", "/status/1000");
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 500);
  // The connection survived all of it.
  EXPECT_EQ(api->request("GET", "/")->status, 200);
}

TEST_F(ServerTest, HeadSendsHeadersWithoutBody) {
  start();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.send("HEAD /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = raw.read_response(5s, /*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_NE(head->header("content-length"), "0");
  // No body bytes followed: the next response on the connection parses cleanly.
  ASSERT_TRUE(raw.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto next = raw.read_response(5s);
  ASSERT_TRUE(next);
  EXPECT_EQ(parse(next->body)["path"], "/after");

  auto curled = curl({"-I", server_->address() + "/v1/sys/health"});
  ASSERT_EQ(curled.exit_code, 0) << curled.err;
  EXPECT_NE(curled.out.find("Cache-Control: no-store"), std::string::npos) << curled.out;
}

TEST_F(ServerTest, AnswersPipelinedRequestsInOrder) {
  start();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto one = raw.read_response(5s);
  auto two = raw.read_response(5s);
  ASSERT_TRUE(one && two);
  EXPECT_EQ(parse(one->body)["path"], "/one");
  EXPECT_EQ(parse(two->body)["path"], "/two");
}

TEST_F(ServerTest, Http10ClosesAfterTheResponse) {
  start();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.send("GET /old HTTP/1.0\r\n\r\n"));
  auto response = raw.read_response(5s);
  ASSERT_TRUE(response);
  EXPECT_TRUE(response->head.starts_with("HTTP/1.0 200"));
  EXPECT_EQ(parse(response->body)["version"], 10);
  EXPECT_TRUE(raw.wait_closed(5s));
}

TEST_F(ServerTest, AnswersExpectContinueBeforeTheBody) {
  start();
  RawConnection raw(server_->port());
  ASSERT_TRUE(
      raw.send("PUT /v1/secret/data/x HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
               "Expect: 100-continue\r\n\r\n"));
  auto interim = raw.read_response(5s);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(raw.send(R"({"a":"bcd"})"));
  auto response = raw.read_response(5s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(parse(response->body)["body"], R"({"a":"bcd"})");

  // curl sends Expect: 100-continue for bodies over 1 KiB.
  std::string big(4096, 'z');
  auto curled = curl({"-X", "PUT", "-H", "Expect: 100-continue", "--data-binary", big,
                      server_->address() + "/big"});
  ASSERT_EQ(curled.exit_code, 0) << curled.err;
  EXPECT_EQ(parse(curled.out)["body"], big);
}

TEST_F(ServerTest, RejectsBodiesOverTheLimitWith413) {
  ServerOptions options = small_options();
  options.body_limit = 1024;
  start(options);
  auto api = client();
  ASSERT_TRUE(api);
  auto fits = api->request("PUT", "/fits", std::string(1024, 'a'));
  ASSERT_TRUE(fits) << fits.error().message();
  EXPECT_EQ(fits->status, 200);

  auto too_big = api->request("PUT", "/too-big", std::string(4096, 'a'));
  ASSERT_TRUE(too_big) << too_big.error().message();
  EXPECT_EQ(too_big->status, 413);
  EXPECT_EQ(too_big->body, R"({"errors":["http: request body too large"]})");

  // A chunked body is cut off once it passes the limit, and the connection closed.
  RawConnection raw(server_->port());
  ASSERT_TRUE(
      raw.send("PUT /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "800\r\n" +
               std::string(2048, 'b') + "\r\n0\r\n\r\n"));
  auto chunked = raw.read_response(5s);
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 413);
  EXPECT_TRUE(raw.wait_closed(5s));

  // curl's Expect: 100-continue gets the 413 before it sends the body.
  auto curled = curl({"-X", "PUT", "-w", "\n%{http_code}", "--data-binary", std::string(8192, 'c'),
                      server_->address() + "/curl"});
  EXPECT_NE(curled.out.find("413"), std::string::npos) << curled.out << curled.err;
  EXPECT_EQ(echo_.calls.load(), 1);
}

TEST_F(ServerTest, AnswersMalformedRequestsWith400AndCloses) {
  start();
  for (std::string garbage :
       {std::string("GARBAGE\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
        std::string("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n"),
        std::string("GET no-slash HTTP/1.1\r\nHost: x\r\n\r\n")}) {
    RawConnection raw(server_->port());
    ASSERT_TRUE(raw.send(garbage));
    auto response = raw.read_response(5s);
    ASSERT_TRUE(response) << garbage;
    EXPECT_EQ(response->status, 400) << garbage;
    EXPECT_EQ(response->header("content-type"), "application/json");
    EXPECT_TRUE(raw.wait_closed(5s)) << garbage;
  }
  EXPECT_EQ(echo_.calls.load(), 0);
}

TEST_F(ServerTest, RejectsOversizedHeadersWith431) {
  start();
  RawConnection raw(server_->port());
  ASSERT_TRUE(
      raw.send("GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(70 * 1024, 'h') + "\r\n\r\n"));
  auto response = raw.read_response(5s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
}

TEST_F(ServerTest, IdleTimeoutClosesAnIdleKeepAliveConnection) {
  ServerOptions options = small_options();
  options.idle_timeout = 200ms;
  start(options);
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(raw.read_response(5s));
  auto idle_since = std::chrono::steady_clock::now();
  EXPECT_TRUE(raw.wait_closed(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - idle_since, 150ms);
}

TEST_F(ServerTest, ReadTimeoutCutsOffASlowClientWhileOthersAreServed) {
  ServerOptions options = small_options();
  options.read_timeout = 400ms;
  start(options);
  RawConnection slow(server_->port());
  ASSERT_TRUE(slow.send("PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf"));
  auto api = client();
  ASSERT_TRUE(api);
  for (int i = 0; i < 3; ++i) {
    auto response = api->request("GET", "/meanwhile");
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 200);
  }
  EXPECT_TRUE(slow.wait_closed(5s));
  EXPECT_EQ(echo_.calls.load(), 3);

  // A connection that never sends a byte is cut off too.
  RawConnection mute(server_->port());
  EXPECT_TRUE(mute.wait_closed(5s));
}

TEST_F(ServerTest, BlockingHandlerDoesNotBlockOtherConnections) {
  start();
  auto blocked = std::async(std::launch::async, [this] {
    auto api = client();
    return api ? api->request("GET", "/block") : sdk::Result<api::ApiResponse>();
  });
  ASSERT_TRUE(echo_.gate.wait_for_arrivals(1, 5s));
  auto api = client();
  ASSERT_TRUE(api);
  auto fast = api->request("GET", "/fast");
  ASSERT_TRUE(fast) << fast.error().message();
  EXPECT_EQ(fast->status, 200);
  echo_.gate.open();
  auto slow = blocked.get();
  ASSERT_TRUE(slow) << slow.error().message();
  EXPECT_EQ(slow->status, 200);
}

TEST_F(ServerTest, AnswersOverloadWith503WhenTheQueueIsFull) {
  ServerOptions options = small_options();
  options.workers = 1;
  options.max_queued = 1;
  start(options);
  RawConnection running(server_->port());
  ASSERT_TRUE(running.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(echo_.gate.wait_for_arrivals(1, 5s));
  // One of these two waits in the queue, the other finds it full.
  RawConnection first(server_->port());
  RawConnection second(server_->port());
  ASSERT_TRUE(first.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(second.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::optional<testing::RawResponse> rejected;
  RawConnection* queued = nullptr;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!rejected && std::chrono::steady_clock::now() < deadline) {
    if ((rejected = first.read_response(20ms))) {
      queued = &second;
    } else if ((rejected = second.read_response(20ms))) {
      queued = &first;
    }
  }
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 503);
  EXPECT_EQ(rejected->body, R"({"errors":["server is overloaded"]})");
  echo_.gate.open();
  auto served = queued->read_response(5s);
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
  ASSERT_TRUE(running.read_response(5s));
}

TEST_F(ServerTest, StopsAcceptingAtMaxConnectionsUntilOneCloses) {
  ServerOptions options = small_options();
  options.max_connections = 1;
  start(options);
  RawConnection holder(server_->port());
  ASSERT_TRUE(holder.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(holder.read_response(5s));
  RawConnection waiting(server_->port());  // completes in the kernel's backlog
  ASSERT_TRUE(waiting.connected());
  ASSERT_TRUE(waiting.send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(waiting.stays_silent(300ms));
  holder.close();
  auto response = waiting.read_response(5s);
  ASSERT_TRUE(response);
  EXPECT_EQ(parse(response->body)["path"], "/second");
}

TEST_F(ServerTest, ShutdownFinishesInFlightRequestsAndRefusesNewConnections) {
  start();
  RawConnection idle(server_->port());
  ASSERT_TRUE(idle.send("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(idle.read_response(5s));
  auto in_flight = std::async(std::launch::async, [this] {
    auto api = client();
    return api ? api->request("GET", "/block") : sdk::Result<api::ApiResponse>();
  });
  ASSERT_TRUE(echo_.gate.wait_for_arrivals(1, 5s));
  std::uint16_t port = server_->port();
  auto stopping = std::async(std::launch::async, [this] { server_->shutdown(10s); });
  EXPECT_TRUE(testing::eventually([&] { return !testing::can_connect(port); }));
  EXPECT_TRUE(idle.wait_closed(5s));  // idle keep-alive connections are closed at once
  echo_.gate.open();
  auto response = in_flight.get();
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(parse(response->body)["path"], "/block");
  EXPECT_EQ(stopping.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(testing::can_connect(port));
  server_->shutdown(1s);  // idempotent
}

TEST_F(ServerTest, ShutdownGraceBoundsAStuckConnection) {
  ServerOptions options = small_options();
  options.read_timeout = 30s;
  start(options);
  RawConnection stuck(server_->port());
  ASSERT_TRUE(stuck.send("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(stuck.read_response(5s));
  ASSERT_TRUE(stuck.send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  auto started = std::chrono::steady_clock::now();
  server_->shutdown(200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_TRUE(stuck.wait_closed(5s));
}

TEST_F(ServerTest, DestroyingARunningServerStopsIt) {
  start();
  std::uint16_t port = server_->port();
  server_.reset();
  EXPECT_FALSE(testing::can_connect(port));
}

TEST_F(ServerTest, ListensOnIpv6Loopback) {
  ServerOptions options = small_options();
  options.listen = "[::1]:0";
  auto server = Server::start(options, [](HttpRequest&) { return HttpResponse{.body = "{}"}; });
  if (!server && server.error().code() == Code::kUnavailable) {
    GTEST_SKIP() << "no IPv6 loopback here: " << server.error().message();
  }
  ASSERT_TRUE(server) << server.error().message();
  EXPECT_EQ((*server)->address(), "http://[::1]:" + std::to_string((*server)->port()));
  RawConnection raw((*server)->port(), "::1");
  ASSERT_TRUE(raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto response = raw.read_response(5s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "{}");
}

class TlsServerTest : public ServerTest {
 protected:
  void SetUp() override {
    std::string error;
    tls_ = testing::make_tls_files(dir_.path(), &error);
    ASSERT_FALSE(tls_.ca_cert.empty()) << error;
  }

  ServerOptions tls_options(std::string min_version = "1.2") {
    ServerOptions options = small_options();
    options.tls = TlsOptions{.cert_file = tls_.server_cert,
                             .key_file = tls_.server_key,
                             .min_version = std::move(min_version)};
    return options;
  }

  leasefs::testing::TempDir dir_;
  testing::TlsFiles tls_;
};

TEST_F(TlsServerTest, ServesHttpsToCurlAndTheClient) {
  start(tls_options());
  EXPECT_EQ(server_->address(), "https://127.0.0.1:" + std::to_string(server_->port()));
  auto curled = curl({"--cacert", tls_.ca_cert, server_->address() + "/v1/sys/health?x=1"});
  ASSERT_EQ(curled.exit_code, 0) << curled.err;
  json echo = parse(curled.out);
  EXPECT_EQ(echo["tls"], true);
  EXPECT_EQ(echo["path"], "/v1/sys/health");

  api::ClientOptions options{.address = server_->address(), .ca_file = tls_.ca_cert};
  auto api = api::Client::create(options);
  ASSERT_TRUE(api) << api.error().message();
  std::string first_remote;
  for (int i = 0; i < 3; ++i) {
    auto response = (*api)->request("LIST", "/v1/secret/metadata/");
    ASSERT_TRUE(response) << response.error().message();
    json body = parse(response->body);
    EXPECT_EQ(body["method"], "LIST");
    if (i == 0) first_remote = body["remote"];
    EXPECT_EQ(body["remote"], first_remote);
  }
}

TEST_F(TlsServerTest, EnforcesTheMinimumTlsVersion) {
  start(tls_options("1.3"));
  auto old =
      curl({"--cacert", tls_.ca_cert, "--tlsv1.2", "--tls-max", "1.2", server_->address() + "/"});
  EXPECT_NE(old.exit_code, 0) << old.out;
  auto current = curl({"--cacert", tls_.ca_cert, "--tlsv1.3", server_->address() + "/"});
  EXPECT_EQ(current.exit_code, 0) << current.err;
}

TEST_F(TlsServerTest, PlainHttpToTheTlsPortIsCutOff) {
  start(tls_options());
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(raw.wait_closed(5s));
  EXPECT_EQ(echo_.calls.load(), 0);
}

TEST_F(TlsServerTest, StartRejectsUnreadableOrMismatchedFiles) {
  auto expect_invalid = [&](ServerOptions options, const std::string& named) {
    auto server = Server::start(options, [](HttpRequest&) { return HttpResponse{}; });
    ASSERT_FALSE(server);
    EXPECT_EQ(server.error().code(), Code::kInvalidArgument);
    EXPECT_NE(server.error().message().find(named), std::string::npos) << server.error().message();
  };
  ServerOptions missing_cert = tls_options();
  missing_cert.tls->cert_file = dir_ / "absent.crt";
  expect_invalid(missing_cert, dir_ / "absent.crt");

  ServerOptions missing_key = tls_options();
  missing_key.tls->key_file = dir_ / "absent.key";
  expect_invalid(missing_key, dir_ / "absent.key");

  ServerOptions not_pem = tls_options();
  not_pem.tls->cert_file = tls_.server_key;  // a key where the certificate belongs
  expect_invalid(not_pem, tls_.server_key);

  ServerOptions mismatched = tls_options();
  mismatched.tls->key_file = tls_.other_ca_key;
  expect_invalid(mismatched, tls_.other_ca_key);

  ServerOptions bad_version = tls_options("1.1");
  expect_invalid(bad_version, "1.1");
}

}  // namespace
}  // namespace leasefs::backend::http
