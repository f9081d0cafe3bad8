// Wiring of the PKI engine: its paths (one file per group), the "cert" secret type and
// the paths that need no token. Read pki.h for the paths and the storage layout, then
// path_issue.cc and creation.cc for the heart of it.
#include "engines/pki/engine.h"
#include "engines/pki/pki.h"

namespace leasefs::engines::pki {

sdk::Result<std::unique_ptr<sdk::Backend>> make_pki(const sdk::BackendConfig& config) {
  auto engine = std::make_shared<Engine>(config);
  std::vector<sdk::PathSpec> paths;
  // The first matching pattern wins: the literal cert/ca, cert/crl and cert/ca_chain
  // (fetch_paths) come before cert/{serial}, and no other two groups overlap.
  for (auto group : {root_paths(engine), role_paths(engine), issue_paths(engine),
                     revoke_paths(engine), config_paths(engine), fetch_paths(engine)}) {
    for (auto& p : group) paths.push_back(std::move(p));
  }
  // As Vault's PathsSpecial: what a TLS client or a browser fetches without a token.
  sdk::SpecialPaths special{
      .unauthenticated = {"cert/*", "ca/pem", "ca_chain", "ca", "crl/pem", "crl"}, .root = {}};
  return std::unique_ptr<sdk::Backend>(std::make_unique<sdk::FrameworkBackend>(
      std::move(paths), std::vector<sdk::SecretType>{cert_secret_type(engine)},
      std::move(special)));
}

}  // namespace leasefs::engines::pki
