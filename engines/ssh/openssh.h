// OpenSSH's key and certificate formats, built by leasefs: the SSH wire encoding
// (RFC 4251 strings, uint32/uint64, mpints), public keys as authorized_keys lines
// (RFC 4253, 5656, 8709), signatures (ssh-ed25519, ecdsa-sha2-nistp*, rsa-sha2-256/512,
// RFC 8332) made with OpenSSL EVP, and user/host certificates as OpenSSH's
// PROTOCOL.certkeys lays them out. Knows nothing of roles, storage or requests, so it
// is tested on its own. Used by engines/ssh and by the mount (fs/), which generates key
// pairs for its ssh/ files.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "backend/sdk/random.h"
#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"

namespace leasefs::engines::ssh {

namespace sdk = ::leasefs::backend::sdk;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Appends SSH wire values to a byte string.
class WireWriter {
 public:
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void string(std::string_view bytes);
  void raw(std::string_view bytes);  // appended as is, no length
  void reserve(std::size_t n) { out_.reserve(n); }  // so secrets are never copied on growth
  // A non-negative big-endian magnitude as an mpint (leading 0x00 when the top bit is set).
  void mpint(std::string_view magnitude);
  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads SSH wire values; every read fails (nullopt-like false) past the end.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : in_(bytes) {}
  bool u32(std::uint32_t& v);
  bool string(std::string_view& v);
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

// The algorithms leasefs signs and accepts.
enum class KeyKind { kEd25519, kEcdsaP256, kEcdsaP384, kEcdsaP521, kRsa };

// A user's (or the CA's) public key.
struct PublicKey {
  KeyKind kind = KeyKind::kEd25519;
  std::string type_name{};  // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"
  std::string blob{};       // the wire encoding (what authorized_keys base64-encodes)
  int bits = 0;             // RSA modulus / EC curve bits; 256 for Ed25519
};

// Parses one authorized_keys-style line "type base64 [comment]". invalid_argument with
// a message fit for a 400 on anything else (certificates, DSA and security-key types
// included).
sdk::Result<PublicKey> parse_public_key(std::string_view line);
// "type base64" (no comment, no newline).
std::string public_key_line(const PublicKey& key);
// SHA-256 of the blob, lower-case hex (Vault's {{public_key_hash}}).
std::string public_key_sha256_hex(const PublicKey& key);

// The CA's key pair.
// `type`: "ed25519", "ec" (P-256/384/521 by bits, default 256), "rsa" (2048..8192,
// default 4096). invalid_argument for other values.
sdk::Result<PkeyPtr> generate_ca_key(std::string_view type, int bits);
// A PEM private key OpenSSL reads (PKCS#8, PKCS#1, SEC 1), Ed25519/ECDSA/RSA only.
sdk::Result<PkeyPtr> parse_private_key_pem(std::string_view pem);
sdk::Result<sdk::SecureBuffer> private_key_pem(EVP_PKEY* key);
// The public half in SSH form.
sdk::Result<PublicKey> public_key_of(EVP_PKEY* key);
// An Ed25519 private key in OpenSSH's own file format ("openssh-key-v1", unencrypted,
// the way `ssh-keygen -t ed25519 -N ''` writes id_ed25519), with `comment`. OpenSSH
// reads Ed25519 keys only in this format. invalid_argument for other key types.
sdk::Result<sdk::SecureBuffer> openssh_private_key(EVP_PKEY* key, std::string_view comment);

// How an RSA CA signs: Vault's algorithm_signer ("rsa-sha2-256" is its default).
enum class RsaHash { kSha256, kSha512 };
// An SSH signature blob (string algorithm, string signature) over `data`. `key_public`
// is public_key_of(key), passed in so a cached CA need not export its key per signature.
sdk::Result<std::string> sign(EVP_PKEY* key, const PublicKey& key_public, std::string_view data,
                              RsaHash rsa_hash);

enum class CertType : std::uint32_t { kUser = 1, kHost = 2 };

struct CertificateFields {
  PublicKey key{};
  std::uint64_t serial = 0;
  CertType type = CertType::kUser;
  std::string key_id{};
  std::vector<std::string> principals{};
  std::uint64_t valid_after = 0;                          // unix seconds
  std::uint64_t valid_before = 0;                         // unix seconds
  std::map<std::string, std::string> critical_options{};  // sorted, as OpenSSH wants
  std::map<std::string, std::string> extensions{};
};

// The signed certificate as one line "ssh-ed25519-cert-v01@openssh.com base64\n".
// The nonce comes from `random`. Thread-safe.
// `ca_public` is public_key_of(ca_key).
sdk::Result<std::string> sign_certificate(const CertificateFields& fields, EVP_PKEY* ca_key,
                                          const PublicKey& ca_public, RsaHash rsa_hash,
                                          sdk::Random& random);

}  // namespace leasefs::engines::ssh
