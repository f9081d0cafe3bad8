// The list of every secrets engine and auth method leasefs can mount, by type name.
// Adding an engine means adding its folder and one line in registry.cc.
#pragma once

#include <map>
#include <string>

#include "backend/sdk/backend.h"

namespace leasefs::engines {

// Secrets engines ("kv", ...) that sys/mounts can enable. Built once; thread-safe.
const std::map<std::string, backend::sdk::BackendFactory>& secrets_engines();
// Auth methods ("approle", ...) that sys/auth can enable.
const std::map<std::string, backend::sdk::BackendFactory>& auth_methods();

}  // namespace leasefs::engines
