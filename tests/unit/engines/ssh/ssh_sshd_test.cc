// Signed certificates against a real sshd (tests/support/sshd_fixture.h) that trusts
// the engine's CA: a login with the certificate works for each CA key type, and is
// refused once the certificate has expired or for a user it names no principal for.
#include "tests/support/sshd_fixture.h"
#include "tests/unit/engines/ssh/ssh_test_util.h"

namespace leasefs::engines::ssh {
namespace {

using leasefs::testing::SshdServer;

class SshdTest : public SshTest {
 protected:
  void SetUp() override {
    SshTest::SetUp();
    std::string why;
    ASSERT_TRUE(leasefs::testing::sshd_available(&why)) << why;
  }

  // A CA of `type`, a role for it and an sshd that trusts it.
  std::unique_ptr<SshdServer> start(const std::string& type, const std::string& signer) {
    const std::string ca = generate_ca(type, type == "ssh-rsa" ? 2048 : 0);
    EXPECT_FALSE(ca.empty());
    auto role = write("roles/ops", {{"key_type", "ca"},
                                    {"allow_user_certificates", true},
                                    {"allowed_users", "root,alice"},
                                    {"default_extensions", {{"permit-pty", ""}}},
                                    {"algorithm_signer", signer},
                                    {"ttl", "1h"}});
    EXPECT_TRUE(role) << role.error().message();
    auto sshd = SshdServer::start(ca);
    EXPECT_TRUE(sshd) << sshd.error();
    return sshd ? std::move(*sshd) : nullptr;
  }
};

TEST_F(SshdTest, Ed25519CaCertificateLogsIn) {
  auto sshd = start("ed25519", "default");
  ASSERT_NE(sshd, nullptr);
  const std::string key = user_key("ed25519", "id");
  ASSERT_TRUE(sign("ops", key, {{"valid_principals", "root"}}));
  auto r = sshd->login("root", key, key + "-cert.pub", "echo logged-in-as-$(id -un)");
  EXPECT_EQ(r.exit_code, 0) << r.err << "\n" << sshd->log();
  EXPECT_EQ(r.out, "logged-in-as-root\n");
}

TEST_F(SshdTest, EcdsaCaCertificateLogsIn) {
  auto sshd = start("ec", "default");
  ASSERT_NE(sshd, nullptr);
  const std::string key = user_key("ecdsa", "id");
  ASSERT_TRUE(sign("ops", key, {{"valid_principals", "root"}}));
  auto r = sshd->login("root", key, key + "-cert.pub");
  EXPECT_EQ(r.exit_code, 0) << r.err << "\n" << sshd->log();
}

TEST_F(SshdTest, RsaSha512CaCertificateLogsIn) {
  auto sshd = start("ssh-rsa", "rsa-sha2-512");
  ASSERT_NE(sshd, nullptr);
  const std::string key = user_key("rsa", "id");
  ASSERT_TRUE(sign("ops", key, {{"valid_principals", "root"}}));
  auto r = sshd->login("root", key, key + "-cert.pub");
  EXPECT_EQ(r.exit_code, 0) << r.err << "\n" << sshd->log();
}

TEST_F(SshdTest, ExpiredCertificateIsRefused) {
  auto sshd = start("ed25519", "default");
  ASSERT_NE(sshd, nullptr);
  // Signed "two hours ago" for one hour: expired by the real clock sshd uses.
  clock_.set(std::chrono::system_clock::now() - 2h);
  const std::string key = user_key("ed25519", "id");
  ASSERT_TRUE(sign("ops", key, {{"valid_principals", "root"}}));
  auto r = sshd->login("root", key, key + "-cert.pub");
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(sshd->log().find("expired"), std::string::npos) << sshd->log();
}

TEST_F(SshdTest, PrincipalNotInCertificateIsRefused) {
  auto sshd = start("ed25519", "default");
  ASSERT_NE(sshd, nullptr);
  const std::string key = user_key("ed25519", "id");
  // The role allows alice; the certificate names only alice; logging in as root fails.
  ASSERT_TRUE(sign("ops", key, {{"valid_principals", "alice"}}));
  auto r = sshd->login("root", key, key + "-cert.pub");
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(sshd->log().find("name is not a listed principal"), std::string::npos) << sshd->log();
  // And a principal the role does not allow is never signed.
  expect_invalid(sign("ops", key, {{"valid_principals", "mallory"}}),
                 "mallory is not a valid value for valid_principals");
}

TEST_F(SshdTest, CertificateFromAnotherCaIsRefused) {
  auto sshd = start("ed25519", "default");
  ASSERT_NE(sshd, nullptr);
  ASSERT_TRUE(call(Operation::kDelete, "config/ca"));
  generate_ca("ed25519");  // a new CA that this sshd does not trust
  const std::string key = user_key("ed25519", "id");
  ASSERT_TRUE(sign("ops", key, {{"valid_principals", "root"}}));
  auto r = sshd->login("root", key, key + "-cert.pub");
  EXPECT_NE(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace leasefs::engines::ssh
