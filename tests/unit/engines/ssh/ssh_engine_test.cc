// The SSH engine without a server: the wire encoding, CA keys of every type (generated
// and imported), certificates whose principals, validity, key ID, extensions and
// signing CA `ssh-keygen -L` shows as the role says, and bad input refused with 4xx
// errors before anything is signed.
#include <regex>

#include <sys/stat.h>

#include "backend/sdk/encoding.h"
#include "engines/ssh/openssh.h"
#include "tests/unit/engines/ssh/ssh_test_util.h"

namespace leasefs::engines::ssh {
namespace {

TEST(SshWire, StringsIntegersAndMpints) {
  WireWriter w;
  w.u32(0x01020304);
  w.u64(0x0102030405060708ull);
  w.string("ab");
  w.mpint(std::string("\x00\x80", 2));  // leading zero dropped, sign byte added
  w.mpint(std::string("\x7f", 1));
  w.mpint("");
  EXPECT_EQ(w.bytes(), std::string("\x01\x02\x03\x04"
                                   "\x01\x02\x03\x04\x05\x06\x07\x08"
                                   "\x00\x00\x00\x02"
                                   "ab"
                                   "\x00\x00\x00\x02\x00\x80"
                                   "\x00\x00\x00\x01\x7f"
                                   "\x00\x00\x00\x00",
                                   33));
  WireReader r(w.bytes());
  std::uint32_t v = 0;
  ASSERT_TRUE(r.u32(v));
  EXPECT_EQ(v, 0x01020304u);
  std::string_view s;
  EXPECT_TRUE(r.u32(v) && r.u32(v));  // the u64
  ASSERT_TRUE(r.string(s));
  EXPECT_EQ(s, "ab");
  const std::string truncated("\x00\x00\x00\x09xx", 6);
  WireReader short_read(truncated);
  EXPECT_FALSE(short_read.string(s));
}

// Mutations of valid keys of every type (flipped bytes, truncations, grown length
// fields): parse_public_key must answer each with a value or an invalid_argument, never
// crash or read out of bounds (this runs under ASan in the sanitizer pass).
TEST_F(SshTest, PublicKeyParserSurvivesMutations) {
  std::vector<std::string> blobs;
  for (const char* type : {"ed25519", "ecdsa", "rsa"}) {
    const std::string line = slurp(user_key(type, std::string("m_") + type) + ".pub");
    auto parsed = parse_public_key(line);
    ASSERT_TRUE(parsed) << parsed.error().message();
    blobs.push_back(parsed->blob);
  }
  sdk::SeededRandom random(20261128);
  auto next = [&](std::uint32_t bound) {
    std::uint8_t b[4];
    (void)random.fill(b);
    return (static_cast<std::uint32_t>(b[0]) << 24 | b[1] << 16 | b[2] << 8 | b[3]) % bound;
  };
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string blob = blobs[next(static_cast<std::uint32_t>(blobs.size()))];
    switch (next(3)) {
      case 0:
        blob[next(static_cast<std::uint32_t>(blob.size()))] = static_cast<char>(next(256));
        break;
      case 1:
        blob.resize(next(static_cast<std::uint32_t>(blob.size())));
        break;
      default:  // a length prefix pointing past the end
        blob[next(static_cast<std::uint32_t>(std::min<std::size_t>(blob.size(), 8)))] = '\x7f';
        break;
    }
    WireReader r(blob);
    std::string_view type;
    const std::string name = r.string(type) ? std::string(type) : "ssh-ed25519";
    auto parsed = parse_public_key(name + " " + sdk::base64_encode(blob));
    if (parsed) {
      ++accepted;
    } else {
      EXPECT_EQ(parsed.error().code(), Code::kInvalidArgument);
    }
  }
  EXPECT_LT(accepted, 20000);
}

TEST_F(SshTest, CaOfEveryTypeAndPublicKeyPath) {
  auto none = read("public_key");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Code::kNotFound);
  for (auto [type, bits, prefix] :
       {std::tuple{"ed25519", 0, "ssh-ed25519 "}, std::tuple{"ec", 0, "ecdsa-sha2-nistp256 "},
        std::tuple{"ssh-rsa", 2048, "ssh-rsa "}}) {
    SCOPED_TRACE(type);
    const std::string line = generate_ca(type, bits);
    EXPECT_TRUE(line.starts_with(prefix)) << line;
    // ssh-keygen reads what the engine wrote.
    auto fp =
        leasefs::testing::run_process({"/usr/bin/ssh-keygen", "-l", "-f", file("ca.pub", line)});
    EXPECT_EQ(fp.exit_code, 0) << fp.err;
    auto raw = read("public_key");
    ASSERT_TRUE(raw) << raw.error().message();
    ASSERT_TRUE(raw->raw);
    EXPECT_EQ(raw->raw->content_type, "text/plain");
    EXPECT_EQ(raw->raw->body, line + "\n");
    auto again = write("config/ca", {{"key_type", "ed25519"}});
    expect_invalid(again, "keys are already configured");
    ASSERT_TRUE(call(Operation::kDelete, "config/ca"));
  }
  expect_invalid(write("config/ca", {{"key_type", "dsa"}}), "unknown key_type");
  const sdk::SpecialPaths& special = engine_->special_paths();
  EXPECT_EQ(special.unauthenticated, std::vector<std::string>{"public_key"});
}

// The mount writes generated Ed25519 keys in OpenSSH's own format: ssh-keygen reads the
// file back (-y) and derives the same public key; other key types are refused.
TEST_F(SshTest, Ed25519KeyInOpensshFormat) {
  auto key = generate_ca_key("ed25519", 0);
  ASSERT_TRUE(key) << key.error().message();
  auto pem = openssh_private_key(key->get(), "leasefs mount");
  ASSERT_TRUE(pem) << pem.error().message();
  const std::string text(pem->view());
  EXPECT_TRUE(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n")) << "unexpected header";
  EXPECT_TRUE(text.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
  const std::string path = file("gen_ed25519", text);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto derived = leasefs::testing::run_process({"/usr/bin/ssh-keygen", "-y", "-f", path});
  ASSERT_EQ(derived.exit_code, 0) << derived.err;
  auto pub = public_key_of(key->get());
  ASSERT_TRUE(pub);
  EXPECT_EQ(derived.out.substr(0, derived.out.find_first_of(" \n", derived.out.find(' ') + 1)),
            public_key_line(*pub));
  auto ec = generate_ca_key("ec", 256);
  ASSERT_TRUE(ec);
  auto refused = openssh_private_key(ec->get(), "");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kInvalidArgument);
}

TEST_F(SshTest, ImportedCaKeySigns) {
  auto gen =
      leasefs::testing::run_process({"/usr/bin/openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                                     "ec_paramgen_curve:P-256", "-out", tmp_ / "ca.pem"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const std::string pem = slurp(tmp_ / "ca.pem");
  auto pub = leasefs::testing::run_process({"/usr/bin/ssh-keygen", "-y", "-f", tmp_ / "ca.pem"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  const std::string other = slurp(user_key("ed25519", "other") + ".pub");
  auto mismatch = write("config/ca", {{"private_key", pem}, {"public_key", other}});
  expect_invalid(mismatch, "does not match");
  auto r = write("config/ca", {{"private_key", pem}, {"public_key", pub.out}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->data["public_key"], pub.out.substr(0, pub.out.find_last_not_of('\n') + 1));
  expect_invalid(write("config/ca", {{"private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n"}}),
                 "already configured");
  ASSERT_TRUE(call(Operation::kDelete, "config/ca"));
  expect_invalid(write("config/ca", {{"private_key", "not a key"}}),
                 "private_key could not be parsed");
}

TEST_F(SshTest, CertificatesShowWhatTheRoleAllows) {
  for (auto [ca_type, signer, shown] :
       {std::tuple{"ed25519", "default", "ED25519"}, std::tuple{"ec", "default", "ECDSA"},
        std::tuple{"ssh-rsa", "rsa-sha2-512", "RSA"}}) {
    SCOPED_TRACE(ca_type);
    generate_ca(ca_type, ca_type == std::string("ssh-rsa") ? 2048 : 0);
    ASSERT_TRUE(write("roles/dev", {{"key_type", "ca"},
                                    {"allow_user_certificates", true},
                                    {"allowed_users", "alice,bob"},
                                    {"default_extensions", {{"permit-pty", ""}}},
                                    {"allowed_extensions", "permit-pty,permit-port-forwarding"},
                                    {"allowed_critical_options", "force-command"},
                                    {"algorithm_signer", signer},
                                    {"ttl", "1h"},
                                    {"max_ttl", "4h"}}));
    for (const char* key_type : {"ed25519", "ecdsa", "rsa"}) {
      SCOPED_TRACE(key_type);
      const std::string key = user_key(key_type, std::string("id_") + key_type + "_" + ca_type);
      auto r = sign("dev", key, {{"valid_principals", "alice,bob"}});
      ASSERT_TRUE(r) << r.error().message();
      const std::string serial = r->data["serial_number"];
      EXPECT_TRUE(std::regex_match(serial, std::regex("[0-9a-f]{16}"))) << serial;
      ASSERT_TRUE(r->secret);
      EXPECT_FALSE(r->secret->renewable);
      EXPECT_EQ(r->secret->ttl, 1h);
      const std::string text = describe(key + "-cert.pub");
      EXPECT_NE(text.find("user certificate"), std::string::npos) << text;
      EXPECT_NE(text.find("Serial: " + std::to_string(std::stoull(serial, nullptr, 16))),
                std::string::npos)
          << text;
      EXPECT_TRUE(std::regex_search(text, std::regex("Principals: \n\\s+alice\n\\s+bob\n")))
          << text;
      EXPECT_TRUE(std::regex_search(text, std::regex("Key ID: \"vault-token-[0-9a-f]{64}\"")))
          << text;
      EXPECT_TRUE(std::regex_search(text, std::regex("Extensions: \n\\s+permit-pty\n"))) << text;
      EXPECT_NE(text.find("Critical Options: (none)"), std::string::npos) << text;
      EXPECT_NE(text.find(std::string("Signing CA: ") + shown), std::string::npos) << text;
      if (std::string(signer) == "rsa-sha2-512") {
        EXPECT_NE(text.find("using rsa-sha2-512"), std::string::npos) << text;
      }
      // Validity: from now - 30 s to now + 1 h, as ssh-keygen prints it in local time.
      std::smatch m;
      ASSERT_TRUE(std::regex_search(text, m, std::regex("Valid: from (\\S+) to (\\S+)"))) << text;
    }
    // Extensions and critical options from the request, where allowed.
    const std::string key = user_key("ed25519", std::string("opts_") + ca_type);
    auto r = sign("dev", key,
                  {{"valid_principals", "bob"},
                   {"extensions", {{"permit-port-forwarding", ""}}},
                   {"critical_options", {{"force-command", "/bin/date"}}},
                   {"ttl", "2h"}});
    ASSERT_TRUE(r) << r.error().message();
    const std::string text = describe(key + "-cert.pub");
    EXPECT_TRUE(std::regex_search(text, std::regex("Extensions: \n\\s+permit-port-forwarding\n")))
        << text;
    EXPECT_TRUE(std::regex_search(text, std::regex("force-command /bin/date"))) << text;
    EXPECT_EQ(r->secret->ttl, 2h);
    ASSERT_TRUE(call(Operation::kDelete, "config/ca"));
  }
}

TEST_F(SshTest, ValidityFollowsTheClock) {
  generate_ca("ed25519");
  ASSERT_TRUE(write("roles/r", {{"key_type", "ca"},
                                {"allow_user_certificates", true},
                                {"allowed_users", "*"},
                                {"ttl", "10m"}}));
  clock_.set(sdk::WallTime(std::chrono::seconds(1'800'000'000)));
  const std::string key = user_key("ed25519", "k");
  ASSERT_TRUE(sign("r", key, {{"valid_principals", "x"}}));
  auto r = leasefs::testing::run_process({"/usr/bin/ssh-keygen", "-L", "-f", key + "-cert.pub"}, "",
                                         std::chrono::seconds(30), {"TZ=UTC"});
  EXPECT_NE(r.out.find("Valid: from 2027-01-15T07:59:30 to 2027-01-15T08:10:00"), std::string::npos)
      << r.out;
}

TEST_F(SshTest, BadInputIsRefusedBeforeSigning) {
  expect_invalid(write("sign/none", {{"public_key", "x"}}), "Unknown role: none");
  ASSERT_TRUE(write("roles/dev", {{"key_type", "ca"},
                                  {"allow_user_certificates", true},
                                  {"allowed_users", "alice"},
                                  {"ttl", "1h"},
                                  {"max_ttl", "2h"}}));
  const std::string key = user_key("ed25519", "k");
  expect_invalid(sign("dev", key, {{"valid_principals", "alice"}}), "keys haven't been configured");
  generate_ca("ed25519");
  const std::string good = slurp(key + ".pub");
  const std::string b64 = good.substr(good.find(' ') + 1, good.rfind(' ') - good.find(' ') - 1);
  for (auto [bad, text] :
       {std::pair{"", "missing public_key"}, std::pair{"garbage", "failed to parse public_key"},
        std::pair{"ssh-ed25519 !!!notbase64", "bad base64"},
        std::pair{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "malformed ssh-ed25519"},
        std::pair{"ssh-dss AAAAB3NzaC1kc3M=", "not supported"}}) {
    SCOPED_TRACE(bad);
    expect_invalid(write("sign/dev", {{"public_key", bad}, {"valid_principals", "alice"}}), text);
  }
  expect_invalid(write("sign/dev", {{"public_key", "ecdsa-sha2-nistp256 " + b64},
                                    {"valid_principals", "alice"}}),
                 "does not match its data");
  expect_invalid(write("sign/dev", {{"public_key", "ssh-ed25519-cert-v01@openssh.com " + b64}}),
                 "is a certificate");
  expect_invalid(sign("dev", key, {{"valid_principals", "alice,mallory"}}),
                 "mallory is not a valid value for valid_principals");
  expect_invalid(sign("dev", key, {{"valid_principals", "alice\"; rm -rf /"}}),
                 "is not a valid value for valid_principals");
  expect_invalid(sign("dev", key), "empty valid principals not allowed by role");
  expect_invalid(sign("dev", key, {{"valid_principals", "alice"}, {"ttl", "3h"}}),
                 "ttl is larger than maximum allowed (7200)");
  expect_invalid(
      sign("dev", key, {{"valid_principals", "alice"}, {"extensions", {{"permit-pty", ""}}}}),
      "are not on allowed list");
  expect_invalid(sign("dev", key, {{"valid_principals", "alice"}, {"cert_type", "host"}}),
                 "cert_type 'host' is not allowed by role");
  expect_invalid(sign("dev", key, {{"valid_principals", "alice"}, {"cert_type", "both"}}),
                 "cert_type must be either 'user' or 'host'");
  expect_invalid(sign("dev", key, {{"valid_principals", "alice"}, {"key_id", "mine"}}),
                 "setting key_id is not allowed");
  // Roles refuse what they cannot serve.
  expect_invalid(write("roles/otp", {{"key_type", "otp"}}), "not supported");
  expect_invalid(write("roles/none", {{"key_type", "ca"}}), "must be set to 'true'");
  expect_invalid(write("roles/ttl", {{"key_type", "ca"},
                                     {"allow_user_certificates", true},
                                     {"ttl", "3h"},
                                     {"max_ttl", "1h"}}),
                 "ttl cannot be longer than max_ttl");
  expect_invalid(write("roles/a\"b", {{"key_type", "ca"}}), "invalid role name");
  // Minimum key lengths.
  ASSERT_TRUE(write("roles/strict", {{"key_type", "ca"},
                                     {"allow_user_certificates", true},
                                     {"allowed_users", "*"},
                                     {"allowed_user_key_lengths", {{"rsa", 3072}}}}));
  expect_invalid(sign("strict", key, {{"valid_principals", "x"}}),
                 "key type of ssh-ed25519 is not allowed");
  const std::string rsa = user_key("rsa", "rsa");
  expect_invalid(sign("strict", rsa, {{"valid_principals", "x"}}), "invalid size: 2048");
}

TEST_F(SshTest, HostCertificates) {
  generate_ca("ed25519");
  ASSERT_TRUE(write("roles/hosts", {{"key_type", "ca"},
                                    {"allow_host_certificates", true},
                                    {"allowed_domains", "example.com"},
                                    {"allow_subdomains", true}}));
  const std::string key = user_key("ed25519", "host");
  auto r = sign("hosts", key, {{"cert_type", "host"}, {"valid_principals", "web.example.com"}});
  ASSERT_TRUE(r) << r.error().message();
  const std::string text = describe(key + "-cert.pub");
  EXPECT_NE(text.find("host certificate"), std::string::npos) << text;
  EXPECT_NE(text.find("web.example.com"), std::string::npos) << text;
  expect_invalid(sign("hosts", key, {{"cert_type", "host"}, {"valid_principals", "example.com"}}),
                 "is not a valid value");
  expect_invalid(sign("hosts", key, {{"cert_type", "host"}, {"valid_principals", "evil.com"}}),
                 "is not a valid value");
  // The lease of a certificate has nothing to revoke.
  auto req = request(Operation::kUpdate, "sys/leases/revoke");
  sdk::LeaseInfo lease{.lease_id = "ssh/sign/hosts/x",
                       .secret_type = r->secret->type,
                       .internal = r->secret->internal,
                       .issue_time = {},
                       .expire_time = {},
                       .increment = {}};
  EXPECT_TRUE(engine_->revoke_secret(req, lease));
}

}  // namespace
}  // namespace leasefs::engines::ssh
