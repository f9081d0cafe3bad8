// Dynamic credentials through a real mount, proven against real servers: a db/
// directory whose username, password and dsn come from one database lease log in to a
// throwaway PostgreSQL with psql, and an ssh/ directory whose key pair the daemon
// generates on open and whose certificate the server signs logs in to a throwaway sshd.
#include <gtest/gtest.h>

#include "tests/fuse/mount_test_fixture.h"
#include "tests/support/postgres_fixture.h"
#include "tests/support/sshd_fixture.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class MountDynamicTest : public MountTest {
 protected:
  Reply root(std::string_view method, std::string_view path, const json& body = nullptr) {
    return api_->call(method, path, body, root_);
  }
};

TEST_F(MountDynamicTest, DatabaseDirectoryLogsInWithOneLease) {
  auto pg = PostgresServer::start();
  ASSERT_TRUE(pg) << pg.error();
  ASSERT_TRUE((*pg)->admin_query("CREATE TABLE public.items (id int); INSERT INTO public.items "
                                 "VALUES (7)"));
  ASSERT_EQ(root("POST", "sys/mounts/database", {{"type", "database"}}).status, 204);
  Reply config = root("POST", "database/config/main",
                      {{"plugin_name", "postgresql-database-plugin"},
                       {"connection_url", (*pg)->connection_url()},
                       {"username", (*pg)->superuser()},
                       {"password", (*pg)->superuser_password()},
                       {"allowed_roles", "*"}});
  ASSERT_LT(config.status, 300) << config.describe();
  Reply role = root("POST", "database/roles/ro",
                    {{"db_name", "main"},
                     {"creation_statements",
                      json::array({"CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                                   "VALID UNTIL '{{expiration}}';",
                                   "GRANT SELECT ON public.items TO \"{{name}}\";"})},
                     {"default_ttl", "1h"},
                     {"max_ttl", "2h"}});
  ASSERT_EQ(role.status, 204) << role.describe();

  const std::string dsn = "postgres://{{username}}:{{password}}@127.0.0.1:" +
                          std::to_string((*pg)->port()) + "/postgres";
  mount(json::array({
      {{"path", "db/username"}, {"secret", "database/creds/ro"}, {"field", "username"}},
      {{"path", "db/password"}, {"secret", "database/creds/ro"}, {"field", "password"}},
      {{"path", "db/dsn"},
       {"secret", "database/creds/ro"},
       {"format", "template"},
       {"template", dsn}},
  }),
        {{"revocation_check", "1s"}});

  // `cat db/username db/password`: one read of both files gives a working login.
  auto both = run({"/usr/bin/cat", mount_->path("db/username"), mount_->path("db/password")});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  const std::string user = cat("db/username").out;
  const std::string password = cat("db/password").out;
  ASSERT_FALSE(user.empty());
  ASSERT_EQ(both.out, user + password) << "the two files came from different leases";
  auto query = (*pg)->psql(user, password, "SELECT id FROM public.items");
  EXPECT_EQ(query.exit_code, 0) << query.err;
  EXPECT_EQ(query.out, "7\n");
  // Exactly what the creation statements granted: no writes.
  EXPECT_NE((*pg)->psql(user, password, "INSERT INTO public.items VALUES (8)").exit_code, 0);

  // The dsn is rendered from the same lease; psql accepts it as a connection URI.
  const std::string uri = cat("db/dsn").out;
  EXPECT_EQ(uri.find("postgres://" + user + ":"), 0u) << "dsn is not from the same lease";
  auto via_dsn = run({"/usr/bin/psql", "-tAX", "-c", "SELECT count(*) FROM public.items", uri});
  EXPECT_EQ(via_dsn.exit_code, 0) << via_dsn.err;
  EXPECT_EQ(via_dsn.out, "1\n");

  const std::string lease = xattr("db/username", "lease_id");
  EXPECT_TRUE(lease.starts_with("database/creds/ro/")) << lease;
  EXPECT_EQ(xattr("db/password", "lease_id"), lease);
  EXPECT_EQ(xattr("db/dsn", "lease_id"), lease);

  // Revoked on the server: the role is dropped, the mount notices and the next open
  // gets a new login that works.
  Reply revoked = root("PUT", "sys/leases/revoke", {{"lease_id", lease}, {"sync", true}});
  ASSERT_EQ(revoked.status, 204) << revoked.describe();
  EXPECT_NE((*pg)->psql(user, password, "SELECT 1").exit_code, 0);
  ASSERT_TRUE(eventually([&] { return xattr("db/username", "lease_id") != lease; }, 20s))
      << "the mount still serves the revoked lease";
  const std::string user2 = cat("db/username").out;
  EXPECT_NE(user2, user);
  EXPECT_EQ((*pg)->psql(user2, cat("db/password").out, "SELECT 1").exit_code, 0);
}

TEST_F(MountDynamicTest, SshDirectoryKeyAndCertificateLogIn) {
  std::string why;
  ASSERT_TRUE(sshd_available(&why)) << why;
  ASSERT_EQ(root("POST", "sys/mounts/ssh", {{"type", "ssh"}}).status, 204);
  Reply ca = root("POST", "ssh/config/ca", {{"key_type", "ed25519"}});
  ASSERT_EQ(ca.status, 200) << ca.describe();
  Reply role = root("POST", "ssh/roles/ops",
                    {{"key_type", "ca"},
                     {"allow_user_certificates", true},
                     {"allowed_users", "root"},
                     {"default_extensions", {{"permit-pty", ""}}},
                     {"ttl", "30m"}});
  ASSERT_EQ(role.status, 204) << role.describe();
  auto sshd = SshdServer::start(ca.json["data"].value("public_key", ""));
  ASSERT_TRUE(sshd) << sshd.error();

  const json sign = {{"secret", "ssh/sign/ops"},
                     {"method", "POST"},
                     {"generate_key", "ed25519"},
                     {"args", {{"valid_principals", "root"}}}};
  auto file = [&](const std::string& path, const std::string& field, const std::string& mode) {
    json f = sign;
    f["path"] = path;
    f["field"] = field;
    f["mode"] = mode;
    return f;
  };
  mount(json::array({file("ssh/id_ed25519", "private_key", "0400"),
                     file("ssh/id_ed25519-cert.pub", "signed_key", "0444"),
                     file("ssh/id_ed25519.pub", "public_key", "0444")}));

  const std::string key = mount_->path("ssh/id_ed25519");
  const std::string cert = mount_->path("ssh/id_ed25519-cert.pub");
  auto login = (*sshd)->login("root", key, cert, "echo in-as-$(id -un)");
  EXPECT_EQ(login.exit_code, 0) << login.err << "\n" << (*sshd)->log();
  EXPECT_EQ(login.out, "in-as-root\n");

  // The certificate holds the generated key and the role's principal.
  auto shown = run({"/usr/bin/ssh-keygen", "-L", "-f", cert});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("Principals: \n                root\n"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("permit-pty"), std::string::npos) << shown.out;
  auto derived = run({"/usr/bin/ssh-keygen", "-y", "-f", key});
  ASSERT_EQ(derived.exit_code, 0) << derived.err;
  // "type base64 [comment]" -> "type base64"
  auto key_of = [](const std::string& line) {
    return line.substr(0, line.find_first_of(" \n", line.find(' ') + 1));
  };
  const std::string pub = cat("ssh/id_ed25519.pub").out;
  EXPECT_TRUE(pub.starts_with("ssh-ed25519 ")) << pub;
  EXPECT_EQ(key_of(pub), key_of(derived.out));
  const std::string lease = xattr("ssh/id_ed25519", "lease_id");
  EXPECT_TRUE(lease.starts_with("ssh/sign/ops/")) << lease;
  EXPECT_EQ(xattr("ssh/id_ed25519-cert.pub", "lease_id"), lease);
}

}  // namespace
}  // namespace leasefs::testing
