// BufferedRandom: random bytes for AES-GCM nonces, drawn from the generator in 4 KiB
// chunks. A call to the system DRBG costs more than encrypting a 1 KiB value, so
// drawing one per nonce halved the barrier's throughput. Nonces are public (they are
// stored next to the ciphertext), so keeping a chunk of them in ordinary memory gives
// nothing away; key material never comes from here.
#pragma once

#include <array>
#include <mutex>

#include "backend/sdk/random.h"

namespace leasefs::backend::sdk {

class BufferedRandom final : public Random {
 public:
  explicit BufferedRandom(Random& inner) : inner_(inner) {}

  // Thread-safe. Fails only if the underlying generator does.
  Result<void> fill(std::span<std::uint8_t> out) override;

 private:
  static constexpr std::size_t kChunk = 4096;

  Random& inner_;
  std::mutex mu_;
  std::array<std::uint8_t, kChunk> buffer_{};  // guarded by mu_
  std::size_t used_ = kChunk;                  // guarded by mu_
};

}  // namespace leasefs::backend::sdk
