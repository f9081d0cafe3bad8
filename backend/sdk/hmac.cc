// HMAC-SHA256 with a reusable keyed context.
#include "backend/sdk/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <utility>

#include "backend/sdk/encoding.h"

namespace leasefs::backend::sdk {

Result<HmacSha256> HmacSha256::create(std::span<const std::uint8_t> key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return internal_error("OpenSSL has no HMAC");
  HmacSha256 out;
  out.base_ = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);
  if (out.base_ == nullptr) return internal_error("OpenSSL could not make an HMAC context");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(out.base_, key.data(), key.size(), params) != 1) {
    return internal_error("OpenSSL could not key HMAC-SHA256");
  }
  return out;
}

HmacSha256::HmacSha256(HmacSha256&& other) noexcept : base_(std::exchange(other.base_, nullptr)) {}

HmacSha256& HmacSha256::operator=(HmacSha256&& other) noexcept {
  if (this != &other) {
    EVP_MAC_CTX_free(base_);
    base_ = std::exchange(other.base_, nullptr);
  }
  return *this;
}

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(base_); }

std::string HmacSha256::hex(std::string_view data) const {
  if (base_ == nullptr) return {};
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(base_);
  if (ctx == nullptr) return {};
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  bool ok = EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
            EVP_MAC_final(ctx, out, &len, sizeof out) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok) return {};
  return hex_encode(std::span<const std::uint8_t>(out, len));
}

}  // namespace leasefs::backend::sdk
