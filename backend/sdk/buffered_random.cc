// Chunked nonce randomness.
#include "backend/sdk/buffered_random.h"

#include <algorithm>

namespace leasefs::backend::sdk {

Result<void> BufferedRandom::fill(std::span<std::uint8_t> out) {
  std::lock_guard lock(mu_);
  std::size_t done = 0;
  while (done < out.size()) {
    if (used_ == kChunk) {
      LEASEFS_TRY(inner_.fill(buffer_));
      used_ = 0;
    }
    std::size_t n = std::min(out.size() - done, kChunk - used_);
    std::copy_n(buffer_.begin() + static_cast<std::ptrdiff_t>(used_), n, out.begin() + static_cast<std::ptrdiff_t>(done));
    // Each byte is handed out once.
    std::fill_n(buffer_.begin() + static_cast<std::ptrdiff_t>(used_), n, 0);
    used_ += n;
    done += n;
  }
  return {};
}

}  // namespace leasefs::backend::sdk
