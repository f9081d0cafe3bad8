// Root CA generation for each key type, Vault's single-issuer answers (a second
// generate is refused with a warning), DELETE root, the unauthenticated fetch paths,
// config/urls and config/crl, and bad input to root/generate.
#include <regex>

#include <openssl/x509.h>

#include "backend/sdk/encoding.h"
#include "tests/unit/engines/pki/pki_test_util.h"

namespace leasefs::engines::pki {
namespace {

const std::regex kSerial("^[0-9a-f]{2}(:[0-9a-f]{2}){19}$");
const std::regex kUuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

TEST_F(PkiTest, RootGenerateInternalRsaAnswersVaultsFields) {
  limits_ = sdk::MountLimits{};  // an untuned mount: 768h default and max
  json data = generate_root();
  EXPECT_TRUE(std::regex_match(data.value("serial_number", ""), kSerial)) << data.dump();
  EXPECT_TRUE(std::regex_match(data.value("issuer_id", ""), kUuid)) << data.dump();
  EXPECT_TRUE(std::regex_match(data.value("key_id", ""), kUuid)) << data.dump();
  EXPECT_EQ(data["certificate"], data["issuing_ca"]);
  EXPECT_FALSE(data.contains("private_key"));
  EXPECT_FALSE(data.contains("private_key_type"));
  const std::int64_t now = sdk::unix_seconds(clock_.now());
  // ttl 87600h is capped by the mount's max (768h), as Vault does.
  EXPECT_NEAR(data["expiration"].get<std::int64_t>(), now + 768 * 3600, 2);

  std::string text = x509_text(data["certificate"]);
  EXPECT_NE(text.find("Subject: CN = Leasefs Test Root"), std::string::npos) << text;
  EXPECT_NE(text.find("Issuer: CN = Leasefs Test Root"), std::string::npos) << text;
  EXPECT_NE(text.find("CA:TRUE"), std::string::npos) << text;
  EXPECT_NE(text.find("Certificate Sign, CRL Sign"), std::string::npos) << text;
  EXPECT_NE(text.find("Public-Key: (2048 bit)"), std::string::npos) << text;
  EXPECT_NE(text.find("sha256WithRSAEncryption"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Subject Key Identifier"), std::string::npos) << text;
  // A common name that is not a host name stays out of the SANs.
  EXPECT_EQ(text.find("Subject Alternative Name"), std::string::npos) << text;

  // Self-signed and valid now.
  expect_verifies(data["certificate"]);
  // Listed and readable by serial, like any certificate.
  auto certs = ok(call(Operation::kList, "certs/"));
  EXPECT_EQ(certs["keys"], json::array({data["serial_number"]}));
  auto by_serial = ok(read("cert/" + data["serial_number"].get<std::string>()));
  EXPECT_EQ(by_serial["certificate"], data["certificate"]);
  EXPECT_EQ(by_serial["revocation_time"], 0);
}

TEST_F(PkiTest, RootGenerateExportedForEachKeyType) {
  struct Case {
    json request;
    std::string key_type;
    std::string pem_header;
    std::string text;  // in `openssl x509 -text`
  };
  const std::vector<Case> cases = {
      {{{"key_type", "rsa"}, {"key_bits", 2048}},
       "rsa",
       "-----BEGIN RSA PRIVATE KEY-----",
       "Public-Key: (2048 bit)"},
      {{{"key_type", "ec"}}, "ec", "-----BEGIN EC PRIVATE KEY-----", "NIST CURVE: P-256"},
      {{{"key_type", "ec"}, {"key_bits", 256}},
       "ec",
       "-----BEGIN EC PRIVATE KEY-----",
       "ecdsa-with-SHA256"},
      {{{"key_type", "ec"}, {"key_bits", 384}},
       "ec",
       "-----BEGIN EC PRIVATE KEY-----",
       "ecdsa-with-SHA384"},
      {{{"key_type", "ed25519"}}, "ed25519", "-----BEGIN PRIVATE KEY-----", "ED25519"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.request.dump());
    ASSERT_TRUE(call(Operation::kDelete, "root"));
    json request = c.request;
    request["common_name"] = "root.example.com";
    json data = generate_root(request, "exported");
    EXPECT_EQ(data["private_key_type"], c.key_type);
    const std::string key = data.value("private_key", "");
    EXPECT_TRUE(key.starts_with(c.pem_header)) << key.substr(0, 40);
    EXPECT_FALSE(key.ends_with("\n"));
    const std::string cert = data["certificate"];
    EXPECT_NE(x509_text(cert).find(c.text), std::string::npos);
    expect_verifies(cert);

    // The exported key is the certificate's key.
    auto from_key = openssl({"pkey", "-pubout", "-in", file("key.pem", key)});
    auto from_cert = openssl({"x509", "-noout", "-pubkey", "-in", file("cert.pem", cert)});
    ASSERT_EQ(from_key.exit_code, 0) << from_key.err;
    EXPECT_EQ(from_key.out, from_cert.out);
  }
}

TEST_F(PkiTest, RootGenerateSubjectFieldsAndPathLength) {
  json data = generate_root({{"common_name", "Subject Root"},
                             {"organization", "Leasefs"},
                             {"ou", "Eng,Ops"},
                             {"country", "DE"},
                             {"locality", "Berlin"},
                             {"province", "BE"},
                             {"serial_number", "SN-1"},
                             {"alt_names", "root.example.com"},
                             {"ip_sans", "10.1.2.3"},
                             {"max_path_length", 2},
                             {"key_type", "ec"}});
  std::string text = x509_text(data["certificate"]);
  EXPECT_NE(text.find("C = DE, ST = BE, L = Berlin, O = Leasefs, OU = Eng, OU = Ops, "
                      "CN = Subject Root, serialNumber = SN-1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("CA:TRUE, pathlen:2"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:root.example.com, IP Address:10.1.2.3"), std::string::npos) << text;

  ASSERT_TRUE(call(Operation::kDelete, "root"));
  auto zero = write("root/generate/internal",
                    {{"common_name", "Zero"}, {"max_path_length", 0}, {"key_type", "ec"}});
  ASSERT_TRUE(zero) << zero.error().message();
  EXPECT_NE(x509_text(zero->data["certificate"]).find("CA:TRUE, pathlen:0"), std::string::npos);
  ASSERT_EQ(zero->warnings.size(), 1u);
  EXPECT_EQ(zero->warnings[0],
            "Max path length of the generated certificate is zero. This certificate cannot be "
            "used to issue intermediate CA certificates.");
}

TEST_F(PkiTest, SecondRootGenerateIsRefusedWithVaultsWarningAndKeepsTheCa) {
  json first = generate_root({{"common_name", "First"}, {"key_type", "ec"}});
  auto second = write("root/generate/exported", {{"common_name", "Second"}, {"key_type", "ec"}});
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_TRUE(second->data.is_null());
  EXPECT_FALSE(second->secret);
  ASSERT_EQ(second->warnings.size(), 1u);
  EXPECT_EQ(second->warnings[0],
            "Refusing to generate a root certificate over an existing root certificate. If you "
            "really want to destroy the original root certificate, please issue a delete "
            "against pki/root.");
  auto ca = ok(read("cert/ca"));
  EXPECT_EQ(ca["certificate"], first["certificate"]);

  // DELETE root removes the CA; the next generate makes a new one.
  auto deleted = call(Operation::kDelete, "root");
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(deleted->is_empty());
  auto der = read("ca");
  ASSERT_TRUE(der && der->raw);
  EXPECT_EQ(der->raw->status, 204);
  EXPECT_TRUE(der->raw->body.empty());
  expect_invalid(read("cert/ca"), "backend must be configured with a CA certificate/key");
  expect_invalid(write("issue/x", {{"common_name", "a.example.com"}}), "unknown role: x");

  json third = generate_root({{"common_name", "Third"}, {"key_type", "ec"}});
  EXPECT_NE(third["certificate"], first["certificate"]);
  EXPECT_NE(third["issuer_id"], first["issuer_id"]);
}

TEST_F(PkiTest, RootGenerateRefusesBadInput) {
  expect_invalid(write("root/generate/internal", {{"key_type", "dsa"}}), "unknown key type dsa");
  expect_invalid(write("root/generate/internal", {{"key_type", "any"}}), "unknown key type any");
  expect_invalid(write("root/generate/internal", {{"key_type", "rsa"}, {"key_bits", 1024}}),
                 "RSA keys < 2048 bits are unsafe and not supported: got 1024");
  expect_invalid(write("root/generate/internal", {{"key_type", "rsa"}, {"key_bits", 2000}}),
                 "RSA keys < 2048 bits are unsafe and not supported: got 2000");
  expect_invalid(write("root/generate/internal", {{"key_type", "rsa"}, {"key_bits", 5000}}),
                 "unsupported bit length for RSA key: 5000");
  expect_invalid(write("root/generate/internal", {{"key_type", "ec"}, {"key_bits", 300}}),
                 "unsupported bit length for EC key: 300");
  expect_invalid(write("root/generate/internal", {{"key_bits", "many"}}), "key_bits");
  expect_invalid(write("root/generate/internal", {{"ttl", "forever"}}), "ttl");
  expect_invalid(write("root/generate/internal", {{"max_path_length", -2}}),
                 "requested max_path_length -2 is invalid");
  expect_invalid(write("root/generate/secret", {{"common_name", "x"}}),
                 "the \"exported\" path parameter must be \"internal\" or \"exported\"");
  expect_invalid(write("root/generate/internal", {{"format", "xml"}}),
                 "the \"format\" path parameter must be \"pem\", \"der\", or \"pem_bundle\"");
  expect_invalid(write("root/generate/internal", {{"private_key_format", "jks"}}),
                 "private_key_format");
  expect_invalid(write("root/generate/internal", {{"country", "Germany"}, {"key_type", "ec"}}),
                 "country");
  // Nothing was made.
  auto der = read("ca");
  ASSERT_TRUE(der && der->raw);
  EXPECT_EQ(der->raw->status, 204);
}

TEST_F(PkiTest, RootGenerateDerAndPemBundleFormats) {
  json der = generate_root({{"common_name", "Der Root"}, {"key_type", "ec"}, {"format", "der"}},
                           "exported");
  auto cert_der = sdk::base64_decode(der.value("certificate", ""));
  ASSERT_TRUE(cert_der);
  auto key_der = sdk::base64_decode(der.value("private_key", ""));
  ASSERT_TRUE(key_der);
  auto raw_ca = read("ca");
  ASSERT_TRUE(raw_ca && raw_ca->raw);
  EXPECT_EQ(raw_ca->raw->body, std::string(cert_der->view()));

  ASSERT_TRUE(call(Operation::kDelete, "root"));
  json bundle = generate_root({{"common_name", "Bundle Root"},
                               {"key_type", "ec"},
                               {"format", "pem_bundle"},
                               {"private_key_format", "pkcs8"}},
                              "exported");
  const std::string text = bundle["certificate"];
  EXPECT_TRUE(text.starts_with("-----BEGIN PRIVATE KEY-----")) << text;
  EXPECT_NE(text.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_EQ(
      bundle["private_key"].get<std::string>() + "\n" + bundle["issuing_ca"].get<std::string>(),
      text);
}

TEST_F(PkiTest, FetchPathsServeTheCaAndCrlWithVaultsContentTypes) {
  // Before a CA exists the raw paths answer an empty 204.
  for (const char* path : {"ca", "ca/pem", "ca_chain", "crl", "crl/pem"}) {
    auto r = read(path);
    ASSERT_TRUE(r && r->raw) << path;
    EXPECT_EQ(r->raw->status, 204) << path;
  }
  auto no_crl = read("cert/crl");
  ASSERT_FALSE(no_crl);
  EXPECT_EQ(no_crl.error().code(), Code::kNotFound);

  json root = generate_root({{"common_name", "Fetch Root"}, {"key_type", "ec"}});
  const std::string pem = root["certificate"];

  auto der = read("ca");
  ASSERT_TRUE(der && der->raw);
  EXPECT_EQ(der->raw->status, 200);
  EXPECT_EQ(der->raw->content_type, "application/pkix-cert");
  auto ca_pem = read("ca/pem");
  ASSERT_TRUE(ca_pem && ca_pem->raw);
  EXPECT_EQ(ca_pem->raw->content_type, "application/pem-certificate-chain");
  EXPECT_EQ(ca_pem->raw->body, pem);
  auto chain = read("ca_chain");
  ASSERT_TRUE(chain && chain->raw);
  EXPECT_EQ(chain->raw->body, pem);
  auto converted = openssl({"x509", "-inform", "DER", "-in", file("ca.der", der->raw->body)});
  EXPECT_EQ(converted.out, pem + "\n");

  auto cert_ca = ok(read("cert/ca"));
  EXPECT_EQ(cert_ca["certificate"], pem);
  EXPECT_EQ(cert_ca["revocation_time"], 0);
  EXPECT_EQ(cert_ca["revocation_time_rfc3339"], "");
  auto cert_chain = ok(read("cert/ca_chain"));
  EXPECT_EQ(cert_chain["ca_chain"], pem);
  auto raw_pem = read("cert/ca/raw/pem");
  ASSERT_TRUE(raw_pem && raw_pem->raw);
  EXPECT_EQ(raw_pem->raw->body, pem);

  auto crl = read("crl");
  ASSERT_TRUE(crl && crl->raw);
  EXPECT_EQ(crl->raw->content_type, "application/pkix-crl");
  auto crl_pem = read("crl/pem");
  ASSERT_TRUE(crl_pem && crl_pem->raw);
  EXPECT_EQ(crl_pem->raw->content_type, "application/x-pem-file");
  EXPECT_TRUE(crl_pem->raw->body.starts_with("-----BEGIN X509 CRL-----"));
  auto cert_crl = ok(read("cert/crl"));
  EXPECT_EQ(cert_crl["certificate"], crl_pem->raw->body);
  auto checked = openssl({"crl", "-noout", "-CAfile", file("ca.pem", pem), "-in",
                          file("crl.pem", crl_pem->raw->body)});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_NE((checked.out + checked.err).find("verify OK"), std::string::npos);

  // A serial that is not stored, or not a serial: Vault's plain 404.
  for (const char* path : {"cert/01:02:03", "cert/zz"}) {
    auto missing = read(path);
    ASSERT_FALSE(missing) << path;
    EXPECT_EQ(missing.error().code(), Code::kNotFound);
    EXPECT_EQ(missing.error().message(), "");
  }

  // The paths TLS clients fetch need no token.
  const auto& open = engine_->special_paths().unauthenticated;
  for (const char* path : {"ca", "ca/pem", "ca_chain", "crl", "crl/pem", "cert/*"}) {
    EXPECT_NE(std::find(open.begin(), open.end(), path), open.end()) << path;
  }
}

TEST_F(PkiTest, ConfigUrlsGoIntoIssuedCertificates) {
  EXPECT_EQ(ok(read("config/urls")), (json{{"issuing_certificates", json::array()},
                                           {"crl_distribution_points", json::array()},
                                           {"ocsp_servers", json::array()}}));
  expect_invalid(write("config/urls", {{"issuing_certificates", "not a url"}}),
                 "invalid URL found in issuing certificates: not a url");
  auto set =
      write("config/urls",
            {{"issuing_certificates", "http://127.0.0.1:8200/v1/pki/ca"},
             {"crl_distribution_points", json::array({"http://127.0.0.1:8200/v1/pki/crl"})}});
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_TRUE(set->is_empty());
  auto urls = ok(read("config/urls"));
  EXPECT_EQ(urls["issuing_certificates"], json::array({"http://127.0.0.1:8200/v1/pki/ca"}));

  json root = generate_root({{"common_name", "Url Root"}, {"key_type", "ec"}});
  std::string root_text = x509_text(root["certificate"]);
  EXPECT_NE(root_text.find("CA Issuers - URI:http://127.0.0.1:8200/v1/pki/ca"), std::string::npos)
      << root_text;

  create_role("web",
              {{"allowed_domains", "example.com"}, {"allow_subdomains", true}, {"key_type", "ec"}});
  json leaf = ok(write("issue/web", {{"common_name", "www.example.com"}}));
  std::string text = x509_text(leaf["certificate"]);
  EXPECT_NE(text.find("CA Issuers - URI:http://127.0.0.1:8200/v1/pki/ca"), std::string::npos)
      << text;
  EXPECT_NE(text.find("X509v3 CRL Distribution Points"), std::string::npos) << text;
  EXPECT_NE(text.find("URI:http://127.0.0.1:8200/v1/pki/crl"), std::string::npos) << text;
}

TEST_F(PkiTest, ConfigCrlSetsTheCrlLifetime) {
  EXPECT_EQ(ok(read("config/crl")), (json{{"expiry", "72h"}, {"disable", false}}));
  generate_root({{"common_name", "Crl Root"}, {"key_type", "ec"}});
  expect_invalid(write("config/crl", {{"expiry", "soon"}}), "given expiry could not be decoded");
  ASSERT_TRUE(write("config/crl", {{"expiry", "1h"}}));
  EXPECT_EQ(ok(read("config/crl"))["expiry"], "1h");
  ASSERT_TRUE(read("crl/rotate"));
  auto crl = read("crl/pem");
  ASSERT_TRUE(crl && crl->raw);
  auto der = read("crl");
  ASSERT_TRUE(der && der->raw);
  const auto* p = reinterpret_cast<const unsigned char*>(der->raw->body.data());
  X509_CRL* parsed = d2i_X509_CRL(nullptr, &p, static_cast<long>(der->raw->body.size()));
  ASSERT_NE(parsed, nullptr);
  int days = -1;
  int seconds = -1;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_CRL_get0_lastUpdate(parsed),
                           X509_CRL_get0_nextUpdate(parsed)),
            1);
  X509_CRL_free(parsed);
  EXPECT_EQ(days, 0);
  EXPECT_EQ(seconds, 3600);
}

}  // namespace
}  // namespace leasefs::engines::pki
