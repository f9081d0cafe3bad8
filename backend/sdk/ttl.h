// Vault's TTL arithmetic, shared by every place that grants time: tokens, leases and
// their renewals. The rules (from Vault's framework): the mount's default TTL unless a
// TTL is asked for; capped by the smallest of the mount max, the role's max and an
// explicit max, counted from the start of the lease, not from now; a period replaces
// the TTL and ignores the max (but not an explicit max). Capping adds Vault's warning.
#pragma once

#include <string>
#include <vector>

#include "backend/sdk/clock.h"
#include "backend/sdk/request.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::sdk {

struct TtlInput {
  Duration increment{0};         // asked for at renewal (from now); 0 = not given
  Duration ttl{0};               // asked for by the request or role; 0 = not given
  Duration period{0};            // periodic: every renewal grants this much
  Duration role_max_ttl{0};      // the role's (backend's) max; 0 = none
  Duration explicit_max_ttl{0};  // a hard cap on the whole life; 0 = none
  WallTime start{};              // when the lease or token was first issued
};

struct TtlResult {
  Duration ttl{0};
  std::vector<std::string> warnings{};
};

// The TTL to grant now. Fails (invalid_argument, "past the max TTL, cannot renew")
// when the max has already passed.
Result<TtlResult> calculate_ttl(const MountLimits& limits, const TtlInput& input, WallTime now);

// Vault's short duration text in warnings: "768h", "1h30m", "45s".
std::string human_duration(Duration d);

}  // namespace leasefs::backend::sdk
