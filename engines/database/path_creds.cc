// creds/<role>: a new database user for the role, under a lease of type "creds"; and
// that type's renew (moves the user's VALID UNTIL) and revoke (drops the user, and
// succeeds when it is already gone, so a user dropped by hand cannot make a lease
// irrevocable).
#include <ctime>

#include "backend/sdk/log.h"
#include "backend/sdk/ttl.h"
#include "engines/database/credentials.h"
#include "engines/database/engine.h"

namespace leasefs::engines::database {
namespace {

using nlohmann::json;

// PostgreSQL timestamptz text in UTC: "2026-11-28 18:10:00+00:00".
std::string expiration_text(sdk::WallTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S+00:00", &tm);
  return buf;
}

struct Target {
  DbConfig config;
  std::shared_ptr<PgPool> pool;
};

// The config named `db_name` and its pool; failed_precondition when it is gone.
sdk::Result<Target> target(Engine& engine, sdk::Storage& storage, const std::string& db_name) {
  auto config = engine.read_config(storage, db_name);
  if (!config) return sdk::error(config.error());
  if (!config->has_value()) {
    return sdk::error(sdk::Code::kFailedPrecondition,
                      "database config \"" + db_name + "\" does not exist");
  }
  Target t{.config = std::move(**config), .pool = nullptr};
  t.pool = engine.pool(db_name, t.config);
  return t;
}

sdk::Result<sdk::Response> read_creds(Engine& engine, sdk::Request& request,
                                      const sdk::FieldData& f) {
  const std::string name = f.string("name");
  if (!valid_name(name)) return sdk::invalid_argument("unknown role: " + name);
  auto role = engine.read_role(*request.storage, name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return sdk::invalid_argument("unknown role: " + name);
  const DbRole& r = **role;
  auto t = target(engine, *request.storage, r.db_name);
  if (!t) return sdk::error(t.error());
  if (!role_allowed(t->config.allowed_roles, name)) {
    return sdk::error(sdk::Code::kPermissionDenied, "\"" + name + "\" is not an allowed role");
  }

  const sdk::WallTime now = request.clock->now();
  auto ttl = sdk::calculate_ttl(request.limits,
                                {.increment = {},
                                 .ttl = r.default_ttl,
                                 .period = {},
                                 .role_max_ttl = r.max_ttl,
                                 .explicit_max_ttl = {},
                                 .start = now},
                                now);
  if (!ttl) return sdk::error(ttl.error());

  auto username = generate_username(
      t->config.username_template,
      {.display_name = request.caller.display_name, .role_name = name, .now = now},
      *request.random);
  if (!username) return sdk::error(username.error());
  auto password = password_for(request, t->config.password_policy);
  if (!password) return sdk::error(password.error());

  const StatementValues values{
      .name = *username, .password = *password, .expiration = expiration_text(now + ttl->ttl)};
  auto created = t->pool->create_user(r.creation_statements, r.rollback_statements, values);
  if (!created) {
    return sdk::error(created.error().with_context("unable to create database user"));
  }

  sdk::Response response =
      sdk::Response::with_data(json{{"username", *username}, {"password", std::move(*password)}});
  response.secret = sdk::SecretInfo{
      .type = std::string(kCredsSecretType),
      .internal = json{{"username", *username}, {"role", name}, {"db_name", r.db_name}},
      .ttl = ttl->ttl,
      .max_ttl = r.max_ttl,
      .renewable = true};
  response.warnings = std::move(ttl->warnings);
  return response;
}

struct LeaseFields {
  std::string username;
  std::string role;
  std::string db_name;
};

sdk::Result<LeaseFields> lease_fields(const sdk::LeaseInfo& lease) {
  auto text = [&](const char* key) {
    auto it = lease.internal.find(key);
    return it != lease.internal.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  LeaseFields out{.username = text("username"), .role = text("role"), .db_name = text("db_name")};
  if (out.username.empty() || out.db_name.empty()) {
    return sdk::internal_error("could not find username or db_name in internal secret data");
  }
  return out;
}

sdk::Result<sdk::Response> renew(Engine& engine, sdk::Request& request,
                                 const sdk::LeaseInfo& lease) {
  auto fields = lease_fields(lease);
  if (!fields) return sdk::error(fields.error());
  // The role decides the TTLs; a role deleted since keeps the mount's.
  auto role = engine.read_role(*request.storage, fields->role);
  if (!role) return sdk::error(role.error());
  const DbRole r = role->value_or(DbRole{});
  auto t = target(engine, *request.storage, fields->db_name);
  if (!t) return sdk::error(t.error());

  const sdk::WallTime now = request.clock->now();
  auto ttl = sdk::calculate_ttl(request.limits,
                                {.increment = lease.increment,
                                 .ttl = r.default_ttl,
                                 .period = {},
                                 .role_max_ttl = r.max_ttl,
                                 .explicit_max_ttl = {},
                                 .start = lease.issue_time},
                                now);
  if (!ttl) return sdk::error(ttl.error());
  const StatementValues values{
      .name = fields->username, .password = {}, .expiration = expiration_text(now + ttl->ttl)};
  auto renewed = t->pool->renew_user(r.renew_statements, values);
  if (!renewed) return sdk::error(renewed.error().with_context("unable to renew database user"));

  sdk::Response response;
  response.secret = sdk::SecretInfo{.type = std::string(kCredsSecretType),
                                    .internal = lease.internal,
                                    .ttl = ttl->ttl,
                                    .max_ttl = r.max_ttl,
                                    .renewable = true};
  response.warnings = std::move(ttl->warnings);
  return response;
}

sdk::Result<void> revoke(Engine& engine, sdk::Request& request, const sdk::LeaseInfo& lease) {
  auto fields = lease_fields(lease);
  if (!fields) return sdk::error(fields.error());
  auto role = engine.read_role(*request.storage, fields->role);
  if (!role) return sdk::error(role.error());
  auto t = target(engine, *request.storage, fields->db_name);
  if (!t) return sdk::error(t.error());
  const std::vector<std::string> statements =
      role->has_value() ? (*role)->revocation_statements : std::vector<std::string>{};
  auto revoked =
      t->pool->revoke_user(statements, fields->username, t->config.revoke_terminates_sessions);
  if (!revoked) return sdk::error(revoked.error().with_context("unable to revoke database user"));
  return {};
}

}  // namespace

std::vector<sdk::PathSpec> creds_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back({.pattern = "creds/{name}",
                   .fields = {{.name = "name",
                               .type = sdk::FieldType::kString,
                               .description = "The role to create credentials for."}},
                   .operations = {{sdk::Operation::kRead, bind_handler(engine, read_creds)}},
                   .existence = {},
                   .synopsis = "Create a database user under a lease."});
  return paths;
}

sdk::SecretType creds_secret_type(const std::shared_ptr<Engine>& engine) {
  return {
      .name = std::string(kCredsSecretType),
      .renew = [engine](sdk::Request& request,
                        const sdk::LeaseInfo& lease) -> sdk::Result<sdk::Response> {
        LEASEFS_TRY(engine->fill_context(request));
        return renew(*engine, request, lease);
      },
      .revoke = [engine](sdk::Request& request, const sdk::LeaseInfo& lease) -> sdk::Result<void> {
        LEASEFS_TRY(engine->fill_context(request));
        return revoke(*engine, request, lease);
      }};
}

}  // namespace leasefs::engines::database
