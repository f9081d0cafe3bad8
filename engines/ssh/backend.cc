// Wiring of the SSH engine: its paths (one file per group), the "ssh_certificate"
// secret type (nothing to revoke: certificates expire), and public_key without a token.
// Read ssh.h for the paths and the storage layout, then path_sign.cc and openssh.cc.
#include "engines/ssh/engine.h"
#include "engines/ssh/ssh.h"

namespace leasefs::engines::ssh {

sdk::Result<std::unique_ptr<sdk::Backend>> make_ssh(const sdk::BackendConfig& config) {
  auto engine = std::make_shared<Engine>(config);
  std::vector<sdk::PathSpec> paths;
  for (auto group : {ca_paths(engine), role_paths(engine), sign_paths(engine)}) {
    for (auto& p : group) paths.push_back(std::move(p));
  }
  sdk::SecretType certificate{.name = std::string(kCertSecretType), .renew = {}, .revoke = {}};
  sdk::SpecialPaths special{.unauthenticated = {"public_key"}, .root = {}};
  return std::unique_ptr<sdk::Backend>(std::make_unique<sdk::FrameworkBackend>(
      std::move(paths), std::vector<sdk::SecretType>{std::move(certificate)}, std::move(special)));
}

}  // namespace leasefs::engines::ssh
