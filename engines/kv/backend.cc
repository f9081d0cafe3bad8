// Wiring of the KV engines: which paths each version serves, in routing order. Start
// here, then read the path_*.cc file of the group you care about.
//
//   v1   {path*?}              read, write, delete, list (path_passthrough.cc)
//   v2   config                read, write (path_config.cc)
//        data/{path*}          read (?version=N), write, patch, delete (path_data.cc)
//        metadata/{path*?}     read, list, write, patch, delete (path_metadata.cc)
//        delete/{path*}        soft-delete versions     } path_versions.cc
//        undelete/{path*}      restore versions         }
//        destroy/{path*}       remove versions' data    }
//        subkeys/{path*}       keys without values (?version=N&depth=N) (path_subkeys.cc)
//        {path*?}              anything else: 404 with Vault's warning (path_data.cc)
//
// Neither version issues leases, so there are no secret types. Storage layout of v2:
// versioned_store.h.
#include <algorithm>

#include "engines/kv/kv.h"
#include "engines/kv/paths.h"

namespace leasefs::engines::kv {
namespace {

// KV v1 takes arbitrary input: the whole body is the secret, so the framework's
// warning about fields missing from the path's schema does not apply and is dropped.
class PassthroughBackend final : public sdk::FrameworkBackend {
 public:
  explicit PassthroughBackend(sdk::Storage& storage)
      : FrameworkBackend({passthrough_path(storage)}, {}) {}

  sdk::Result<sdk::Response> handle(sdk::Request& request) override {
    auto response = FrameworkBackend::handle(request);
    if (response) {
      std::erase_if(response->warnings, [](const std::string& w) {
        return w.starts_with("Endpoint ignored these unrecognized parameters");
      });
    }
    return response;
  }
};

std::unique_ptr<sdk::Backend> make_v2(const sdk::BackendConfig& config) {
  auto store = std::make_shared<VersionedStore>(*config.storage, *config.clock);
  std::vector<sdk::PathSpec> paths;
  paths.push_back(config_path(store));
  paths.push_back(data_path(store));
  paths.push_back(metadata_path(store));
  for (auto& p : version_paths(store)) paths.push_back(std::move(p));
  paths.push_back(subkeys_path(store));
  paths.push_back(invalid_v2_path());  // must stay last
  return std::make_unique<sdk::FrameworkBackend>(std::move(paths), std::vector<sdk::SecretType>{});
}

}  // namespace

sdk::Result<std::unique_ptr<sdk::Backend>> make_kv(const sdk::BackendConfig& config) {
  if (config.storage == nullptr || config.clock == nullptr) {
    return sdk::invalid_argument("kv: the mount has no storage or clock");
  }
  std::string version;
  if (auto it = config.options.find("version"); it != config.options.end()) {
    version = it->second;
  }
  if (version.empty() || version == "1") {
    return std::unique_ptr<sdk::Backend>(std::make_unique<PassthroughBackend>(*config.storage));
  }
  if (version == "2") return make_v2(config);
  return sdk::invalid_argument("kv: unsupported version \"" + version +
                               "\" in mount options; want \"1\" or \"2\"");
}

}  // namespace leasefs::engines::kv
