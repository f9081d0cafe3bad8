// The Shamir seal: init, unseal with progress, seal. The unseal key never touches
// storage; Shamir's scheme splits it into shares handed to operators once, at init.
// Storage holds the seal configuration (plain JSON, so status works while sealed) and
// the root key encrypted with the unseal key. Unsealing collects shares in memory until
// the threshold is reached, combines them, unwraps the root key (an authenticated
// decryption, which is what rejects a wrong or corrupted share) and unseals the barrier.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "backend/barrier/barrier.h"

namespace leasefs::backend::barrier {

inline constexpr std::string_view kSealConfigPath = "core/seal-config";
inline constexpr std::string_view kUnsealKeysPath = "core/unseal-keys";

struct SealConfig {
  int secret_shares = 0;
  int secret_threshold = 0;
};

struct InitResult {
  std::vector<sdk::SecureBuffer> keys;  // the shares (or the one key when shares == 1)
};

struct SealStatus {
  bool initialized = false;
  bool sealed = true;
  int threshold = 0;  // "t"
  int shares = 0;     // "n"
  int progress = 0;
  std::string nonce;  // identifies the unseal attempt in progress; "" when none
};

class SealManager {
 public:
  // `barrier` must have been built with BarrierOptions::reserved_keys containing
  // kSealConfigPath and kUnsealKeysPath (see barrier_options()). Everything must
  // outlive the manager.
  SealManager(Barrier& barrier, sdk::Storage& physical, const sdk::Clock& clock,
              sdk::Random& random);

  // The options a Barrier under this seal needs.
  static BarrierOptions barrier_options();

  // Creates the keys: 1 <= threshold <= shares <= 255, threshold >= 2 unless both are
  // 1 (an unsplit key, as Vault's dev mode). `while_unsealed`, if given, runs with the
  // barrier unsealed before the seal configuration is written (the core creates the
  // root token there); if it fails, init fails and may be retried. already_exists if
  // initialized; invalid_argument for bad counts. Leaves the barrier sealed.
  sdk::Result<InitResult> initialize(int shares, int threshold,
                                     const std::function<sdk::Result<void>()>& while_unsealed = {});

  // Adds one key share, given as hex or base64. At the threshold, combines and unseals.
  // A malformed share gives invalid_argument and does not count; a repeated share is
  // ignored; shares that combine to a wrong key give invalid_argument and reset the
  // progress. Returns the status after the step.
  sdk::Result<SealStatus> submit_key(std::string_view key_text);
  // Forgets the shares given so far.
  sdk::Result<SealStatus> reset_progress();
  sdk::Result<SealStatus> status();
  // Seals the barrier and forgets any progress.
  void seal();

  sdk::Result<SealConfig> config();

 private:
  sdk::Result<std::optional<SealConfig>> load_config();
  sdk::Result<SealStatus> status_locked(const std::optional<SealConfig>& config);
  sdk::Result<void> unseal_with(const sdk::SecureBuffer& unseal_key);

  Barrier& barrier_;
  sdk::Storage& physical_;
  const sdk::Clock& clock_;
  sdk::Random& random_;

  std::mutex mu_;
  std::vector<sdk::SecureBuffer> progress_;  // guarded by mu_
  std::string nonce_;                        // guarded by mu_
};

}  // namespace leasefs::backend::barrier
