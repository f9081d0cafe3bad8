// The AppRole engine's shared state and storage codecs, used by every path file:
// the per-mount salt and the keyed hash (HMAC-SHA256) that keeps secret ids, role ids
// and accessors out of storage, the locks that make login's read-modify-write of a
// secret id atomic, and the JSON shapes of roles, secret ids and index entries.
// Internal to engines/approle; the public surface is approle.h.
//
// Lock order: roles_mutex() (shared or exclusive) before one secret_id_stripe(); never
// two stripes at once, never the roles mutex while holding a stripe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/sdk/duration.h"
#include "backend/sdk/secure_buffer.h"

namespace leasefs::engines::approle {

namespace sdk = ::leasefs::backend::sdk;

// Longest role name, secret id or role id the engine hashes (Vault's limit).
inline constexpr std::size_t kMaxHmacInput = 4096;
// Vault's text for every login failure that must not tell which half was wrong.
inline constexpr std::string_view kInvalidCredentials = "invalid role or secret ID";

// A role as stored. Durations are whole seconds in storage.
struct Role {
  std::string name{};  // lower-case; the storage key, not stored in the value
  std::string role_id{};
  bool bind_secret_id = true;
  std::vector<std::string> secret_id_bound_cidrs{};
  std::int64_t secret_id_num_uses = 0;
  sdk::Duration secret_id_ttl{0};
  bool local_secret_ids = false;
  std::vector<std::string> token_policies{};
  std::vector<std::string> policies{};  // legacy alias, kept only while a client uses it
  std::vector<std::string> token_bound_cidrs{};
  sdk::Duration token_ttl{0};
  sdk::Duration token_max_ttl{0};
  sdk::Duration token_explicit_max_ttl{0};
  sdk::Duration token_period{0};
  sdk::Duration period{0};  // legacy alias of token_period
  bool token_no_default_policy = false;
  std::int64_t token_num_uses = 0;
  std::string token_type = "default";  // "default" or "service"; batch is refused
};

// A secret id as stored (under its keyed hash; the secret id itself is never stored).
struct SecretIdEntry {
  std::string secret_id_hmac{};
  std::string role_name{};
  std::string accessor{};
  std::int64_t num_uses = 0;  // uses left; 0 = unlimited
  sdk::Duration ttl{0};       // as asked for; 0 = never expires
  sdk::WallTime creation_time{};
  std::optional<sdk::WallTime> expiration_time{};  // nullopt = never
  sdk::WallTime last_updated_time{};
  std::map<std::string, std::string> metadata{};
  std::vector<std::string> cidr_list{};
  std::vector<std::string> token_bound_cidrs{};

  bool expired(sdk::WallTime now) const {
    return expiration_time.has_value() && now >= *expiration_time;
  }
};

// Storage keys, relative to the mount's view (the layout is documented in approle.h).
std::string role_key(std::string_view role_name);
std::string role_id_key(std::string_view role_id_hmac);
std::string secret_id_prefix(std::string_view role_name);  // ends in '/'
std::string secret_id_key(std::string_view role_name, std::string_view secret_id_hmac);
std::string accessor_key(std::string_view accessor_hmac);

// Codecs. Decoders never throw; a value that is not what the engine wrote gives
// Code::kDataLoss naming the key.
std::string encode_role(const Role& role);
sdk::Result<Role> decode_role(std::string_view name, std::string_view value);
std::string encode_secret_id(const SecretIdEntry& entry);
sdk::Result<SecretIdEntry> decode_secret_id(std::string_view key, std::string_view value);

// Vault's answers: GET role/<name> and the secret id lookups.
nlohmann::json role_read_data(const Role& role);
nlohmann::json secret_id_lookup_data(const SecretIdEntry& entry);

// Vault's policyutil.ParsePolicies: trimmed, lower-cased, empties dropped, sorted,
// deduplicated; a list holding "root" becomes just ["root"].
std::vector<std::string> parse_policies(const std::vector<std::string>& policies);

// Role names as Vault's route regex allows them: 1 to 4096 bytes of [A-Za-z0-9_.-],
// beginning and ending with a letter, digit or underscore.
bool valid_role_name(std::string_view name);

// Shared state of one mounted AppRole engine. Thread-safe.
class Engine {
 public:
  explicit Engine(const sdk::BackendConfig& config);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Fills the request's storage, clock and random from the mount's config where the
  // router left them null; fails with kInternal when neither has one.
  sdk::Result<void> fill_context(sdk::Request& request) const;

  // "hmac-sha256(salt, value)" in hex. The salt is 32 random bytes stored at "salt",
  // made on first use. Fails with invalid_argument when `value` is longer than
  // kMaxHmacInput (the message never contains `value`).
  sdk::Result<std::string> hmac(sdk::Request& request, std::string_view value);
  // Forgets the cached salt (seal, unmount).
  void forget_salt();

  // The role named `name` (already lower-cased), or nullopt.
  sdk::Result<std::optional<Role>> read_role(sdk::Request& request, std::string_view name);
  // The role a role id belongs to, or nullopt. The role id is compared in constant time.
  sdk::Result<std::optional<Role>> role_by_role_id(sdk::Request& request, std::string_view role_id);
  // Validates `role` (constraints, role_id uniqueness) and writes it with its role id
  // index in one batch, dropping the index of `previous_role_id` when it changed.
  // Requires the exclusive roles lock.
  sdk::Result<void> store_role(sdk::Request& request, const Role& role,
                               std::string_view previous_role_id);

  // The secret id stored under `key`, or nullopt. Requires its stripe.
  sdk::Result<std::optional<SecretIdEntry>> read_secret_id(sdk::Request& request,
                                                           std::string_view key);
  // Ops that delete a secret id and its accessor index.
  sdk::Result<std::vector<sdk::StorageOp>> delete_secret_id_ops(sdk::Request& request,
                                                                const SecretIdEntry& entry);

  // Exclusive for role writes and deletes, shared for everything that reads a role.
  std::shared_mutex& roles_mutex() { return roles_mu_; }
  // The lock of one secret id, by its keyed hash.
  std::mutex& secret_id_stripe(std::string_view secret_id_hmac);
  // Set while a tidy runs; a second one is refused.
  std::atomic<bool>& tidy_running() { return tidy_running_; }

 private:
  sdk::Storage* storage_;
  const sdk::Clock* clock_;
  sdk::Random* random_;

  std::mutex salt_mu_;
  sdk::SecureBuffer salt_;  // guarded by salt_mu_; empty until first use

  std::shared_mutex roles_mu_;
  std::array<std::mutex, 256> stripes_;
  std::atomic<bool> tidy_running_{false};
};

// The paths of each file, bound to the shared engine.
std::vector<sdk::PathSpec> role_paths(const std::shared_ptr<Engine>& engine);
std::vector<sdk::PathSpec> secret_id_paths(const std::shared_ptr<Engine>& engine);
std::vector<sdk::PathSpec> login_paths(const std::shared_ptr<Engine>& engine);
std::vector<sdk::PathSpec> tidy_paths(const std::shared_ptr<Engine>& engine);

// Wraps a handler so that it runs with the request's context filled in.
sdk::Handler bind_handler(
    const std::shared_ptr<Engine>& engine,
    std::function<sdk::Result<sdk::Response>(Engine&, sdk::Request&, const sdk::FieldData&)>
        handler);

// The lower-cased role name of a request, checked; invalid_argument names the field.
sdk::Result<std::string> role_name_of(const sdk::FieldData& fields);

// `s` without leading and trailing spaces, tabs and line ends (Vault's TrimSpace).
std::string trim_space(std::string_view s);

// JSON text that never throws: bytes that are not UTF-8 become U+FFFD. Every dump of
// a client's string goes through here.
std::string dump_json(const nlohmann::json& value);
// A string in double quotes, as Go's %q shows it in Vault's messages.
std::string go_quote(std::string_view text);

// Vault's 404 with no message ({"errors":[]}): a missing role, an empty list.
inline std::unexpected<sdk::Status> plain_not_found() {
  return sdk::not_found("");
}
// `role "<name>" does not exist`.
std::unexpected<sdk::Status> role_not_found(std::string_view name);

}  // namespace leasefs::engines::approle
