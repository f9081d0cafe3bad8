// Encryption of stored values, keyring lifecycle, rotation.
#include "backend/barrier/barrier.h"

#include <algorithm>
#include <mutex>

#include "backend/barrier/value_format.h"

namespace leasefs::backend::barrier {

namespace sdk = leasefs::backend::sdk;

namespace {

std::unexpected<sdk::Status> sealed_error() {
  return sdk::error(sdk::Code::kSealed, "Vault is sealed");
}

std::unexpected<sdk::Status> integrity_error(std::string_view key, const sdk::Status& why) {
  return sdk::error(sdk::Code::kDataLoss, "stored value at \"" + std::string(key) +
                                              "\" failed its integrity check (" +
                                              why.message() + ")");
}

}  // namespace

Barrier::Barrier(sdk::Storage& physical, const sdk::Clock& clock, sdk::Random& random,
                 BarrierOptions options)
    : physical_(physical),
      clock_(clock),
      random_(random),
      nonces_(random),
      options_(std::move(options)) {
  options_.reserved_keys.emplace_back(kKeyringPath);
}

Barrier::~Barrier() {
  std::unique_lock lock(mu_);
  keyring_.reset();
}

sdk::Result<void> Barrier::check_key(std::string_view key, bool is_prefix) const {
  LEASEFS_TRY(sdk::validate_key(key, is_prefix));
  if (!is_prefix &&
      std::find(options_.reserved_keys.begin(), options_.reserved_keys.end(), key) !=
          options_.reserved_keys.end()) {
    return sdk::error(sdk::Code::kPermissionDenied,
                      "storage key \"" + std::string(key) + "\" is reserved for the barrier");
  }
  return {};
}

sdk::Result<bool> Barrier::initialized() {
  auto stored = physical_.get(kKeyringPath);
  if (!stored) return sdk::error(stored.error());
  return stored->has_value();
}

sdk::Result<std::string> Barrier::seal_keyring(const Keyring& ring) const {
  auto root = AesGcm::create(ring.root_key().span());
  if (!root) return sdk::error(root.error());
  sdk::SecureBuffer plain = ring.serialize();
  return seal_value(**root, kRootKeyTerm, kKeyringPath, plain.span(), random_);
}

sdk::Result<void> Barrier::initialize(const sdk::SecureBuffer& root_key,
                                      std::span<const sdk::StorageOp> extra) {
  std::unique_lock rotate_lock(rotate_mu_);
  auto exists = initialized();
  if (!exists) return sdk::error(exists.error());
  if (*exists) return sdk::error(sdk::Code::kAlreadyExists, "Vault is already initialized");

  auto ring = Keyring::create(root_key.clone());
  if (!ring) return sdk::error(ring.error());
  auto term_key = sdk::random_key(random_, kKeySize);
  if (!term_key) return sdk::error(term_key.error());
  auto term = ring->add_term(std::move(*term_key), clock_.now());
  if (!term) return sdk::error(term.error());
  auto sealed_ring = seal_keyring(*ring);
  if (!sealed_ring) return sdk::error(sealed_ring.error());

  std::vector<sdk::StorageOp> ops(extra.begin(), extra.end());
  ops.push_back(sdk::StorageOp::put(std::string(kKeyringPath), std::move(*sealed_ring)));
  return physical_.apply(ops);
}

sdk::Result<void> Barrier::unseal(const sdk::SecureBuffer& root_key) {
  std::unique_lock rotate_lock(rotate_mu_);
  auto stored = physical_.get(kKeyringPath);
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) {
    return sdk::error(sdk::Code::kFailedPrecondition, "Vault is not initialized");
  }
  const std::string& blob = **stored;
  auto term = value_term(blob);
  if (!term || *term != kRootKeyTerm) {
    return sdk::error(sdk::Code::kDataLoss, "stored keyring at \"core/keyring\" is malformed");
  }
  auto root = AesGcm::create(root_key.span());
  if (!root) return sdk::error(root.error());
  sdk::SecureBuffer plain(plaintext_size(blob));
  auto opened = open_value(**root, kKeyringPath, blob, plain.span());
  if (!opened) {
    return sdk::error(sdk::Code::kDataLoss,
                      "stored keyring at \"core/keyring\" does not authenticate under the "
                      "root key (it was altered, or the root key is wrong)");
  }
  auto ring = Keyring::parse(plain.span());
  if (!ring) return sdk::error(ring.error());
  if (!sdk::constant_time_equal(ring->root_key().span(), root_key.span())) {
    return sdk::error(sdk::Code::kDataLoss, "stored keyring names a different root key");
  }
  std::unique_lock lock(mu_);
  keyring_ = std::make_unique<Keyring>(std::move(*ring));
  return {};
}

void Barrier::seal() {
  std::unique_lock rotate_lock(rotate_mu_);
  std::unique_lock lock(mu_);
  if (!keyring_) return;
  // Keep the encryption counters across unseals; failure here must not stop the seal.
  if (auto sealed_ring = seal_keyring(*keyring_)) {
    (void)physical_.put(kKeyringPath, *sealed_ring);
  }
  keyring_.reset();
}

bool Barrier::sealed() const {
  std::shared_lock lock(mu_);
  return keyring_ == nullptr;
}

sdk::Result<KeyStatus> Barrier::key_status() const {
  std::shared_lock lock(mu_);
  if (!keyring_) return sealed_error();
  const TermKey* active = keyring_->active();
  return KeyStatus{active->term, active->install_time, active->encryptions.load()};
}

sdk::Result<KeyStatus> Barrier::rotate() {
  std::unique_lock rotate_lock(rotate_mu_);
  sdk::Result<Keyring> next = sdk::error(sdk::Code::kSealed, "Vault is sealed");
  {
    std::shared_lock lock(mu_);
    if (!keyring_) return sealed_error();
    next = keyring_->clone();
  }
  if (!next) return sdk::error(next.error());
  auto term_key = sdk::random_key(random_, kKeySize);
  if (!term_key) return sdk::error(term_key.error());
  auto term = next->add_term(std::move(*term_key), clock_.now());
  if (!term) return sdk::error(term.error());
  auto sealed_ring = seal_keyring(*next);
  if (!sealed_ring) return sdk::error(sealed_ring.error());

  std::unique_lock lock(mu_);
  if (!keyring_) return sealed_error();
  // Carry over counters that moved while the new ring was built.
  for (std::uint32_t t = 1; t < *term; ++t) {
    if (TermKey* old = keyring_->term(t)) next->term(t)->encryptions = old->encryptions.load();
  }
  LEASEFS_TRY(physical_.put(kKeyringPath, *sealed_ring));
  keyring_ = std::make_unique<Keyring>(std::move(*next));
  const TermKey* active = keyring_->active();
  return KeyStatus{active->term, active->install_time, active->encryptions.load()};
}

void Barrier::maybe_rotate(bool rotation_due) {
  if (rotation_due) (void)rotate();
}

sdk::Result<std::string> Barrier::encrypt(std::string_view key, std::string_view value,
                                          bool& rotation_due) {
  std::shared_lock lock(mu_);
  if (!keyring_) return sealed_error();
  TermKey* active = keyring_->active();
  std::uint64_t count = ++active->encryptions;
  rotation_due = rotation_due || count == options_.rotate_after_encryptions;
  return seal_value(*active->cipher, active->term, key, value, nonces_);
}

sdk::Result<std::optional<std::string>> Barrier::get(std::string_view key) {
  if (sealed()) return sealed_error();
  LEASEFS_TRY(check_key(key));
  auto stored = physical_.get(key);
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) return std::optional<std::string>();
  const std::string& blob = **stored;
  auto term = value_term(blob);
  if (!term) return integrity_error(key, term.error());
  std::string plain(plaintext_size(blob), '\0');
  {
    std::shared_lock lock(mu_);
    if (!keyring_) return sealed_error();
    TermKey* t = keyring_->term(*term);
    if (t == nullptr) {
      return integrity_error(key, sdk::Status(sdk::Code::kDataLoss,
                                              "unknown key term " + std::to_string(*term)));
    }
    auto opened = open_value(*t->cipher, key, blob,
                             {reinterpret_cast<std::uint8_t*>(plain.data()), plain.size()});
    if (!opened) return integrity_error(key, opened.error());
  }
  return std::optional<std::string>(std::move(plain));
}

sdk::Result<void> Barrier::put(std::string_view key, std::string_view value) {
  LEASEFS_TRY(check_key(key));
  bool rotation_due = false;
  auto sealed_value = encrypt(key, value, rotation_due);
  if (!sealed_value) return sdk::error(sealed_value.error());
  LEASEFS_TRY(physical_.put(key, *sealed_value));
  maybe_rotate(rotation_due);
  return {};
}

sdk::Result<void> Barrier::remove(std::string_view key) {
  if (sealed()) return sealed_error();
  LEASEFS_TRY(check_key(key));
  return physical_.remove(key);
}

sdk::Result<std::vector<std::string>> Barrier::list(std::string_view prefix) {
  if (sealed()) return sealed_error();
  LEASEFS_TRY(check_key(prefix, true));
  return physical_.list(prefix);
}

sdk::Result<std::vector<std::string>> Barrier::list_page(std::string_view prefix,
                                                         std::string_view after,
                                                         std::size_t limit) {
  if (sealed()) return sealed_error();
  LEASEFS_TRY(check_key(prefix, true));
  return physical_.list_page(prefix, after, limit);
}

sdk::Result<void> Barrier::apply(std::span<const sdk::StorageOp> ops) {
  if (sealed()) return sealed_error();
  std::vector<sdk::StorageOp> encrypted;
  encrypted.reserve(ops.size());
  bool rotation_due = false;
  for (const auto& op : ops) {
    LEASEFS_TRY(check_key(op.key));
    if (op.kind == sdk::StorageOp::Kind::kDelete) {
      encrypted.push_back(op);
      continue;
    }
    auto sealed_value = encrypt(op.key, op.value, rotation_due);
    if (!sealed_value) return sdk::error(sealed_value.error());
    encrypted.push_back(sdk::StorageOp::put(op.key, std::move(*sealed_value)));
  }
  LEASEFS_TRY(physical_.apply(encrypted));
  maybe_rotate(rotation_due);
  return {};
}

}  // namespace leasefs::backend::barrier
