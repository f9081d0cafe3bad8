// Shamir seal: key generation at init, share collection and unsealing.
#include "backend/barrier/seal.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "backend/barrier/shamir.h"
#include "backend/barrier/value_format.h"
#include "backend/sdk/encoding.h"

namespace leasefs::backend::barrier {

namespace sdk = leasefs::backend::sdk;

namespace {

constexpr std::size_t kShareSize = kKeySize + 1;

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// A share (or the unsplit key) from operator text: hex first, as Vault does, then base64.
sdk::Result<sdk::SecureBuffer> decode_key(std::string_view text, std::size_t want) {
  std::string t = trim(text);
  if (t.empty()) return sdk::invalid_argument("unseal key is empty");
  auto decoded = sdk::hex_decode(t);
  if (!decoded) decoded = sdk::base64_decode(t);
  sdk::wipe(t.data(), t.size());
  if (!decoded) {
    return sdk::invalid_argument("unseal key is neither hex nor base64");
  }
  if (decoded->size() != want) {
    return sdk::invalid_argument("unseal key has " + std::to_string(decoded->size()) +
                                 " bytes, want " + std::to_string(want));
  }
  return decoded;
}

sdk::Result<void> check_counts(int shares, int threshold) {
  if (shares == 1 && threshold == 1) return {};
  if (shares < 1 || shares > 255) {
    return sdk::invalid_argument("secret_shares must be between 1 and 255");
  }
  if (threshold < 2) {
    return sdk::invalid_argument("secret_threshold must be at least 2 when secret_shares > 1");
  }
  if (threshold > shares) {
    return sdk::invalid_argument("secret_threshold cannot be larger than secret_shares");
  }
  return {};
}

}  // namespace

SealManager::SealManager(Barrier& barrier, sdk::Storage& physical, const sdk::Clock& clock,
                         sdk::Random& random)
    : barrier_(barrier), physical_(physical), clock_(clock), random_(random) {}

BarrierOptions SealManager::barrier_options() {
  BarrierOptions options;
  options.reserved_keys = {std::string(kSealConfigPath), std::string(kUnsealKeysPath)};
  return options;
}

sdk::Result<std::optional<SealConfig>> SealManager::load_config() {
  auto stored = physical_.get(kSealConfigPath);
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) return std::optional<SealConfig>();
  auto doc = nlohmann::json::parse(**stored, nullptr, false);
  auto bad = [] {
    return sdk::error(sdk::Code::kDataLoss, "seal configuration at \"core/seal-config\" is malformed");
  };
  if (doc.is_discarded() || !doc.is_object() || doc.value("type", "") != "shamir" ||
      !doc.contains("secret_shares") || !doc["secret_shares"].is_number_integer() ||
      !doc.contains("secret_threshold") || !doc["secret_threshold"].is_number_integer()) {
    return bad();
  }
  SealConfig config{doc["secret_shares"].get<int>(), doc["secret_threshold"].get<int>()};
  if (!check_counts(config.secret_shares, config.secret_threshold)) return bad();
  return std::optional<SealConfig>(config);
}

sdk::Result<SealConfig> SealManager::config() {
  auto config = load_config();
  if (!config) return sdk::error(config.error());
  if (!config->has_value()) {
    return sdk::error(sdk::Code::kFailedPrecondition, "Vault is not initialized");
  }
  return **config;
}

sdk::Result<InitResult> SealManager::initialize(
    int shares, int threshold, const std::function<sdk::Result<void>()>& while_unsealed) {
  std::lock_guard lock(mu_);
  LEASEFS_TRY(check_counts(shares, threshold));
  auto existing = load_config();
  if (!existing) return sdk::error(existing.error());
  if (existing->has_value()) {
    return sdk::error(sdk::Code::kAlreadyExists, "Vault is already initialized");
  }
  // A keyring without a seal configuration is what an interrupted init leaves: the
  // seal configuration is written last, so nothing was ever usable. Start over.
  auto leftover = barrier_.initialized();
  if (!leftover) return sdk::error(leftover.error());
  if (*leftover) {
    sdk::StorageOp clear[] = {sdk::StorageOp::remove(std::string(kKeyringPath)),
                              sdk::StorageOp::remove(std::string(kUnsealKeysPath))};
    LEASEFS_TRY(physical_.apply(clear));
  }

  auto unseal_key = sdk::random_key(random_, kKeySize);
  if (!unseal_key) return sdk::error(unseal_key.error());
  auto root_key = sdk::random_key(random_, kKeySize);
  if (!root_key) return sdk::error(root_key.error());

  InitResult result;
  if (shares == 1) {
    result.keys.push_back(unseal_key->clone());
  } else {
    auto split = shamir_split(unseal_key->span(), shares, threshold, random_);
    if (!split) return sdk::error(split.error());
    result.keys = std::move(*split);
  }

  auto wrapper = AesGcm::create(unseal_key->span());
  if (!wrapper) return sdk::error(wrapper.error());
  auto wrapped = seal_value(**wrapper, kRootKeyTerm, kUnsealKeysPath, root_key->span(), random_);
  if (!wrapped) return sdk::error(wrapped.error());
  sdk::StorageOp records[] = {sdk::StorageOp::put(std::string(kUnsealKeysPath), *wrapped)};
  LEASEFS_TRY(barrier_.initialize(*root_key, records));

  if (while_unsealed) {
    LEASEFS_TRY(barrier_.unseal(*root_key));
    auto done = while_unsealed();
    barrier_.seal();
    if (!done) return sdk::error(done.error().with_context("initialization failed"));
  }

  nlohmann::json config = {
      {"type", "shamir"}, {"secret_shares", shares}, {"secret_threshold", threshold}};
  LEASEFS_TRY(physical_.put(kSealConfigPath, config.dump()));
  progress_.clear();
  nonce_.clear();
  return result;
}

sdk::Result<void> SealManager::unseal_with(const sdk::SecureBuffer& unseal_key) {
  auto stored = physical_.get(kUnsealKeysPath);
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) {
    return sdk::error(sdk::Code::kDataLoss, "the wrapped root key (core/unseal-keys) is missing");
  }
  const std::string& blob = **stored;
  auto term = value_term(blob);
  if (!term || *term != kRootKeyTerm || plaintext_size(blob) != kKeySize) {
    return sdk::error(sdk::Code::kDataLoss, "the wrapped root key (core/unseal-keys) is malformed");
  }
  auto wrapper = AesGcm::create(unseal_key.span());
  if (!wrapper) return sdk::error(wrapper.error());
  sdk::SecureBuffer root_key(kKeySize);
  if (!open_value(**wrapper, kUnsealKeysPath, blob, root_key.span())) {
    return sdk::invalid_argument(
        "unseal failed: the key shares do not combine to the unseal key (a share is wrong "
        "or corrupted); progress was reset");
  }
  return barrier_.unseal(root_key);
}

sdk::Result<SealStatus> SealManager::submit_key(std::string_view key_text) {
  std::lock_guard lock(mu_);
  auto config = load_config();
  if (!config) return sdk::error(config.error());
  if (!config->has_value()) {
    return sdk::error(sdk::Code::kFailedPrecondition, "Vault is not initialized");
  }
  if (!barrier_.sealed()) return status_locked(*config);
  const bool unsplit = (*config)->secret_shares == 1;
  auto share = decode_key(key_text, unsplit ? kKeySize : kShareSize);
  if (!share) return sdk::error(share.error());

  for (const auto& seen : progress_) {
    if (sdk::constant_time_equal(seen.span(), share->span())) return status_locked(*config);
  }
  if (progress_.empty()) {
    auto nonce = sdk::random_uuid(random_);
    if (!nonce) return sdk::error(nonce.error());
    nonce_ = *nonce;
  }
  progress_.push_back(std::move(*share));
  if (static_cast<int>(progress_.size()) < (*config)->secret_threshold) {
    return status_locked(*config);
  }

  sdk::Result<sdk::SecureBuffer> unseal_key =
      unsplit ? sdk::Result<sdk::SecureBuffer>(progress_[0].clone()) : shamir_combine(progress_);
  progress_.clear();
  nonce_.clear();
  if (!unseal_key) {
    return sdk::error(unseal_key.error().with_context("unseal failed; progress was reset"));
  }
  LEASEFS_TRY(unseal_with(*unseal_key));
  return status_locked(*config);
}

sdk::Result<SealStatus> SealManager::reset_progress() {
  std::lock_guard lock(mu_);
  progress_.clear();
  nonce_.clear();
  auto config = load_config();
  if (!config) return sdk::error(config.error());
  return status_locked(*config);
}

sdk::Result<SealStatus> SealManager::status() {
  std::lock_guard lock(mu_);
  auto config = load_config();
  if (!config) return sdk::error(config.error());
  return status_locked(*config);
}

sdk::Result<SealStatus> SealManager::status_locked(const std::optional<SealConfig>& config) {
  SealStatus s;
  s.initialized = config.has_value();
  s.sealed = barrier_.sealed();
  if (config) {
    s.threshold = config->secret_threshold;
    s.shares = config->secret_shares;
  }
  s.progress = static_cast<int>(progress_.size());
  s.nonce = nonce_;
  return s;
}

void SealManager::seal() {
  std::lock_guard lock(mu_);
  progress_.clear();
  nonce_.clear();
  barrier_.seal();
}

}  // namespace leasefs::backend::barrier
