// Paths that issue and manage secret IDs: role/<name>/secret-id (generate, LIST the
// accessors), role/<name>/custom-secret-id, and lookup/destroy by secret ID or by
// accessor. A secret ID is handed out once and stored only as its keyed hash; the
// accessor (a UUID) is the handle operators use afterwards.
#include <mutex>
#include <shared_mutex>

#include "backend/sdk/encoding.h"
#include "backend/sdk/random.h"
#include "backend/sdk/cidr.h"
#include "engines/approle/engine.h"

namespace leasefs::engines::approle {

using backend::sdk::valid_cidr_list;
using backend::sdk::cidr_subset;
namespace {

using nlohmann::json;
using sdk::FieldType;

// Go's %q of a []string, as Vault's CIDR messages print it: ["a" "b"].
std::string quote_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += " ";
    out += go_quote(items[i]);
  }
  return out + "]";
}

// Vault's strutil.ParseArbitraryKeyValues as the secret-id paths use it: the metadata
// field is a string holding a JSON object of strings (optionally base64-encoded), or
// "k1=v1,k2=v2". A JSON object sent as such is accepted too.
sdk::Result<std::map<std::string, std::string>> parse_metadata(const sdk::FieldData& f) {
  std::map<std::string, std::string> out;
  if (!f.has("metadata")) return out;
  const json& raw = f.raw("metadata");
  auto from_object = [&out](const json& obj) -> sdk::Result<void> {
    for (const auto& [k, v] : obj.items()) {
      if (!v.is_string()) {
        return sdk::invalid_argument("failed to parse metadata: value of " + go_quote(k) +
                                     " is not a string");
      }
      out[k] = v.get<std::string>();
    }
    return {};
  };
  if (raw.is_object()) {
    LEASEFS_TRY(from_object(raw));
    return out;
  }
  if (!raw.is_string()) {
    return sdk::invalid_argument(
        "field \"metadata\": want a string holding a JSON object of strings");
  }
  std::string text = trim_space(raw.get<std::string>());
  if (text.empty()) return out;
  // Vault tries base64 first; here a decoded text counts only when it is the JSON
  // object, so that bytes that merely look like base64 fall through to "k=v".
  if (auto decoded = sdk::base64_decode(text); decoded) {
    auto inner = json::parse(decoded->view(), nullptr, false);
    if (!inner.is_discarded() && inner.is_object()) {
      LEASEFS_TRY(from_object(inner));
      return out;
    }
  }
  auto parsed = json::parse(text, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_object()) {
    LEASEFS_TRY(from_object(parsed));
    return out;
  }
  std::string_view rest = text;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string pair = trim_space(rest.substr(0, comma));
    auto eq = pair.find('=');
    std::string key = eq == std::string::npos ? std::string() : trim_space(pair.substr(0, eq));
    if (key.empty()) {
      return sdk::invalid_argument("failed to parse metadata: invalid key/value pair " +
                                   go_quote(pair));
    }
    out[key] = trim_space(pair.substr(eq + 1));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

std::vector<sdk::FieldSpec> generate_fields(bool custom) {
  std::vector<sdk::FieldSpec> fields = {
      {.name = "role_name", .type = FieldType::kString, .description = "Name of the role."},
      {.name = "metadata",
       .type = FieldType::kAny,
       .description = "JSON object of string values, as a string; set on issued tokens."},
      {.name = "cidr_list",
       .type = FieldType::kCommaStringList,
       .description = "CIDR blocks the secret ID may be used from."},
      {.name = "token_bound_cidrs",
       .type = FieldType::kCommaStringList,
       .description = "CIDR blocks the tokens issued with it may be used from."},
      {.name = "num_uses",
       .type = FieldType::kInt,
       .description = "Logins the secret ID allows; 0 = unlimited."},
      {.name = "ttl", .type = FieldType::kDuration, .description = "Lifetime; 0 = no expiry."},
  };
  if (custom) {
    fields.push_back({.name = "secret_id",
                      .type = FieldType::kString,
                      .description = "The secret ID to attach to the role."});
  }
  return fields;
}

// Vault's handleRoleSecretIDCommon: checks the request against the role and stores the
// secret ID's hash, its entry and its accessor index in one batch.
sdk::Result<sdk::Response> issue_secret_id(Engine& e, sdk::Request& req, const sdk::FieldData& f,
                                           const std::string& secret_id) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  if (secret_id.empty()) return sdk::invalid_argument("missing secret_id");
  std::shared_lock lock(e.roles_mutex());
  auto found = e.read_role(req, *name);
  if (!found) return sdk::error(found.error());
  if (!found->has_value()) return role_not_found(*name);
  const Role& role = **found;
  if (!role.bind_secret_id) return sdk::invalid_argument("bind_secret_id is not set on the role");

  auto cidrs = f.strings("cidr_list");
  if (!valid_cidr_list(cidrs)) return sdk::invalid_argument("failed to validate CIDR blocks");
  if (!cidr_subset(role.secret_id_bound_cidrs, cidrs)) {
    return sdk::invalid_argument(
        "failed to verify subset relationship between CIDR blocks on the role " +
        quote_list(role.secret_id_bound_cidrs) + " and CIDR blocks on the secret ID " +
        quote_list(cidrs));
  }
  auto token_cidrs = f.strings("token_bound_cidrs");
  if (!valid_cidr_list(token_cidrs)) {
    return sdk::invalid_argument("failed to validate token CIDR blocks");
  }
  if (!cidr_subset(role.token_bound_cidrs, token_cidrs)) {
    return sdk::invalid_argument(
        "failed to verify subset relationship between CIDR blocks on the role " +
        quote_list(role.token_bound_cidrs) + " and CIDR blocks on the secret ID " +
        quote_list(token_cidrs));
  }

  // A secret ID may narrow the role's limits, never widen them (0 means unlimited).
  std::int64_t num_uses = role.secret_id_num_uses;
  if (f.has("num_uses")) {
    num_uses = f.integer("num_uses");
    if (num_uses < 0) return sdk::invalid_argument("num_uses cannot be negative");
    if (role.secret_id_num_uses > 0 && (num_uses == 0 || num_uses > role.secret_id_num_uses)) {
      return sdk::invalid_argument("num_uses cannot be higher than the role's secret_id_num_uses");
    }
  }
  sdk::Duration ttl = role.secret_id_ttl;
  if (f.has("ttl")) {
    ttl = f.duration("ttl");
    if (role.secret_id_ttl.count() > 0 && (ttl.count() == 0 || ttl > role.secret_id_ttl)) {
      return sdk::invalid_argument("ttl cannot be longer than the role's secret_id_ttl");
    }
  }
  auto metadata = parse_metadata(f);
  if (!metadata) return sdk::error(metadata.error());

  auto secret_hash = e.hmac(req, secret_id);
  if (!secret_hash) return sdk::error(secret_hash.error());
  auto accessor = sdk::random_uuid(*req.random);
  if (!accessor) return sdk::error(accessor.error());
  auto accessor_hash = e.hmac(req, *accessor);
  if (!accessor_hash) return sdk::error(accessor_hash.error());

  // Vault caps the lifetime (not the stored ttl) at the mount's max lease TTL.
  sdk::Duration effective_ttl = ttl;
  const sdk::Duration mount_max = req.limits.max_lease_ttl;
  if (mount_max.count() > 0 && effective_ttl > mount_max) effective_ttl = mount_max;

  std::string key = secret_id_key(*name, *secret_hash);
  std::lock_guard stripe(e.secret_id_stripe(*secret_hash));
  auto existing = req.storage->get(key);
  if (!existing) return sdk::error(existing.error());
  if (existing->has_value()) {
    return sdk::invalid_argument("failed to store secret_id: SecretID is already registered");
  }
  SecretIdEntry entry;
  entry.secret_id_hmac = *secret_hash;
  entry.role_name = *name;
  entry.accessor = *accessor;
  entry.num_uses = num_uses;
  entry.ttl = ttl;
  entry.creation_time = req.clock->now();
  entry.last_updated_time = entry.creation_time;
  if (effective_ttl.count() > 0) entry.expiration_time = entry.creation_time + effective_ttl;
  entry.metadata = std::move(*metadata);
  entry.cidr_list = std::move(cidrs);
  entry.token_bound_cidrs = std::move(token_cidrs);
  std::vector<sdk::StorageOp> ops = {
      sdk::StorageOp::put(accessor_key(*accessor_hash),
                          dump_json(json{{"secret_id_hmac", *secret_hash}, {"role_name", *name}})),
      sdk::StorageOp::put(key, encode_secret_id(entry)),
  };
  LEASEFS_TRY(req.storage->apply(ops));
  return sdk::Response::with_data(json{{"secret_id", secret_id},
                                       {"secret_id_accessor", *accessor},
                                       {"secret_id_ttl", sdk::whole_seconds(effective_ttl)},
                                       {"secret_id_num_uses", num_uses}});
}

sdk::Result<sdk::Response> secret_id_generate(Engine& e, sdk::Request& req,
                                              const sdk::FieldData& f) {
  auto secret_id = sdk::random_uuid(*req.random);
  if (!secret_id) return sdk::error(secret_id.error());
  return issue_secret_id(e, req, f, *secret_id);
}

sdk::Result<sdk::Response> secret_id_custom(Engine& e, sdk::Request& req, const sdk::FieldData& f) {
  return issue_secret_id(e, req, f, f.string("secret_id"));
}

sdk::Result<sdk::Response> secret_id_list(Engine& e, sdk::Request& req, const sdk::FieldData& f) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::shared_lock lock(e.roles_mutex());
  auto role = e.read_role(req, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return role_not_found(*name);
  auto hashes = req.storage->list(secret_id_prefix(*name));
  if (!hashes) return sdk::error(hashes.error());
  std::vector<std::string> accessors;
  for (const auto& h : *hashes) {
    std::lock_guard stripe(e.secret_id_stripe(h));
    auto entry = e.read_secret_id(req, secret_id_key(*name, h));
    if (!entry) return sdk::error(entry.error());
    if (entry->has_value()) accessors.push_back((*entry)->accessor);
  }
  if (accessors.empty()) return plain_not_found();
  return sdk::Response::with_data(json{{"keys", accessors}});
}

enum class Action { kLookup, kDestroy };

// Looks up or destroys the secret ID stored under `secret_hash` for role `name`, with
// its stripe held. An expired one, or one whose accessor index is gone, counts as
// absent and is removed.
sdk::Result<sdk::Response> act_on_secret_id(Engine& e, sdk::Request& req, const std::string& name,
                                            const std::string& secret_hash, Action action) {
  std::lock_guard stripe(e.secret_id_stripe(secret_hash));
  auto entry = e.read_secret_id(req, secret_id_key(name, secret_hash));
  if (!entry) return sdk::error(entry.error());
  if (!entry->has_value()) return sdk::Response::empty();
  auto acc_hash = e.hmac(req, (*entry)->accessor);
  if (!acc_hash) return sdk::error(acc_hash.error());
  const std::vector<sdk::StorageOp> ops = {
      sdk::StorageOp::remove(accessor_key(*acc_hash)),
      sdk::StorageOp::remove(secret_id_key(name, secret_hash))};
  if (action == Action::kDestroy) {
    LEASEFS_TRY(req.storage->apply(ops));
    return sdk::Response::empty();
  }
  auto acc = req.storage->get(accessor_key(*acc_hash));
  if (!acc) return sdk::error(acc.error());
  if (!acc->has_value()) {
    LEASEFS_TRY(req.storage->apply(ops));
    return sdk::invalid_argument("invalid secret id");
  }
  if ((*entry)->expired(req.clock->now())) {
    LEASEFS_TRY(req.storage->apply(ops));
    return sdk::Response::empty();
  }
  return sdk::Response::with_data(secret_id_lookup_data(**entry));
}

sdk::Result<sdk::Response> by_secret_id(Engine& e, sdk::Request& req, const sdk::FieldData& f,
                                        Action action) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::string secret_id = f.string("secret_id");
  if (secret_id.empty()) return sdk::invalid_argument("missing secret_id");
  std::shared_lock lock(e.roles_mutex());
  auto role = e.read_role(req, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return role_not_found(*name);
  auto secret_hash = e.hmac(req, secret_id);
  if (!secret_hash) return sdk::error(secret_hash.error());
  return act_on_secret_id(e, req, *name, *secret_hash, action);
}

sdk::Result<sdk::Response> by_accessor(Engine& e, sdk::Request& req, const sdk::FieldData& f,
                                       Action action) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::string accessor = f.string("secret_id_accessor");
  if (accessor.empty()) return sdk::invalid_argument("missing secret_id_accessor");
  std::shared_lock lock(e.roles_mutex());
  auto role = e.read_role(req, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return role_not_found(*name);
  auto acc_hash = e.hmac(req, accessor);
  if (!acc_hash) return sdk::error(acc_hash.error());
  auto stored = req.storage->get(accessor_key(*acc_hash));
  if (!stored) return sdk::error(stored.error());
  json index = stored->has_value() ? json::parse(**stored, nullptr, false) : json();
  auto field = [&index](const char* k) {
    return index.is_object() && index.contains(k) && index[k].is_string()
               ? index[k].get<std::string>()
               : std::string();
  };
  std::string secret_hash = field("secret_id_hmac");
  if (secret_hash.empty() || field("role_name") != *name) {
    return sdk::not_found("failed to find accessor entry for secret_id_accessor: " +
                          go_quote(accessor));
  }
  if (action == Action::kDestroy) {
    std::lock_guard stripe(e.secret_id_stripe(secret_hash));
    auto entry = e.read_secret_id(req, secret_id_key(*name, secret_hash));
    if (!entry) return sdk::error(entry.error());
    std::vector<sdk::StorageOp> ops = {sdk::StorageOp::remove(accessor_key(*acc_hash))};
    if (entry->has_value()) {
      ops.push_back(sdk::StorageOp::remove(secret_id_key(*name, secret_hash)));
    }
    LEASEFS_TRY(req.storage->apply(ops));
    return sdk::Response::empty();
  }
  return act_on_secret_id(e, req, *name, secret_hash, action);
}

}  // namespace

std::vector<sdk::PathSpec> secret_id_paths(const std::shared_ptr<Engine>& engine) {
  const sdk::FieldSpec role_name = {
      .name = "role_name", .type = FieldType::kString, .description = "Name of the role."};
  const sdk::FieldSpec secret_id = {
      .name = "secret_id", .type = FieldType::kString, .description = "The secret ID."};
  const sdk::FieldSpec accessor = {.name = "secret_id_accessor",
                                   .type = FieldType::kString,
                                   .description = "Accessor of the secret ID."};
  auto lookup = [](Engine& e, sdk::Request& r, const sdk::FieldData& f) {
    return by_secret_id(e, r, f, Action::kLookup);
  };
  auto destroy = [](Engine& e, sdk::Request& r, const sdk::FieldData& f) {
    return by_secret_id(e, r, f, Action::kDestroy);
  };
  auto acc_lookup = [](Engine& e, sdk::Request& r, const sdk::FieldData& f) {
    return by_accessor(e, r, f, Action::kLookup);
  };
  auto acc_destroy = [](Engine& e, sdk::Request& r, const sdk::FieldData& f) {
    return by_accessor(e, r, f, Action::kDestroy);
  };
  return {
      {.pattern = "role/{role_name}/secret-id",
       .fields = generate_fields(false),
       .operations = {{sdk::Operation::kUpdate, bind_handler(engine, secret_id_generate)},
                      {sdk::Operation::kList, bind_handler(engine, secret_id_list)}},
       .existence = {},
       .synopsis = "Generates a secret ID for the role, or lists the accessors of its "
                   "secret IDs."},
      {.pattern = "role/{role_name}/custom-secret-id",
       .fields = generate_fields(true),
       .operations = {{sdk::Operation::kUpdate, bind_handler(engine, secret_id_custom)}},
       .existence = {},
       .synopsis = "Attaches a secret ID of the caller's choice to the role."},
      {.pattern = "role/{role_name}/secret-id/lookup",
       .fields = {role_name, secret_id},
       .operations = {{sdk::Operation::kUpdate, bind_handler(engine, lookup)}},
       .existence = {},
       .synopsis = "Reads the properties of a secret ID."},
      {.pattern = "role/{role_name}/secret-id/destroy",
       .fields = {role_name, secret_id},
       .operations = {{sdk::Operation::kUpdate, bind_handler(engine, destroy)},
                      {sdk::Operation::kDelete, bind_handler(engine, destroy)}},
       .existence = {},
       .synopsis = "Destroys a secret ID."},
      {.pattern = "role/{role_name}/secret-id-accessor/lookup",
       .fields = {role_name, accessor},
       .operations = {{sdk::Operation::kUpdate, bind_handler(engine, acc_lookup)}},
       .existence = {},
       .synopsis = "Reads the properties of a secret ID by its accessor."},
      {.pattern = "role/{role_name}/secret-id-accessor/destroy",
       .fields = {role_name, accessor},
       .operations = {{sdk::Operation::kUpdate, bind_handler(engine, acc_destroy)},
                      {sdk::Operation::kDelete, bind_handler(engine, acc_destroy)}},
       .existence = {},
       .synopsis = "Destroys a secret ID by its accessor."},
  };
}

}  // namespace leasefs::engines::approle
