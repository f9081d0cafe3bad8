// revoke {serial_number}, crl/rotate, and the "cert" secret type whose revoke is the
// same revocation (crl.cc), so a leased certificate lands on the CRL when its lease
// is revoked, and a revocation that finds nothing left to do still succeeds.
#include <mutex>
#include <shared_mutex>

#include "backend/sdk/log.h"
#include "engines/pki/crl.h"
#include "engines/pki/engine.h"

namespace leasefs::engines::pki {
namespace {

using nlohmann::json;

sdk::Result<sdk::Response> revoke(Engine& engine, sdk::Request& request, const sdk::FieldData& f) {
  const std::string serial = f.string("serial_number");
  if (serial.empty()) return sdk::invalid_argument("The serial number must be provided");
  return revoke_certificate(engine, request, serial, false);
}

sdk::Result<sdk::Response> rotate_crl(Engine& engine, sdk::Request& request,
                                      const sdk::FieldData&) {
  std::shared_lock ca_lock(engine.ca_mutex());
  std::lock_guard crl_lock(engine.crl_mutex());
  auto ca = load_ca(*request.storage, true);
  if (!ca) return sdk::error(ca.error());
  if (!ca->has_value()) {
    return sdk::invalid_argument(
        "Error during CRL building: could not fetch the CA "
        "certificate: " +
        std::string(kNoCa));
  }
  auto ops = rebuild_crl_ops(request, **ca, {});
  if (!ops) return sdk::error(ops.error());
  LEASEFS_TRY(request.storage->apply(*ops));
  return sdk::Response::with_data(json{{"success", true}});
}

}  // namespace

std::vector<sdk::PathSpec> revoke_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back({.pattern = "revoke",
                   .fields = {{.name = "serial_number",
                               .type = sdk::FieldType::kString,
                               .description = "Serial of the certificate to revoke."}},
                   .operations = {{sdk::Operation::kUpdate, bind_handler(engine, revoke)}},
                   .existence = {},
                   .synopsis = "Revoke a certificate by serial number."});
  paths.push_back({.pattern = "crl/rotate",
                   .fields = {},
                   .operations = {{sdk::Operation::kRead, bind_handler(engine, rotate_crl)}},
                   .existence = {},
                   .synopsis = "Rebuild and re-sign the CRL."});
  return paths;
}

sdk::SecretType cert_secret_type(const std::shared_ptr<Engine>& engine) {
  return {
      .name = std::string(kCertSecretType),
      .renew = {},  // certificates cannot outlive their notAfter: not renewable
      .revoke = [engine](sdk::Request& request, const sdk::LeaseInfo& lease) -> sdk::Result<void> {
        LEASEFS_TRY(engine->fill_context(request));
        auto it = lease.internal.find("serial_number");
        if (it == lease.internal.end() || !it->is_string()) {
          return sdk::internal_error("could not find serial in internal secret data");
        }
        auto done = revoke_certificate(*engine, request, it->get<std::string>(), true);
        if (!done) return sdk::error(done.error());
        return {};
      }};
}

}  // namespace leasefs::engines::pki
