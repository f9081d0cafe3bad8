// The database engine's shared state and storage codecs (see engine.h).
#include "engines/database/engine.h"

#include <cctype>

#include "backend/sdk/duration.h"
#include "backend/sdk/stored_json.h"

namespace leasefs::engines::database {
namespace {

using nlohmann::json;
using sdk::get_bool;
using sdk::get_int;
using sdk::get_string;
using sdk::get_strings;

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

}  // namespace

std::string encode_config(const DbConfig& c) {
  return json{{"plugin_name", c.plugin_name},
              {"connection_url", c.connection_url},
              {"username", c.username},
              {"password", c.password},
              {"allowed_roles", c.allowed_roles},
              {"verify_connection", c.verify_connection},
              {"max_open_connections", c.max_open_connections},
              {"max_idle_connections", c.max_idle_connections},
              {"max_connection_lifetime", c.max_connection_lifetime},
              {"username_template", c.username_template},
              {"password_policy", c.password_policy},
              {"root_rotation_statements", c.root_rotation_statements},
              {"revoke_terminates_sessions", c.revoke_terminates_sessions}}
      .dump();
}

sdk::Result<DbConfig> decode_config(std::string_view key, std::string_view text) {
  auto j = sdk::parse_stored_object("database", key, text);
  if (!j) return sdk::error(j.error());
  DbConfig c;
  c.plugin_name = get_string(*j, "plugin_name");
  c.connection_url = get_string(*j, "connection_url");
  c.username = get_string(*j, "username");
  c.password = get_string(*j, "password");
  c.allowed_roles = get_strings(*j, "allowed_roles");
  c.verify_connection = get_bool(*j, "verify_connection", true);
  c.max_open_connections = static_cast<int>(get_int(*j, "max_open_connections", 4));
  c.max_idle_connections = static_cast<int>(get_int(*j, "max_idle_connections", 0));
  c.max_connection_lifetime = get_int(*j, "max_connection_lifetime", 0);
  c.username_template = get_string(*j, "username_template");
  c.password_policy = get_string(*j, "password_policy");
  c.root_rotation_statements = get_strings(*j, "root_rotation_statements");
  c.revoke_terminates_sessions = get_bool(*j, "revoke_terminates_sessions", false);
  return c;
}

json config_response(const DbConfig& c) {
  json details = {{"connection_url", c.connection_url},
                  {"username", c.username},
                  {"max_open_connections", c.max_open_connections},
                  {"max_idle_connections", c.max_idle_connections},
                  {"max_connection_lifetime", std::to_string(c.max_connection_lifetime) + "s"}};
  if (!c.username_template.empty()) details["username_template"] = c.username_template;
  return json{{"plugin_name", c.plugin_name},
              {"plugin_version", ""},
              {"connection_details", std::move(details)},
              {"allowed_roles", c.allowed_roles},
              {"root_credentials_rotate_statements", c.root_rotation_statements},
              {"password_policy", c.password_policy},
              {"verify_connection", c.verify_connection},
              {"revoke_terminates_sessions", c.revoke_terminates_sessions}};
}

std::string encode_role(const DbRole& r) {
  return json{{"db_name", r.db_name},
              {"creation_statements", r.creation_statements},
              {"revocation_statements", r.revocation_statements},
              {"rollback_statements", r.rollback_statements},
              {"renew_statements", r.renew_statements},
              {"default_ttl", sdk::whole_seconds(r.default_ttl)},
              {"max_ttl", sdk::whole_seconds(r.max_ttl)}}
      .dump();
}

sdk::Result<DbRole> decode_role(std::string_view key, std::string_view text) {
  auto j = sdk::parse_stored_object("database", key, text);
  if (!j) return sdk::error(j.error());
  DbRole r;
  r.db_name = get_string(*j, "db_name");
  r.creation_statements = get_strings(*j, "creation_statements");
  r.revocation_statements = get_strings(*j, "revocation_statements");
  r.rollback_statements = get_strings(*j, "rollback_statements");
  r.renew_statements = get_strings(*j, "renew_statements");
  r.default_ttl = std::chrono::seconds(get_int(*j, "default_ttl", 0));
  r.max_ttl = std::chrono::seconds(get_int(*j, "max_ttl", 0));
  return r;
}

json role_response(const DbRole& r) {
  return json{{"db_name", r.db_name},
              {"creation_statements", r.creation_statements},
              {"revocation_statements", r.revocation_statements},
              {"rollback_statements", r.rollback_statements},
              {"renew_statements", r.renew_statements},
              {"default_ttl", sdk::whole_seconds(r.default_ttl)},
              {"max_ttl", sdk::whole_seconds(r.max_ttl)},
              {"credential_type", "password"},
              {"credential_config", json::object()}};
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  if (!word_char(name.front()) || !word_char(name.back())) return false;
  for (char c : name) {
    if (!word_char(c) && c != '-' && c != '.') return false;
  }
  return true;
}

bool role_allowed(const std::vector<std::string>& allowed, std::string_view role) {
  for (const auto& pattern : allowed) {
    if (pattern == "*" || pattern == role) return true;
    if (pattern.size() > 1 && pattern.back() == '*' &&
        role.starts_with(std::string_view(pattern).substr(0, pattern.size() - 1))) {
      return true;
    }
  }
  return false;
}

PgSettings pool_settings(const DbConfig& c) {
  PgSettings s;
  s.connection_url = c.connection_url;
  s.username = c.username;
  s.password = c.password;
  s.max_open_connections = c.max_open_connections > 0 ? c.max_open_connections : 4;
  return s;
}

Engine::Engine(const sdk::BackendConfig& config)
    : storage_(config.storage), clock_(config.clock), random_(config.random) {}

sdk::Result<void> Engine::fill_context(sdk::Request& request) const {
  return sdk::fill_request_context(request, storage_, clock_, random_, "database");
}

sdk::Result<std::optional<DbConfig>> Engine::read_config(sdk::Storage& storage,
                                                         std::string_view name) {
  const std::string key = std::string(kConfigPrefix) + std::string(name);
  auto value = storage.get(key);
  if (!value) return sdk::error(value.error());
  if (!value->has_value()) return std::optional<DbConfig>();
  auto config = decode_config(key, **value);
  sdk::wipe((*value)->data(), (*value)->size());
  if (!config) return sdk::error(config.error());
  return std::optional<DbConfig>(std::move(*config));
}

sdk::Result<std::optional<DbRole>> Engine::read_role(sdk::Storage& storage, std::string_view name) {
  const std::string key = std::string(kRolePrefix) + std::string(name);
  auto value = storage.get(key);
  if (!value) return sdk::error(value.error());
  if (!value->has_value()) return std::optional<DbRole>();
  auto role = decode_role(key, **value);
  if (!role) return sdk::error(role.error());
  return std::optional<DbRole>(std::move(*role));
}

std::shared_ptr<PgPool> Engine::pool(const std::string& name, const DbConfig& config) {
  std::lock_guard lock(pools_mu_);
  auto& slot = pools_[name];
  if (!slot) slot = std::make_shared<PgPool>(pool_settings(config));
  return slot;
}

void Engine::drop_pool(const std::string& name) {
  std::shared_ptr<PgPool> gone;
  {
    std::lock_guard lock(pools_mu_);
    auto it = pools_.find(name);
    if (it == pools_.end()) return;
    gone = std::move(it->second);
    pools_.erase(it);
  }
  gone->close_idle();
}

void Engine::close_all() {
  std::map<std::string, std::shared_ptr<PgPool>> gone;
  {
    std::lock_guard lock(pools_mu_);
    gone.swap(pools_);
  }
  for (auto& [name, pool] : gone) pool->close_idle();
}

sdk::Handler bind_handler(const std::shared_ptr<Engine>& engine, EngineHandler handler) {
  return sdk::bind_engine_handler(engine, std::move(handler));
}

sdk::Result<sdk::Response> list_response(std::vector<std::string> keys) {
  if (keys.empty()) return sdk::not_found("");
  return sdk::Response::with_data(json{{"keys", std::move(keys)}});
}

}  // namespace leasefs::engines::database
