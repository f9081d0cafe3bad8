// The database engine's paths without a database: config validation and storage
// (verify_connection off), the password never read back, roles, names that look like
// SQL refused before they reach storage, and creds failing cleanly without a config.
#include "tests/unit/engines/database/database_test_util.h"

namespace leasefs::engines::database {
namespace {

json base_config() {
  return {{"plugin_name", "postgresql-database-plugin"},
          {"connection_url", "postgresql://{{username}}:{{password}}@127.0.0.1:1/postgres"},
          {"username", "admin"},
          {"password", "s3cret-root-pw"},
          {"allowed_roles", "ro,app-*"},
          {"verify_connection", false}};
}

TEST_F(DatabaseTest, ConfigIsStoredAndReadWithoutPassword) {
  auto w = write("config/main", base_config());
  ASSERT_TRUE(w) << w.error().message();
  auto r = read("config/main");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->data["plugin_name"], "postgresql-database-plugin");
  EXPECT_EQ(r->data["connection_details"]["username"], "admin");
  EXPECT_EQ(r->data["allowed_roles"], json::array({"ro", "app-*"}));
  EXPECT_EQ(r->data.dump().find("s3cret-root-pw"), std::string::npos) << "password leaked";
  EXPECT_FALSE(r->data["connection_details"].contains("password"));

  // A partial update keeps the other fields (and the password).
  ASSERT_TRUE(write("config/main", {{"allowed_roles", "*"}, {"verify_connection", false}}));
  r = read("config/main");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data["allowed_roles"], json::array({"*"}));
  EXPECT_EQ(r->data["connection_details"]["username"], "admin");

  auto list = call(Operation::kList, "config/");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->data["keys"], json::array({"main"}));
  ASSERT_TRUE(call(Operation::kDelete, "config/main"));
  expect_code(read("config/main"), Code::kNotFound);
}

TEST_F(DatabaseTest, ConfigRefusesBadInput) {
  json c = base_config();
  c["plugin_name"] = "mysql-database-plugin";
  expect_code(write("config/x", c), Code::kInvalidArgument, "unsupported plugin_name");
  c = base_config();
  c.erase("plugin_name");
  expect_code(write("config/x", c), Code::kInvalidArgument, "empty plugin name");
  c = base_config();
  c["connection_url"] = "postgresql://[::1";
  expect_code(write("config/x", c), Code::kInvalidArgument, "connection_url");
  c = base_config();
  c["username_template"] = "{{.Nope}}";
  expect_code(write("config/x", c), Code::kInvalidArgument, "username_template");
  c = base_config();
  c["password_policy"] = "strong";
  expect_code(write("config/x", c), Code::kInvalidArgument,
              "password_policy: password policy \"strong\" does not exist");
  expect_code(write("config/a\"b", base_config()), Code::kInvalidArgument, "invalid config name");
  expect_code(call(Operation::kList, "config/"), Code::kNotFound);
}

TEST_F(DatabaseTest, VerifyConnectionToNothingFailsFast) {
  json c = base_config();
  c["verify_connection"] = true;  // port 1 on loopback: refused at once
  auto r = write("config/down", c);
  expect_code(r, Code::kInvalidArgument, "error verifying connection");
  EXPECT_EQ(r.error().message().find("s3cret-root-pw"), std::string::npos);
  expect_code(read("config/down"), Code::kNotFound);
}

TEST_F(DatabaseTest, RolesAndSqlLookingNames) {
  json role = {{"db_name", "main"},
               {"creation_statements", json::array({"CREATE ROLE \"{{name}}\" WITH LOGIN "
                                                    "PASSWORD '{{password}}' VALID UNTIL "
                                                    "'{{expiration}}';"})},
               {"default_ttl", "1h"},
               {"max_ttl", "24h"}};
  ASSERT_TRUE(write("roles/ro", role));
  auto r = read("roles/ro");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data["db_name"], "main");
  EXPECT_EQ(r->data["default_ttl"], 3600);
  EXPECT_EQ(r->data["max_ttl"], 86400);
  EXPECT_EQ(r->data["creation_statements"].size(), 1u);

  for (const char* bad : {"x\";DROP ROLE postgres;--", "a'b", "-lead", "tail.", "sp ace"}) {
    SCOPED_TRACE(bad);
    expect_code(write(std::string("roles/") + bad, role), Code::kInvalidArgument,
                "invalid role name");
    expect_code(read(std::string("creds/") + bad), Code::kInvalidArgument, "unknown role");
  }
  auto list = call(Operation::kList, "roles/");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->data["keys"], json::array({"ro"}));

  // An update keeps what it does not name.
  ASSERT_TRUE(write("roles/ro", {{"default_ttl", "2h"}}));
  r = read("roles/ro");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data["default_ttl"], 7200);
  EXPECT_EQ(r->data["creation_statements"].size(), 1u);
  expect_code(write("roles/ro", {{"default_ttl", "25h"}}), Code::kInvalidArgument, "max_ttl");

  json over = role;
  over["default_ttl"] = "48h";
  expect_code(write("roles/over", over), Code::kInvalidArgument, "max_ttl");
  json empty = role;
  empty.erase("creation_statements");
  expect_code(write("roles/empty", empty), Code::kInvalidArgument, "creation_statements");
  expect_code(read("roles/over"), Code::kNotFound);
}

TEST_F(DatabaseTest, CredsNeedRoleConfigAndPermission) {
  expect_code(read("creds/none"), Code::kInvalidArgument, "unknown role: none");
  ASSERT_TRUE(
      write("roles/ro", {{"db_name", "main"}, {"creation_statements", json::array({"SELECT 1"})}}));
  expect_code(read("creds/ro"), Code::kFailedPrecondition, "does not exist");
  json c = base_config();
  c["allowed_roles"] = "other";
  ASSERT_TRUE(write("config/main", c));
  expect_code(read("creds/ro"), Code::kPermissionDenied, "not an allowed role");
  // Allowed, but the database is down (nothing listens on port 1): a 5xx-class error.
  c["allowed_roles"] = "*";
  ASSERT_TRUE(write("config/main", c));
  auto r = read("creds/ro");
  expect_code(r, Code::kUnavailable, "cannot connect");
  EXPECT_EQ(r.error().message().find("s3cret-root-pw"), std::string::npos);
}

}  // namespace
}  // namespace leasefs::engines::database
