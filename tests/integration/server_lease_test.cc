// Leases through a live server: PKI certificates issued under a role with
// generate_lease, looked up, listed, revoked (one, by prefix, by force, with the token
// that asked for them, by expiry), with each revocation reaching the engine (the serial
// shows up in the CRL, checked with `openssl crl`); the gauges on sys/metrics; and the
// leases surviving a restart on SQLite. Every server is stopped with SIGTERM and must
// exit 0.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/server_test_env.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;

class ServerLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override { start({.storage = StorageKind::kDev}); }

  void start(ServerSpec spec) {
    auto s = bring_up(std::move(spec));
    ASSERT_TRUE(s) << s.error();
    s_ = std::move(*s);
    setup_pki();
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

  void setup_pki() {
    ASSERT_EQ(root("POST", "sys/mounts/pki", {{"type", "pki"}}).status, 204);
    Reply ca = root("POST", "pki/root/generate/internal",
                    {{"common_name", "Lease Test CA"}, {"key_type", "ec"}, {"ttl", "24h"}});
    ASSERT_EQ(ca.status, 200) << ca.describe();
    Reply role = root("POST", "pki/roles/web",
                      {{"allowed_domains", "example.internal"}, {"allow_subdomains", true},
                       {"key_type", "ec"}, {"ttl", "1h"}, {"max_ttl", "2h"},
                       {"generate_lease", true}});
    ASSERT_EQ(role.status, 200) << role.describe();  // Vault answers with the role
  }

  // Issues a certificate; returns {lease_id, serial}.
  std::pair<std::string, std::string> issue(std::string_view token, const json& extra = json::object()) {
    json body = {{"common_name", "a.example.internal"}};
    body.update(extra);
    Reply r = s_.api->call("POST", "pki/issue/web", body, token);
    EXPECT_EQ(r.status, 200) << r.describe();
    return {r.json.value("lease_id", ""), r.json["data"].value("serial_number", "")};
  }

  Reply lookup(const std::string& lease_id) {
    return root("PUT", "sys/leases/lookup", {{"lease_id", lease_id}});
  }

  // The serials (lowercase hex without separators) in the CRL, read by openssl.
  std::string crl_text() {
    Reply crl = s_.api->call("GET", "pki/crl/pem");
    EXPECT_EQ(crl.status, 200) << crl.describe();
    TempDir dir;
    { std::ofstream(dir / "crl.pem") << crl.body; }
    ProcessResult out = run_process({"/usr/bin/openssl", "crl", "-in", dir / "crl.pem", "-noout", "-text"});
    EXPECT_EQ(out.exit_code, 0) << out.err;
    std::string text;
    for (char c : out.out) {
      if (c != ':') text.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return text;
  }

  bool in_crl(const std::string& serial) {
    std::string bare;
    for (char c : serial) {
      if (c != ':' && c != '-') bare.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    while (bare.size() > 1 && bare.front() == '0') bare.erase(0, 1);
    return crl_text().find(bare) != std::string::npos;
  }

  // Polls until the lease is gone (lookup answers 400), up to `timeout`.
  bool wait_gone(const std::string& lease_id, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (lookup(lease_id).status == 400) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  LiveServer s_;
};

TEST_F(ServerLeaseTest, IssuedCertificateHasALeaseToLookUpListAndRevoke) {
  auto [lease_id, serial] = issue(s_.root_token);
  ASSERT_TRUE(lease_id.starts_with("pki/issue/web/")) << lease_id;
  ASSERT_FALSE(serial.empty());

  Reply found = lookup(lease_id);
  ASSERT_EQ(found.status, 200) << found.describe();
  EXPECT_EQ(found.json["data"]["id"], lease_id);
  EXPECT_EQ(found.json["data"]["renewable"], false);
  EXPECT_GT(found.json["data"]["ttl"].get<std::int64_t>(), 3000);
  EXPECT_LE(found.json["data"]["ttl"].get<std::int64_t>(), 3600);
  EXPECT_TRUE(found.json["data"]["issue_time"].is_string());
  EXPECT_TRUE(found.json["data"]["last_renewal_time"].is_null());

  // The URL form and the older endpoint agree.
  Reply listed = root("LIST", "sys/leases/lookup/pki/issue/web/");
  ASSERT_EQ(listed.status, 200) << listed.describe();
  const std::string tail = lease_id.substr(std::string("pki/issue/web/").size());
  EXPECT_EQ(listed.json["data"]["keys"], json::array({tail}));

  // Certificates cannot be renewed (Vault's PKI leases are not renewable).
  Reply renewed = root("PUT", "sys/leases/renew", {{"lease_id", lease_id}, {"increment", "30m"}});
  EXPECT_EQ(renewed.status, 400) << renewed.describe();

  EXPECT_FALSE(in_crl(serial));
  Reply revoked = root("PUT", "sys/leases/revoke", {{"lease_id", lease_id}});
  EXPECT_EQ(revoked.status, 204) << revoked.describe();
  EXPECT_TRUE(lookup(lease_id).is_error({"invalid lease"})) << lookup(lease_id).describe();
  EXPECT_TRUE(in_crl(serial)) << "revoking the lease did not revoke the certificate";
  // Revoking again is not an error (Vault's idempotent revoke).
  EXPECT_EQ(root("PUT", "sys/revoke/" + lease_id).status, 204);
}

TEST_F(ServerLeaseTest, ExpiredLeaseIsRevoked) {
  auto [lease_id, serial] = issue(s_.root_token, {{"ttl", "2s"}});
  ASSERT_FALSE(lease_id.empty());
  EXPECT_EQ(lookup(lease_id).status, 200);
  // Gone means the engine's revoke succeeded (a failed one keeps the lease for retries).
  // The serial stays off the CRL: as in Vault, a certificate that has expired (or is
  // within 2 s of it) is not listed.
  ASSERT_TRUE(wait_gone(lease_id, std::chrono::seconds(20))) << "lease outlived its TTL";
  EXPECT_FALSE(in_crl(serial));
}

TEST_F(ServerLeaseTest, RevokePrefixNeedsSudoAndRevokesEverythingUnderIt) {
  std::vector<std::pair<std::string, std::string>> issued;
  for (int i = 0; i < 3; ++i) issued.push_back(issue(s_.root_token));
  ASSERT_EQ(root("PUT", "sys/policies/acl/issuer",
                 {{"policy", R"(path "pki/issue/*" { capabilities = ["update"] }
path "sys/leases/*" { capabilities = ["update", "list"] })"}})
                .status,
            204);
  Reply t = root("POST", "auth/token/create", {{"policies", {"issuer"}}, {"ttl", "1h"}});
  ASSERT_EQ(t.status, 200) << t.describe();
  const std::string token = t.json["auth"]["client_token"];
  Reply refused = s_.api->call("PUT", "sys/leases/revoke-prefix/pki/issue/web", json::object(), token);
  EXPECT_EQ(refused.status, 403) << refused.describe();
  for (const auto& [id, serial] : issued) EXPECT_EQ(lookup(id).status, 200);

  Reply done = root("PUT", "sys/leases/revoke-prefix/pki/issue/web");
  EXPECT_EQ(done.status, 204) << done.describe();
  for (const auto& [id, serial] : issued) {
    EXPECT_EQ(lookup(id).status, 400) << id;
    EXPECT_TRUE(in_crl(serial)) << serial;
  }
  EXPECT_EQ(root("LIST", "sys/leases/lookup/pki/issue/web/").status, 404);
}

TEST_F(ServerLeaseTest, RevokingATokenRevokesItsLeases) {
  ASSERT_EQ(root("PUT", "sys/policies/acl/issuer",
                 {{"policy", R"(path "pki/issue/*" { capabilities = ["update"] })"}})
                .status,
            204);
  Reply t = root("POST", "auth/token/create", {{"policies", {"issuer"}}, {"ttl", "1h"}});
  ASSERT_EQ(t.status, 200) << t.describe();
  const std::string token = t.json["auth"]["client_token"];
  auto [lease_id, serial] = issue(token);
  ASSERT_FALSE(lease_id.empty());
  EXPECT_EQ(root("POST", "auth/token/revoke", {{"token", token}}).status, 204);
  EXPECT_TRUE(wait_gone(lease_id, std::chrono::seconds(20)));
  EXPECT_TRUE(in_crl(serial));
}

TEST_F(ServerLeaseTest, TokenWithTtlExpiresThroughItsLease) {
  Reply t = root("POST", "auth/token/create", {{"ttl", "2s"}});
  ASSERT_EQ(t.status, 200) << t.describe();
  const std::string token = t.json["auth"]["client_token"];
  Reply listed = root("LIST", "sys/leases/lookup/auth/token/create/");
  ASSERT_EQ(listed.status, 200) << listed.describe();
  EXPECT_EQ(listed.json["data"]["keys"].size(), 1u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline &&
         root("LIST", "sys/leases/lookup/auth/token/create/").status == 200) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(root("LIST", "sys/leases/lookup/auth/token/create/").status, 404);
  EXPECT_EQ(s_.api->call("GET", "auth/token/lookup-self", nullptr, token).status, 403);
}

TEST_F(ServerLeaseTest, BadLeaseRequestsGetClearErrors) {
  EXPECT_TRUE(root("PUT", "sys/leases/lookup", json::object()).is_error({"lease_id must be specified"}));
  EXPECT_EQ(lookup("pki/issue/web/nope").status, 400);
  Reply renew = root("PUT", "sys/leases/renew", {{"lease_id", "pki/issue/web/nope"}});
  EXPECT_EQ(renew.status, 400) << renew.describe();
  EXPECT_EQ(root("GET", "sys/leases/count?type=other").status, 400);
  Reply count = root("GET", "sys/leases/count?type=irrevocable");
  ASSERT_EQ(count.status, 200) << count.describe();
  EXPECT_EQ(count.json["data"]["lease_count"], 0);
  Reply irrevocable = root("GET", "sys/leases?type=irrevocable");
  ASSERT_EQ(irrevocable.status, 200) << irrevocable.describe();
  EXPECT_EQ(irrevocable.json["data"]["leases"], json::array());
  EXPECT_EQ(root("GET", "sys/leases?type=irrevocable&limit=x").status, 400);
}

TEST_F(ServerLeaseTest, LeasesSurviveSealAndUnseal) {
  auto [lease_id, serial] = issue(s_.root_token);
  ASSERT_FALSE(lease_id.empty());
  ASSERT_EQ(root("PUT", "sys/seal").status, 204);
  EXPECT_EQ(lookup(lease_id).status, 503);
  ASSERT_TRUE(s_.unseal());
  Reply found = lookup(lease_id);
  EXPECT_EQ(found.status, 200) << found.describe();
  EXPECT_FALSE(in_crl(serial)) << "sealing revoked a live lease";
  EXPECT_EQ(root("PUT", "sys/leases/revoke", {{"lease_id", lease_id}}).status, 204);
  EXPECT_TRUE(in_crl(serial));
}

TEST_F(ServerLeaseTest, MetricsShowActiveLeases) {
  issue(s_.root_token);
  issue(s_.root_token);
  Reply m = s_.api->call("GET", "sys/metrics?format=prometheus", nullptr, s_.root_token);
  ASSERT_EQ(m.status, 200) << m.describe();
  EXPECT_NE(m.body.find("\nleasefs_expire_leases_active 2\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("\nleasefs_expire_leases_irrevocable 0\n"), std::string::npos);
}

TEST(ServerLeaseRestartTest, LeasesSurviveARestartOnSqlite) {
  TempDir dir;
  auto first = bring_up({.storage = StorageKind::kSqlite, .dir = dir.path()});
  ASSERT_TRUE(first) << first.error();
  ApiCaller& api = *first->api;
  const std::string root = first->root_token;
  ASSERT_EQ(api.call("POST", "sys/mounts/pki", {{"type", "pki"}}, root).status, 204);
  ASSERT_EQ(api.call("POST", "pki/root/generate/internal", {{"common_name", "R"}, {"key_type", "ec"}}, root).status, 200);
  ASSERT_EQ(api.call("POST", "pki/roles/r", {{"allow_any_name", true}, {"key_type", "ec"},
                                            {"generate_lease", true}, {"ttl", "1h"}}, root).status, 200);
  std::vector<std::string> leases;
  for (int i = 0; i < 5; ++i) {
    Reply r = api.call("POST", "pki/issue/r", {{"common_name", "x" + std::to_string(i)}}, root);
    ASSERT_EQ(r.status, 200) << r.describe();
    leases.push_back(r.json["lease_id"]);
  }
  ExitStatus stopped = first->process->stop();
  ASSERT_TRUE(stopped.clean()) << stopped.describe() << "\n" << first->process->output();
  const ServerSpec used = first->process->spec();
  const auto keys = first->unseal_keys;
  first->api.reset();
  first->process.reset();

  auto second = bring_up(used, /*init=*/false);
  ASSERT_TRUE(second) << second.error();
  ASSERT_TRUE(unseal_server(*second->api, keys, 2));
  for (const auto& id : leases) {
    Reply found = second->api->call("PUT", "sys/leases/lookup", {{"lease_id", id}}, root);
    EXPECT_EQ(found.status, 200) << id << ": " << found.describe();
  }
  Reply revoked = second->api->call("PUT", "sys/leases/revoke-prefix/pki/issue/r", json::object(), root);
  EXPECT_EQ(revoked.status, 204) << revoked.describe();
  Reply crl = second->api->call("GET", "pki/crl/pem");
  EXPECT_EQ(crl.status, 200);
  ExitStatus again = second->process->stop();
  EXPECT_TRUE(again.clean()) << again.describe() << "\n" << second->process->output();
}

}  // namespace
}  // namespace leasefs::testing
