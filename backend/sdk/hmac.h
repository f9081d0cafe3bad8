// Keyed HMAC-SHA256 for hashing many short strings under one key (tokens, accessors,
// secret ids). The key schedule is set up once; each call duplicates the keyed
// context, which costs a fraction of a one-shot HMAC() (that looks the algorithm up
// on every call in OpenSSL 3).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"

typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace leasefs::backend::sdk {

class HmacSha256 {
 public:
  // Keyed with a copy of `key` (kept by OpenSSL; the context is freed, and with it the
  // key, when this object goes). Fails only if OpenSSL cannot set up HMAC-SHA256.
  static Result<HmacSha256> create(std::span<const std::uint8_t> key);

  HmacSha256(HmacSha256&&) noexcept;
  HmacSha256& operator=(HmacSha256&&) noexcept;
  ~HmacSha256();

  // Lower-case hex of HMAC-SHA256(key, data); "" if OpenSSL fails (never expected).
  // Thread-safe.
  std::string hex(std::string_view data) const;

 private:
  HmacSha256() = default;
  EVP_MAC_CTX* base_ = nullptr;  // keyed, never updated itself
};

}  // namespace leasefs::backend::sdk
