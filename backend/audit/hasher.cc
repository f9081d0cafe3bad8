// HMAC-SHA256 through OpenSSL's EVP_MAC, with a small pool of keyed contexts: re-using a
// keyed context costs about half of keying a new one, and HMACs are most of the cost of
// an audit entry.
#include "backend/audit/hasher.h"

#include <array>
#include <cstdio>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

namespace leasefs::backend::audit {
namespace {

constexpr std::size_t kPoolMax = 64;
constexpr char kHexDigits[] = "0123456789abcdef";

EVP_MAC* hmac_algorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

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
  EVP_MAC* mac = hmac_algorithm();
  if (mac == nullptr) return sdk::internal_error("OpenSSL has no HMAC");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) return sdk::internal_error("cannot allocate an HMAC context");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx, salt.data(), salt.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return sdk::internal_error("cannot key the audit HMAC");
  }
  return std::shared_ptr<Hasher>(new Hasher(std::move(salt), ctx));
}

Hasher::Hasher(sdk::SecureBuffer salt, evp_mac_ctx_st* keyed)
    : salt_(std::move(salt)), keyed_(keyed) {}

Hasher::~Hasher() {
  for (EVP_MAC_CTX* ctx : pool_) EVP_MAC_CTX_free(ctx);
  EVP_MAC_CTX_free(keyed_);
}

evp_mac_ctx_st* Hasher::acquire() const {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      EVP_MAC_CTX* ctx = pool_.back();
      pool_.pop_back();
      return ctx;
    }
  }
  return EVP_MAC_CTX_dup(keyed_);
}

void Hasher::release(evp_mac_ctx_st* ctx) const {
  if (ctx == nullptr) return;
  {
    std::lock_guard lock(pool_mu_);
    if (pool_.size() < kPoolMax) {
      pool_.push_back(ctx);
      return;
    }
  }
  EVP_MAC_CTX_free(ctx);
}

Hasher::Session::Session(const Hasher& hasher) : hasher_(hasher), ctx_(hasher.acquire()) {}

Hasher::Session::~Session() {
  hasher_.release(ctx_);
}

void Hasher::Session::append_hmac(std::string_view input, std::string& out) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t size = 0;
  // Re-initializing without a key keeps the key: the inner and outer pads are reused.
  bool ok = ctx_ != nullptr && EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1 &&
            EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1 &&
            EVP_MAC_final(ctx_, mac, &size, sizeof mac) == 1;
  out.append(kHmacPrefix);
  if (!ok) {
    // Never fall back to the clear value: an unhashable value is written as this marker.
    out.append("error");
    return;
  }
  const std::size_t at = out.size();
  out.resize(at + 2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out[at + 2 * i] = kHexDigits[mac[i] >> 4];
    out[at + 2 * i + 1] = kHexDigits[mac[i] & 0xf];
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
