// The PKI secrets engine, as Vault's `pki` mount type serves it with its single-issuer
// API: one self-signed root CA per mount, roles that say which names a client may
// get a certificate for, issue (key pair + certificate) and sign (a client's CSR),
// revocation by serial with a CRL signed by the CA, and optional leases on issued
// certificates. X.509 is built with OpenSSL 3.
//
// Paths (relative to the mount; backend.cc lists them in routing order):
//   root/generate/internal|exported   update   make the CA (refused with a warning if
//                                              one exists: one issuer per mount)
//   root                               delete   remove the CA (and its CRL)
//   roles/                             list
//   roles/<name>                       create, read, update, delete
//   issue/<role>, sign/<role>          update
//   revoke                             update   {serial_number}
//   crl/rotate                         read     rebuild the CRL
//   config/urls, config/crl            read, update
//   ca, ca/pem, ca_chain               read     raw bytes, no token needed
//   crl, crl/pem                       read     raw bytes, no token needed
//   cert/ca, cert/ca_chain, cert/crl,
//   cert/<serial>[/raw[/pem]]          read     no token needed
//   certs/                             list     serials of stored certificates
//
// Storage layout, inside the mount's view (behind the barrier):
//   ca/certificate        DER of the CA certificate
//   ca/private_key        PEM (PKCS#8) of the CA key; read only into SecureBuffers
//   ca/info               {key_type, issuer_id, issuer_name, key_id, key_name,
//                          serial_number}
//   certs/<aa-bb-..>      DER of every stored certificate (the CA's too), by serial
//   revoked/<aa-bb-..>    {certificate_bytes (base64 DER), revocation_time (unix),
//                          revocation_time_ns, revocation_time_utc (RFC 3339)}
//   crl                   DER of the current CRL
//   crl_state             {next_crl_number}
//   role/<name>           the role (JSON, Vault's field names; durations in seconds)
//   config/urls           {issuing_certificates, crl_distribution_points, ocsp_servers}
//   config/crl            {expiry, expiry_seconds, disable}
// A revocation, the CRL listing it and the CRL number are written in one batch; so are
// the CA's keys, certificate and first CRL.
//
// Conventions the core relies on:
//  - with a role's generate_lease, issue/ and sign/ answer a SecretInfo of type "cert"
//    (internal {serial_number}, ttl = time left to notAfter, not renewable); the
//    type's revoke revokes the certificate and rebuilds the CRL, and succeeds when the
//    certificate is already revoked, expired, not stored, or the CA is gone;
//  - raw answers (ca, crl, ...) set Response::raw; with nothing to serve they are an
//    empty 204, as in Vault;
//  - a missing role, certificate or an empty LIST is Code::kNotFound with an empty
//    message (Vault's {"errors":[]}); every client mistake is kInvalidArgument with
//    Vault's text.
#pragma once

#include <memory>

#include "backend/sdk/backend.h"

namespace leasefs::engines::pki {

namespace sdk = ::leasefs::backend::sdk;

// Builds a PKI engine for a mount. `config.storage`, `config.clock` and
// `config.random` are used only when a request arrives without them (the router
// normally sets all three); if set they must outlive the engine. Never fails today.
// The engine keeps all its state in storage. Thread-safe: root generation and
// deletion exclude everything that uses the CA; revocations and CRL rebuilds are
// serialized; issuing runs concurrently.
sdk::Result<std::unique_ptr<sdk::Backend>> make_pki(const sdk::BackendConfig& config);

}  // namespace leasefs::engines::pki
