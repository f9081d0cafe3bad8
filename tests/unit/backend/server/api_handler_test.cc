// Vault's HTTP shapes: raw sys endpoints, the envelope, error bodies and status codes,
// and the decoding of bad requests.
#include "backend/server/api_handler.h"

#include <gtest/gtest.h>

#include "backend/server/config.h"
#include "backend/storage/inmem_storage.h"
#include "engines/registry.h"

namespace leasefs::backend::server {
namespace {

using nlohmann::json;

class ApiHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core::CoreOptions options;
    options.physical = &storage_;
    options.clock = &clock_;
    options.random = &sdk::SystemRandom::instance();
    options.secrets_engines = &engines::secrets_engines();
    options.auth_methods = &engines::auth_methods();
    core_ = std::make_unique<core::Core>(options);
    handler_ = std::make_unique<ApiHandler>(*core_, "0.1.0");
  }

  http::HttpResponse send(std::string method, std::string target, std::string body = "",
                          std::string token = "") {
    http::HttpRequest req;
    req.method = std::move(method);
    req.target = target;
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string query = target.substr(q + 1);
      std::size_t start = 0;
      while (start < query.size()) {
        auto amp = query.find('&', start);
        std::string kv = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
        auto eq = kv.find('=');
        req.query.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
        if (amp == std::string::npos) break;
        start = amp + 1;
      }
    }
    req.body = std::move(body);
    if (!token.empty()) req.headers.emplace_back("x-vault-token", token);
    req.remote_address = "127.0.0.1:5000";
    return handler_->handle(req);
  }

  json body_of(const http::HttpResponse& r) { return json::parse(r.body, nullptr, false); }

  // init + unseal through the API; returns the root token.
  std::string bootstrap() {
    auto init = send("PUT", "/v1/sys/init", R"({"secret_shares":1,"secret_threshold":1})");
    EXPECT_EQ(init.status, 200) << init.body;
    auto j = body_of(init);
    auto unseal = send("PUT", "/v1/sys/unseal", json{{"key", j["keys_base64"][0]}}.dump());
    EXPECT_EQ(unseal.status, 200);
    EXPECT_EQ(body_of(unseal)["sealed"], false);
    return j["root_token"];
  }

  storage::InmemStorage storage_;
  sdk::ManualClock clock_;
  std::unique_ptr<core::Core> core_;
  std::unique_ptr<ApiHandler> handler_;
};

TEST_F(ApiHandlerTest, HealthFollowsTheSealLifecycleAndOverrides) {
  EXPECT_EQ(send("GET", "/v1/sys/health").status, 501);
  EXPECT_EQ(send("GET", "/v1/sys/health?uninitcode=200").status, 200);
  EXPECT_EQ(body_of(send("GET", "/v1/sys/init"))["initialized"], false);
  auto init = send("PUT", "/v1/sys/init", R"({"secret_shares":3,"secret_threshold":2})");
  ASSERT_EQ(init.status, 200);
  auto j = body_of(init);
  EXPECT_EQ(j["keys"].size(), 3u);
  EXPECT_EQ(j["keys_base64"].size(), 3u);
  EXPECT_TRUE(j["root_token"].get<std::string>().starts_with("hvs."));
  EXPECT_EQ(send("PUT", "/v1/sys/init", R"({"secret_shares":3,"secret_threshold":2})").status, 400);
  EXPECT_EQ(send("GET", "/v1/sys/health").status, 503);
  EXPECT_EQ(send("GET", "/v1/sys/health?sealedcode=299").status, 299);
  auto head = send("HEAD", "/v1/sys/health");
  EXPECT_EQ(head.status, 503);
  EXPECT_TRUE(head.body.empty());

  auto s1 = send("PUT", "/v1/sys/unseal", json{{"key", j["keys"][0]}}.dump());
  EXPECT_EQ(body_of(s1)["progress"], 1);
  auto reset = send("PUT", "/v1/sys/unseal", R"({"reset":true})");
  EXPECT_EQ(body_of(reset)["progress"], 0);
  auto bad = send("PUT", "/v1/sys/unseal", R"({"key":"not-a-key!"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body_of(bad)["errors"][0], "unseal key is neither hex nor base64");
  send("PUT", "/v1/sys/unseal", json{{"key", j["keys"][0]}}.dump());
  auto s2 = send("PUT", "/v1/sys/unseal", json{{"key", j["keys"][1]}}.dump());
  auto status = body_of(s2);
  EXPECT_EQ(status["sealed"], false);
  EXPECT_EQ(status["type"], "shamir");
  EXPECT_TRUE(status.contains("cluster_name"));
  EXPECT_EQ(send("GET", "/v1/sys/health").status, 200);
  auto ss = body_of(send("GET", "/v1/sys/seal-status"));
  EXPECT_EQ(ss["t"], 2);
  EXPECT_EQ(ss["n"], 3);
}

TEST_F(ApiHandlerTest, SealedRequestsAre503) {
  send("PUT", "/v1/sys/init", R"({"secret_shares":1,"secret_threshold":1})");
  auto r = send("GET", "/v1/secret/data/x", "", "hvs.whatever");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(body_of(r), json({{"errors", {"Vault is sealed"}}}));
}

TEST_F(ApiHandlerTest, EnvelopeAndNoContent) {
  std::string root = bootstrap();
  auto write = send("POST", "/v1/sys/mounts/kv1", R"({"type":"kv"})", root);
  EXPECT_EQ(write.status, 204);
  EXPECT_TRUE(write.body.empty());
  EXPECT_EQ(send("PUT", "/v1/kv1/app", R"({"password":"p","ttl":"30m"})", root).status, 204);
  auto read = send("GET", "/v1/kv1/app", "", root);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.content_type, "application/json");
  auto j = body_of(read);
  for (const char* key : {"request_id", "lease_id", "renewable", "lease_duration", "data",
                          "wrap_info", "warnings", "auth"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["data"]["password"], "p");
  EXPECT_EQ(j["lease_duration"], 1800);
  EXPECT_EQ(j["lease_id"], "");
  auto list = body_of(send("GET", "/v1/kv1?list=true", "", root));
  EXPECT_EQ(list["data"]["keys"], json::array({"app"}));
  auto list2 = body_of(send("LIST", "/v1/kv1/", "", root));
  EXPECT_EQ(list2["data"]["keys"], json::array({"app"}));
  // sys/mounts also copies data to the top level (Vault's legacy quirk).
  auto mounts = body_of(send("GET", "/v1/sys/mounts", "", root));
  EXPECT_TRUE(mounts.contains("kv1/"));
  EXPECT_TRUE(mounts["data"].contains("kv1/"));
  // A missing key: 404 with an empty error list.
  auto missing = send("GET", "/v1/kv1/nothing", "", root);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(body_of(missing), json({{"errors", json::array()}}));
}

TEST_F(ApiHandlerTest, BadRequestsGetVaultErrors) {
  std::string root = bootstrap();
  send("POST", "/v1/sys/mounts/kv1", R"({"type":"kv"})", root);
  auto malformed = send("POST", "/v1/kv1/a", "{not json", root);
  EXPECT_EQ(malformed.status, 400);
  EXPECT_TRUE(body_of(malformed)["errors"][0].get<std::string>().starts_with("failed to parse JSON input"));
  EXPECT_EQ(send("POST", "/v1/kv1/a", "[1,2]", root).status, 400);
  std::string deep(100000, '[');
  auto nested = send("POST", "/v1/kv1/a", deep, root);
  EXPECT_EQ(nested.status, 400);
  EXPECT_EQ(send("BREW", "/v1/kv1/a", "", root).status, 405);
  EXPECT_EQ(send("GET", "/v2/kv1/a", "", root).status, 404);
  EXPECT_EQ(send("GET", "/v1/kv1/a", "", "").status, 403);
  EXPECT_EQ(body_of(send("GET", "/v1/kv1/a", "", "hvs.nope"))["errors"][0], "permission denied");
  auto wrong_type = send("POST", "/v1/auth/token/create", R"({"num_uses":"many"})", root);
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_NE(body_of(wrong_type)["errors"][0].get<std::string>().find("num_uses"), std::string::npos);
  auto unknown = send("POST", "/v1/auth/token/create", R"({"bogus_field":1})", root);
  EXPECT_EQ(unknown.status, 200);
  EXPECT_EQ(body_of(unknown)["warnings"][0], "Endpoint ignored these unrecognized parameters: [bogus_field]");
  EXPECT_EQ(send("GET", "/v1/sys/init", "", root).status, 200);
  EXPECT_EQ(send("DELETE", "/v1/sys/init", "", root).status, 405);
  auto unsupported = send("DELETE", "/v1/sys/key-status", "", root);
  EXPECT_EQ(unsupported.status, 405);
}

TEST_F(ApiHandlerTest, BearerTokensWork) {
  std::string root = bootstrap();
  http::HttpRequest req;
  req.method = "GET";
  req.path = "/v1/auth/token/lookup-self";
  req.headers.emplace_back("authorization", "Bearer " + root);
  auto r = handler_->handle(req);
  EXPECT_EQ(r.status, 200);
}

TEST_F(ApiHandlerTest, MetricsArePrometheusText) {
  std::string root = bootstrap();
  send("GET", "/v1/sys/mounts", "", root);
  auto m = send("GET", "/v1/sys/metrics?format=prometheus", "", root);
  ASSERT_EQ(m.status, 200);
  EXPECT_TRUE(m.content_type.starts_with("text/plain"));
  EXPECT_NE(m.body.find("leasefs_requests_total{class=\"sys\",method=\"GET\",code=\"200\"}"), std::string::npos);
  EXPECT_NE(m.body.find("leasefs_request_duration_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(m.body.find("leasefs_sealed 0"), std::string::npos);
}

TEST(ServerConfigTest, ParsesAndRefusesUnknownKeys) {
  auto c = parse_server_config(R"({"listener":{"address":"0.0.0.0:8200"},
      "storage":{"type":"sqlite","path":"/tmp/x.db"},"max_lease_ttl":"48h","default_lease_ttl":3600})");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->listen_address, "0.0.0.0:8200");
  EXPECT_EQ(c->max_lease_ttl, std::chrono::hours(48));
  EXPECT_EQ(c->default_lease_ttl, std::chrono::hours(1));
  auto typo = parse_server_config(R"({"listener":{"adress":"x"}})");
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().message(), "listener.adress: unknown key");
  EXPECT_FALSE(parse_server_config(R"({"storage":{"type":"sqlite"}})"));
  EXPECT_FALSE(parse_server_config(R"({"listener":{"tls_cert_file":"a"}})"));
  EXPECT_FALSE(parse_server_config("not json"));
  EXPECT_FALSE(parse_server_config(R"({"storage":{"type":"inmem"},"default_lease_ttl":"2h","max_lease_ttl":"1h"})"));
}

}  // namespace
}  // namespace leasefs::backend::server
