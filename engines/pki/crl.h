// Revocation: the stored list of revoked certificates and the CRL built from it,
// signed by the CA. Shared by pki/revoke, pki/crl/rotate, root generation and the
// "cert" secret type's revoke, so that a certificate is revoked the same way whichever
// of them asks. Internal to engines/pki.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/backend.h"
#include "engines/pki/engine.h"

namespace leasefs::engines::pki {

// One stored revocation (revoked/<serial>).
struct Revocation {
  std::vector<std::uint8_t> serial{};
  std::string certificate_der{};
  sdk::WallTime revocation_time{};
};

// The revocation of `serial`, or nullopt when it is not revoked.
sdk::Result<std::optional<Revocation>> read_revocation(sdk::Storage& storage,
                                                       const std::vector<std::uint8_t>& serial);

// A signed v2 CRL (DER) listing `revoked`, issued by `ca` with its key: thisUpdate
// `now`, nextUpdate `now + config.expiry`, authority key id and CRL number
// extensions. An empty list when the CRL is disabled. kInternal on OpenSSL failures.
sdk::Result<std::string> build_crl(const CaBundle& ca, std::span<const Revocation> revoked,
                                   sdk::WallTime now, const CrlConfig& config,
                                   std::int64_t crl_number);

// The writes that replace the stored CRL with a fresh one listing every stored
// revocation plus `extra` (not yet stored), and advance the CRL number. Requires
// crl_mutex() and a CA loaded with its key. `config` replaces the stored config/crl
// (for a write of config/crl that is in the same batch).
sdk::Result<std::vector<sdk::StorageOp>> rebuild_crl_ops(
    sdk::Request& request, const CaBundle& ca, std::span<const Revocation> extra,
    const std::optional<CrlConfig>& config = std::nullopt);

// Vault's revokeCert. `serial` as the client wrote it (colons or hyphens). On success
// the answer carries {revocation_time, revocation_time_rfc3339} — the first
// revocation's, when it was already revoked. Errors (Code::kInvalidArgument, Vault's
// texts): no CA, "adding CA to CRL is not allowed", "certificate with serial <s> not
// found". With `from_lease` (the lease of a generate_lease certificate expires or is
// revoked) a missing CA or certificate is a success, as is a CA certificate. An
// expired certificate is not added; the answer carries Vault's warning.
// Takes ca_mutex() shared and crl_mutex(); thread-safe.
sdk::Result<sdk::Response> revoke_certificate(Engine& engine, sdk::Request& request,
                                              std::string_view serial, bool from_lease);

}  // namespace leasefs::engines::pki
