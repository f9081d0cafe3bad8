// HMAC-SHA256 (RFC 2104) over OpenSSL's SHA-256 block functions, from inner and outer
// states keyed once per device. OpenSSL 3's EVP_MAC re-initialisation copies a digest
// context through its provider (allocations, parameter lookups) for every value,
// which cost more than the two or three SHA-256 blocks an audit value needs; copying a
// SHA256_CTX is a 112-byte struct copy. The SHA256_* calls are deprecated in OpenSSL 3
// but kept (and still the fastest SHA-256 it offers); the output is the same bytes, so
// sys/audit-hash and existing logs agree.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "backend/audit/hasher.h"

#include <array>
#include <cstring>

#include <openssl/crypto.h>

namespace leasefs::backend::audit {
namespace {

constexpr std::size_t kBlock = SHA256_CBLOCK;  // 64
constexpr char kHexDigits[] = "0123456789abcdef";

}  // namespace

sdk::Result<sdk::SecureBuffer> new_salt(sdk::Random& random) {
  std::array<std::uint8_t, 16> b{};
  LEASEFS_TRY(random.fill(b));
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  sdk::SecureBuffer salt(36);
  std::size_t at = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) salt.data()[at++] = '-';
    salt.data()[at++] = static_cast<std::uint8_t>(kHexDigits[b[i] >> 4]);
    salt.data()[at++] = static_cast<std::uint8_t>(kHexDigits[b[i] & 0xf]);
  }
  sdk::wipe(b.data(), b.size());
  return salt;
}

sdk::Result<std::shared_ptr<Hasher>> Hasher::create(sdk::SecureBuffer salt) {
  if (salt.empty()) return sdk::invalid_argument("an audit salt must not be empty");
  std::shared_ptr<Hasher> hasher(new Hasher(std::move(salt)));
  std::array<unsigned char, kBlock> key{};
  const sdk::SecureBuffer& k = hasher->salt_;
  bool ok = true;
  if (k.size() > kBlock) {
    SHA256_CTX c;
    ok = SHA256_Init(&c) == 1 && SHA256_Update(&c, k.data(), k.size()) == 1 &&
         SHA256_Final(key.data(), &c) == 1;
    OPENSSL_cleanse(&c, sizeof c);
  } else {
    std::memcpy(key.data(), k.data(), k.size());
  }
  std::array<unsigned char, kBlock> pad{};
  SHA256_CTX state;
  for (int half = 0; half < 2; ++half) {  // inner (ipad), then outer (opad)
    const unsigned char mask = half == 0 ? 0x36 : 0x5c;
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = key[i] ^ mask;
    ok = ok && SHA256_Init(&state) == 1 && SHA256_Update(&state, pad.data(), pad.size()) == 1;
    std::memcpy(hasher->states_.data() + half * sizeof state, &state, sizeof state);
  }
  OPENSSL_cleanse(&state, sizeof state);
  OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  if (!ok) return sdk::internal_error("cannot key the audit HMAC");
  return hasher;
}

Hasher::~Hasher() = default;  // states_ and salt_ wipe themselves

Hasher::Session::Session(const Hasher& hasher) : hasher_(hasher) {}

Hasher::Session::~Session() {
  OPENSSL_cleanse(&work_, sizeof work_);
}

void Hasher::Session::append_hmac(std::string_view input, std::string& out) {
  unsigned char mac[SHA256_DIGEST_LENGTH];
  const std::uint8_t* states = hasher_.states_.data();
  std::memcpy(&work_, states, sizeof work_);
  bool ok = SHA256_Update(&work_, input.data(), input.size()) == 1 &&
            SHA256_Final(mac, &work_) == 1;
  std::memcpy(&work_, states + sizeof work_, sizeof work_);
  ok = ok && SHA256_Update(&work_, mac, sizeof mac) == 1 && SHA256_Final(mac, &work_) == 1;
  out.append(kHmacPrefix);
  if (!ok) {
    // Never fall back to the clear value: an unhashable value is written as this marker.
    out.append("error");
    return;
  }
  const std::size_t at = out.size();
  out.resize(at + 2 * sizeof mac);
  char* hex = out.data() + at;
  for (std::size_t i = 0; i < sizeof mac; ++i) {
    hex[2 * i] = kHexDigits[mac[i] >> 4];
    hex[2 * i + 1] = kHexDigits[mac[i] & 0xf];
  }
}

std::string Hasher::Session::hmac(std::string_view input) {
  std::string out;
  out.reserve(kHmacPrefix.size() + 64);
  append_hmac(input, out);
  return out;
}

std::string Hasher::hmac(std::string_view input) const {
  Session session(*this);
  return session.hmac(input);
}

}  // namespace leasefs::backend::audit
