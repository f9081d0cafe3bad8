// Split and combine for Shamir's scheme over GF(2^8).
#include "backend/barrier/shamir.h"

#include <array>
#include <string>

namespace leasefs::backend::barrier {

namespace sdk = leasefs::backend::sdk;

std::uint8_t gf256_mul(std::uint8_t a, std::uint8_t b) {
  std::uint8_t product = 0;
  for (int i = 0; i < 8; ++i) {
    product ^= static_cast<std::uint8_t>(-(b & 1) & a);
    auto carry = static_cast<std::uint8_t>(-(a >> 7));
    a = static_cast<std::uint8_t>((a << 1) ^ (0x1b & carry));
    b >>= 1;
  }
  return product;
}

std::uint8_t gf256_inv(std::uint8_t a) {
  // a^254 = a^-1 in GF(2^8); square-and-multiply over the fixed exponent.
  std::uint8_t result = 1;
  std::uint8_t base = a;
  for (int bit = 0; bit < 8; ++bit) {
    if ((254 >> bit) & 1) result = gf256_mul(result, base);
    base = gf256_mul(base, base);
  }
  return result;
}

namespace {

// A random permutation of 1..255 (Fisher-Yates with unbiased draws).
sdk::Result<std::array<std::uint8_t, 255>> random_x_coordinates(sdk::Random& random) {
  std::array<std::uint8_t, 255> xs{};
  for (int i = 0; i < 255; ++i) xs[i] = static_cast<std::uint8_t>(i + 1);
  std::array<std::uint8_t, 1> draw{};
  for (int i = 254; i > 0; --i) {
    int bound = i + 1;
    int limit = 256 - (256 % bound);
    int j = 0;
    do {
      LEASEFS_TRY(random.fill(draw));
      j = draw[0];
    } while (j >= limit);
    std::swap(xs[i], xs[j % bound]);
  }
  return xs;
}

}  // namespace

sdk::Result<std::vector<sdk::SecureBuffer>> shamir_split(std::span<const std::uint8_t> secret,
                                                         int shares, int threshold,
                                                         sdk::Random& random) {
  if (secret.empty()) return sdk::invalid_argument("cannot split an empty secret");
  if (threshold < 2) return sdk::invalid_argument("threshold must be at least 2");
  if (shares < threshold) return sdk::invalid_argument("shares must be at least the threshold");
  if (shares > 255) return sdk::invalid_argument("shares must be at most 255");

  auto xs = random_x_coordinates(random);
  if (!xs) return sdk::error(xs.error());

  std::vector<sdk::SecureBuffer> out;
  out.reserve(static_cast<std::size_t>(shares));
  for (int s = 0; s < shares; ++s) {
    sdk::SecureBuffer share(secret.size() + 1);
    share.data()[secret.size()] = (*xs)[static_cast<std::size_t>(s)];
    out.push_back(std::move(share));
  }

  // One polynomial of degree threshold-1 per secret byte, constant term = that byte.
  sdk::SecureBuffer coefficients(static_cast<std::size_t>(threshold));
  for (std::size_t i = 0; i < secret.size(); ++i) {
    coefficients.data()[0] = secret[i];
    LEASEFS_TRY(random.fill(coefficients.span().subspan(1)));
    for (auto& share : out) {
      std::uint8_t x = share.data()[secret.size()];
      std::uint8_t y = 0;  // Horner's rule from the highest coefficient down
      for (int c = threshold - 1; c >= 0; --c) {
        y = static_cast<std::uint8_t>(gf256_mul(y, x) ^ coefficients.data()[c]);
      }
      share.data()[i] = y;
    }
  }
  return out;
}

sdk::Result<sdk::SecureBuffer> shamir_combine(std::span<const sdk::SecureBuffer> shares) {
  if (shares.size() < 2) return sdk::invalid_argument("at least two shares are needed");
  const std::size_t length = shares[0].size();
  if (length < 2) return sdk::invalid_argument("key share is too short");
  std::array<bool, 256> seen{};
  for (const auto& share : shares) {
    if (share.size() != length) return sdk::invalid_argument("key shares differ in length");
    std::uint8_t x = share.data()[length - 1];
    if (x == 0) return sdk::invalid_argument("key share has an invalid x coordinate");
    if (seen[x]) return sdk::invalid_argument("the same key share was given twice");
    seen[x] = true;
  }

  // Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i); '-' is xor here.
  sdk::SecureBuffer basis(shares.size());
  for (std::size_t i = 0; i < shares.size(); ++i) {
    std::uint8_t xi = shares[i].data()[length - 1];
    std::uint8_t l = 1;
    for (std::size_t j = 0; j < shares.size(); ++j) {
      if (i == j) continue;
      std::uint8_t xj = shares[j].data()[length - 1];
      l = gf256_mul(l, gf256_mul(xj, gf256_inv(static_cast<std::uint8_t>(xj ^ xi))));
    }
    basis.data()[i] = l;
  }

  sdk::SecureBuffer secret(length - 1);
  for (std::size_t b = 0; b + 1 < length; ++b) {
    std::uint8_t y = 0;
    for (std::size_t i = 0; i < shares.size(); ++i) {
      y ^= gf256_mul(shares[i].data()[b], basis.data()[i]);
    }
    secret.data()[b] = y;
  }
  return secret;
}

}  // namespace leasefs::backend::barrier
