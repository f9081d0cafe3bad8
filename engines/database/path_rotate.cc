// rotate-root/<name>: a new random root password, set in the database with the
// config's root_rotation_statements and then stored, after which only leasefs knows
// it; and reset/<name>: close and reopen the config's connection pool.
#include "engines/database/credentials.h"
#include "engines/database/engine.h"

namespace leasefs::engines::database {
namespace {

sdk::Result<std::string> config_name(const sdk::FieldData& f) {
  std::string name = f.string("name");
  if (!valid_name(name)) return sdk::invalid_argument("invalid config name \"" + name + "\"");
  return name;
}

sdk::Result<sdk::Response> rotate_root(Engine& engine, sdk::Request& request,
                                       const sdk::FieldData& f) {
  auto name = config_name(f);
  if (!name) return sdk::error(name.error());
  std::lock_guard lock(engine.config_mutex());
  auto config = engine.read_config(*request.storage, *name);
  if (!config) return sdk::error(config.error());
  if (!config->has_value()) return sdk::invalid_argument("failed to find entry for connection");
  DbConfig c = std::move(**config);
  if (c.username.empty()) {
    return sdk::invalid_argument("unable to rotate root credentials: no username in config");
  }
  auto password = password_for(request, c.password_policy);
  if (!password) return sdk::error(password.error());
  // A pool of its own, so requests in flight keep the old one until it is replaced.
  PgPool pool(pool_settings(c));
  auto rotated = pool.rotate_root(c.root_rotation_statements, *password);
  if (!rotated) {
    return sdk::error(rotated.error().with_context("unable to rotate root credentials"));
  }
  c.password = std::move(*password);
  // The database already has the new password: storing it must not be skipped. A
  // storage failure here leaves the root password unknown (Vault has the same window).
  auto stored = request.storage->put(std::string(kConfigPrefix) + *name, encode_config(c));
  sdk::wipe(c.password.data(), c.password.size());
  if (!stored) {
    return sdk::error(stored.error().with_context(
        "the root password was changed in the database but could not be stored"));
  }
  engine.drop_pool(*name);
  return sdk::Response::empty();
}

sdk::Result<sdk::Response> reset(Engine& engine, sdk::Request& request, const sdk::FieldData& f) {
  auto name = config_name(f);
  if (!name) return sdk::error(name.error());
  std::lock_guard lock(engine.config_mutex());
  auto config = engine.read_config(*request.storage, *name);
  if (!config) return sdk::error(config.error());
  if (!config->has_value()) return sdk::invalid_argument("failed to find entry for connection");
  engine.drop_pool(*name);
  return sdk::Response::empty();
}

sdk::PathSpec named(const std::shared_ptr<Engine>& engine, const char* pattern,
                    EngineHandler handler, const char* synopsis) {
  return {.pattern = pattern,
          .fields = {{.name = "name",
                      .type = sdk::FieldType::kString,
                      .description = "Name of the config."}},
          .operations = {{sdk::Operation::kUpdate, bind_handler(engine, std::move(handler))}},
          .existence = {},
          .synopsis = synopsis};
}

}  // namespace

std::vector<sdk::PathSpec> rotate_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back(named(engine, "rotate-root/{name}", rotate_root,
                        "Set a new random root password that only leasefs knows."));
  paths.push_back(named(engine, "reset/{name}", reset, "Reopen the config's connections."));
  return paths;
}

}  // namespace leasefs::engines::database
