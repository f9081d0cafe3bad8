// Fuzz target for the key and certificate-request formats clients send: SSH public keys
// (ssh/sign's public_key), PKCS#10 requests (pki/sign's csr), serial numbers
// (pki/cert/:serial, pki/revoke) and PEM private keys (ssh/config/ca). The first byte
// picks what the rest is:
//   0  an authorized_keys line, as given
//   1  a key blob (bytes), sent as "<type> <base64>" with the type from the next byte,
//      so mutations reach the SSH wire parsing rather than the base64
//   2  a CSR as PEM text, as given
//   3  a CSR as DER bytes, wrapped in PEM by the target (mutations reach the ASN.1)
//   4  a serial number as text
//   5  a private key as PEM text
// Whatever the bytes: no crash, no sanitizer report; refusals are invalid_argument with
// a message; what is accepted keeps its promises (a parsed public key prints as a line
// that parses back to the same key, a CSR's IP addresses are 4 or 16 bytes, a parsed
// serial prints back to the same bytes).
#include <cstdint>
#include <string>
#include <string_view>

#include "backend/sdk/encoding.h"
#include "engines/pki/cert_util.h"
#include "engines/ssh/openssh.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/refusal.h"

namespace {

namespace pki = leasefs::engines::pki;
namespace ssh = leasefs::engines::ssh;
namespace sdk = leasefs::backend::sdk;

void ssh_line(std::string_view line) {
  auto key = ssh::parse_public_key(line);
  if (!key) {
    check_refusal(key.error());
    return;
  }
  FUZZ_CHECK(!key->type_name.empty() && !key->blob.empty() && key->bits > 0);
  auto again = ssh::parse_public_key(ssh::public_key_line(*key));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->kind == key->kind && again->type_name == key->type_name);
  FUZZ_CHECK(again->blob == key->blob && again->bits == key->bits);
  FUZZ_CHECK(ssh::public_key_sha256_hex(*key).size() == 64);
}

void csr_pem(std::string_view pem) {
  auto csr = pki::parse_csr(pem);
  if (!csr) {
    check_refusal(csr.error());
    return;
  }
  FUZZ_CHECK(csr->public_key != nullptr);
  for (const auto& ip : csr->ip_addresses) FUZZ_CHECK(ip.size() == 4 || ip.size() == 16);
}

std::string pem_wrap(std::string_view der) {
  std::string body = sdk::base64_encode(der);
  std::string pem = "-----BEGIN CERTIFICATE REQUEST-----\n";
  for (std::size_t at = 0; at < body.size(); at += 64) pem += body.substr(at, 64) + "\n";
  return pem + "-----END CERTIFICATE REQUEST-----\n";
}

void serial(std::string_view text) {
  auto bytes = pki::parse_serial(text);
  if (!bytes) return;
  FUZZ_CHECK(!bytes->empty());
  auto again = pki::parse_serial(pki::colon_hex(*bytes));
  FUZZ_CHECK(again.has_value() && *again == *bytes);
}

void private_key(std::string_view pem) {
  auto key = ssh::parse_private_key_pem(pem);
  if (!key) {
    check_refusal(key.error());
    return;
  }
  FUZZ_CHECK(*key != nullptr);
  auto pub = ssh::public_key_of(key->get());
  FUZZ_CHECK(pub.has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      ssh_line(rest);
      break;
    case 1: {
      if (rest.empty()) return 0;
      static constexpr std::string_view kTypes[] = {"ssh-ed25519", "ecdsa-sha2-nistp256",
                                                    "ecdsa-sha2-nistp384", "ssh-rsa"};
      const auto type = kTypes[static_cast<unsigned char>(rest[0]) % 4];
      ssh_line(std::string(type) + " " + sdk::base64_encode(rest.substr(1)) + " fuzz");
      break;
    }
    case 2:
      csr_pem(rest);
      break;
    case 3:
      csr_pem(pem_wrap(rest));
      break;
    case 4:
      serial(rest);
      break;
    default:
      private_key(rest);
      break;
  }
  return 0;
}
