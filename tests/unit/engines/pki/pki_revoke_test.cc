// Revocation: revoked serials appear on the CRL, which verifies against the CA;
// revoking twice answers the first revocation; Vault's errors for unknown serials and
// the CA itself; generate_lease (a SecretInfo whose revoke revokes the certificate,
// twice without error); no_store; crl/rotate; concurrent issue and revoke.
#include <atomic>
#include <set>
#include <thread>

#include "tests/unit/engines/pki/pki_test_util.h"

namespace leasefs::engines::pki {
namespace {

class PkiRevokeTest : public PkiTest {
 protected:
  void SetUp() override {
    PkiTest::SetUp();
    root_serial_ =
        generate_root({{"common_name", "Revoke Test Root"}, {"ttl", "8760h"}, {"key_type", "ec"}})
            .value("serial_number", "");
    create_role(
        "web",
        {{"allowed_domains", "example.com"}, {"allow_subdomains", true}, {"key_type", "ec"}});
    create_role("leased", {{"allowed_domains", "example.com"},
                           {"allow_subdomains", true},
                           {"key_type", "ec"},
                           {"generate_lease", true},
                           {"ttl", "2h"}});
    create_role("unstored", {{"allowed_domains", "example.com"},
                             {"allow_subdomains", true},
                             {"key_type", "ec"},
                             {"no_store", true}});
  }

  std::string issue(const std::string& role = "web", const std::string& cn = "a.example.com") {
    auto data = ok(write("issue/" + role, {{"common_name", cn}}));
    return data.value("serial_number", "");
  }

  // `openssl crl -text` of the current CRL, checked against the CA.
  std::string crl_text() {
    auto crl = read("crl/pem");
    EXPECT_TRUE(crl && crl->raw);
    if (!crl || !crl->raw) return "";
    auto r = openssl({"crl", "-noout", "-text", "-CAfile", file("ca.pem", ca_pem_), "-in",
                      file("crl.pem", crl->raw->body)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE((r.out + r.err).find("verify OK"), std::string::npos) << r.err;
    return r.out;
  }

  // The serial as `openssl crl -text` prints it: upper-case hex, no colons.
  static std::string crl_serial(std::string serial) {
    std::string out;
    for (char c : serial) {
      if (c != ':') out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
  }

  std::string root_serial_;

  sdk::LeaseInfo lease_for(const sdk::Response& r) {
    sdk::LeaseInfo lease;
    lease.lease_id = "pki/issue/leased/abc";
    lease.secret_type = r.secret ? r.secret->type : "";
    lease.internal = r.secret ? r.secret->internal : json::object();
    return lease;
  }
};

TEST_F(PkiRevokeTest, RevokedSerialIsOnTheCrlWhichVerifiesAgainstTheCa) {
  const std::string keep = issue();
  const std::string gone = issue("web", "b.example.com");
  std::string before = crl_text();
  EXPECT_NE(before.find("No Revoked Certificates"), std::string::npos) << before;
  EXPECT_NE(before.find("X509v3 CRL Number"), std::string::npos) << before;
  EXPECT_NE(before.find("Next Update"), std::string::npos) << before;

  auto revoked = write("revoke", {{"serial_number", gone}});
  ASSERT_TRUE(revoked) << revoked.error().message();
  EXPECT_EQ(revoked->data["revocation_time"], sdk::unix_seconds(clock_.now()));
  const std::string rfc = revoked->data["revocation_time_rfc3339"];
  EXPECT_TRUE(rfc.ends_with("Z")) << rfc;
  EXPECT_EQ(rfc.substr(0, 19), sdk::rfc3339(clock_.now()).substr(0, 19));

  std::string after = crl_text();
  EXPECT_NE(after.find("Serial Number: " + crl_serial(gone)), std::string::npos) << after;
  EXPECT_EQ(after.find("Serial Number: " + crl_serial(keep)), std::string::npos) << after;

  // cert/<serial> shows the revocation.
  json shown = ok(read("cert/" + gone));
  EXPECT_EQ(shown["revocation_time"], revoked->data["revocation_time"]);
  EXPECT_EQ(shown["revocation_time_rfc3339"], rfc);
  EXPECT_EQ(ok(read("cert/" + keep))["revocation_time"], 0);

  // Revoking again is fine and answers the first revocation.
  clock_.advance(5min);
  auto again = write("revoke", {{"serial_number", gone}});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->data, revoked->data);

  // `openssl verify -crl_check` now refuses the revoked certificate only.
  auto crl = read("crl/pem");
  ASSERT_TRUE(crl && crl->raw);
  const std::string crl_file = file("crl.pem", crl->raw->body);
  auto pem_of = [&](const std::string& serial) {
    return ok(read("cert/" + serial)).value("certificate", "");
  };
  auto ok_check = openssl({"verify", "-crl_check", "-CAfile", file("ca.pem", ca_pem_), "-CRLfile",
                           crl_file, file("keep.pem", pem_of(keep))});
  EXPECT_EQ(ok_check.exit_code, 0) << ok_check.out << ok_check.err;
  auto bad_check = openssl({"verify", "-crl_check", "-CAfile", file("ca.pem", ca_pem_), "-CRLfile",
                            crl_file, file("gone.pem", pem_of(gone))});
  EXPECT_NE(bad_check.exit_code, 0);
  EXPECT_NE((bad_check.out + bad_check.err).find("certificate revoked"), std::string::npos)
      << bad_check.out << bad_check.err;
}

TEST_F(PkiRevokeTest, RevokeErrorsAreVaults) {
  expect_invalid(write("revoke", json::object()), "The serial number must be provided");
  expect_invalid(write("revoke", {{"serial_number", "01:02:03"}}),
                 "certificate with serial 01:02:03 not found");
  expect_invalid(write("revoke", {{"serial_number", "not-a-serial"}}),
                 "certificate with serial not-a-serial not found");
  expect_invalid(write("revoke", {{"serial_number", root_serial_}}),
                 "adding CA to CRL is not allowed");

  // Hyphens and upper case name the same serial.
  std::string serial = issue();
  std::string other = serial;
  std::replace(other.begin(), other.end(), ':', '-');
  std::transform(other.begin(), other.end(), other.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  EXPECT_TRUE(write("revoke", {{"serial_number", other}}));
  EXPECT_NE(crl_text().find(crl_serial(serial)), std::string::npos);

  // An expired certificate is not added; Vault answers with a warning.
  create_role("brief", {{"allow_any_name", true}, {"key_type", "ec"}, {"ttl", "1m"}});
  std::string expiring = issue("brief", "short.example.com");
  clock_.advance(2min);
  auto late = write("revoke", {{"serial_number", expiring}});
  ASSERT_TRUE(late) << late.error().message();
  ASSERT_EQ(late->warnings.size(), 1u);
  EXPECT_EQ(late->warnings[0],
            "certificate with serial " + expiring + " already expired; refusing to add to CRL");

  // Without a CA nothing can be revoked.
  ASSERT_TRUE(call(Operation::kDelete, "root"));
  expect_invalid(write("revoke", {{"serial_number", serial}}),
                 "could not fetch the CA certificate: backend must be configured with a CA "
                 "certificate/key");
  expect_invalid(read("crl/rotate"), "backend must be configured with a CA certificate/key");
}

TEST_F(PkiRevokeTest, GenerateLeaseReturnsASecretWhoseRevokeRevokesTheCertificate) {
  auto r = write("issue/leased", {{"common_name", "leased.example.com"}});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->secret);
  EXPECT_EQ(r->secret->type, "cert");
  const std::string serial = r->data["serial_number"];
  EXPECT_EQ(r->secret->internal, (json{{"serial_number", serial}}));
  EXPECT_FALSE(r->secret->renewable);
  // The lease lives as long as the certificate (ttl 2h; notAfter is whole seconds).
  EXPECT_LE(r->secret->ttl, sdk::Duration(2h));
  EXPECT_GT(r->secret->ttl, sdk::Duration(2h - 1s));

  auto lease = lease_for(*r);
  auto revoke = request(Operation::kUpdate, "");
  auto done = engine_->revoke_secret(revoke, lease);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_NE(crl_text().find(crl_serial(serial)), std::string::npos);
  const auto first = ok(read("cert/" + serial))["revocation_time"];

  // Again: still fine, nothing changes.
  clock_.advance(1min);
  auto revoke2 = request(Operation::kUpdate, "");
  ASSERT_TRUE(engine_->revoke_secret(revoke2, lease));
  EXPECT_EQ(ok(read("cert/" + serial))["revocation_time"], first);

  // A lease whose certificate is gone, or whose CA is gone, is revoked without error.
  sdk::LeaseInfo stray = lease;
  stray.internal = json{{"serial_number", "01:02:03:04"}};
  auto revoke3 = request(Operation::kUpdate, "");
  EXPECT_TRUE(engine_->revoke_secret(revoke3, stray));
  sdk::LeaseInfo broken = lease;
  broken.internal = json::object();
  auto revoke4 = request(Operation::kUpdate, "");
  auto failed = engine_->revoke_secret(revoke4, broken);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), Code::kInternal);

  auto other = write("issue/leased", {{"common_name", "other.example.com"}});
  ASSERT_TRUE(other && other->secret);
  ASSERT_TRUE(call(Operation::kDelete, "root"));
  auto revoke5 = request(Operation::kUpdate, "");
  EXPECT_TRUE(engine_->revoke_secret(revoke5, lease_for(*other)));

  // Leases of this type cannot be renewed.
  auto renew = request(Operation::kUpdate, "");
  auto renewed = engine_->renew_secret(renew, lease);
  ASSERT_FALSE(renewed);
  EXPECT_EQ(renewed.error().code(), Code::kInvalidArgument);
}

TEST_F(PkiRevokeTest, WithoutGenerateLeaseThereIsNoLease) {
  auto r = write("issue/web", {{"common_name", "plain.example.com"}});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->secret);
  EXPECT_FALSE(r->advisory_ttl);
}

TEST_F(PkiRevokeTest, NoStoreCertificatesAreNotStoredAndCannotBeRevoked) {
  const auto before = ok(call(Operation::kList, "certs/"))["keys"];
  auto r = write("issue/unstored", {{"common_name", "ephemeral.example.com"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->secret);
  const std::string serial = r->data["serial_number"];
  expect_verifies(r->data["certificate"]);
  EXPECT_EQ(ok(call(Operation::kList, "certs/"))["keys"], before);
  auto missing = read("cert/" + serial);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  expect_invalid(write("revoke", {{"serial_number", serial}}),
                 "certificate with serial " + serial + " not found");
}

TEST_F(PkiRevokeTest, CrlRotateKeepsRevocationsAndAdvancesTheNumber) {
  const std::string serial = issue();
  ASSERT_TRUE(write("revoke", {{"serial_number", serial}}));
  auto number = [&] {
    std::string text = crl_text();
    auto at = text.find("X509v3 CRL Number:");
    return at == std::string::npos ? std::string() : text.substr(at, 40);
  };
  const std::string first = number();
  auto rotated = read("crl/rotate");
  ASSERT_TRUE(rotated) << rotated.error().message();
  EXPECT_EQ(rotated->data, (json{{"success", true}}));
  EXPECT_NE(number(), first);
  EXPECT_NE(crl_text().find(crl_serial(serial)), std::string::npos);

  // config/crl disable publishes an empty CRL; enabling it lists the revocation again.
  ASSERT_TRUE(write("config/crl", {{"disable", true}}));
  EXPECT_NE(crl_text().find("No Revoked Certificates"), std::string::npos);
  ASSERT_TRUE(write("config/crl", {{"disable", false}}));
  EXPECT_NE(crl_text().find(crl_serial(serial)), std::string::npos);
}

TEST_F(PkiRevokeTest, ConcurrentIssueAndRevokeLoseNothing) {
  constexpr int kThreads = 4;
  constexpr int kEach = 5;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> revoked;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = write("issue/web", {{"common_name", "c" + std::to_string(t) + "-" +
                                                         std::to_string(i) + ".example.com"}});
        if (!r) {
          ++failures;
          continue;
        }
        const std::string serial = r->data["serial_number"];
        if (!write("revoke", {{"serial_number", serial}})) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        revoked.insert(serial);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(revoked.size(), static_cast<std::size_t>(kThreads * kEach));
  const std::string text = crl_text();
  for (const auto& serial : revoked) {
    EXPECT_NE(text.find(crl_serial(serial)), std::string::npos) << serial;
  }
}

}  // namespace
}  // namespace leasefs::engines::pki
