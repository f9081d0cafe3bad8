// Shamir's secret sharing over GF(2^8), the scheme Vault uses to split the unseal key.
// A share is the secret's length of y bytes followed by one x-coordinate byte (1..255,
// unique per share), so a 32-byte key gives 33-byte shares. Arithmetic is constant-time
// (no table lookups indexed by secret bytes).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/sdk/random.h"
#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::barrier {

// Splits `secret` into `shares` shares, any `threshold` of which recover it.
// Requires 2 <= threshold <= shares <= 255 and a non-empty secret; otherwise
// invalid_argument naming the limit.
sdk::Result<std::vector<sdk::SecureBuffer>> shamir_split(std::span<const std::uint8_t> secret,
                                                         int shares, int threshold,
                                                         sdk::Random& random);

// Recovers the secret from at least `threshold` shares (the threshold itself is not
// recorded in the shares: fewer shares give a wrong secret, which the caller must
// detect, e.g. by an authenticated decryption). Fails with invalid_argument on fewer
// than two shares, shares of different or too-short length, or a repeated or zero x
// coordinate.
sdk::Result<sdk::SecureBuffer> shamir_combine(std::span<const sdk::SecureBuffer> shares);

// GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1; exposed for tests.
std::uint8_t gf256_mul(std::uint8_t a, std::uint8_t b);
std::uint8_t gf256_inv(std::uint8_t a);  // inv(0) = 0

}  // namespace leasefs::backend::barrier
