// The barrier: a Storage that encrypts every value (AES-256-GCM, the storage path as
// AAD) on its way to the physical backend and checks it on the way back. It holds the
// keyring while unsealed; sealed, it holds no keys and refuses every operation with
// Code::kSealed. Keys (paths) are not encrypted, as in Vault.
#pragma once

#include <atomic>
#include <memory>
#include <shared_mutex>

#include "backend/barrier/keyring.h"
#include "backend/sdk/buffered_random.h"
#include "backend/sdk/clock.h"
#include "backend/sdk/random.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::barrier {

inline constexpr std::string_view kKeyringPath = "core/keyring";

struct KeyStatus {
  std::uint32_t term = 0;
  sdk::WallTime install_time{};
  std::uint64_t encryptions = 0;
};

struct BarrierOptions {
  // Rotate automatically once the active term has encrypted this many values (random
  // 96-bit nonces stay safe far beyond it). Vault's default: 10% short of 2^32.
  std::uint64_t rotate_after_encryptions = 3'865'470'566ULL;
  // Physical keys that nobody may touch through the barrier (the seal's own records).
  std::vector<std::string> reserved_keys{};
};

class Barrier final : public sdk::Storage {
 public:
  // `physical`, `clock` and `random` must outlive the barrier. Starts sealed.
  Barrier(sdk::Storage& physical, const sdk::Clock& clock, sdk::Random& random,
          BarrierOptions options = {});
  ~Barrier() override;

  // True when a keyring is stored.
  sdk::Result<bool> initialized();
  // Makes a keyring with one fresh term, encrypts it with `root_key` and stores it in
  // one atomic batch together with `extra` (plain physical writes, e.g. the seal's
  // records). already_exists if a keyring is stored; nothing is written then. The
  // barrier stays sealed.
  sdk::Result<void> initialize(const sdk::SecureBuffer& root_key,
                               std::span<const sdk::StorageOp> extra = {});
  // Loads the keyring with `root_key`. failed_precondition if not initialized;
  // data_loss if the stored keyring does not authenticate under this root key.
  sdk::Result<void> unseal(const sdk::SecureBuffer& root_key);
  // Wipes every key. Saves the keyring's encryption counters first (best effort).
  void seal();
  bool sealed() const;

  sdk::Result<KeyStatus> key_status() const;
  // Installs a new term and makes it active; old terms keep decrypting. Returns the
  // new term's status.
  sdk::Result<KeyStatus> rotate();

  // sdk::Storage, each failing with Code::kSealed while sealed. get() fails with
  // data_loss if the stored value does not authenticate (altered, truncated, moved
  // from another path, or of an unknown term).
  sdk::Result<std::optional<std::string>> get(std::string_view key) override;
  sdk::Result<void> put(std::string_view key, std::string_view value) override;
  sdk::Result<void> remove(std::string_view key) override;
  sdk::Result<std::vector<std::string>> list(std::string_view prefix) override;
  sdk::Result<std::vector<std::string>> list_page(std::string_view prefix,
                                                  std::string_view after,
                                                  std::size_t limit) override;
  sdk::Result<void> apply(std::span<const sdk::StorageOp> ops) override;

 private:
  sdk::Result<std::string> encrypt(std::string_view key, std::string_view value,
                                   bool& rotation_due);
  sdk::Result<void> check_key(std::string_view key, bool is_prefix = false) const;
  sdk::Result<std::string> seal_keyring(const Keyring& ring) const;
  void maybe_rotate(bool rotation_due);

  sdk::Storage& physical_;
  const sdk::Clock& clock_;
  sdk::Random& random_;   // keys
  sdk::BufferedRandom nonces_;    // nonces
  BarrierOptions options_;

  mutable std::shared_mutex mu_;
  std::unique_ptr<Keyring> keyring_;  // null while sealed; guarded by mu_
  std::mutex rotate_mu_;              // one rotation at a time
};

}  // namespace leasefs::backend::barrier
