// The AppRole auth method, as Vault's `approle` mount type serves it (mounted by the
// core at auth/approle/). Machines log in with a role ID (which names the role) and a
// secret ID (which proves they may use it); the engine checks them and returns an
// sdk::AuthInfo carrying the role's token settings. It never sees or makes tokens: the
// core turns the AuthInfo into one.
//
// Paths (relative to the mount; see backend.cc for the list):
//   role/                                  LIST
//   role/<name>                            create, read, update, delete
//   role/<name>/role-id                    read, update (a custom, unique role ID)
//   role/<name>/secret-id                  update (generate), LIST (accessors)
//   role/<name>/custom-secret-id           update
//   role/<name>/secret-id/lookup           update {secret_id}
//   role/<name>/secret-id/destroy          update, delete {secret_id}
//   role/<name>/secret-id-accessor/lookup  update {secret_id_accessor}
//   role/<name>/secret-id-accessor/destroy update, delete {secret_id_accessor}
//   role/<name>/{policies, secret-id-num-uses, secret-id-ttl, token-ttl, token-max-ttl,
//                token-num-uses, bind-secret-id, period, secret-id-bound-cidrs,
//                token-bound-cidrs}        read, update, delete (one setting each)
//   role/<name>/local-secret-ids           read
//   login                                  update {role_id, secret_id}; unauthenticated
//   tidy/secret-id                         update (runs inline, answers 202)
//
// Storage layout, inside the mount's view. H(x) is hex(HMAC-SHA256(salt, x)); no
// secret ID is ever stored, only its H.
//   salt                         32 random bytes, hex; made on first use
//   role/<name>                  the role (JSON); names are lower-case
//   role_id/<H(role_id)>         {"name": <role name>}: login's index
//   secret_id/<name>/<H(secret)> the secret ID's entry (JSON): accessor, uses left,
//                                ttl, creation/expiration/last-updated times (unix ns),
//                                metadata, cidr_list, token_bound_cidrs
//   accessor/<H(accessor)>       {"secret_id_hmac": H(secret), "role_name": <name>}
// Every operation writes its keys in one Storage::apply batch.
//
// Conventions the core relies on:
//  - login answers Response::auth. AuthInfo::display_name is left empty: Vault's core
//    names the token after the mount ("approle"). AuthInfo::metadata holds the secret
//    ID's metadata plus "role_name"; AuthInfo::internal holds "role_name" and
//    "role_id"; AuthInfo::bound_cidrs carries token_bound_cidrs (the secret ID's when
//    it has any, else the role's) for the core to enforce.
//  - login failures are Code::kInvalidArgument (HTTP 400) with Vault's texts:
//    "missing role_id", "missing secret_id", "invalid role or secret ID",
//    "source address \"...\" unauthorized by CIDR restrictions on the role" (or "the
//    secret ID"). The caller's address comes from Request::caller.remote_address
//    ("ip", "ip:port" or "[ipv6]:port").
//  - a missing role on read, or an empty LIST, is Code::kNotFound with an empty
//    message (Vault's {"errors":[]}).
#pragma once

#include <memory>

#include "backend/sdk/backend.h"

namespace leasefs::engines::approle {

namespace sdk = ::leasefs::backend::sdk;

// Builds an AppRole engine for a mount. `config.storage`, `config.clock` and
// `config.random` are used only when a request arrives without them (the router
// normally sets all three); if set they must outlive the engine. Never fails today;
// the Result leaves room for mount options. The engine keeps all its state in
// storage, except a cached copy of the salt that cleanup() wipes. Thread-safe: role
// writes are serialized, and each secret ID's uses are counted under its own lock, so
// two logins racing on the last use of a secret ID cannot both succeed.
sdk::Result<std::unique_ptr<sdk::Backend>> make_approle(const sdk::BackendConfig& config);

}  // namespace leasefs::engines::approle
