// Injectable randomness. Keys, nonces, token ids and lease ids all come from a Random;
// production uses the OpenSSL DRBG, tests may use a seeded generator to make ids
// predictable. Never use a seeded generator for keys outside tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::sdk {

class Random {
 public:
  virtual ~Random() = default;
  // Fills `out` with random bytes. Fails only if the system generator is broken.
  // Thread-safe.
  virtual Result<void> fill(std::span<std::uint8_t> out) = 0;
};

// OpenSSL's RAND_bytes (a CSPRNG seeded from the kernel).
class SystemRandom final : public Random {
 public:
  Result<void> fill(std::span<std::uint8_t> out) override;
  static SystemRandom& instance();
};

// splitmix64 from a seed: reproducible, NOT cryptographic. For tests only.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
  Result<void> fill(std::span<std::uint8_t> out) override;

 private:
  std::uint64_t state_;
};

// A fresh key of `size` bytes in locked memory.
Result<SecureBuffer> random_key(Random& random, std::size_t size);
// `n` characters from [0-9A-Za-z], uniform (rejection sampling).
Result<std::string> random_base62(Random& random, std::size_t n);
// A version-4 UUID in its 36-character text form.
Result<std::string> random_uuid(Random& random);

}  // namespace leasefs::backend::sdk
