// System and seeded random sources and the id shapes built from them.
#include "backend/sdk/random.h"

#include <openssl/rand.h>

#include <array>
#include <climits>

namespace leasefs::backend::sdk {

Result<void> SystemRandom::fill(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    std::size_t chunk = std::min<std::size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      return error(Code::kInternal, "the system random generator failed");
    }
    done += chunk;
  }
  return {};
}

SystemRandom& SystemRandom::instance() {
  static SystemRandom random;
  return random;
}

Result<void> SeededRandom::fill(std::span<std::uint8_t> out) {
  for (std::size_t i = 0; i < out.size(); i += 8) {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (std::size_t j = 0; j < 8 && i + j < out.size(); ++j) {
      out[i + j] = static_cast<std::uint8_t>(z >> (8 * j));
    }
  }
  return {};
}

Result<SecureBuffer> random_key(Random& random, std::size_t size) {
  SecureBuffer key(size);
  LEASEFS_TRY(random.fill(key.span()));
  return key;
}

Result<std::string> random_base62(Random& random, std::size_t n) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  out.reserve(n);
  std::array<std::uint8_t, 64> pool{};
  std::size_t used = pool.size();
  while (out.size() < n) {
    if (used == pool.size()) {
      LEASEFS_TRY(random.fill(pool));
      used = 0;
    }
    std::uint8_t b = pool[used++];
    if (b < 248) out.push_back(kAlphabet[b % 62]);  // 248 = 4 * 62: no modulo bias
  }
  wipe(pool.data(), pool.size());
  return out;
}

Result<std::string> random_uuid(Random& random) {
  std::array<std::uint8_t, 16> b{};
  LEASEFS_TRY(random.fill(b));
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

}  // namespace leasefs::backend::sdk
