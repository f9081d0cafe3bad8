// The path groups of the KV engines, one function per path_*.cc file; backend.cc puts
// them together. Internal to engines/kv.
#pragma once

#include <memory>
#include <vector>

#include "backend/sdk/backend.h"
#include "engines/kv/versioned_store.h"

namespace leasefs::engines::kv {

// v1 (path_passthrough.cc): "{path*?}" with read, create/update, delete and list.
sdk::PathSpec passthrough_path(sdk::Storage& storage);

// v2. Each captures the mount's shared state.
sdk::PathSpec config_path(std::shared_ptr<VersionedStore> store);    // path_config.cc
sdk::PathSpec data_path(std::shared_ptr<VersionedStore> store);      // path_data.cc
sdk::PathSpec metadata_path(std::shared_ptr<VersionedStore> store);  // path_metadata.cc
std::vector<sdk::PathSpec> version_paths(
    std::shared_ptr<VersionedStore> store);                         // path_versions.cc
sdk::PathSpec subkeys_path(std::shared_ptr<VersionedStore> store);  // path_subkeys.cc
// Catch-all that must come last: Vault's 404 with a warning for paths a v2 mount does
// not serve (path_data.cc).
sdk::PathSpec invalid_v2_path();

// Vault's answer to a request for a path a v2 mount does not serve (the mount root of
// a group such as "data", a v1-style path, or "data/x/" with a trailing '/'): 404 with
// a warning and no data.
sdk::Response invalid_v2_path_response(const sdk::Request& request);

}  // namespace leasefs::engines::kv
