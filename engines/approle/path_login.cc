// The login path: role_id (and, when the role binds one, secret_id) in, an AuthInfo
// out that the core turns into a token. Unauthenticated by design, so every failure
// that could tell an attacker which half was wrong says only Vault's "invalid role or
// secret ID". A secret ID's use is counted under its lock, so of two logins racing on
// its last use exactly one succeeds.
#include <algorithm>
#include <limits>
#include <mutex>
#include <shared_mutex>

#include "backend/sdk/cidr.h"
#include "engines/approle/engine.h"

namespace leasefs::engines::approle {

using backend::sdk::parse_remote_address;
using backend::sdk::address_in_blocks;
using backend::sdk::cidr_subset;
namespace {

using nlohmann::json;

std::unexpected<sdk::Status> invalid_credentials() {
  return sdk::invalid_argument(std::string(kInvalidCredentials));
}

// Checks the caller's address against `blocks` (skipped when empty). `what` ends
// Vault's message: "the secret ID" or "the role".
sdk::Result<void> check_source(const sdk::Request& req, const std::vector<std::string>& blocks,
                               std::string_view what) {
  if (blocks.empty()) return {};
  const std::string& remote = req.caller.remote_address;
  if (remote.empty()) return sdk::internal_error("failed to get connection information");
  auto address = parse_remote_address(remote);
  if (!address || !address_in_blocks(*address, blocks)) {
    return sdk::invalid_argument("source address " + go_quote(remote) +
                                 " unauthorized by CIDR restrictions on " + std::string(what));
  }
  return {};
}

// Validates the secret ID of a role that binds one and counts its use. Returns the
// entry as it was before the use.
sdk::Result<SecretIdEntry> use_secret_id(Engine& e, sdk::Request& req, const Role& role,
                                         const std::string& secret_id) {
  if (secret_id.size() > kMaxHmacInput) return invalid_credentials();  // never one of ours
  auto secret_hash = e.hmac(req, secret_id);
  if (!secret_hash) return sdk::error(secret_hash.error());
  std::lock_guard stripe(e.secret_id_stripe(*secret_hash));
  auto found = e.read_secret_id(req, secret_id_key(role.name, *secret_hash));
  if (!found) return sdk::error(found.error());
  if (!found->has_value()) return invalid_credentials();
  SecretIdEntry entry = std::move(**found);
  if (!sdk::constant_time_equal(entry.secret_id_hmac, *secret_hash) ||
      entry.role_name != role.name) {
    return invalid_credentials();
  }
  auto acc_hash = e.hmac(req, entry.accessor);
  if (!acc_hash) return sdk::error(acc_hash.error());
  const std::vector<sdk::StorageOp> drop = {
      sdk::StorageOp::remove(accessor_key(*acc_hash)),
      sdk::StorageOp::remove(secret_id_key(role.name, *secret_hash))};

  // An expired secret ID is cleaned up now rather than at the next tidy; one without
  // its accessor index cannot be managed, so it is revoked (Vault does).
  auto acc = req.storage->get(accessor_key(*acc_hash));
  if (!acc) return sdk::error(acc.error());
  if (!acc->has_value() || entry.expired(req.clock->now())) {
    LEASEFS_TRY(req.storage->apply(drop));
    return invalid_credentials();
  }

  // Address checks come before the use is counted, so a refused login costs nothing.
  if (!cidr_subset(role.secret_id_bound_cidrs, entry.cidr_list)) {
    return sdk::invalid_argument(
        "failed to verify subset relationship between CIDR blocks on the role and CIDR "
        "blocks on the secret ID");
  }
  LEASEFS_TRY(check_source(req, entry.cidr_list, "the secret ID"));
  LEASEFS_TRY(check_source(req, role.secret_id_bound_cidrs, "the role"));

  if (entry.num_uses == 1) {
    LEASEFS_TRY(req.storage->apply(drop));  // the last use deletes it
  } else if (entry.num_uses > 1) {
    SecretIdEntry left = entry;
    left.num_uses -= 1;
    left.last_updated_time = req.clock->now();
    LEASEFS_TRY(req.storage->put(secret_id_key(role.name, *secret_hash), encode_secret_id(left)));
  }
  return entry;
}

sdk::Result<sdk::Response> login(Engine& e, sdk::Request& req, const sdk::FieldData& f) {
  std::string role_id = trim_space(f.string("role_id"));
  if (role_id.empty()) return sdk::invalid_argument("missing role_id");
  if (role_id.size() > kMaxHmacInput) return invalid_credentials();  // never one of ours
  std::shared_lock lock(e.roles_mutex());
  auto found = e.role_by_role_id(req, role_id);
  if (!found) return sdk::error(found.error());
  if (!found->has_value()) return invalid_credentials();
  const Role& role = **found;

  std::map<std::string, std::string> metadata;
  std::vector<std::string> token_bound_cidrs = role.token_bound_cidrs;
  if (role.bind_secret_id) {
    std::string secret_id = trim_space(f.string("secret_id"));
    if (secret_id.empty()) return sdk::invalid_argument("missing secret_id");
    auto entry = use_secret_id(e, req, role, secret_id);
    if (!entry) return sdk::error(entry.error());
    metadata = std::move(entry->metadata);
    if (!entry->token_bound_cidrs.empty()) token_bound_cidrs = entry->token_bound_cidrs;
  } else {
    LEASEFS_TRY(check_source(req, role.secret_id_bound_cidrs, "the role"));
  }
  metadata["role_name"] = role.name;

  sdk::AuthInfo auth;
  auth.policies = role.token_policies;
  auth.metadata = std::move(metadata);
  auth.display_name = "";  // the core prefixes the mount ("approle"), as Vault's does
  auth.ttl = role.token_ttl;
  auth.max_ttl = role.token_max_ttl;
  auth.explicit_max_ttl = role.token_explicit_max_ttl;
  auth.period = role.token_period;
  auth.renewable = true;
  // AuthInfo counts uses in an int; a few billion uses is unlimited in practice.
  auth.num_uses = static_cast<int>(
      std::min<std::int64_t>(role.token_num_uses, std::numeric_limits<int>::max()));
  auth.no_default_policy = role.token_no_default_policy;
  auth.internal = json{{"role_name", role.name}, {"role_id", role.role_id}};
  auth.bound_cidrs = std::move(token_bound_cidrs);
  sdk::Response response;
  response.auth = std::move(auth);
  return response;
}

}  // namespace

std::vector<sdk::PathSpec> login_paths(const std::shared_ptr<Engine>& engine) {
  return {{.pattern = "login",
           .fields = {{.name = "role_id",
                       .type = sdk::FieldType::kString,
                       .description = "Role ID of the role."},
                      {.name = "secret_id",
                       .type = sdk::FieldType::kString,
                       .description = "Secret ID of the role, when it binds one.",
                       .default_value = ""}},
           .operations = {{sdk::Operation::kUpdate, bind_handler(engine, login)}},
           .existence = {},
           .synopsis = "Issues a token for a role ID and secret ID."}};
}

}  // namespace leasefs::engines::approle
