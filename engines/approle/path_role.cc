// Paths that manage roles: role/ (LIST), role/<name> (create, read, update, delete),
// role/<name>/role-id, and the one-field paths Vault offers so that an ACL can
// delegate a single setting (role/<name>/policies, .../secret-id-ttl, ...).
#include <functional>
#include <mutex>
#include <shared_mutex>

#include "backend/sdk/duration.h"
#include "backend/sdk/random.h"
#include "backend/sdk/cidr.h"
#include "engines/approle/engine.h"

namespace leasefs::engines::approle {

using backend::sdk::parse_cidr;
using backend::sdk::valid_cidr_list;
namespace {

using nlohmann::json;
using sdk::FieldType;

sdk::FieldSpec role_name_field() {
  return {.name = "role_name", .type = FieldType::kString, .description = "Name of the role."};
}

// Every field of role/<name>, as Vault's AppRole and tokenutil declare them.
std::vector<sdk::FieldSpec> role_fields() {
  return {
      role_name_field(),
      {.name = "bind_secret_id",
       .type = FieldType::kBool,
       .description = "Require secret_id to be presented when logging in using this role.",
       .default_value = true},
      {.name = "bound_cidr_list",
       .type = FieldType::kCommaStringList,
       .description = "Deprecated: use secret_id_bound_cidrs."},
      {.name = "secret_id_bound_cidrs",
       .type = FieldType::kCommaStringList,
       .description = "CIDR blocks of the addresses that may log in."},
      {.name = "secret_id_num_uses",
       .type = FieldType::kInt,
       .description = "Logins a secret ID allows; 0 = unlimited."},
      {.name = "secret_id_ttl",
       .type = FieldType::kDuration,
       .description = "Lifetime of a secret ID; 0 = no expiry."},
      {.name = "local_secret_ids",
       .type = FieldType::kBool,
       .description = "Secret IDs are cluster-local; only settable at creation."},
      {.name = "role_id", .type = FieldType::kString, .description = "Role ID; a UUID by default."},
      {.name = "token_policies",
       .type = FieldType::kCommaStringList,
       .description = "Policies of the issued tokens."},
      {.name = "policies",
       .type = FieldType::kCommaStringList,
       .description = "Deprecated: use token_policies."},
      {.name = "token_bound_cidrs",
       .type = FieldType::kCommaStringList,
       .description = "CIDR blocks the issued tokens may be used from."},
      {.name = "token_ttl", .type = FieldType::kDuration, .description = "Initial token TTL."},
      {.name = "token_max_ttl", .type = FieldType::kDuration, .description = "Token max TTL."},
      {.name = "token_explicit_max_ttl",
       .type = FieldType::kDuration,
       .description = "Hard cap on the token's life."},
      {.name = "token_period",
       .type = FieldType::kDuration,
       .description = "Makes periodic tokens with this renewal period."},
      {.name = "period",
       .type = FieldType::kDuration,
       .description = "Deprecated: use token_period."},
      {.name = "token_no_default_policy",
       .type = FieldType::kBool,
       .description = "Do not add the default policy to issued tokens."},
      {.name = "token_num_uses",
       .type = FieldType::kInt,
       .description = "Uses an issued token allows; 0 = unlimited."},
      {.name = "token_type",
       .type = FieldType::kString,
       .description = "\"service\" or \"default\" (batch tokens are not supported).",
       .default_value = "default"},
  };
}

// Vault's pathRoleCreateUpdate and tokenutil.ParseTokenFields: applies the fields the
// client sent to `role`; on creation the unsent ones keep Role's defaults (which are
// Vault's). Appends Vault's warnings.
sdk::Result<void> apply_role_fields(Role& role, const sdk::FieldData& f, bool creating,
                                    sdk::Request& request, std::vector<std::string>& warnings) {
  // Token fields first, as Vault parses them.
  if (f.has("token_bound_cidrs")) {
    auto cidrs = f.strings("token_bound_cidrs");
    for (const auto& c : cidrs) {
      if (!parse_cidr(c)) {
        return sdk::invalid_argument("invalid token_bound_cidrs: \"" + c +
                                     "\" is not an IP address or CIDR block");
      }
    }
    role.token_bound_cidrs = std::move(cidrs);
  }
  if (f.has("token_explicit_max_ttl")) {
    role.token_explicit_max_ttl = f.duration("token_explicit_max_ttl");
  }
  if (f.has("token_max_ttl")) role.token_max_ttl = f.duration("token_max_ttl");
  if (f.has("token_no_default_policy")) {
    role.token_no_default_policy = f.boolean("token_no_default_policy");
  }
  if (f.has("token_type")) {
    std::string type = f.string("token_type");
    if (type == "" || type == "default") {
      role.token_type = "default";
    } else if (type == "service") {
      role.token_type = "service";
    } else if (type == "default-service") {
      role.token_type = "service";
      warnings.push_back("default-service has no useful meaning; adjusting to service");
    } else if (type == "batch" || type == "default-batch") {
      return sdk::invalid_argument(
          "token_type \"" + type +
          "\" is not supported: leasefs issues service tokens only; use \"service\" or "
          "\"default\"");
    } else {
      return sdk::invalid_argument("invalid 'token_type' value \"" + type + "\"");
    }
  }
  if (f.has("token_num_uses")) role.token_num_uses = f.integer("token_num_uses");
  if (role.token_num_uses < 0) return sdk::invalid_argument("'token_num_uses' cannot be negative");
  if (f.has("token_ttl")) role.token_ttl = f.duration("token_ttl");
  if (role.token_ttl.count() > 0 && role.token_max_ttl.count() > 0 &&
      role.token_ttl > role.token_max_ttl) {
    return sdk::invalid_argument("'token_ttl' cannot be greater than 'token_max_ttl'");
  }

  if (f.has("local_secret_ids")) {
    if (!creating) {
      return sdk::invalid_argument("local_secret_ids can only be modified during role creation");
    }
    role.local_secret_ids = f.boolean("local_secret_ids");
  }

  if (f.has("role_id")) {
    role.role_id = f.string("role_id");
  } else if (creating) {
    auto id = sdk::random_uuid(*request.random);
    if (!id) return sdk::error(id.error());
    role.role_id = std::move(*id);
  }
  if (role.role_id.empty()) {
    return sdk::invalid_argument("invalid role_id supplied, or failed to generate a role_id");
  }

  if (f.has("bind_secret_id")) role.bind_secret_id = f.boolean("bind_secret_id");

  if (f.has("secret_id_bound_cidrs")) {
    role.secret_id_bound_cidrs = f.strings("secret_id_bound_cidrs");
  } else if (f.has("bound_cidr_list")) {
    role.secret_id_bound_cidrs = f.strings("bound_cidr_list");
  }
  if (!valid_cidr_list(role.secret_id_bound_cidrs)) {
    return sdk::invalid_argument("invalid CIDR blocks");
  }

  if (f.has("secret_id_num_uses")) role.secret_id_num_uses = f.integer("secret_id_num_uses");
  if (role.secret_id_num_uses < 0) {
    return sdk::invalid_argument("secret_id_num_uses cannot be negative");
  }
  if (f.has("secret_id_ttl")) role.secret_id_ttl = f.duration("secret_id_ttl");

  // The legacy names: sent alone they set both; sent with the new name they follow it;
  // the new name alone clears the legacy one (tokenutil.UpgradeValue).
  if (f.has("token_policies")) {
    role.token_policies = f.strings("token_policies");
    role.policies = f.has("policies") ? role.token_policies : std::vector<std::string>{};
  } else if (f.has("policies")) {
    role.policies = parse_policies(f.strings("policies"));
    role.token_policies = role.policies;
  }
  if (f.has("token_period")) {
    role.token_period = f.duration("token_period");
    role.period = f.has("period") ? role.token_period : sdk::Duration{0};
  } else if (f.has("period")) {
    role.period = f.duration("period");
    role.token_period = role.period;
  }

  const sdk::Duration mount_max = request.limits.max_lease_ttl;
  if (mount_max.count() > 0 && role.token_period > mount_max) {
    return sdk::invalid_argument("period of \"" + sdk::format_duration(role.token_period) +
                                 "\" is greater than the backend's maximum lease TTL of \"" +
                                 sdk::format_duration(mount_max) + "\"");
  }
  if (mount_max.count() > 0 && role.token_max_ttl > mount_max) {
    warnings.push_back(
        "token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' "
        "max TTL value will be truncated");
  }
  return {};
}

sdk::Response warnings_or_empty(std::vector<std::string> warnings) {
  sdk::Response r;
  r.warnings = std::move(warnings);
  return r;
}

sdk::Result<sdk::Response> role_write(Engine& e, sdk::Request& req, const sdk::FieldData& f) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::unique_lock lock(e.roles_mutex());
  auto existing = e.read_role(req, *name);
  if (!existing) return sdk::error(existing.error());
  // A role that does not exist is created whatever the operation: the core's existence
  // check already picked the capability (create or update) the ACL had to grant.
  bool creating = !existing->has_value();
  Role role = creating ? Role{} : std::move(**existing);
  role.name = *name;
  std::string previous_role_id = role.role_id;
  std::vector<std::string> warnings;
  LEASEFS_TRY(apply_role_fields(role, f, creating, req, warnings));
  LEASEFS_TRY(e.store_role(req, role, previous_role_id));
  return warnings_or_empty(std::move(warnings));
}

sdk::Result<sdk::Response> role_read(Engine& e, sdk::Request& req, const sdk::FieldData& f) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::shared_lock lock(e.roles_mutex());
  auto role = e.read_role(req, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return plain_not_found();
  return sdk::Response::with_data(role_read_data(**role));
}

// Deletes the role, every secret id issued against it with their accessor indexes, and
// its role id index, in one batch.
sdk::Result<sdk::Response> role_delete(Engine& e, sdk::Request& req, const sdk::FieldData& f) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::unique_lock lock(e.roles_mutex());  // excludes logins and secret id writes
  auto role = e.read_role(req, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return sdk::Response::empty();
  std::vector<sdk::StorageOp> ops;
  auto hashes = req.storage->list(secret_id_prefix(*name));
  if (!hashes) return sdk::error(hashes.error());
  for (const auto& h : *hashes) {
    std::string key = secret_id_key(*name, h);
    auto entry = e.read_secret_id(req, key);
    if (entry && entry->has_value()) {
      auto del = e.delete_secret_id_ops(req, **entry);
      if (!del) return sdk::error(del.error());
      ops.insert(ops.end(), del->begin(), del->end());
    } else {
      ops.push_back(sdk::StorageOp::remove(key));  // unreadable: drop it anyway
    }
  }
  auto id_hash = e.hmac(req, (*role)->role_id);
  if (!id_hash) return sdk::error(id_hash.error());
  ops.push_back(sdk::StorageOp::remove(role_id_key(*id_hash)));
  ops.push_back(sdk::StorageOp::remove(role_key(*name)));
  LEASEFS_TRY(req.storage->apply(ops));
  return sdk::Response::empty();
}

sdk::Result<sdk::Response> role_list(Engine& e, sdk::Request& req, const sdk::FieldData&) {
  std::shared_lock lock(e.roles_mutex());
  auto names = req.storage->list("role/");
  if (!names) return sdk::error(names.error());
  if (names->empty()) return plain_not_found();
  return sdk::Response::with_data(json{{"keys", *names}});
}

sdk::Result<bool> role_exists(Engine& e, sdk::Request& req, const sdk::FieldData& f) {
  LEASEFS_TRY(e.fill_context(req));
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::shared_lock lock(e.roles_mutex());
  auto role = e.read_role(req, *name);
  if (!role) return sdk::error(role.error());
  return role->has_value();
}

sdk::Result<sdk::Response> role_id_read(Engine& e, sdk::Request& req, const sdk::FieldData& f) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::shared_lock lock(e.roles_mutex());
  auto role = e.read_role(req, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return plain_not_found();
  return sdk::Response::with_data(json{{"role_id", (*role)->role_id}});
}

sdk::Result<sdk::Response> role_id_update(Engine& e, sdk::Request& req, const sdk::FieldData& f) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::string role_id = f.string("role_id");
  if (role_id.empty()) return sdk::invalid_argument("missing role_id");
  std::unique_lock lock(e.roles_mutex());
  auto role = e.read_role(req, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return role_not_found(*name);
  std::string previous = (*role)->role_id;
  (*role)->role_id = std::move(role_id);
  LEASEFS_TRY(e.store_role(req, **role, previous));
  return sdk::Response::empty();
}

// One of Vault's single-setting paths: role/<name>/<segment>.
struct FieldPath {
  std::string segment{};
  std::vector<sdk::FieldSpec> fields{};  // besides role_name
  std::string missing{};                 // the error when none of them is sent
  std::function<json(const Role&)> read{};
  std::function<void(Role&)> reset{};  // DELETE: back to the default
};

std::vector<FieldPath> field_paths() {
  auto secs = [](sdk::Duration d) { return sdk::whole_seconds(d); };
  return {
      {.segment = "policies",
       .fields = {{.name = "token_policies", .type = FieldType::kCommaStringList},
                  {.name = "policies", .type = FieldType::kCommaStringList}},
       .missing = "missing token_policies",
       .read =
           [](const Role& r) {
             json d = {{"token_policies", r.token_policies}};
             if (!r.policies.empty()) d["policies"] = r.policies;
             return d;
           },
       .reset =
           [](Role& r) {
             r.token_policies.clear();
             r.policies.clear();
           }},
      {.segment = "secret-id-num-uses",
       .fields = {{.name = "secret_id_num_uses", .type = FieldType::kInt}},
       .missing = "missing secret_id_num_uses",
       .read =
           [](const Role& r) {
             return json{{"secret_id_num_uses", r.secret_id_num_uses}};
           },
       .reset = [](Role& r) { r.secret_id_num_uses = 0; }},
      {.segment = "secret-id-ttl",
       .fields = {{.name = "secret_id_ttl", .type = FieldType::kDuration}},
       .missing = "missing secret_id_ttl",
       .read =
           [secs](const Role& r) {
             return json{{"secret_id_ttl", secs(r.secret_id_ttl)}};
           },
       .reset = [](Role& r) { r.secret_id_ttl = sdk::Duration{0}; }},
      {.segment = "token-ttl",
       .fields = {{.name = "token_ttl", .type = FieldType::kDuration}},
       .missing = "missing token_ttl",
       .read =
           [secs](const Role& r) {
             return json{{"token_ttl", secs(r.token_ttl)}};
           },
       .reset = [](Role& r) { r.token_ttl = sdk::Duration{0}; }},
      {.segment = "token-max-ttl",
       .fields = {{.name = "token_max_ttl", .type = FieldType::kDuration}},
       .missing = "missing token_max_ttl",
       .read =
           [secs](const Role& r) {
             return json{{"token_max_ttl", secs(r.token_max_ttl)}};
           },
       .reset = [](Role& r) { r.token_max_ttl = sdk::Duration{0}; }},
      {.segment = "token-num-uses",
       .fields = {{.name = "token_num_uses", .type = FieldType::kInt}},
       .missing = "missing token_num_uses",
       .read =
           [](const Role& r) {
             return json{{"token_num_uses", r.token_num_uses}};
           },
       .reset = [](Role& r) { r.token_num_uses = 0; }},
      {.segment = "bind-secret-id",
       .fields = {{.name = "bind_secret_id", .type = FieldType::kBool}},
       .missing = "missing bind_secret_id",
       .read =
           [](const Role& r) {
             return json{{"bind_secret_id", r.bind_secret_id}};
           },
       .reset = [](Role& r) { r.bind_secret_id = true; }},
      {.segment = "period",
       .fields = {{.name = "token_period", .type = FieldType::kDuration},
                  {.name = "period", .type = FieldType::kDuration}},
       .missing = "missing period",
       .read =
           [secs](const Role& r) {
             json d = {{"token_period", secs(r.token_period)}};
             if (r.period.count() > 0) d["period"] = secs(r.period);
             return d;
           },
       .reset =
           [](Role& r) {
             r.token_period = sdk::Duration{0};
             r.period = sdk::Duration{0};
           }},
      {.segment = "secret-id-bound-cidrs",
       .fields = {{.name = "secret_id_bound_cidrs", .type = FieldType::kCommaStringList}},
       .missing = "missing bound_cidr_list",
       .read =
           [](const Role& r) {
             return json{{"secret_id_bound_cidrs", r.secret_id_bound_cidrs}};
           },
       .reset = [](Role& r) { r.secret_id_bound_cidrs.clear(); }},
      {.segment = "token-bound-cidrs",
       .fields = {{.name = "token_bound_cidrs", .type = FieldType::kCommaStringList}},
       .missing = "missing token_bound_cidrs",
       .read =
           [](const Role& r) {
             return json{{"token_bound_cidrs", r.token_bound_cidrs}};
           },
       .reset = [](Role& r) { r.token_bound_cidrs.clear(); }},
  };
}

sdk::PathSpec field_path_spec(const std::shared_ptr<Engine>& engine, const FieldPath& fp) {
  std::vector<sdk::FieldSpec> fields = {role_name_field()};
  fields.insert(fields.end(), fp.fields.begin(), fp.fields.end());
  std::vector<std::string> names;
  for (const auto& spec : fp.fields) names.push_back(spec.name);

  auto read = [fp](Engine& e, sdk::Request& req,
                   const sdk::FieldData& f) -> sdk::Result<sdk::Response> {
    auto name = role_name_of(f);
    if (!name) return sdk::error(name.error());
    std::shared_lock lock(e.roles_mutex());
    auto role = e.read_role(req, *name);
    if (!role) return sdk::error(role.error());
    if (!role->has_value()) return plain_not_found();
    return sdk::Response::with_data(fp.read(**role));
  };
  auto update = [fp, names](Engine& e, sdk::Request& req,
                            const sdk::FieldData& f) -> sdk::Result<sdk::Response> {
    auto name = role_name_of(f);
    if (!name) return sdk::error(name.error());
    bool sent = false;
    for (const auto& n : names) sent = sent || f.has(n);
    if (!sent) return sdk::invalid_argument(fp.missing);
    if (fp.segment == "secret-id-bound-cidrs" && f.strings(names.front()).empty()) {
      return sdk::invalid_argument(fp.missing);
    }
    std::unique_lock lock(e.roles_mutex());
    auto role = e.read_role(req, *name);
    if (!role) return sdk::error(role.error());
    if (!role->has_value()) return role_not_found(*name);
    std::string previous = (*role)->role_id;
    std::vector<std::string> warnings;
    LEASEFS_TRY(apply_role_fields(**role, f, false, req, warnings));
    LEASEFS_TRY(e.store_role(req, **role, previous));
    return warnings_or_empty(std::move(warnings));
  };
  auto remove = [fp](Engine& e, sdk::Request& req,
                     const sdk::FieldData& f) -> sdk::Result<sdk::Response> {
    auto name = role_name_of(f);
    if (!name) return sdk::error(name.error());
    std::unique_lock lock(e.roles_mutex());
    auto role = e.read_role(req, *name);
    if (!role) return sdk::error(role.error());
    if (!role->has_value()) return sdk::Response::empty();
    fp.reset(**role);
    LEASEFS_TRY(e.store_role(req, **role, (*role)->role_id));
    return sdk::Response::empty();
  };
  return {.pattern = "role/{role_name}/" + fp.segment,
          .fields = std::move(fields),
          .operations = {{sdk::Operation::kRead, bind_handler(engine, read)},
                         {sdk::Operation::kUpdate, bind_handler(engine, update)},
                         {sdk::Operation::kDelete, bind_handler(engine, remove)}},
          .existence = {},
          .synopsis = "Read, update or reset one setting of a role."};
}

sdk::Result<sdk::Response> local_secret_ids_read(Engine& e, sdk::Request& req,
                                                 const sdk::FieldData& f) {
  auto name = role_name_of(f);
  if (!name) return sdk::error(name.error());
  std::shared_lock lock(e.roles_mutex());
  auto role = e.read_role(req, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return plain_not_found();
  return sdk::Response::with_data(json{{"local_secret_ids", (*role)->local_secret_ids}});
}

}  // namespace

std::vector<sdk::PathSpec> role_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back({.pattern = "role",
                   .fields = {},
                   .operations = {{sdk::Operation::kList, bind_handler(engine, role_list)}},
                   .existence = {},
                   .synopsis = "Lists the roles."});
  paths.push_back(
      {.pattern = "role/{role_name}",
       .fields = role_fields(),
       .operations = {{sdk::Operation::kRead, bind_handler(engine, role_read)},
                      {sdk::Operation::kCreate, bind_handler(engine, role_write)},
                      {sdk::Operation::kUpdate, bind_handler(engine, role_write)},
                      {sdk::Operation::kDelete, bind_handler(engine, role_delete)}},
       .existence = [engine](sdk::Request& req,
                             const sdk::FieldData& f) { return role_exists(*engine, req, f); },
       .synopsis = "Creates, reads, updates or deletes a role."});
  paths.push_back(
      {.pattern = "role/{role_name}/role-id",
       .fields = {role_name_field(),
                  {.name = "role_id", .type = FieldType::kString, .description = "The role ID."}},
       .operations = {{sdk::Operation::kRead, bind_handler(engine, role_id_read)},
                      {sdk::Operation::kUpdate, bind_handler(engine, role_id_update)}},
       .existence = {},
       .synopsis = "Reads the role ID of a role, or sets a custom one."});
  paths.push_back(
      {.pattern = "role/{role_name}/local-secret-ids",
       .fields = {role_name_field()},
       .operations = {{sdk::Operation::kRead, bind_handler(engine, local_secret_ids_read)}},
       .existence = {},
       .synopsis = "Whether the role's secret IDs are cluster-local."});
  for (const auto& fp : field_paths()) paths.push_back(field_path_spec(engine, fp));
  return paths;
}

}  // namespace leasefs::engines::approle
