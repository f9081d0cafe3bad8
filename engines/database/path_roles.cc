// roles/ (LIST) and roles/<name>: which config a role uses and the statements that
// create, renew, revoke and roll back its users. A write updates the fields it names
// and keeps the others, as Vault's does.
// Statements may use {{name}}, {{password}} and {{expiration}}; the engine escapes the
// values with libpq, so names are never spliced in as raw text.
#include "backend/sdk/engine_paths.h"
#include "engines/database/engine.h"

namespace leasefs::engines::database {
namespace {

using nlohmann::json;
using sdk::FieldType;

std::vector<sdk::FieldSpec> role_fields() {
  auto statements = [](const char* name, const char* description) {
    return sdk::FieldSpec{.name = name, .type = FieldType::kStringList, .description = description};
  };
  return {
      {.name = "name", .type = FieldType::kString, .description = "Name of the role."},
      {.name = "db_name", .type = FieldType::kString, .description = "The config to use."},
      statements("creation_statements", "Statements that create the user."),
      statements("revocation_statements", "Statements that drop the user (default: drop)."),
      statements("rollback_statements", "Statements run when creation fails."),
      statements("renew_statements", "Statements run on renew (default: VALID UNTIL)."),
      {.name = "default_ttl", .type = FieldType::kDuration, .description = "Default lease TTL."},
      {.name = "max_ttl", .type = FieldType::kDuration, .description = "Longest lease TTL."},
      {.name = "credential_type",
       .type = FieldType::kString,
       .description = "password (the only type)."},
  };
}

sdk::Result<std::string> role_name(const sdk::FieldData& f) {
  std::string name = f.string("name");
  if (!valid_name(name)) {
    return sdk::invalid_argument("invalid role name \"" + name +
                                 "\": use letters, digits, '_', '-' and '.'");
  }
  return name;
}

sdk::Result<bool> role_exists(Engine& engine, sdk::Request& request, const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return false;
  auto role = engine.read_role(*request.storage, *name);
  if (!role) return sdk::error(role.error());
  return role->has_value();
}

sdk::Result<sdk::Response> write_role(Engine& engine, sdk::Request& request,
                                      const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return sdk::error(name.error());
  auto existing = engine.read_role(*request.storage, *name);
  if (!existing) return sdk::error(existing.error());
  DbRole r = existing->value_or(DbRole{});
  if (f.has("db_name")) r.db_name = f.string("db_name");
  if (r.db_name.empty()) return sdk::invalid_argument("empty database name attribute");
  if (f.has("creation_statements")) r.creation_statements = f.strings("creation_statements");
  if (r.creation_statements.empty()) {
    return sdk::invalid_argument("creation_statements are required");
  }
  if (f.has("revocation_statements")) {
    r.revocation_statements = f.strings("revocation_statements");
  }
  if (f.has("rollback_statements")) r.rollback_statements = f.strings("rollback_statements");
  if (f.has("renew_statements")) r.renew_statements = f.strings("renew_statements");
  if (f.has("default_ttl")) r.default_ttl = f.duration("default_ttl");
  if (f.has("max_ttl")) r.max_ttl = f.duration("max_ttl");
  if (r.max_ttl.count() > 0 && r.default_ttl > r.max_ttl) {
    return sdk::invalid_argument("ttl cannot be greater than max_ttl");
  }
  if (f.has("credential_type") && f.string("credential_type") != "password") {
    return sdk::invalid_argument("credential_type must be \"password\"");
  }
  LEASEFS_TRY(request.storage->put(std::string(kRolePrefix) + *name, encode_role(r)));
  return sdk::Response::empty();
}

sdk::Result<sdk::Response> read_role(Engine& engine, sdk::Request& request,
                                     const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return sdk::error(name.error());
  auto role = engine.read_role(*request.storage, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return sdk::not_found("");
  return sdk::Response::with_data(role_response(**role));
}

sdk::Result<sdk::Response> delete_role(Engine&, sdk::Request& request, const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return sdk::error(name.error());
  LEASEFS_TRY(request.storage->remove(std::string(kRolePrefix) + *name));
  return sdk::Response::empty();
}

sdk::Result<sdk::Response> list_roles(Engine&, sdk::Request& request, const sdk::FieldData&) {
  auto names = request.storage->list(kRolePrefix);
  if (!names) return sdk::error(names.error());
  return list_response(std::move(*names));
}

}  // namespace

std::vector<sdk::PathSpec> role_paths(const std::shared_ptr<Engine>& engine) {
  return sdk::role_paths<Engine>(engine,
                                 {.list = list_roles,
                                  .read = read_role,
                                  .write = write_role,
                                  .remove = delete_role,
                                  .exists = role_exists},
                                 role_fields(), "Manage the roles credentials are created for.");
}

}  // namespace leasefs::engines::database
