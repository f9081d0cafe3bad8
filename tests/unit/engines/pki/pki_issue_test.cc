// Roles (Vault's fields and defaults), issue/ and sign/ (certificates that `openssl
// verify` accepts, with the SANs, usages and validity the role says), Vault's name
// checks and their messages, TTL clamping, and bad input.
#include <regex>

#include "backend/sdk/encoding.h"
#include "tests/unit/engines/pki/pki_test_util.h"

namespace leasefs::engines::pki {
namespace {

class PkiIssueTest : public PkiTest {
 protected:
  void SetUp() override {
    PkiTest::SetUp();
    generate_root({{"common_name", "Issue Test Root"}, {"ttl", "8760h"}, {"key_type", "ec"}});
  }

  // Issues under `role` and expects the error `text`, or success when `text` is empty.
  void expect_issue(const std::string& role, json request, const std::string& text) {
    SCOPED_TRACE(role + " " + request.dump());
    auto r = write("issue/" + role, std::move(request));
    if (text.empty()) {
      EXPECT_TRUE(r) << r.error().message();
    } else {
      expect_invalid(r, text);
    }
  }
};

TEST_F(PkiIssueTest, RoleDefaultsReadListDelete) {
  create_role("web", json::object());
  json role = ok(read("roles/web"));
  EXPECT_EQ(role["allow_localhost"], true);
  EXPECT_EQ(role["allowed_domains"], json::array());
  EXPECT_EQ(role["allow_bare_domains"], false);
  EXPECT_EQ(role["allow_subdomains"], false);
  EXPECT_EQ(role["allow_glob_domains"], false);
  EXPECT_EQ(role["allow_any_name"], false);
  EXPECT_EQ(role["enforce_hostnames"], true);
  EXPECT_EQ(role["allow_ip_sans"], true);
  EXPECT_EQ(role["server_flag"], true);
  EXPECT_EQ(role["client_flag"], true);
  EXPECT_EQ(role["code_signing_flag"], false);
  EXPECT_EQ(role["key_type"], "rsa");
  EXPECT_EQ(role["key_bits"], 2048);
  EXPECT_EQ(role["key_usage"],
            json::array({"DigitalSignature", "KeyAgreement", "KeyEncipherment"}));
  EXPECT_EQ(role["ext_key_usage"], json::array());
  EXPECT_EQ(role["generate_lease"], false);
  EXPECT_EQ(role["no_store"], false);
  EXPECT_EQ(role["require_cn"], true);
  EXPECT_EQ(role["not_before_duration"], 30);
  EXPECT_EQ(role["ttl"], 0);
  EXPECT_EQ(role["max_ttl"], 0);

  create_role("ec", {{"key_type", "ec"}, {"ttl", "1h"}, {"max_ttl", "2h"}});
  json ec = ok(read("roles/ec"));
  EXPECT_EQ(ec["key_bits"], 256);
  EXPECT_EQ(ec["ttl"], 3600);
  EXPECT_EQ(ec["max_ttl"], 7200);
  create_role("ed", {{"key_type", "ed25519"}, {"key_bits", 4096}});
  EXPECT_EQ(ok(read("roles/ed"))["key_bits"], 0);
  // no_store implies no lease.
  create_role("unstored", {{"no_store", true}, {"generate_lease", true}});
  EXPECT_EQ(ok(read("roles/unstored"))["generate_lease"], false);

  EXPECT_EQ(ok(call(Operation::kList, "roles/"))["keys"],
            json::array({"ec", "ed", "unstored", "web"}));
  ASSERT_TRUE(call(Operation::kDelete, "roles/web"));
  auto gone = read("roles/web");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Code::kNotFound);
  for (const char* name : {"ec", "ed", "unstored"}) {
    ASSERT_TRUE(call(Operation::kDelete, std::string("roles/") + name));
  }
  auto empty = call(Operation::kList, "roles/");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), Code::kNotFound);
}

TEST_F(PkiIssueTest, RoleWriteRefusesBadInput) {
  expect_invalid(write("roles/r", {{"key_type", "dsa"}}), "unknown key type dsa");
  expect_invalid(write("roles/r", {{"key_type", "rsa"}, {"key_bits", 1024}}),
                 "RSA keys < 2048 bits are unsafe and not supported: got 1024");
  expect_invalid(write("roles/r", {{"key_type", "ec"}, {"key_bits", 2048}}),
                 "unsupported bit length for EC key: 2048");
  expect_invalid(write("roles/r", {{"ttl", "2h"}, {"max_ttl", "1h"}}),
                 "\"ttl\" value must be less than \"max_ttl\" value");
  expect_invalid(write("roles/r", {{"ttl", "a while"}}), "ttl");
  expect_invalid(write("roles/r", {{"allow_any_name", "perhaps"}}), "allow_any_name");
  expect_invalid(write("roles/r", {{"key_bits", "big"}}), "key_bits");
  expect_invalid(write("roles/r", {{"ext_key_usage_oids", "1.2.x"}}),
                 "\"1.2.x\" could not be parsed as a valid oid for an extended key usage");
  auto none = read("roles/r");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Code::kNotFound);
}

TEST_F(PkiIssueTest, IssuedCertificateVerifiesAndCarriesWhatTheRoleSays) {
  create_role("web", {{"allowed_domains", "example.com"},
                      {"allow_subdomains", true},
                      {"organization", "Leasefs"},
                      {"ou", "Web"},
                      {"ttl", "24h"},
                      {"max_ttl", "48h"}});
  auto r = write("issue/web", {{"common_name", "web.example.com"},
                               {"alt_names", "API.example.com,www.example.com"},
                               {"ip_sans", "10.0.0.1,::1"},
                               {"ttl", "2h"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->secret);  // no generate_lease: no lease
  const json& data = r->data;
  for (const char* key : {"certificate", "issuing_ca", "ca_chain", "private_key",
                          "private_key_type", "serial_number", "expiration"}) {
    EXPECT_TRUE(data.contains(key)) << key;
  }
  EXPECT_EQ(data["issuing_ca"], ca_pem_);
  EXPECT_EQ(data["ca_chain"], json::array({ca_pem_}));
  EXPECT_EQ(data["private_key_type"], "rsa");
  EXPECT_TRUE(
      data["private_key"].get<std::string>().starts_with("-----BEGIN RSA PRIVATE KEY-----"));
  EXPECT_EQ(data["expiration"], sdk::unix_seconds(clock_.now()) + 7200);

  const std::string cert = data["certificate"];
  expect_verifies(cert, "sslserver");
  expect_verifies(cert, "sslclient");
  std::string text = x509_text(cert);
  EXPECT_NE(text.find("Subject: O = Leasefs, OU = Web, CN = web.example.com"), std::string::npos)
      << text;
  EXPECT_NE(text.find("DNS:web.example.com, DNS:api.example.com, DNS:www.example.com, "
                      "IP Address:10.0.0.1, IP Address:0:0:0:0:0:0:0:1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("X509v3 Key Usage: critical"), std::string::npos) << text;
  EXPECT_NE(text.find("Digital Signature, Key Encipherment, Key Agreement"), std::string::npos)
      << text;
  EXPECT_NE(text.find("TLS Web Server Authentication, TLS Web Client Authentication"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("CA:TRUE"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Authority Key Identifier"), std::string::npos) << text;
  EXPECT_NE(text.find("ecdsa-with-SHA256"), std::string::npos) << text;  // signed by the EC CA

  // The key belongs to the certificate.
  auto from_key = openssl({"pkey", "-pubout", "-in", file("key.pem", data["private_key"])});
  auto from_cert = openssl({"x509", "-noout", "-pubkey", "-in", file("cert.pem", cert)});
  EXPECT_EQ(from_key.out, from_cert.out);

  // Validity: notBefore 30 s back, notAfter = now + ttl.
  auto dates = openssl({"x509", "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601", "-in",
                        file("cert.pem", cert)});
  ASSERT_EQ(dates.exit_code, 0) << dates.err;
  auto iso = [](sdk::WallTime t) {
    std::string s = sdk::rfc3339(t);  // 2026-11-28T13:24:54.123456789Z
    return s.substr(0, 10) + " " + s.substr(11, 8) + "Z";
  };
  EXPECT_NE(dates.out.find("notBefore=" + iso(clock_.now() - 30s)), std::string::npos) << dates.out;
  EXPECT_NE(dates.out.find("notAfter=" + iso(clock_.now() + 2h)), std::string::npos) << dates.out;

  // Stored by serial.
  const std::string serial = data["serial_number"];
  auto stored = ok(read("cert/" + serial));
  EXPECT_EQ(stored["certificate"], cert);
  auto hyphen = serial;
  std::replace(hyphen.begin(), hyphen.end(), ':', '-');
  EXPECT_EQ(ok(read("cert/" + hyphen))["certificate"], cert);
  auto listed = ok(call(Operation::kList, "certs/"))["keys"];
  EXPECT_NE(std::find(listed.begin(), listed.end(), serial), listed.end());
}

TEST_F(PkiIssueTest, KeyUsagesFlagsAndKeyTypesFollowTheRole) {
  create_role("signer", {{"allow_any_name", true},
                         {"key_type", "ed25519"},
                         {"server_flag", false},
                         {"client_flag", false},
                         {"code_signing_flag", true},
                         {"key_usage", "DigitalSignature"},
                         {"ext_key_usage", "TimeStamping"},
                         {"basic_constraints_valid_for_non_ca", true}});
  json data = ok(write("issue/signer", {{"common_name", "builder"}}));
  EXPECT_EQ(data["private_key_type"], "ed25519");
  EXPECT_TRUE(data["private_key"].get<std::string>().starts_with("-----BEGIN PRIVATE KEY-----"));
  std::string text = x509_text(data["certificate"]);
  EXPECT_NE(text.find("ED25519"), std::string::npos) << text;
  EXPECT_NE(text.find("Digital Signature\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Code Signing, Time Stamping"), std::string::npos) << text;
  EXPECT_EQ(text.find("TLS Web Server Authentication"), std::string::npos) << text;
  EXPECT_NE(text.find("CA:FALSE"), std::string::npos) << text;
  // "builder" is a host name: it is also the DNS SAN.
  EXPECT_NE(text.find("DNS:builder"), std::string::npos) << text;
  expect_verifies(data["certificate"]);

  create_role("p384", {{"allow_any_name", true}, {"key_type", "ec"}, {"key_bits", 384}});
  json ec = ok(write(
      "issue/p384",
      {{"common_name", "ec.example.com"}, {"format", "der"}, {"private_key_format", "pkcs8"}}));
  EXPECT_EQ(ec["private_key_type"], "ec");
  auto der = sdk::base64_decode(ec.value("certificate", ""));
  ASSERT_TRUE(der);
  auto key = sdk::base64_decode(ec.value("private_key", ""));
  ASSERT_TRUE(key);
  auto key_text = openssl({"pkey", "-inform", "DER", "-noout", "-text", "-in",
                           file("key.der", std::string(key->view()))});
  EXPECT_NE(key_text.out.find("NIST CURVE: P-384"), std::string::npos) << key_text.out;
  EXPECT_EQ(ec["ca_chain"], json::array({ec["issuing_ca"]}));

  json bundle = ok(write("issue/p384", {{"common_name", "b.example.com"},
                                        {"format", "pem_bundle"},
                                        {"remove_roots_from_chain", true}}));
  EXPECT_FALSE(bundle.contains("ca_chain"));
  const std::string text_bundle = bundle["certificate"];
  EXPECT_TRUE(text_bundle.starts_with("-----BEGIN EC PRIVATE KEY-----"));
}

TEST_F(PkiIssueTest, RoleNameChecksFollowVault) {
  create_role("plain", {{"allowed_domains", "example.com"}, {"allow_localhost", false}});
  create_role("bare", {{"allowed_domains", "example.com"}, {"allow_bare_domains", true}});
  create_role("sub", {{"allowed_domains", "example.com,example.org"}, {"allow_subdomains", true}});
  create_role("glob", {{"allowed_domains", "*.dev.example.com"}, {"allow_glob_domains", true}});
  create_role("any", {{"allow_any_name", true}});
  create_role("loose", {{"allow_any_name", true}, {"enforce_hostnames", false}});
  create_role("noip", {{"allow_any_name", true}, {"allow_ip_sans", false}});
  create_role("uri", {{"allow_any_name", true}, {"allowed_uri_sans", "spiffe://cluster/*"}});
  create_role("nocn", {{"allow_any_name", true}, {"require_cn", false}});

  const std::string cn_refused = " not allowed by this role";
  // allowed_domains alone allows nothing: neither the domain nor its subdomains.
  expect_issue("plain", {{"common_name", "example.com"}}, "common name example.com" + cn_refused);
  expect_issue("plain", {{"common_name", "www.example.com"}},
               "common name www.example.com" + cn_refused);
  expect_issue("plain", {{"common_name", "localhost"}}, "common name localhost" + cn_refused);
  // The default role allows localhost.
  create_role("local", json::object());
  expect_issue("local", {{"common_name", "localhost"}}, "");
  expect_issue("local", {{"common_name", "db.localhost"}}, "common name db.localhost" + cn_refused);

  expect_issue("bare", {{"common_name", "example.com"}}, "");
  expect_issue("bare", {{"common_name", "www.example.com"}},
               "common name www.example.com" + cn_refused);
  expect_issue("bare", {{"common_name", "admin@example.com"}}, "");

  expect_issue("sub", {{"common_name", "a.b.example.com"}}, "");
  expect_issue("sub", {{"common_name", "*.example.org"}}, "");
  expect_issue("sub", {{"common_name", "example.com"}}, "common name example.com" + cn_refused);
  expect_issue("sub", {{"common_name", "badexample.com"}},
               "common name badexample.com" + cn_refused);
  expect_issue("sub",
               {{"common_name", "www.example.com"}, {"alt_names", "api.example.org,evil.com"}},
               "subject alternate name evil.com" + cn_refused);
  expect_issue("sub", {{"common_name", "www.example.com"}, {"alt_names", "ops@evil.com"}},
               "email address ops@evil.com" + cn_refused);
  expect_issue("sub", {{"common_name", "*@example.com"}}, "common name *@example.com" + cn_refused);

  expect_issue("glob", {{"common_name", "api.dev.example.com"}}, "");
  expect_issue("glob", {{"common_name", "api.prod.example.com"}},
               "common name api.prod.example.com" + cn_refused);

  expect_issue("any", {{"common_name", "anything.test"}}, "");
  expect_issue("any", {{"common_name", "not a host"}}, "common name not a host" + cn_refused);
  expect_issue("any", {{"common_name", "under_score.example"}},
               "common name under_score.example" + cn_refused);
  expect_issue("loose", {{"common_name", "not a host"}}, "");

  // IP SANs only with allow_ip_sans; each must be an address.
  expect_issue("any", {{"common_name", "a.test"}, {"ip_sans", "10.0.0.1,fd00::1"}}, "");
  expect_issue("any", {{"common_name", "a.test"}, {"ip_sans", "10.0.0.300"}},
               "the value '10.0.0.300' is not a valid IP address");
  expect_issue("noip", {{"common_name", "a.test"}, {"ip_sans", "10.0.0.1,10.0.0.2"}},
               "IP Subject Alternative Names are not allowed in this role, but was provided "
               "[10.0.0.1 10.0.0.2]");

  // URI SANs only where allowed_uri_sans allows them.
  expect_issue("any", {{"common_name", "a.test"}, {"uri_sans", "spiffe://cluster/web"}},
               "URI Subject Alternative Names are not allowed in this role, but were provided via "
               "the API");
  expect_issue("uri", {{"common_name", "a.test"}, {"uri_sans", "spiffe://other/web"}},
               "URI Subject Alternative Names were provided via CSR which are not valid for this "
               "role");
  json uri =
      ok(write("issue/uri", {{"common_name", "a.test"}, {"uri_sans", "spiffe://cluster/web"}}));
  EXPECT_NE(x509_text(uri["certificate"]).find("URI:spiffe://cluster/web"), std::string::npos);

  // A common name is required unless require_cn is false.
  expect_issue("any", json::object(),
               "the common_name field is required, or must be provided in a CSR with "
               "\"use_csr_common_name\" set to true, unless \"require_cn\" is set to false");
  json nocn = ok(write("issue/nocn", {{"alt_names", "x.test"}}));
  EXPECT_NE(x509_text(nocn["certificate"]).find("DNS:x.test"), std::string::npos);

  // exclude_cn_from_sans keeps the CN out of the SANs, but it is still checked.
  json excluded = ok(write("issue/sub", {{"common_name", "cn.example.com"},
                                         {"alt_names", "san.example.com"},
                                         {"exclude_cn_from_sans", true}}));
  std::string text = x509_text(excluded["certificate"]);
  EXPECT_EQ(text.find("DNS:cn.example.com"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:san.example.com"), std::string::npos) << text;
  expect_issue("sub", {{"common_name", "evil.com"}, {"exclude_cn_from_sans", true}},
               "common name evil.com" + cn_refused);

  // Subject serialNumber values only when allowed.
  expect_issue("any", {{"common_name", "a.test"}, {"serial_number", "X1"}},
               "serial_number X1 not allowed by this role");
}

TEST_F(PkiIssueTest, IssueRefusesUnknownRolesAndBadInput) {
  expect_invalid(write("issue/nope", {{"common_name", "a.example.com"}}), "unknown role: nope");
  create_role("anykey", {{"allow_any_name", true}, {"key_type", "any"}});
  expect_invalid(write("issue/anykey", {{"common_name", "a.test"}}),
                 "role key type \"any\" not allowed for issuing certificates, only signing");
  create_role("web", {{"allow_any_name", true}, {"key_type", "ec"}});
  expect_invalid(write("issue/web", {{"common_name", "a.test"}, {"format", "p12"}}),
                 "the \"format\" path parameter must be \"pem\", \"der\", or \"pem_bundle\"");
  expect_invalid(write("issue/web", {{"common_name", "a.test"}, {"ttl", "later"}}), "ttl");
  expect_invalid(write("issue/web", {{"common_name", "a.test"}, {"ip_sans", json::object()}}),
                 "ip_sans");
  expect_invalid(write("issue/web", {{"common_name", "a.test"}, {"exclude_cn_from_sans", "no?"}}),
                 "exclude_cn_from_sans");
  expect_invalid(write("issue/web", {{"common_name", "a.test"}, {"private_key_format", "x"}}),
                 "private_key_format");
  // Nothing was stored by the failures.
  auto certs = ok(call(Operation::kList, "certs/"))["keys"];
  EXPECT_EQ(certs.size(), 1u);  // the root
}

TEST_F(PkiIssueTest, TtlIsClampedByRoleMountAndCa) {
  create_role("short", {{"allow_any_name", true}, {"key_type", "ec"}, {"max_ttl", "1h"}});
  auto capped = write("issue/short", {{"common_name", "a.test"}, {"ttl", "10h"}});
  ASSERT_TRUE(capped) << capped.error().message();
  EXPECT_EQ(capped->data["expiration"], sdk::unix_seconds(clock_.now()) + 3600);
  ASSERT_EQ(capped->warnings.size(), 1u);
  EXPECT_NE(capped->warnings[0].find("exceeded the effective max_ttl of \"1h\""), std::string::npos)
      << capped->warnings[0];

  // Without a ttl: the role's, else the mount default.
  create_role("withttl", {{"allow_any_name", true}, {"key_type", "ec"}, {"ttl", "90m"}});
  EXPECT_EQ(ok(write("issue/withttl", {{"common_name", "a.test"}}))["expiration"],
            sdk::unix_seconds(clock_.now()) + 5400);
  limits_.default_lease_ttl = 20min;
  limits_.max_lease_ttl = 30min;
  EXPECT_EQ(ok(write("issue/short", {{"common_name", "a.test"}}))["expiration"],
            sdk::unix_seconds(clock_.now()) + 1200);
  // The mount's max wins over a larger role max.
  EXPECT_EQ(ok(write("issue/short", {{"common_name", "a.test"}, {"ttl", "45m"}}))["expiration"],
            sdk::unix_seconds(clock_.now()) + 1800);

  // Never past the CA: the root (8760h) would be outlived by a 9000h certificate.
  limits_ = sdk::MountLimits{.default_lease_ttl = 768h, .max_lease_ttl = 87600h};
  create_role("long", {{"allow_any_name", true}, {"key_type", "ec"}});
  auto too_long = write("issue/long", {{"common_name", "a.test"}, {"ttl", "9000h"}});
  expect_invalid(too_long, "cannot satisfy request, as TTL would result in notAfter ");
  expect_invalid(too_long, " that is beyond the expiration of the CA certificate at ");
  EXPECT_TRUE(write("issue/long", {{"common_name", "a.test"}, {"ttl", "8000h"}}));
  // Later, the same request runs into the CA's end.
  clock_.advance(1000h);
  expect_invalid(write("issue/long", {{"common_name", "a.test"}, {"ttl", "8000h"}}),
                 "beyond the expiration of the CA certificate");
}

TEST_F(PkiIssueTest, SignTakesTheCsrKeyAndNames) {
  create_role("api", {{"allowed_domains", "example.com"}, {"allow_subdomains", true}});
  auto made = openssl({"req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp_ / "csr.key",
                       "-subj", "/CN=api.example.com", "-addext",
                       "subjectAltName=DNS:api.example.com,DNS:alt.example.com,IP:192.0.2.7",
                       "-out", tmp_ / "req.csr"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto csr = openssl({"req", "-in", tmp_ / "req.csr"});
  ASSERT_EQ(csr.exit_code, 0);

  auto r = write("sign/api", {{"csr", csr.out}, {"common_name", "ignored.example.com"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->data.contains("private_key"));
  EXPECT_FALSE(r->data.contains("private_key_type"));
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0],
            "the common_name field was provided but the role is set with "
            "\"use_csr_common_name\" set to true");
  const std::string cert = r->data["certificate"];
  expect_verifies(cert, "sslserver");
  std::string text = x509_text(cert);
  EXPECT_NE(text.find("Subject: CN = api.example.com"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:api.example.com, DNS:alt.example.com, IP Address:192.0.2.7"),
            std::string::npos)
      << text;
  // The certificate carries the CSR's public key.
  auto from_key = openssl({"pkey", "-pubout", "-in", tmp_ / "csr.key"});
  auto from_cert = openssl({"x509", "-noout", "-pubkey", "-in", file("cert.pem", cert)});
  EXPECT_EQ(from_key.out, from_cert.out);

  // With use_csr_sans off, the request's names count instead of the CSR's.
  create_role("own", {{"allowed_domains", "example.com"},
                      {"allow_subdomains", true},
                      {"use_csr_sans", false},
                      {"use_csr_common_name", false}});
  json own = ok(write(
      "sign/own",
      {{"csr", csr.out}, {"common_name", "mine.example.com"}, {"alt_names", "other.example.com"}}));
  text = x509_text(own["certificate"]);
  EXPECT_NE(text.find("Subject: CN = mine.example.com"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:mine.example.com, DNS:other.example.com"), std::string::npos) << text;
  EXPECT_EQ(text.find("alt.example.com"), std::string::npos) << text;

  // The CSR's names are checked against the role too.
  create_role("narrow", {{"allowed_domains", "api.example.com"}, {"allow_bare_domains", true}});
  expect_invalid(write("sign/narrow", {{"csr", csr.out}}),
                 "subject alternate name alt.example.com not allowed by this role");
  create_role("noip", {{"allow_any_name", true}, {"allow_ip_sans", false}});
  expect_invalid(write("sign/noip", {{"csr", csr.out}}),
                 "IP Subject Alternative Names are not allowed in this role, but was provided some "
                 "via CSR");
}

TEST_F(PkiIssueTest, SignChecksKeyTypeAndRefusesBadCsrs) {
  auto ec = openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", tmp_ / "ec.key", "-subj", "/CN=ec.example.com"});
  ASSERT_EQ(ec.exit_code, 0) << ec.err;
  create_role("rsa", {{"allow_any_name", true}, {"key_type", "rsa"}});
  create_role("ec384", {{"allow_any_name", true}, {"key_type", "ec"}, {"key_bits", 384}});
  create_role("any", {{"allow_any_name", true}, {"key_type", "any"}});
  expect_invalid(write("sign/rsa", {{"csr", ec.out}}), "role requires keys of type rsa");
  expect_invalid(write("sign/ec384", {{"csr", ec.out}}),
                 "role requires a minimum of a 384-bit key, but CSR's key is 256 bits");
  json signed_any = ok(write("sign/any", {{"csr", ec.out}}));
  expect_verifies(signed_any["certificate"]);

  auto weak = openssl({"req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", tmp_ / "w.key",
                       "-subj", "/CN=weak.example.com"});
  ASSERT_EQ(weak.exit_code, 0) << weak.err;
  expect_invalid(write("sign/any", {{"csr", weak.out}}),
                 "RSA keys < 2048 bits are unsafe and not supported");

  expect_invalid(write("sign/any", json::object()), "\"csr\" is empty");
  expect_invalid(write("sign/any", {{"csr", "hello"}}), "csr contains no data");
  expect_invalid(write("sign/any", {{"csr",
                                     "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                     "-----END CERTIFICATE REQUEST-----\n"}}),
                 "certificate request could not be parsed");
  expect_invalid(write("sign/any", {{"csr", ca_pem_}}), "certificate request could not be parsed");

  // Flip a byte inside the signature: the CSR still parses, but does not verify.
  std::string b64;
  for (std::size_t pos = ec.out.find('\n') + 1; pos < ec.out.find("-----END"); ++pos) {
    if (ec.out[pos] != '\n') b64 += ec.out[pos];
  }
  auto der = sdk::base64_decode(b64);
  ASSERT_TRUE(der);
  std::string bytes(der->view());
  bytes[bytes.size() - 5] ^= 0x01;
  std::string tampered = "-----BEGIN CERTIFICATE REQUEST-----\n" + sdk::base64_encode(bytes) +
                         "\n-----END CERTIFICATE REQUEST-----\n";
  expect_invalid(write("sign/any", {{"csr", tampered}}), "request signature invalid");
}

}  // namespace
}  // namespace leasefs::engines::pki
