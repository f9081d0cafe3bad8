// Encoding and decoding of barrier values.
#include "backend/barrier/value_format.h"

namespace leasefs::backend::barrier {

namespace sdk = leasefs::backend::sdk;

sdk::Result<std::string> seal_value(AesGcm& cipher, std::uint32_t term, std::string_view path,
                                    std::span<const std::uint8_t> plaintext,
                                    sdk::Random& random) {
  std::string out(kValueOverhead + plaintext.size(), '\0');
  auto* p = reinterpret_cast<std::uint8_t*>(out.data());
  p[0] = static_cast<std::uint8_t>(term >> 24);
  p[1] = static_cast<std::uint8_t>(term >> 16);
  p[2] = static_cast<std::uint8_t>(term >> 8);
  p[3] = static_cast<std::uint8_t>(term);
  p[4] = kValueVersionPathAad;
  std::span<std::uint8_t, kNonceSize> nonce(p + 5, kNonceSize);
  LEASEFS_TRY(random.fill(nonce));
  LEASEFS_TRY(cipher.encrypt(nonce, path, plaintext,
                             std::span<std::uint8_t>(p + 5 + kNonceSize, plaintext.size() + kTagSize)));
  return out;
}

sdk::Result<std::uint32_t> value_term(std::string_view stored) {
  if (stored.size() < kValueOverhead) {
    return sdk::error(sdk::Code::kDataLoss, "stored value is too short to be encrypted");
  }
  auto* p = reinterpret_cast<const std::uint8_t*>(stored.data());
  if (p[4] != kValueVersionPathAad) {
    return sdk::error(sdk::Code::kDataLoss,
                      "stored value has unknown format version " + std::to_string(p[4]));
  }
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

sdk::Result<void> open_value(AesGcm& cipher, std::string_view path, std::string_view stored,
                             std::span<std::uint8_t> out) {
  auto* p = reinterpret_cast<const std::uint8_t*>(stored.data());
  std::span<const std::uint8_t, kNonceSize> nonce(p + 5, kNonceSize);
  return cipher.decrypt(nonce, path,
                        std::span<const std::uint8_t>(p + 5 + kNonceSize,
                                                      stored.size() - 5 - kNonceSize),
                        out);
}

}  // namespace leasefs::backend::barrier
