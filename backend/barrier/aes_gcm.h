// AES-256-GCM with one key, fast enough to encrypt every stored value: the key schedule
// is set up once and kept in a small pool of OpenSSL contexts, so an operation only
// sets the nonce. Contexts are freed (and their key schedules wiped by OpenSSL) when
// the AesGcm is destroyed, which is what sealing relies on.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace leasefs::backend::barrier {

inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kNonceSize = 12;
inline constexpr std::size_t kTagSize = 16;

class AesGcm {
 public:
  // `key` must be 32 bytes. Fails only if OpenSSL cannot set up a context.
  static sdk::Result<std::unique_ptr<AesGcm>> create(std::span<const std::uint8_t> key);
  ~AesGcm();
  AesGcm(const AesGcm&) = delete;
  AesGcm& operator=(const AesGcm&) = delete;

  // Encrypts `plaintext` with `nonce` and `aad`; writes ciphertext then the 16-byte tag
  // to `out`, which must hold plaintext.size() + 16 bytes. Thread-safe.
  sdk::Result<void> encrypt(std::span<const std::uint8_t, kNonceSize> nonce,
                            std::string_view aad, std::span<const std::uint8_t> plaintext,
                            std::span<std::uint8_t> out);
  // Checks and decrypts ciphertext||tag into `out` (size: input - 16). Fails with
  // data_loss when the tag does not match (wrong key, altered bytes, other aad);
  // `out` is wiped then. Thread-safe.
  sdk::Result<void> decrypt(std::span<const std::uint8_t, kNonceSize> nonce,
                            std::string_view aad, std::span<const std::uint8_t> sealed,
                            std::span<std::uint8_t> out);

 private:
  AesGcm() = default;
  EVP_CIPHER_CTX* acquire(bool encrypt);
  void release(EVP_CIPHER_CTX* ctx, bool encrypt);

  sdk::SecureBuffer key_;
  std::mutex mu_;
  std::vector<EVP_CIPHER_CTX*> free_encrypt_;  // guarded by mu_
  std::vector<EVP_CIPHER_CTX*> free_decrypt_;  // guarded by mu_
};

}  // namespace leasefs::backend::barrier
