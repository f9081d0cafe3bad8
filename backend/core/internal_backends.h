// The core's own backends: sys/ (mounts, policies, capabilities, keys, seal, metrics)
// and auth/token/ (the token store's API). They are FrameworkBackends like any engine,
// but they act on the core and may see the caller's token.
#pragma once

#include <memory>

#include "backend/sdk/backend.h"

namespace leasefs::backend::core {

class Core;

std::unique_ptr<sdk::Backend> make_system_backend(Core& core);
std::unique_ptr<sdk::Backend> make_token_backend(Core& core);

}  // namespace leasefs::backend::core
