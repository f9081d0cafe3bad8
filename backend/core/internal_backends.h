// The core's own backends: sys/ (mounts, policies, capabilities, keys, seal, metrics)
// and auth/token/ (the token store's API). They are FrameworkBackends like any engine,
// but they act on the core and may see the caller's token.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/auth/token_store.h"
#include "backend/sdk/backend.h"

namespace leasefs::backend::core {

class Core;

std::unique_ptr<sdk::Backend> make_system_backend(Core& core);
std::unique_ptr<sdk::Backend> make_token_backend(Core& core);
// sys/leases/* and the older sys/renew, sys/revoke* (lease_paths.cc), for sys/.
std::vector<sdk::PathSpec> lease_paths(Core& core);
// sys/audit, sys/audit-hash and sys/access-events (audit_paths.cc), for sys/.
std::vector<sdk::PathSpec> audit_paths(Core& core);
// sys/policies/password and .../generate (password_policies.cc), for sys/.
std::vector<sdk::PathSpec> password_policy_paths(Core& core);
// The caller's token entry, for the backends that see the token (token_backend.cc);
// permission denied when the token is not known.
sdk::Result<auth::TokenEntry> caller_token(Core& core, const sdk::Request& request);
// The expiration manager's gauges and counters, in Prometheus text, for sys/metrics.
std::string lease_metrics_text(Core& core);

}  // namespace leasefs::backend::core
