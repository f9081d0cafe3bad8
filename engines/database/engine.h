// The database engine's shared state and storage codecs, used by every path file: the
// stored configs and roles, and one connection pool per config, opened on first use and
// replaced whenever its config changes. Internal to engines/database; the public
// surface is database.h.
//
// Lock order: config_mutex() (held while a config is written, rotated, reset or
// deleted) before the pool map's own lock. Issuing and revoking take neither for long:
// they read the config from storage and share the pool.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/sdk/engine_paths.h"
#include "backend/sdk/secure_buffer.h"
#include "engines/database/postgresql.h"

namespace leasefs::engines::database {

inline constexpr std::string_view kConfigPrefix = "config/";
inline constexpr std::string_view kRolePrefix = "role/";
inline constexpr std::string_view kCredsSecretType = "creds";
inline constexpr std::string_view kPostgresPlugin = "postgresql-database-plugin";

struct DbConfig {
  std::string plugin_name{};
  std::string connection_url{};
  std::string username{};
  std::string password{};  // never in a response
  std::vector<std::string> allowed_roles{};
  bool verify_connection = true;
  int max_open_connections = 4;
  int max_idle_connections = 0;
  std::int64_t max_connection_lifetime = 0;  // seconds; kept for Vault's shape
  std::string username_template{};
  std::string password_policy{};
  std::vector<std::string> root_rotation_statements{};
  // leasefs's own: end the user's sessions before dropping it on revoke.
  bool revoke_terminates_sessions = false;

  // The root password does not outlive the config in memory. (Copies are made where a
  // move would do: the destructor stops implicit moves, which is fine at this size.)
  ~DbConfig() { sdk::wipe(password.data(), password.capacity()); }
};

struct DbRole {
  std::string db_name{};
  std::vector<std::string> creation_statements{};
  std::vector<std::string> revocation_statements{};
  std::vector<std::string> rollback_statements{};
  std::vector<std::string> renew_statements{};
  sdk::Duration default_ttl{0};
  sdk::Duration max_ttl{0};
};

std::string encode_config(const DbConfig& config);
sdk::Result<DbConfig> decode_config(std::string_view key, std::string_view text);
// What GET config/<name> shows: Vault's shape, without the password.
nlohmann::json config_response(const DbConfig& config);

std::string encode_role(const DbRole& role);
sdk::Result<DbRole> decode_role(std::string_view key, std::string_view text);
nlohmann::json role_response(const DbRole& role);

// Vault's names for configs and roles: word characters, '-' and '.', starting and ending
// with a word character. Anything else (quotes, spaces, ';') is refused before it can
// reach storage or SQL.
bool valid_name(std::string_view name);

// True when `role` matches one of `allowed` ("*" and trailing-'*' globs).
bool role_allowed(const std::vector<std::string>& allowed, std::string_view role);

// PgSettings for a config.
PgSettings pool_settings(const DbConfig& config);

class Engine {
 public:
  explicit Engine(const sdk::BackendConfig& config);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Fills the request's storage, clock and random from the mount's config where the
  // router left them null; kInternal when neither has one.
  sdk::Result<void> fill_context(sdk::Request& request) const;

  sdk::Result<std::optional<DbConfig>> read_config(sdk::Storage& storage, std::string_view name);
  sdk::Result<std::optional<DbRole>> read_role(sdk::Storage& storage, std::string_view name);

  // The pool of config `name`, opened from `config` on first use. Thread-safe.
  std::shared_ptr<PgPool> pool(const std::string& name, const DbConfig& config);
  // Forgets the pool of `name` (its connections close when the last user lets go).
  void drop_pool(const std::string& name);
  // Closes every pool (unmount, seal).
  void close_all();

  std::mutex& config_mutex() { return config_mu_; }

 private:
  sdk::Storage* storage_;
  const sdk::Clock* clock_;
  sdk::Random* random_;
  std::mutex config_mu_;
  std::mutex pools_mu_;
  std::map<std::string, std::shared_ptr<PgPool>> pools_;
};

using EngineHandler = sdk::EngineHandler<Engine>;
// Wraps a handler so that it runs with the request's context filled in.
sdk::Handler bind_handler(const std::shared_ptr<Engine>& engine, EngineHandler handler);

// The path groups, one function per path_*.cc file.
std::vector<sdk::PathSpec> config_paths(const std::shared_ptr<Engine>& engine);  // path_config.cc
std::vector<sdk::PathSpec> role_paths(const std::shared_ptr<Engine>& engine);    // path_roles.cc
std::vector<sdk::PathSpec> creds_paths(const std::shared_ptr<Engine>& engine);   // path_creds.cc
std::vector<sdk::PathSpec> rotate_paths(const std::shared_ptr<Engine>& engine);  // path_rotate.cc
// The "creds" secret type: renew moves VALID UNTIL, revoke drops the user (path_creds.cc).
sdk::SecretType creds_secret_type(const std::shared_ptr<Engine>& engine);

// A LIST answer: {"keys": [...]}, or Vault's empty 404.
sdk::Result<sdk::Response> list_response(std::vector<std::string> keys);

}  // namespace leasefs::engines::database
