// The database engine against a real PostgreSQL cluster started by the test
// (tests/support/postgres_fixture.h): credentials that log in with psql and can do
// exactly what the creation statements granted; revoke, expiry and a role dropped by
// hand; renew moving VALID UNTIL; rotate-root; a failed creation leaving nothing
// behind; SQL-looking names escaped; a database that is down or does not answer giving
// a 5xx-class error in bounded time and the pool recovering afterwards.
#include <regex>
#include <sstream>
#include <thread>

#include <signal.h>

#include "tests/support/postgres_fixture.h"
#include "tests/unit/engines/database/database_test_util.h"

namespace leasefs::engines::database {
namespace {

using leasefs::testing::PostgresServer;

class PostgresTest : public DatabaseTest {
 protected:
  static void SetUpTestSuite() {
    auto started = PostgresServer::start();
    if (!started) {
      start_error_ = new std::string(started.error());
      return;
    }
    pg_ = started->release();
    auto setup = pg_->admin_query(
        "CREATE TABLE public.items (id int); INSERT INTO public.items VALUES (1), (2);"
        "CREATE TABLE public.hidden (x int);");
    if (!setup) start_error_ = new std::string("setup: " + setup.error());
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    DatabaseTest::SetUp();
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    ASSERT_NE(pg_, nullptr);
    auto c = write("config/main", config_body(pg_->superuser(), pg_->superuser_password()));
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_TRUE(write("roles/ro", ro_role()));
  }

  static json config_body(const std::string& user, const std::string& password) {
    return {{"plugin_name", "postgresql-database-plugin"},
            {"connection_url", pg_->connection_url()},
            {"username", user},
            {"password", password},
            {"allowed_roles", "*"}};
  }
  static json ro_role() {
    return {{"db_name", "main"},
            {"creation_statements",
             json::array({"CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID "
                          "UNTIL '{{expiration}}';",
                          "GRANT SELECT ON public.items TO \"{{name}}\";"})},
            {"default_ttl", "1h"},
            {"max_ttl", "24h"}};
  }

  struct Creds {
    std::string username;
    std::string password;
    sdk::Response response;
  };
  Creds creds(const std::string& role = "ro") {
    auto r = read("creds/" + role);
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return {};
    return {r->data.value("username", ""), r->data.value("password", ""), *r};
  }

  // psql as the generated user; exit code 0 when the statement ran.
  leasefs::testing::ProcessResult as_user(const Creds& c, const std::string& sql) {
    return pg_->psql(c.username, c.password, sql);
  }
  std::string admin(const std::string& sql) {
    auto r = pg_->admin_query(sql);
    EXPECT_TRUE(r) << r.error();
    return r ? *r : "";
  }
  int role_count(const std::string& username) {
    return std::stoi(admin("SELECT count(*) FROM pg_roles WHERE rolname = '" + username + "'"));
  }

  static PostgresServer* pg_;
  static std::string* start_error_;
};

PostgresServer* PostgresTest::pg_ = nullptr;
std::string* PostgresTest::start_error_ = nullptr;

TEST_F(PostgresTest, CredsLogInAndCanDoExactlyWhatWasGranted) {
  Creds c = creds();
  ASSERT_FALSE(c.username.empty());
  EXPECT_LE(c.username.size(), 63u);
  EXPECT_TRUE(std::regex_match(c.username, std::regex("v-token-ro-[A-Za-z0-9]{20}-[0-9]+")))
      << c.username;
  EXPECT_EQ(c.password.size(), 20u);
  ASSERT_TRUE(c.response.secret);
  EXPECT_EQ(c.response.secret->type, "creds");
  EXPECT_EQ(c.response.secret->ttl, 1h);
  EXPECT_EQ(c.response.secret->max_ttl, 24h);
  EXPECT_TRUE(c.response.secret->renewable);
  EXPECT_EQ(c.response.secret->internal.dump().find(c.password), std::string::npos);

  auto select = as_user(c, "SELECT count(*) FROM public.items");
  EXPECT_EQ(select.exit_code, 0) << select.err;
  EXPECT_EQ(select.out, "2\n");
  auto insert = as_user(c, "INSERT INTO public.items VALUES (3)");
  EXPECT_NE(insert.exit_code, 0);
  EXPECT_NE(insert.err.find("permission denied"), std::string::npos) << insert.err;
  auto hidden = as_user(c, "SELECT * FROM public.hidden");
  EXPECT_NE(hidden.exit_code, 0);
  EXPECT_NE(hidden.err.find("permission denied"), std::string::npos) << hidden.err;
  auto create = as_user(c, "CREATE ROLE sneaky");
  EXPECT_NE(create.exit_code, 0);

  ASSERT_TRUE(revoke(lease_of(c.response)));
}

TEST_F(PostgresTest, RevokeDropsTheUserAndCanBeRepeated) {
  Creds c = creds();
  ASSERT_EQ(as_user(c, "SELECT 1").exit_code, 0);
  auto lease = lease_of(c.response);
  auto done = revoke(lease);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(role_count(c.username), 0);
  auto login = as_user(c, "SELECT 1");
  EXPECT_NE(login.exit_code, 0);
  EXPECT_NE(login.err.find("authentication failed"), std::string::npos) << login.err;
  // Revoking what is gone succeeds (the expiration manager may retry).
  EXPECT_TRUE(revoke(lease));
}

TEST_F(PostgresTest, RevokeSucceedsWhenTheUserWasDroppedByHand) {
  Creds c = creds();
  admin("DROP OWNED BY \"" + c.username + "\"; DROP ROLE \"" + c.username + "\"");
  EXPECT_EQ(role_count(c.username), 0);
  auto done = revoke(lease_of(c.response));
  EXPECT_TRUE(done) << done.error().message();
}

TEST_F(PostgresTest, RevokeWithCustomStatementsAndTerminatedSessions) {
  ASSERT_TRUE(write("config/main", {{"revoke_terminates_sessions", true}}));
  json role = ro_role();
  role["revocation_statements"] =
      json::array({"REVOKE ALL ON public.items FROM \"{{name}}\";", "DROP ROLE \"{{name}}\";"});
  ASSERT_TRUE(write("roles/custom", role));
  Creds c = creds("custom");
  ASSERT_EQ(as_user(c, "SELECT 1").exit_code, 0);
  auto done = revoke(lease_of(c.response));
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(role_count(c.username), 0);
  EXPECT_TRUE(revoke(lease_of(c.response)));
}

TEST_F(PostgresTest, RenewMovesValidUntil) {
  Creds c = creds();
  const std::string valid_until_sql =
      "SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = '" +
      c.username + "'";
  const std::int64_t before = std::stoll(admin(valid_until_sql));
  EXPECT_NEAR(before, sdk::unix_seconds(clock_.now() + 1h), 2);

  clock_.advance(30min);
  auto renewed = renew(lease_of(c.response, 2h));
  ASSERT_TRUE(renewed) << renewed.error().message();
  ASSERT_TRUE(renewed->secret);
  EXPECT_EQ(renewed->secret->ttl, 2h);
  const std::int64_t after = std::stoll(admin(valid_until_sql));
  EXPECT_NEAR(after, sdk::unix_seconds(clock_.now() + 2h), 2);
  EXPECT_GT(after, before);

  // Past the role's max the increment is capped, with Vault's warning.
  auto capped = renew(lease_of(c.response, 48h));
  ASSERT_TRUE(capped) << capped.error().message();
  EXPECT_LE(capped->secret->ttl, 24h);
  EXPECT_FALSE(capped->warnings.empty());
  ASSERT_TRUE(revoke(lease_of(c.response)));
}

TEST_F(PostgresTest, ExpiredCredentialsCannotLogIn) {
  // Issued two hours ago with a one-hour TTL: PostgreSQL's VALID UNTIL has passed.
  clock_.set(std::chrono::system_clock::now() - 2h);
  Creds c = creds();
  auto login = as_user(c, "SELECT 1");
  EXPECT_NE(login.exit_code, 0);
  EXPECT_NE(login.err.find("authentication failed"), std::string::npos) << login.err;
  // What the expiration manager then does at the expiry:
  ASSERT_TRUE(revoke(lease_of(c.response)));
  EXPECT_EQ(role_count(c.username), 0);
}

TEST_F(PostgresTest, RotateRootChangesThePasswordAndKeepsWorking) {
  admin("CREATE ROLE rotator WITH LOGIN SUPERUSER PASSWORD 'first-pw-123'");
  ASSERT_TRUE(write("config/rot", config_body("rotator", "first-pw-123")));
  json role = ro_role();
  role["db_name"] = "rot";
  ASSERT_TRUE(write("roles/rot-ro", role));
  auto rotated = write("rotate-root/rot");
  ASSERT_TRUE(rotated) << rotated.error().message();

  auto old_login = pg_->psql("rotator", "first-pw-123", "SELECT 1");
  EXPECT_NE(old_login.exit_code, 0);
  auto config = read("config/rot");
  ASSERT_TRUE(config);
  EXPECT_FALSE(config->data["connection_details"].contains("password"));

  Creds c = creds("rot-ro");
  EXPECT_EQ(as_user(c, "SELECT count(*) FROM public.items").exit_code, 0);
  ASSERT_TRUE(revoke(lease_of(c.response)));
  // And once more: the stored password is the one the database has.
  ASSERT_TRUE(write("rotate-root/rot"));
  Creds again = creds("rot-ro");
  EXPECT_FALSE(again.username.empty());
  ASSERT_TRUE(revoke(lease_of(again.response)));
  expect_code(write("rotate-root/none"), Code::kInvalidArgument);
}

TEST_F(PostgresTest, FailedCreationLeavesNothingBehind) {
  json role = ro_role();
  role["creation_statements"].push_back("GRANT SELECT ON public.missing_table TO \"{{name}}\";");
  role["rollback_statements"] = json::array({"DROP ROLE IF EXISTS \"{{name}}\";"});
  ASSERT_TRUE(write("roles/broken", role));
  auto r = read("creds/broken");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInternal);
  EXPECT_NE(r.error().message().find("missing_table"), std::string::npos) << r.error().message();
  EXPECT_EQ(admin("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-token-broken-%'"), "0");
  // The pool is still usable afterwards.
  Creds c = creds();
  EXPECT_EQ(as_user(c, "SELECT 1").exit_code, 0);
  ASSERT_TRUE(revoke(lease_of(c.response)));
}

TEST_F(PostgresTest, SqlLookingNamesAreEscaped) {
  display_name_ = "x\"; DROP TABLE items; --'";
  Creds c = creds();
  ASSERT_FALSE(c.username.empty());
  EXPECT_NE(c.username.find('"'), std::string::npos) << c.username;
  EXPECT_EQ(as_user(c, "SELECT count(*) FROM public.items").out, "2\n");
  EXPECT_EQ(admin("SELECT count(*) FROM public.items"), "2");
  ASSERT_TRUE(revoke(lease_of(c.response)));
  EXPECT_EQ(admin("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-x\"; DRO-%'"), "0");
}

TEST_F(PostgresTest, ConcurrentCredsOnOneTableAllSucceed) {
  // Concurrent GRANTs on one table make PostgreSQL fail some with "tuple concurrently
  // updated"; the engine runs those transactions again.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 8; ++i) {
        auto req = request(Operation::kRead, "creds/ro");
        auto r = engine_->handle(req);
        if (!r) {
          ++failures;
          ADD_FAILURE() << r.error().message();
          continue;
        }
        auto rreq = request(Operation::kUpdate, "sys/leases/revoke");
        auto done = engine_->revoke_secret(rreq, lease_of(*r));
        if (!done) {
          ++failures;
          ADD_FAILURE() << done.error().message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(admin("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-token-ro-%'"), "0");
}

TEST_F(PostgresTest, DownDatabaseIsUnavailableAndThePoolRecovers) {
  Creds first = creds();  // leaves a pooled connection behind
  ASSERT_FALSE(first.username.empty());
  ASSERT_TRUE(pg_->stop());
  auto r = read("creds/ro");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnavailable) << r.error().message();
  auto lease = lease_of(first.response);
  auto revoked = revoke(lease);
  ASSERT_FALSE(revoked);
  EXPECT_EQ(revoked.error().code(), Code::kUnavailable) << revoked.error().message();

  auto back = pg_->restart();
  ASSERT_TRUE(back) << back.error();
  Creds c = creds();
  EXPECT_EQ(as_user(c, "SELECT 1").exit_code, 0);
  ASSERT_TRUE(revoke(lease));
  ASSERT_TRUE(revoke(lease_of(c.response)));
}

TEST_F(PostgresTest, PooledConnectionThatStopsAnsweringFailsInBoundedTime) {
  Creds first = creds();  // leaves a pooled connection behind
  ASSERT_FALSE(first.username.empty());
  // Freeze the server processes behind the engine's connections: the statement timeout
  // cannot fire, only the engine's own deadline on the socket ends the wait (15 s).
  auto pids =
      pg_->admin_query("SELECT pid FROM pg_stat_activity WHERE application_name = 'leasefs'");
  ASSERT_TRUE(pids) << pids.error();
  std::vector<pid_t> frozen;
  std::istringstream lines(*pids);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    frozen.push_back(static_cast<pid_t>(std::stol(line)));
    kill(frozen.back(), SIGSTOP);
  }
  ASSERT_FALSE(frozen.empty());
  auto r = read("creds/ro");
  for (pid_t pid : frozen) kill(pid, SIGCONT);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kDeadlineExceeded) << r.error().message();
  // The stuck connection was dropped; the next request gets a fresh one.
  Creds c = creds();
  EXPECT_EQ(as_user(c, "SELECT 1").exit_code, 0);
  ASSERT_TRUE(revoke(lease_of(c.response)));
  ASSERT_TRUE(revoke(lease_of(first.response)));
}

TEST_F(PostgresTest, DatabaseThatDoesNotAnswerFailsInBoundedTime) {
  ASSERT_TRUE(write("reset/main"));  // no pooled connection: the next one must connect
  pg_->pause();
  auto r = read("creds/ro");  // bounded by connect_timeout (5 s)
  pg_->resume();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnavailable) << r.error().message();
  Creds c = creds();
  EXPECT_EQ(as_user(c, "SELECT 1").exit_code, 0);
  ASSERT_TRUE(revoke(lease_of(c.response)));
}

}  // namespace
}  // namespace leasefs::engines::database
