// The PKI engine's building blocks on their own: Vault's name rules (validateNames,
// hostname test, go-glob), key type rules, serial formats, time formats, key and
// certificate encodings, and CSR parsing.
#include "engines/pki/cert_util.h"

#include <gtest/gtest.h>

#include "engines/pki/role.h"

namespace leasefs::engines::pki {
namespace {

TEST(PkiRoleRules, HostnamesAsVaultChecksThem) {
  for (const char* ok : {"example.com", "a", "a-b.c", "*.example.com", "xn--bcher-kva.example",
                         "1.2.3.4", "A.EXAMPLE.COM"}) {
    EXPECT_TRUE(is_hostname(ok)) << ok;
  }
  for (const char* bad : {"", "-a.com", "a-.com", "a..com", "a.com.", "under_score.com",
                          "sp ace.com", "*.", "a.*.com",
                          "b\xc3\xbc"
                          "cher.de",
                          "**.example.com"}) {
    EXPECT_FALSE(is_hostname(bad)) << bad;
  }
  EXPECT_FALSE(is_hostname(std::string(64, 'a') + ".com"));
  EXPECT_TRUE(is_hostname(std::string(63, 'a') + ".com"));
  std::string long_name;
  for (int i = 0; i < 50; ++i) long_name += "abcd.";
  long_name += "com";  // 253 characters
  EXPECT_TRUE(is_hostname(long_name));
  EXPECT_FALSE(is_hostname("x" + long_name));
}

TEST(PkiRoleRules, GlobMatchesLikeGoGlob) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(glob_match("*.example.com", "example.com"));
  EXPECT_TRUE(glob_match("ftp*.example.com", "ftp1.example.com"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbY"));
  EXPECT_TRUE(glob_match("abc", "abc"));
  EXPECT_FALSE(glob_match("abc", "abcd"));
  EXPECT_TRUE(glob_match("spiffe://cluster/*", "spiffe://cluster/ns/web"));
}

TEST(PkiRoleRules, FirstDisallowedNameFollowsValidateNames) {
  Role r;
  r.allow_localhost = false;
  r.allowed_domains = {"example.com", ""};
  EXPECT_EQ(first_disallowed_name(r, {"example.com"}), "example.com");
  r.allow_bare_domains = true;
  EXPECT_EQ(first_disallowed_name(r, {"example.com", "ops@example.com"}), "");
  EXPECT_EQ(first_disallowed_name(r, {"example.com", "www.example.com"}), "www.example.com");
  r.allow_subdomains = true;
  EXPECT_EQ(first_disallowed_name(r, {"www.example.com", "*.example.com", "a.b.example.com"}), "");
  EXPECT_EQ(first_disallowed_name(r, {"notexample.com"}), "notexample.com");
  // A wildcard e-mail domain is never allowed; "*@" is just an odd mailbox name.
  EXPECT_EQ(first_disallowed_name(r, {"a@*.example.com"}), "a@*.example.com");
  EXPECT_EQ(first_disallowed_name(r, {"*@example.com"}), "");
  EXPECT_EQ(first_disallowed_name(r, {"a@b@example.com"}), "a@b@example.com");
  EXPECT_EQ(first_disallowed_name(r, {"localhost"}), "localhost");
  r.allow_localhost = true;
  EXPECT_EQ(first_disallowed_name(r, {"localhost", "localdomain", "db.localhost"}), "");
  r.allow_subdomains = false;
  EXPECT_EQ(first_disallowed_name(r, {"db.localhost"}), "db.localhost");

  Role any;
  any.allow_any_name = true;
  EXPECT_EQ(first_disallowed_name(any, {"whatever.org", "user@anywhere.net"}), "");
  EXPECT_EQ(first_disallowed_name(any, {"bad name"}), "bad name");  // enforce_hostnames
  any.enforce_hostnames = false;
  EXPECT_EQ(first_disallowed_name(any, {"bad name"}), "");

  Role glob;
  glob.allowed_domains = {"*.dev.example.com"};
  EXPECT_EQ(first_disallowed_name(glob, {"a.dev.example.com"}), "a.dev.example.com");
  glob.allow_glob_domains = true;
  EXPECT_EQ(first_disallowed_name(glob, {"a.dev.example.com", "x.y.dev.example.com"}), "");
  EXPECT_EQ(first_disallowed_name(glob, {"dev.example.com"}), "dev.example.com");
}

TEST(PkiRoleRules, KeyTypeLengthsAsVault) {
  EXPECT_EQ(*validate_key_type_length("rsa", 0, false), 2048);
  EXPECT_EQ(*validate_key_type_length("rsa", 3072, false), 3072);
  EXPECT_EQ(*validate_key_type_length("rsa", 4096, false), 4096);
  EXPECT_EQ(*validate_key_type_length("ec", 0, false), 256);
  EXPECT_EQ(*validate_key_type_length("ec", 521, false), 521);
  EXPECT_EQ(*validate_key_type_length("ed25519", 999, false), 0);
  EXPECT_EQ(*validate_key_type_length("any", 0, true), 0);
  EXPECT_EQ(validate_key_type_length("any", 0, false).error().message(), "unknown key type any");
  EXPECT_EQ(validate_key_type_length("rsa", 1024, false).error().message(),
            "RSA keys < 2048 bits are unsafe and not supported: got 1024");
  EXPECT_EQ(validate_key_type_length("rsa", 5000, false).error().message(),
            "unsupported bit length for RSA key: 5000");
  EXPECT_EQ(validate_key_type_length("ec", 255, false).error().message(),
            "unsupported bit length for EC key: 255");
  EXPECT_EQ(validate_key_type_length("dsa", 0, false).error().message(), "unknown key type dsa");
}

TEST(PkiRoleRules, UsagesAndCodec) {
  EXPECT_EQ(key_usage_bits({"DigitalSignature", " keyencipherment ", "Bogus"}),
            kDigitalSignature | kKeyEncipherment);
  Role r;
  EXPECT_EQ(ext_key_usage_oids(r),
            (std::vector<std::string>{"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"}));
  r.server_flag = false;
  r.ext_key_usage = {"OCSPSigning", "Any"};
  r.ext_key_usage_oids = {"1.2.3.4"};
  EXPECT_EQ(ext_key_usage_oids(r), (std::vector<std::string>{"2.5.29.37.0", "1.3.6.1.5.5.7.3.2",
                                                             "1.3.6.1.5.5.7.3.9", "1.2.3.4"}));
  r.allowed_domains = {"a.com"};
  r.ttl = std::chrono::hours(1);
  r.generate_lease = true;
  auto back = decode_role("role/x", encode_role(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(encode_role(*back), encode_role(r));
  EXPECT_FALSE(decode_role("role/x", "[]"));
  EXPECT_EQ(decode_role("role/x", "{").error().code(), sdk::Code::kDataLoss);

  EXPECT_TRUE(valid_role_name("web"));
  EXPECT_TRUE(valid_role_name("web-1.internal_x"));
  EXPECT_FALSE(valid_role_name("-web"));
  EXPECT_FALSE(valid_role_name("web."));
  EXPECT_FALSE(valid_role_name("we b"));
  EXPECT_EQ(go_list({"a", "b"}), "[a b]");
  EXPECT_EQ(dedup({"b", "a", "b"}), (std::vector<std::string>{"b", "a"}));
}

TEST(PkiCertUtil, SerialAndTimeFormats) {
  EXPECT_EQ(colon_hex({0x0a, 0xff, 0x00}), "0a:ff:00");
  EXPECT_EQ(*parse_serial("0a:ff:00"), (std::vector<std::uint8_t>{0x0a, 0xff, 0x00}));
  EXPECT_EQ(*parse_serial("0A-FF-00"), (std::vector<std::uint8_t>{0x0a, 0xff, 0x00}));
  for (const char* bad : {"", "a", "0a:", "0a::ff", "0g", "0a ff", "0aff"}) {
    EXPECT_FALSE(parse_serial(bad)) << bad;
  }
  const sdk::WallTime t{std::chrono::seconds(1'700'000'000)};
  EXPECT_EQ(go_rfc3339_nano(t), "2023-11-14T22:13:20Z");
  EXPECT_EQ(go_rfc3339_nano(t + std::chrono::milliseconds(120)), "2023-11-14T22:13:20.12Z");
  EXPECT_EQ(go_rfc3339_nano(t + std::chrono::nanoseconds(1)), "2023-11-14T22:13:20.000000001Z");
}

TEST(PkiCertUtil, SelfSignedCertificateRoundTrip) {
  for (KeyType type : {KeyType::kEc, KeyType::kEd25519}) {
    auto key = generate_key(type, 256);
    ASSERT_TRUE(key) << key.error().message();
    auto info = key_info(key->get());
    ASSERT_TRUE(info);
    EXPECT_EQ(info->type, type);

    CertTemplate t;
    t.serial = std::vector<std::uint8_t>(20, 0x7f);
    t.subject.common_name = "unit";
    t.dns_names = {"unit.example"};
    t.ip_addresses = {{127, 0, 0, 1}};
    t.not_before = sdk::WallTime(std::chrono::seconds(1'700'000'000));
    t.not_after = t.not_before + std::chrono::hours(1);
    t.is_ca = true;
    t.key_usage = kCertSign | kCrlSign;
    auto der = build_certificate(t, key->get(), nullptr, nullptr);
    ASSERT_TRUE(der) << der.error().message();
    auto cert = parse_certificate_der(*der);
    ASSERT_TRUE(cert);
    EXPECT_EQ(serial_bytes(cert->get()), t.serial);
    EXPECT_EQ(not_before(cert->get()), t.not_before);
    EXPECT_EQ(not_after(cert->get()), t.not_after);
    EXPECT_TRUE(is_ca_certificate(cert->get()));
    auto back = certificate_der_from_pem(pem_encode("CERTIFICATE", *der));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, *der);

    // Key encodings read back.
    auto pem = private_key_pem(key->get(), KeyFormat::kTraditional);
    ASSERT_TRUE(pem);
    EXPECT_TRUE(parse_private_key_pem(pem->view()));
    auto pkcs8 = private_key_pem(key->get(), KeyFormat::kPkcs8);
    ASSERT_TRUE(pkcs8);
    EXPECT_TRUE(pkcs8->view().starts_with("-----BEGIN PRIVATE KEY-----"));
  }
  EXPECT_EQ(parse_private_key_pem("not a key").error().code(), sdk::Code::kDataLoss);
  EXPECT_EQ(parse_certificate_der("junk").error().code(), sdk::Code::kDataLoss);

  // Values X.509 cannot hold are the client's fault.
  auto key = generate_key(KeyType::kEc, 256);
  ASSERT_TRUE(key);
  CertTemplate t;
  t.serial = {1};
  t.subject.country = {"Germany"};
  EXPECT_EQ(build_certificate(t, key->get(), nullptr, nullptr).error().code(),
            sdk::Code::kInvalidArgument);
  t.subject.country.clear();
  t.email_addresses = {"j\xc3\xb6rg@example.com"};
  EXPECT_EQ(build_certificate(t, key->get(), nullptr, nullptr).error().code(),
            sdk::Code::kInvalidArgument);
}

TEST(PkiCertUtil, CsrParsingErrors) {
  EXPECT_EQ(parse_csr("").error().message(), "\"csr\" is empty");
  EXPECT_EQ(parse_csr("garbage").error().message(), "csr contains no data");
  EXPECT_EQ(parse_csr("-----BEGIN X-----\n!!!\n-----END X-----\n").error().message(),
            "csr contains no data");
  auto bad =
      parse_csr("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().message().starts_with("certificate request could not be parsed: "))
      << bad.error().message();
}

}  // namespace
}  // namespace leasefs::engines::pki
