// The SSH secrets engine in CA mode, as Vault's `ssh` mount type serves it: one CA key
// per mount (generated or imported), roles that say which principals, extensions,
// critical options and lifetimes a client may get, and sign/<role>, which turns a
// client's public key into an OpenSSH certificate built by leasefs (openssh.h) and
// signed with OpenSSL. OTP mode is not served (a role with key_type "otp" is refused).
//
// Paths (relative to the mount; backend.cc lists them in routing order):
//   config/ca        create, update, read, delete   generate or import the CA key
//   public_key       read    the CA public key as text/plain, no token needed
//   roles/           list
//   roles/<name>     create, read, update, delete
//   sign/<role>      update  {public_key, valid_principals, cert_type, ttl, key_id,
//                             critical_options, extensions} -> {serial_number, signed_key}
//
// Storage layout, inside the mount's view (behind the barrier):
//   config/ca_private_key   PEM (PKCS#8) of the CA key; read only into SecureBuffers
//   config/ca_public_key    the CA public key line
//   roles/<name>            the role (JSON, Vault's field names; durations in seconds)
//
// Conventions the core relies on:
//  - sign/ answers a SecretInfo of type "ssh_certificate" (internal {serial_number},
//    ttl = the certificate's lifetime, not renewable); revoking it does nothing
//    (OpenSSH certificates cannot be revoked; they expire);
//  - public_key answers Response::raw (text/plain), or 404 before a CA exists;
//  - client mistakes (a malformed public key, a principal or extension the role does
//    not allow, a TTL over the max) are kInvalidArgument with Vault's texts.
#pragma once

#include <memory>

#include "backend/sdk/backend.h"

namespace leasefs::engines::ssh {

namespace sdk = ::leasefs::backend::sdk;

// Builds an SSH engine for a mount. Never fails today. Thread-safe: replacing or
// deleting the CA excludes signing; signing runs concurrently.
sdk::Result<std::unique_ptr<sdk::Backend>> make_ssh(const sdk::BackendConfig& config);

}  // namespace leasefs::engines::ssh
