// Vault's HTTP shapes: raw sys endpoints, the envelope, error bodies and status codes,
// and the decoding of bad requests.
#include "backend/server/api_handler.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <stdlib.h>

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

// sys/access-events: a batch of the common shape is parsed straight into events, without
// a JSON tree (audit::try_parse_access_events); what the client gets and what the audit
// log records are what the tree gave.
class AccessEventsApiTest : public ApiHandlerTest {
 protected:
  void SetUp() override {
    ApiHandlerTest::SetUp();
    std::string pattern =
        (std::filesystem::temp_directory_path() / "leasefs-api-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    log_ = dir_ / "audit.log";
    root_ = bootstrap();
    auto enabled =
        send("PUT", "/v1/sys/audit/file",
             json{{"type", "file"}, {"options", {{"file_path", log_.string()}}}}.dump(), root_);
    ASSERT_EQ(enabled.status, 204) << enabled.body;
  }
  void TearDown() override {
    handler_.reset();
    core_.reset();  // closes the audit file
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The audit entries of sys/access-events requests, in order, and the access entries.
  std::vector<json> entries(std::string_view type) {
    std::vector<json> out;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) {
      json entry = json::parse(line, nullptr, false);
      if (entry.value("type", "") != type) continue;
      if (type != "access" && entry["request"].value("path", "") != "sys/access-events") continue;
      out.push_back(std::move(entry));
    }
    return out;
  }

  std::string token_with(const std::string& name, const std::string& policy) {
    auto written =
        send("PUT", "/v1/sys/policies/acl/" + name, json{{"policy", policy}}.dump(), root_);
    EXPECT_EQ(written.status, 204) << written.body;
    auto created = send("POST", "/v1/auth/token/create", json{{"policies", {name}}}.dump(), root_);
    EXPECT_EQ(created.status, 200) << created.body;
    return body_of(created)["auth"]["client_token"];
  }

  std::filesystem::path dir_;
  std::filesystem::path log_;
  std::string root_;
};

constexpr std::string_view kBatch =
    R"({"events":[{"time":"2026-11-28T10:00:00Z","host":"web-1","mount":"/run/secrets",)"
    R"("file":"db/password","path":"database/creds/ro","pid":4242,"exe":"/usr/bin/cat",)"
    R"("uid":1000,"gid":1000,"result":"allowed"},{"result":"denied","error":"no lease"}]})";

TEST_F(AccessEventsApiTest, BatchesAreAuditedAsAccessEntriesAndCounted) {
  auto r = send("POST", "/v1/sys/access-events", std::string(kBatch), root_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r)["data"]["recorded"], 2);
  for (const char* type : {"request", "response"}) {
    auto batch = entries(type);
    ASSERT_EQ(batch.size(), 1u) << type;
    EXPECT_EQ(batch[0]["request"]["data"], json({{"event_count", 2}})) << batch[0];
  }
  auto access = entries("access");
  ASSERT_EQ(access.size(), 2u);
  EXPECT_EQ(access[0]["access"], json({{"time", "2026-11-28T10:00:00.000000000Z"},
                                       {"host", "web-1"},
                                       {"mount", "/run/secrets"},
                                       {"file", "db/password"},
                                       {"path", "database/creds/ro"},
                                       {"pid", 4242},
                                       {"exe", "/usr/bin/cat"},
                                       {"uid", 1000},
                                       {"gid", 1000},
                                       {"result", "allowed"}}));
  // No time: the server's.
  EXPECT_EQ(
      access[1]["access"],
      json({{"time", sdk::rfc3339(clock_.now())}, {"result", "denied"}, {"error", "no lease"}}));
  EXPECT_EQ(access[1]["request"]["id"], access[0]["request"]["id"]);

  // Another key beside "events" takes the tree; the summary keeps it.
  std::string with_note(kBatch);
  with_note.insert(1, R"("note":"n",)");
  ASSERT_EQ(send("PUT", "/v1/sys/access-events", with_note, root_).status, 200);
  auto requests = entries("request");
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1]["request"]["data"]["event_count"], 2);
  EXPECT_TRUE(requests[1]["request"]["data"].contains("note"));
  EXPECT_EQ(entries("access").size(), 4u);
}

TEST_F(AccessEventsApiTest, BadBatchesGetTheSameErrors) {
  struct Case {
    std::string body;
    int status;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", 400, R"("events" must be a list of access events)"},
      {"{}", 400, R"("events" must be a list of access events)"},
      {"[1]", 400, "failed to parse JSON input: the body must be a JSON object"},
      {R"({"events":[{"result":"allowed"},]})", 400, "failed to parse JSON input: parse error"},
      {R"({"events":[)" + std::string(200, '[') + std::string(200, ']') + "]}", 400,
       "failed to parse JSON input: nested deeper than 128 levels"},
      {R"({"events":[{"result":"allowed","pid":"x"}]})", 400,
       "events[0].pid: expected a non-negative integer"},
      {R"({"events":[{"result":"allowed"},{"result":"maybe"}]})", 400,
       R"(events[1].result: expected "allowed", "denied" or "error")"},
      {R"({"events":[{"result":"allowed","x":{}},{"pid":-1}]})", 400,
       R"(events[1].pid: expected a non-negative integer)"},
      {R"({"events":[]})", 200, ""},
  };
  for (const Case& c : cases) {
    auto r = send("POST", "/v1/sys/access-events", c.body, root_);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    if (c.error.empty()) continue;
    std::string error = body_of(r)["errors"][0];
    if (c.error.ends_with("parse error")) {
      EXPECT_TRUE(error.starts_with(c.error)) << error;
    } else {
      EXPECT_EQ(error, c.error) << c.body;
    }
  }
  EXPECT_TRUE(entries("access").empty());
}

TEST_F(AccessEventsApiTest, ARefusedBatchKeepsItsEventsInItsRequestEntry) {
  std::string token = token_with("nothing", R"(path "kv/*" { capabilities = ["read"] })");
  EXPECT_EQ(send("POST", "/v1/sys/access-events", std::string(kBatch), token).status, 403);
  EXPECT_EQ(send("POST", "/v1/sys/access-events", std::string(kBatch), "hvs.nope").status, 403);
  auto requests = entries("request");
  ASSERT_EQ(requests.size(), 2u);
  for (const json& entry : requests) {
    const json& events = entry["request"]["data"]["events"];
    ASSERT_TRUE(events.is_array()) << entry;
    ASSERT_EQ(events.size(), 2u);
    EXPECT_TRUE(events[0]["file"].get<std::string>().starts_with("hmac-sha256:")) << entry;
    EXPECT_EQ(events[0]["pid"], 4242);
    EXPECT_FALSE(entry["request"]["data"].contains("event_count"));
  }
  EXPECT_TRUE(entries("access").empty());
}

TEST_F(AccessEventsApiTest, PolicyParameterRulesSeeTheEvents) {
  const std::string update = R"(path "sys/access-events" { capabilities = ["update"] )";
  std::string plain = token_with("plain", update + "}");
  std::string denied = token_with("denied", update + R"(denied_parameters = { "events" = [] } })");
  std::string required = token_with("required", update + R"(required_parameters = ["events"] })");
  std::string other = token_with("other", update + R"(allowed_parameters = { "note" = [] } })");
  EXPECT_EQ(send("POST", "/v1/sys/access-events", std::string(kBatch), plain).status, 200);
  EXPECT_EQ(send("POST", "/v1/sys/access-events", std::string(kBatch), denied).status, 403);
  EXPECT_EQ(send("POST", "/v1/sys/access-events", std::string(kBatch), required).status, 200);
  EXPECT_EQ(send("POST", "/v1/sys/access-events", std::string(kBatch), other).status, 403);
  EXPECT_EQ(entries("access").size(), 4u);
  // The allowed ones are still counted, whichever way their body went.
  for (const json& entry : entries("request")) {
    const json& data = entry["request"]["data"];
    if (entry["auth"]["policy_results"]["allowed"] == true) {
      EXPECT_EQ(data, json({{"event_count", 2}})) << entry;
    } else {
      EXPECT_EQ(data["events"].size(), 2u) << entry;
    }
  }
}

TEST_F(AccessEventsApiTest, ABatchTheHandlerRejectsKeepsItsEventsInItsResponseEntry) {
  // The HTTP layer only passes on batches the handler takes; a caller that builds one
  // itself with a bad event still gets the tree's error and a faithful audit entry.
  const std::string body =
      R"({"events":[{"result":"allowed","exe":")" + std::string(5000, 'x') + R"("}]})";
  audit::AccessEvent bad;
  bad.time = clock_.now();
  bad.exe = std::string(5000, 'x');
  auto batch = std::make_shared<core::AccessEventBatch>();
  batch->events.push_back(std::move(bad));
  batch->body = body;
  core::CoreRequest req;
  req.id = "5d4c1c9e-0f49-4c21-9d36-6f3b6c0a7e11";
  req.method = "POST";
  req.operation = sdk::Operation::kUpdate;
  req.create_or_update = true;
  req.path = "sys/access-events";
  req.client_token = root_;
  req.access_events = batch;
  auto result = core_->handle(req);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), sdk::Code::kInvalidArgument);
  auto responses = entries("response");
  ASSERT_EQ(responses.size(), 1u);
  const json& events = responses[0]["request"]["data"]["events"];
  ASSERT_TRUE(events.is_array()) << responses[0];
  EXPECT_TRUE(events[0]["exe"].get<std::string>().starts_with("hmac-sha256:"));
  EXPECT_EQ(entries("request")[0]["request"]["data"], json({{"event_count", 1}}));
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
