// The database secrets engine, as Vault's `database` mount type serves it, with the
// PostgreSQL plugin (postgresql-database-plugin) over libpq: named connection configs,
// roles whose statements create a database user, and leased credentials whose revoke
// drops that user.
//
// Paths (relative to the mount; backend.cc lists them in routing order):
//   config/                  list
//   config/<name>            create, read, update, delete   (read never shows a password)
//   roles/                   list
//   roles/<name>             create, read, update, delete
//   creds/<role>             read     a new user + password under a lease ("creds")
//   rotate-root/<name>       update   new random root password, set in the database
//   reset/<name>             update   close and reopen the config's connection pool
//
// Storage layout, inside the mount's view (behind the barrier):
//   config/<name>   {plugin_name, connection_url, username, password, allowed_roles,
//                    verify_connection, max_open_connections, max_idle_connections,
//                    max_connection_lifetime, username_template, password_policy,
//                    root_rotation_statements, revoke_terminates_sessions}
//   role/<name>     {db_name, creation_statements, revocation_statements,
//                    rollback_statements, renew_statements, default_ttl, max_ttl}
//                   (durations in seconds)
//
// Conventions the core relies on:
//  - creds/ answers a SecretInfo of type "creds" (internal {username, role, db_name};
//    never the password), renewable, ttl = the role's default_ttl clamped by the
//    mount; the user's VALID UNTIL is the lease's expiry;
//  - the type's revoke drops the user and succeeds when it is already gone; its renew
//    moves VALID UNTIL to the new expiry;
//  - a database that cannot be reached is kUnavailable (502) or kDeadlineExceeded
//    (504), within bounded time (connect_timeout 5 s, statements 10 s);
//  - client mistakes are kInvalidArgument with Vault's texts where Vault has one; a
//    role the config does not allow is kPermissionDenied.
#pragma once

#include <memory>

#include "backend/sdk/backend.h"

namespace leasefs::engines::database {

namespace sdk = ::leasefs::backend::sdk;

// Builds a database engine for a mount. Never fails today. Connection pools are opened
// on first use and closed by cleanup() (and when the engine goes). Thread-safe.
sdk::Result<std::unique_ptr<sdk::Backend>> make_database(const sdk::BackendConfig& config);

}  // namespace leasefs::engines::database
