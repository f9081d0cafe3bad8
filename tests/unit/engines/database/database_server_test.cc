// The database and ssh engines through a live `leasefs server -dev`
// (tests/support/server_fixture.h) with a real PostgreSQL cluster: creds come back under
// a lease, log in with psql, and stop working — the role gone — after sys/leases/revoke,
// after revoke-prefix and after the lease's TTL runs out; sys/leases/renew moves VALID
// UNTIL; ssh/sign answers under a non-renewable lease and ssh/public_key without a
// token. Polls with deadlines, never bare sleeps.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/postgres_fixture.h"
#include "tests/support/server_fixture.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class DatabaseServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = PostgresServer::start();
    ASSERT_TRUE(pg) << pg.error();
    pg_ = std::move(*pg);
    ASSERT_TRUE(pg_->admin_query(
        "CREATE TABLE public.items (id int); INSERT INTO public.items VALUES (1)"));
    auto server = ServerProcess::start({.storage = StorageKind::kDev});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    api_ = std::make_unique<ApiCaller>(*server_);

    ASSERT_EQ(root("POST", "sys/mounts/database", {{"type", "database"}}).status, 204);
    Reply config = root("POST", "database/config/main",
                        {{"plugin_name", "postgresql-database-plugin"},
                         {"connection_url", pg_->connection_url()},
                         {"username", pg_->superuser()},
                         {"password", pg_->superuser_password()},
                         {"allowed_roles", "*"}});
    ASSERT_LT(config.status, 300) << config.describe();
    Reply read = root("GET", "database/config/main");
    ASSERT_EQ(read.status, 200) << read.describe();
    EXPECT_EQ(read.body.find(pg_->superuser_password()), std::string::npos);
    role("ro", "1h");
  }

  void TearDown() override {
    if (server_) {
      ExitStatus status = server_->stop();
      EXPECT_TRUE(status.clean()) << status.describe() << "\n" << server_->output();
    }
  }

  Reply root(std::string_view method, std::string_view path, const json& body = nullptr) {
    return api_->call(method, path, body, "leasefs-test-root");
  }

  void role(const std::string& name, const std::string& ttl) {
    Reply r = root("POST", "database/roles/" + name,
                   {{"db_name", "main"},
                    {"creation_statements",
                     json::array({"CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                                  "VALID UNTIL '{{expiration}}';",
                                  "GRANT SELECT ON public.items TO \"{{name}}\";"})},
                    {"default_ttl", ttl},
                    {"max_ttl", "24h"}});
    ASSERT_EQ(r.status, 204) << r.describe();
  }

  struct Creds {
    std::string lease_id, username, password;
    json envelope;
  };
  Creds creds(const std::string& role_name) {
    Reply r = root("GET", "database/creds/" + role_name);
    EXPECT_EQ(r.status, 200) << r.describe();
    return {r.json.value("lease_id", ""), r.json["data"].value("username", ""),
            r.json["data"].value("password", ""), r.json};
  }
  bool logs_in(const Creds& c) {
    return pg_->psql(c.username, c.password, "SELECT 1").exit_code == 0;
  }
  bool role_exists(const std::string& username) {
    auto n = pg_->admin_query("SELECT count(*) FROM pg_roles WHERE rolname = '" + username + "'");
    EXPECT_TRUE(n) << n.error();
    return n && *n != "0";
  }
  // Polls until the role is gone or the deadline passes.
  bool gone_within(const std::string& username, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!role_exists(username)) return true;
      std::this_thread::sleep_for(100ms);
    }
    return !role_exists(username);
  }

  std::unique_ptr<PostgresServer> pg_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ApiCaller> api_;
};

TEST_F(DatabaseServerTest, CredsLogInUntilRevoked) {
  Creds c = creds("ro");
  EXPECT_TRUE(c.lease_id.starts_with("database/creds/ro/")) << c.envelope.dump();
  EXPECT_EQ(c.envelope["renewable"], true);
  EXPECT_EQ(c.envelope["lease_duration"], 3600);
  ASSERT_TRUE(logs_in(c));
  Reply lookup = root("PUT", "sys/leases/lookup", {{"lease_id", c.lease_id}});
  EXPECT_EQ(lookup.status, 200) << lookup.describe();

  Reply revoke = root("PUT", "sys/leases/revoke", {{"lease_id", c.lease_id}, {"sync", true}});
  EXPECT_EQ(revoke.status, 204) << revoke.describe();
  EXPECT_TRUE(gone_within(c.username, 10s));
  EXPECT_FALSE(logs_in(c));
}

TEST_F(DatabaseServerTest, RevokePrefixDropsEveryUserOfTheRole) {
  Creds a = creds("ro"), b = creds("ro");
  ASSERT_TRUE(logs_in(a) && logs_in(b));
  Reply r = root("PUT", "sys/leases/revoke-prefix/database/creds/ro");
  EXPECT_EQ(r.status, 204) << r.describe();
  EXPECT_TRUE(gone_within(a.username, 10s));
  EXPECT_TRUE(gone_within(b.username, 10s));
  EXPECT_FALSE(logs_in(a));
  EXPECT_FALSE(logs_in(b));
}

TEST_F(DatabaseServerTest, ExpiryDropsTheUser) {
  role("short", "2s");
  Creds c = creds("short");
  EXPECT_EQ(c.envelope["lease_duration"], 2);
  EXPECT_TRUE(gone_within(c.username, 30s)) << server_->output();
  EXPECT_FALSE(logs_in(c));
}

TEST_F(DatabaseServerTest, RenewMovesValidUntil) {
  Creds c = creds("ro");
  const std::string sql =
      "SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = '" +
      c.username + "'";
  auto before = pg_->admin_query(sql);
  ASSERT_TRUE(before) << before.error();
  Reply r = root("PUT", "sys/leases/renew", {{"lease_id", c.lease_id}, {"increment", 7200}});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json["lease_duration"], 7200);
  auto after = pg_->admin_query(sql);
  ASSERT_TRUE(after) << after.error();
  EXPECT_GT(std::stoll(*after), std::stoll(*before) + 3000);
  root("PUT", "sys/leases/revoke", {{"lease_id", c.lease_id}, {"sync", true}});
}

// Password policies (sys/policies/password): written, read, listed and generated
// through the API; a database config naming one makes creds whose passwords keep its
// rules and log in; a config naming a missing one is refused with a 400.
TEST_F(DatabaseServerTest, PasswordPolicyShapesCredentials) {
  const std::string policy =
      "length = 32\n"
      "rule \"charset\" { charset = \"abcdefghijklmnopqrstuvwxyz\" min-chars = 2 }\n"
      "rule \"charset\" { charset = \"0123456789\" min-chars = 2 }\n"
      "rule \"charset\" { charset = \"-_.~\" min-chars = 2 }\n";
  Reply bad = root("PUT", "sys/policies/password/pg", {{"policy", "length = 2"}});
  EXPECT_EQ(bad.status, 400) << bad.describe();
  ASSERT_EQ(root("PUT", "sys/policies/password/pg", {{"policy", policy}}).status, 204);
  Reply read = root("GET", "sys/policies/password/pg");
  ASSERT_EQ(read.status, 200) << read.describe();
  EXPECT_EQ(read.json["data"]["policy"], policy);
  Reply list = root("LIST", "sys/policies/password");
  ASSERT_EQ(list.status, 200) << list.describe();
  EXPECT_EQ(list.json["data"]["keys"], json::array({"pg"}));
  Reply generated = root("GET", "sys/policies/password/pg/generate");
  ASSERT_EQ(generated.status, 200) << generated.describe();
  EXPECT_EQ(generated.json["data"].value("password", "").size(), 32u);
  EXPECT_EQ(root("GET", "sys/policies/password/nope/generate").status, 404);

  auto config_with = [&](const std::string& password_policy) {
    return root("POST", "database/config/main",
                {{"plugin_name", "postgresql-database-plugin"},
                 {"connection_url", pg_->connection_url()},
                 {"username", pg_->superuser()},
                 {"password", pg_->superuser_password()},
                 {"allowed_roles", "*"},
                 {"password_policy", password_policy}});
  };
  Reply missing = config_with("nope");
  EXPECT_EQ(missing.status, 400) << missing.describe();
  EXPECT_EQ(missing.json["errors"][0], "password_policy: password policy \"nope\" does not exist")
      << missing.describe();
  Reply config = config_with("pg");
  ASSERT_LT(config.status, 300) << config.describe();
  EXPECT_EQ(root("GET", "database/config/main").json["data"].value("password_policy", ""), "pg");

  for (int i = 0; i < 3; ++i) {
    Creds c = creds("ro");
    ASSERT_EQ(c.password.size(), 32u);
    EXPECT_EQ(c.password.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.~"),
              std::string::npos);
    EXPECT_GE(std::count_if(c.password.begin(), c.password.end(), ::isdigit), 2);
    EXPECT_TRUE(logs_in(c));
    root("PUT", "sys/leases/revoke", {{"lease_id", c.lease_id}, {"sync", true}});
  }
  ASSERT_EQ(root("DELETE", "sys/policies/password/pg").status, 204);
  EXPECT_EQ(root("GET", "sys/policies/password/pg").status, 404);
}

TEST_F(DatabaseServerTest, SshSignAndPublicKeyWithoutToken) {
  ASSERT_EQ(root("POST", "sys/mounts/ssh", {{"type", "ssh"}}).status, 204);
  Reply ca = root("POST", "ssh/config/ca", {{"key_type", "ed25519"}});
  ASSERT_EQ(ca.status, 200) << ca.describe();
  Reply pub = api_->call("GET", "ssh/public_key");
  EXPECT_EQ(pub.status, 200) << pub.describe();
  EXPECT_EQ(pub.body, ca.json["data"].value("public_key", "") + "\n");
  EXPECT_NE(pub.content_type.find("text/plain"), std::string::npos);

  ASSERT_EQ(root("POST", "ssh/roles/ops",
                 {{"key_type", "ca"},
                  {"allow_user_certificates", true},
                  {"allowed_users", "deploy"},
                  {"ttl", "30m"}})
                .status,
            204);
  TempDir dir;
  ProcessResult keygen =
      run_process({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir / "id"});
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  std::ifstream in(dir / "id.pub");
  std::string line;
  std::getline(in, line);
  Reply signed_key =
      root("POST", "ssh/sign/ops", {{"public_key", line}, {"valid_principals", "deploy"}});
  ASSERT_EQ(signed_key.status, 200) << signed_key.describe();
  EXPECT_TRUE(signed_key.json.value("lease_id", "").starts_with("ssh/sign/ops/"))
      << signed_key.body;
  EXPECT_EQ(signed_key.json["renewable"], false);
  EXPECT_EQ(signed_key.json["lease_duration"], 1800);
  EXPECT_TRUE(signed_key.json["data"]
                  .value("signed_key", "")
                  .starts_with("ssh-ed25519-cert-v01@openssh.com "));
  Reply refused =
      root("POST", "ssh/sign/ops", {{"public_key", line}, {"valid_principals", "root"}});
  EXPECT_EQ(refused.status, 400) << refused.describe();
  EXPECT_TRUE(refused.is_error({"root is not a valid value for valid_principals"})) << refused.body;
}

}  // namespace
}  // namespace leasefs::testing
