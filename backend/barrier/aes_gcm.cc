// AES-256-GCM over OpenSSL EVP with pooled, pre-keyed contexts.
#include "backend/barrier/aes_gcm.h"

#include <openssl/evp.h>

#include <climits>

namespace leasefs::backend::barrier {

namespace sdk = leasefs::backend::sdk;

namespace {
constexpr std::size_t kMaxPooled = 16;
constexpr std::size_t kMaxLength = INT_MAX - 64;
}  // namespace

sdk::Result<std::unique_ptr<AesGcm>> AesGcm::create(std::span<const std::uint8_t> key) {
  if (key.size() != kKeySize) return sdk::invalid_argument("AES-256-GCM key must be 32 bytes");
  std::unique_ptr<AesGcm> gcm(new AesGcm());
  gcm->key_ = sdk::SecureBuffer::copy_of(key);
  // Make sure the key works before anyone relies on it.
  EVP_CIPHER_CTX* probe = gcm->acquire(true);
  if (probe == nullptr) return sdk::internal_error("OpenSSL could not set up AES-256-GCM");
  gcm->release(probe, true);
  return gcm;
}

AesGcm::~AesGcm() {
  for (auto* ctx : free_encrypt_) EVP_CIPHER_CTX_free(ctx);
  for (auto* ctx : free_decrypt_) EVP_CIPHER_CTX_free(ctx);
}

EVP_CIPHER_CTX* AesGcm::acquire(bool encrypt) {
  {
    std::lock_guard lock(mu_);
    auto& pool = encrypt ? free_encrypt_ : free_decrypt_;
    if (!pool.empty()) {
      EVP_CIPHER_CTX* ctx = pool.back();
      pool.pop_back();
      return ctx;
    }
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return nullptr;
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key_.data(), nullptr,
                        encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize), nullptr) !=
          1) {
    EVP_CIPHER_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

void AesGcm::release(EVP_CIPHER_CTX* ctx, bool encrypt) {
  {
    std::lock_guard lock(mu_);
    auto& pool = encrypt ? free_encrypt_ : free_decrypt_;
    if (pool.size() < kMaxPooled) {
      pool.push_back(ctx);
      return;
    }
  }
  EVP_CIPHER_CTX_free(ctx);
}

sdk::Result<void> AesGcm::encrypt(std::span<const std::uint8_t, kNonceSize> nonce,
                                  std::string_view aad, std::span<const std::uint8_t> plaintext,
                                  std::span<std::uint8_t> out) {
  if (plaintext.size() > kMaxLength || aad.size() > kMaxLength) {
    return sdk::error(sdk::Code::kTooLarge, "value too large to encrypt");
  }
  if (out.size() != plaintext.size() + kTagSize) {
    return sdk::internal_error("AES-GCM output buffer has the wrong size");
  }
  EVP_CIPHER_CTX* ctx = acquire(true);
  if (ctx == nullptr) return sdk::internal_error("OpenSSL could not set up AES-256-GCM");
  int len = 0;
  bool ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
            (aad.empty() ||
             EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                               static_cast<int>(aad.size())) == 1) &&
            EVP_EncryptUpdate(ctx, out.data(), &len, plaintext.data(),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx, out.data() + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                                out.data() + plaintext.size()) == 1;
  release(ctx, true);
  if (!ok) return sdk::internal_error("AES-256-GCM encryption failed");
  return {};
}

sdk::Result<void> AesGcm::decrypt(std::span<const std::uint8_t, kNonceSize> nonce,
                                  std::string_view aad, std::span<const std::uint8_t> sealed,
                                  std::span<std::uint8_t> out) {
  if (sealed.size() < kTagSize) return sdk::error(sdk::Code::kDataLoss, "ciphertext too short");
  if (sealed.size() > kMaxLength || aad.size() > kMaxLength) {
    return sdk::error(sdk::Code::kTooLarge, "value too large to decrypt");
  }
  std::size_t length = sealed.size() - kTagSize;
  if (out.size() != length) return sdk::internal_error("AES-GCM output buffer has the wrong size");
  EVP_CIPHER_CTX* ctx = acquire(false);
  if (ctx == nullptr) return sdk::internal_error("OpenSSL could not set up AES-256-GCM");
  // OpenSSL wants a writable tag buffer.
  unsigned char tag[kTagSize];
  std::copy(sealed.begin() + static_cast<std::ptrdiff_t>(length), sealed.end(), tag);
  int len = 0;
  bool setup = EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
               (aad.empty() ||
                EVP_DecryptUpdate(ctx, nullptr, &len,
                                  reinterpret_cast<const unsigned char*>(aad.data()),
                                  static_cast<int>(aad.size())) == 1) &&
               EVP_DecryptUpdate(ctx, out.data(), &len, sealed.data(),
                                 static_cast<int>(length)) == 1 &&
               EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag) ==
                   1;
  bool authentic = setup && EVP_DecryptFinal_ex(ctx, out.data() + len, &len) == 1;
  release(ctx, false);
  if (!authentic) {
    sdk::wipe(out.data(), out.size());
    return sdk::error(sdk::Code::kDataLoss, "authentication failed");
  }
  return {};
}

}  // namespace leasefs::backend::barrier
