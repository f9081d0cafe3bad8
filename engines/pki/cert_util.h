// The PKI engine's X.509 layer over OpenSSL 3: key pairs, certificates built from a
// template (subject, SANs, key usages, CA constraints, AIA and CRL URLs), CSR parsing
// with signature checks, and the encodings Vault's answers use. It knows nothing of
// roles, storage or requests, so it is tested on its own; every OpenSSL object lives
// in a unique_ptr with its free function. Private keys leave it only as SecureBuffers.
// Internal to engines/pki.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "backend/sdk/clock.h"
#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"

namespace leasefs::engines::pki {

namespace sdk = ::leasefs::backend::sdk;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

enum class KeyType { kRsa, kEc, kEd25519 };

// "rsa", "ec", "ed25519": Vault's key_type and private_key_type values.
std::string_view key_type_name(KeyType type);

// A fresh key pair from OpenSSL's DRBG. `bits`: RSA modulus size (2048..8192); EC
// curve size (224, 256, 384 or 521, the NIST P-curves); ignored for Ed25519. Callers
// validate the combination first (role.h); an unsupported one is kInternal here.
// Thread-safe. RSA 4096 takes seconds.
sdk::Result<PkeyPtr> generate_key(KeyType type, int bits);

// The type and size of a key, as Vault reports them: RSA modulus bits, EC curve bits,
// 0 for Ed25519. Fails with invalid_argument for other algorithms and for EC curves
// other than the NIST P-curves (Go's x509 refuses those too).
struct KeyInfo {
  KeyType type = KeyType::kRsa;
  int bits = 0;
};
sdk::Result<KeyInfo> key_info(const EVP_PKEY* key);

// How a private key is written out. kTraditional is Vault's default ("der" in its
// private_key_format): PKCS#1 for RSA ("RSA PRIVATE KEY"), SEC 1 for EC ("EC PRIVATE
// KEY"), PKCS#8 for Ed25519, which has no other form. kPkcs8 is "PRIVATE KEY".
enum class KeyFormat { kTraditional, kPkcs8 };

// PEM text without a trailing newline, or DER bytes, in locked memory.
sdk::Result<sdk::SecureBuffer> private_key_pem(EVP_PKEY* key, KeyFormat format);
sdk::Result<sdk::SecureBuffer> private_key_der(EVP_PKEY* key, KeyFormat format);
// Any PEM private key OpenSSL reads (PKCS#1, SEC 1, PKCS#8). kDataLoss when the bytes
// are not one: callers only parse what the engine stored. The message never contains
// the key.
sdk::Result<PkeyPtr> parse_private_key_pem(std::string_view pem);

// Distinguished name parts, in the order Go (and so Vault) encodes them: C, ST, L,
// street, postalCode, O, OU, CN, serialNumber. Empty strings are skipped.
struct Subject {
  std::string common_name{};
  std::string serial_number{};
  std::vector<std::string> country{};
  std::vector<std::string> province{};
  std::vector<std::string> locality{};
  std::vector<std::string> street_address{};
  std::vector<std::string> postal_code{};
  std::vector<std::string> organization{};
  std::vector<std::string> ou{};

  bool empty() const;
};

// config/urls: where clients find the issuer and the CRL. Put into every certificate
// issued afterwards (AIA caIssuers and OCSP, CRL distribution points).
struct Urls {
  std::vector<std::string> issuing_certificates{};
  std::vector<std::string> crl_distribution_points{};
  std::vector<std::string> ocsp_servers{};
};

// Key usage bits, numbered as in RFC 5280 (and Go's x509.KeyUsage).
enum KeyUsageBit : unsigned {
  kDigitalSignature = 1u << 0,
  kContentCommitment = 1u << 1,
  kKeyEncipherment = 1u << 2,
  kDataEncipherment = 1u << 3,
  kKeyAgreement = 1u << 4,
  kCertSign = 1u << 5,
  kCrlSign = 1u << 6,
  kEncipherOnly = 1u << 7,
  kDecipherOnly = 1u << 8,
};

// What goes into one certificate.
struct CertTemplate {
  std::vector<std::uint8_t> serial{};  // big-endian, positive, 1..20 bytes
  Subject subject{};
  std::vector<std::string> dns_names{};
  std::vector<std::string> email_addresses{};
  std::vector<std::string> uris{};
  std::vector<std::vector<std::uint8_t>> ip_addresses{};  // 4 or 16 bytes each
  sdk::WallTime not_before{};
  sdk::WallTime not_after{};
  bool is_ca = false;
  int max_path_length = -1;  // CA only: -1 = no limit
  bool basic_constraints_for_non_ca = false;
  unsigned key_usage = 0;                         // KeyUsageBit; 0 = no extension
  std::vector<std::string> ext_key_usage_oids{};  // dotted OIDs, in order
  Urls urls{};
};

// Builds and signs a certificate for the public half of `subject_key`. With `issuer`
// null it is self-signed by `subject_key` (a root: AKI = SKI); otherwise it is signed
// by `issuer_key`, the key of `issuer`, and its AKI is the issuer's SKI. The hash
// follows the signer: SHA-256 for RSA and P-224/P-256, SHA-384 for P-384, SHA-512 for
// P-521, none for Ed25519. Returns the DER. Fails with invalid_argument for values
// X.509 cannot hold (a country that is not two letters), kInternal otherwise.
sdk::Result<std::string> build_certificate(const CertTemplate& tmpl, EVP_PKEY* subject_key,
                                           EVP_PKEY* issuer_key, X509* issuer);

// The digest to sign with for a signer key (nullptr for Ed25519).
const EVP_MD* signing_digest(const EVP_PKEY* signer);

// DER -> X509; kDataLoss when the bytes are not a certificate.
sdk::Result<X509Ptr> parse_certificate_der(std::string_view der);
// PEM -> DER of the first CERTIFICATE block; invalid_argument when there is none.
sdk::Result<std::string> certificate_der_from_pem(std::string_view pem);

// PEM armour around DER, 64-column base64, without a trailing newline (Vault trims it).
std::string pem_encode(std::string_view type, std::string_view der);

// notAfter and notBefore of a certificate.
sdk::WallTime not_after(const X509* cert);
sdk::WallTime not_before(const X509* cert);
// The certificate's serial as big-endian bytes (minimal, as Go's big.Int.Bytes()).
std::vector<std::uint8_t> serial_bytes(const X509* cert);
// True when the certificate has basicConstraints CA:TRUE.
bool is_ca_certificate(X509* cert);

// A certificate signing request, checked and taken apart.
struct ParsedCsr {
  PkeyPtr public_key{};
  KeyInfo key{};
  std::string common_name{};    // the last CN of the subject, as Go keeps it
  std::string serial_number{};  // the subject's serialNumber attribute
  std::vector<std::string> dns_names{};
  std::vector<std::string> email_addresses{};
  std::vector<std::string> uris{};
  std::vector<std::vector<std::uint8_t>> ip_addresses{};
};

// Parses the first PEM block of `pem` as a PKCS#10 request and verifies its
// self-signature. invalid_argument with Vault's texts: "\"csr\" is empty", "csr
// contains no data", "certificate request could not be parsed: ...", "request
// signature invalid".
sdk::Result<ParsedCsr> parse_csr(std::string_view pem);

// Serial numbers as Vault shows them: lower-case hex bytes joined by ':'.
std::string colon_hex(const std::vector<std::uint8_t>& bytes);
// Parses "0a:1b:..", "0a-1b-..", upper or lower case, into bytes; nullopt when it is not
// one (empty, odd digits, other characters).
std::optional<std::vector<std::uint8_t>> parse_serial(std::string_view text);

// Go's time.RFC3339Nano in UTC: fraction digits without trailing zeros
// ("2026-11-28T13:24:54.1Z", "2026-11-28T13:24:54Z").
std::string go_rfc3339_nano(sdk::WallTime t);

// The oldest error on OpenSSL's thread-local queue as text (then clears the queue);
// "unknown error" when it is empty. Never contains key material.
std::string openssl_error();

}  // namespace leasefs::engines::pki
