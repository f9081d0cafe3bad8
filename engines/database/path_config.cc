// config/ (LIST) and config/<name>: the connection to one database. A write updates
// the stored config field by field (what is left out keeps its value, as in Vault),
// checks the URL and the username template, and with verify_connection (the default)
// connects once before storing. Reading never shows the password.
#include "backend/sdk/duration.h"
#include "engines/database/credentials.h"
#include "engines/database/engine.h"

namespace leasefs::engines::database {
namespace {

using nlohmann::json;
using sdk::FieldType;

std::vector<sdk::FieldSpec> config_fields() {
  return {
      {.name = "name", .type = FieldType::kString, .description = "Name of the config."},
      {.name = "plugin_name",
       .type = FieldType::kString,
       .description = "postgresql-database-plugin (the only plugin)."},
      {.name = "plugin_version", .type = FieldType::kString, .description = "Ignored."},
      {.name = "connection_url",
       .type = FieldType::kString,
       .description = "libpq URL or conninfo with {{username}} and {{password}}."},
      {.name = "username", .type = FieldType::kString, .description = "Root user name."},
      {.name = "password", .type = FieldType::kString, .description = "Root user password."},
      {.name = "allowed_roles",
       .type = FieldType::kCommaStringList,
       .description = "Roles that may use this config (\"*\" for all)."},
      {.name = "verify_connection",
       .type = FieldType::kBool,
       .description = "Connect once before storing the config.",
       .default_value = true},
      {.name = "max_open_connections",
       .type = FieldType::kInt,
       .description = "Size of the connection pool.",
       .default_value = 4},
      {.name = "max_idle_connections", .type = FieldType::kInt, .description = "Kept for Vault."},
      {.name = "max_connection_lifetime",
       .type = FieldType::kDuration,
       .description = "Kept for Vault."},
      {.name = "username_template",
       .type = FieldType::kString,
       .description = "Template of generated user names."},
      {.name = "password_policy",
       .type = FieldType::kString,
       .description = "Not supported: must be empty."},
      {.name = "root_rotation_statements",
       .type = FieldType::kStringList,
       .description = "Statements that set the root password ({{username}}, {{password}})."},
      {.name = "disable_escaping", .type = FieldType::kBool, .description = "Ignored."},
      {.name = "revoke_terminates_sessions",
       .type = FieldType::kBool,
       .description = "End a user's sessions before dropping it on revoke."},
  };
}

sdk::Result<std::string> config_name(const sdk::FieldData& f) {
  std::string name = f.string("name");
  if (!valid_name(name)) {
    return sdk::invalid_argument("invalid config name \"" + name +
                                 "\": use letters, digits, '_', '-' and '.'");
  }
  return name;
}

sdk::Result<bool> config_exists(Engine& engine, sdk::Request& request, const sdk::FieldData& f) {
  auto name = config_name(f);
  if (!name) return false;
  auto config = engine.read_config(*request.storage, *name);
  if (!config) return sdk::error(config.error());
  return config->has_value();
}

sdk::Result<sdk::Response> write_config(Engine& engine, sdk::Request& request,
                                        const sdk::FieldData& f) {
  auto name = config_name(f);
  if (!name) return sdk::error(name.error());
  std::lock_guard lock(engine.config_mutex());
  auto existing = engine.read_config(*request.storage, *name);
  if (!existing) return sdk::error(existing.error());
  DbConfig c = existing->value_or(DbConfig{});

  if (f.has("plugin_name")) c.plugin_name = f.string("plugin_name");
  if (c.plugin_name.empty()) return sdk::invalid_argument("empty plugin name");
  if (c.plugin_name != kPostgresPlugin) {
    return sdk::invalid_argument("unsupported plugin_name \"" + c.plugin_name + "\": leasefs has " +
                                 std::string(kPostgresPlugin));
  }
  if (f.has("connection_url")) c.connection_url = f.string("connection_url");
  if (f.has("username")) c.username = f.string("username");
  if (f.has("password")) c.password = f.string("password");
  if (f.has("allowed_roles")) c.allowed_roles = f.strings("allowed_roles");
  c.verify_connection = f.boolean("verify_connection");
  if (f.has("max_open_connections") || !existing->has_value()) {
    const auto n = f.integer("max_open_connections");
    if (n < 0 || n > 1000) {
      return sdk::invalid_argument("max_open_connections must be between 0 and 1000");
    }
    c.max_open_connections = n == 0 ? 4 : static_cast<int>(n);
  }
  if (f.has("max_idle_connections")) {
    c.max_idle_connections = static_cast<int>(f.integer("max_idle_connections"));
  }
  if (f.has("max_connection_lifetime")) {
    c.max_connection_lifetime = sdk::whole_seconds(f.duration("max_connection_lifetime"));
  }
  if (f.has("username_template")) c.username_template = f.string("username_template");
  if (f.has("password_policy")) c.password_policy = f.string("password_policy");
  if (f.has("root_rotation_statements")) {
    c.root_rotation_statements = f.strings("root_rotation_statements");
  }
  if (f.has("revoke_terminates_sessions")) {
    c.revoke_terminates_sessions = f.boolean("revoke_terminates_sessions");
  }

  if (c.connection_url.empty()) return sdk::invalid_argument("connection_url cannot be empty");
  LEASEFS_TRY(check_connection_url(c.connection_url));
  if (!c.username_template.empty()) LEASEFS_TRY(check_username_template(c.username_template));
  if (!c.password_policy.empty()) {
    // A typo is caught now, not at the first creds request.
    auto probe = password_for(request, c.password_policy);
    if (!probe) return sdk::error(probe.error());
    sdk::wipe(probe->data(), probe->size());
  }
  if (c.verify_connection) {
    PgPool probe(pool_settings(c));
    auto ok = probe.verify();
    if (!ok) {
      return sdk::invalid_argument("error creating database object: error verifying connection: " +
                                   ok.error().message());
    }
  }
  LEASEFS_TRY(request.storage->put(std::string(kConfigPrefix) + *name, encode_config(c)));
  engine.drop_pool(*name);
  sdk::Response response;
  if (c.allowed_roles.empty()) {
    response.warnings.push_back(
        "allowed_roles is empty: no role can use this config until it lists some (or \"*\")");
  }
  return response;
}

sdk::Result<sdk::Response> read_config(Engine& engine, sdk::Request& request,
                                       const sdk::FieldData& f) {
  auto name = config_name(f);
  if (!name) return sdk::error(name.error());
  auto config = engine.read_config(*request.storage, *name);
  if (!config) return sdk::error(config.error());
  if (!config->has_value()) return sdk::not_found("");
  return sdk::Response::with_data(config_response(**config));
}

sdk::Result<sdk::Response> delete_config(Engine& engine, sdk::Request& request,
                                         const sdk::FieldData& f) {
  auto name = config_name(f);
  if (!name) return sdk::error(name.error());
  std::lock_guard lock(engine.config_mutex());
  LEASEFS_TRY(request.storage->remove(std::string(kConfigPrefix) + *name));
  engine.drop_pool(*name);
  return sdk::Response::empty();
}

sdk::Result<sdk::Response> list_configs(Engine&, sdk::Request& request, const sdk::FieldData&) {
  auto names = request.storage->list(kConfigPrefix);
  if (!names) return sdk::error(names.error());
  return list_response(std::move(*names));
}

}  // namespace

std::vector<sdk::PathSpec> config_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back({.pattern = "config",
                   .fields = {},
                   .operations = {{sdk::Operation::kList, bind_handler(engine, list_configs)}},
                   .existence = {},
                   .synopsis = "List the database configs."});
  auto write = bind_handler(engine, write_config);
  paths.push_back(
      {.pattern = "config/{name}",
       .fields = config_fields(),
       .operations = {{sdk::Operation::kRead, bind_handler(engine, read_config)},
                      {sdk::Operation::kCreate, write},
                      {sdk::Operation::kUpdate, write},
                      {sdk::Operation::kDelete, bind_handler(engine, delete_config)}},
       .existence = [engine](sdk::Request& request, const sdk::FieldData& f) -> sdk::Result<bool> {
         LEASEFS_TRY(engine->fill_context(request));
         return config_exists(*engine, request, f);
       },
       .synopsis = "Configure the connection to a database."});
  return paths;
}

}  // namespace leasefs::engines::database
