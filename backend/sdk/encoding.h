// Hex and base64 (standard alphabet, padded) for keys shown to operators. Decoders are
// strict: any character outside the alphabet, or a wrong length, is an error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::sdk {

std::string hex_encode(std::span<const std::uint8_t> bytes);
std::string base64_encode(std::span<const std::uint8_t> bytes);
inline std::string hex_encode(std::string_view s) {
  return hex_encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}
inline std::string base64_encode(std::string_view s) {
  return base64_encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points past
// U+10FFFF).
bool valid_utf8(std::string_view text);

// Decoded bytes in locked memory (these decoders are used for key material).
Result<SecureBuffer> hex_decode(std::string_view text);
Result<SecureBuffer> base64_decode(std::string_view text);

}  // namespace leasefs::backend::sdk
