// The keyring: the root key and every data-encryption key ("term") ever installed.
// New values are encrypted with the active (newest) term; old terms stay so old values
// keep decrypting — rotation never re-encrypts data. The keyring is stored encrypted
// with the root key; its serialized form lives only in locked memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>

#include "backend/barrier/aes_gcm.h"
#include "backend/sdk/clock.h"
#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::barrier {

struct TermKey {
  std::uint32_t term = 0;
  sdk::WallTime install_time{};
  std::atomic<std::uint64_t> encryptions{0};  // values encrypted with this term so far
  std::unique_ptr<AesGcm> cipher;
};

class Keyring {
 public:
  // A keyring with `root_key` (32 bytes) and no terms.
  static sdk::Result<Keyring> create(sdk::SecureBuffer root_key);
  // Parses a serialized keyring; data_loss if it is malformed.
  static sdk::Result<Keyring> parse(std::span<const std::uint8_t> bytes);

  Keyring(Keyring&&) = default;
  Keyring& operator=(Keyring&&) = default;

  // Installs `key` as term active_term()+1 and makes it active. Not thread-safe with
  // readers: callers swap whole keyrings (see Barrier).
  sdk::Result<std::uint32_t> add_term(sdk::SecureBuffer key, sdk::WallTime install_time,
                                      std::uint64_t encryptions = 0);

  std::uint32_t active_term() const { return active_term_; }
  TermKey* term(std::uint32_t term) const;
  TermKey* active() const { return term(active_term_); }
  const sdk::SecureBuffer& root_key() const { return root_key_; }
  std::size_t term_count() const { return terms_.size(); }

  // A copy with the same keys (for rotation: build the new ring beside the old one).
  sdk::Result<Keyring> clone() const;
  sdk::SecureBuffer serialize() const;

 private:
  Keyring() = default;

  sdk::SecureBuffer root_key_;
  std::uint32_t active_term_ = 0;
  struct Entry {
    sdk::SecureBuffer key;
    std::unique_ptr<TermKey> state;
  };
  std::map<std::uint32_t, Entry> terms_;
};

}  // namespace leasefs::backend::barrier
