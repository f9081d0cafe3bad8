// The on-disk form of every value behind the barrier:
//   [term u32 BE][version u8][nonce 12][ciphertext][tag 16]
// Version 2 binds the value to its storage path (the path is the AES-GCM AAD), so a
// value copied to another key fails to decrypt. This layout is a compatibility
// contract: tests/golden/ holds a value that must keep decrypting forever.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "backend/barrier/aes_gcm.h"
#include "backend/sdk/random.h"

namespace leasefs::backend::barrier {

inline constexpr std::uint8_t kValueVersionPathAad = 2;
inline constexpr std::size_t kValueOverhead = 4 + 1 + kNonceSize + kTagSize;  // 33 bytes
// Values encrypted directly with the root key (the keyring itself) carry term 0.
inline constexpr std::uint32_t kRootKeyTerm = 0;

// Encrypts `plaintext` for storage at `path` under `term`'s key.
sdk::Result<std::string> seal_value(AesGcm& cipher, std::uint32_t term, std::string_view path,
                                    std::span<const std::uint8_t> plaintext, sdk::Random& random);
inline sdk::Result<std::string> seal_value(AesGcm& cipher, std::uint32_t term,
                                           std::string_view path, std::string_view plaintext,
                                           sdk::Random& random) {
  return seal_value(cipher, term, path,
                    {reinterpret_cast<const std::uint8_t*>(plaintext.data()), plaintext.size()},
                    random);
}

// The term a stored value names; data_loss if the value is too short or of an unknown
// version.
sdk::Result<std::uint32_t> value_term(std::string_view stored);

// Plaintext length of a stored value whose header value_term() accepted.
inline std::size_t plaintext_size(std::string_view stored) {
  return stored.size() - kValueOverhead;
}

// Decrypts a stored value into `out` (plaintext_size() bytes); data_loss when it does
// not authenticate.
sdk::Result<void> open_value(AesGcm& cipher, std::string_view path, std::string_view stored,
                             std::span<std::uint8_t> out);

}  // namespace leasefs::backend::barrier
