// TTL calculation as Vault's framework does it.
#include "backend/sdk/ttl.h"

#include "backend/sdk/duration.h"

namespace leasefs::backend::sdk {

std::string human_duration(Duration d) {
  if (d.count() == 0) return "0s";
  // Whole seconds: sub-second remainders come from "now" and mean nothing to a reader.
  std::string s = format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
  if (s.ends_with("m0s")) s.resize(s.size() - 2);
  if (auto at = s.find("h0m"); at != std::string::npos) s.erase(at + 1, 2);
  return s;
}

Result<TtlResult> calculate_ttl(const MountLimits& limits, const TtlInput& in, WallTime now) {
  TtlResult out;
  out.ttl = limits.default_lease_ttl;
  Duration max_ttl = limits.max_lease_ttl;
  if (in.role_max_ttl.count() > 0 && in.role_max_ttl < max_ttl) max_ttl = in.role_max_ttl;
  if (in.explicit_max_ttl.count() > 0 && in.explicit_max_ttl < max_ttl) {
    max_ttl = in.explicit_max_ttl;
  }
  if (max_ttl.count() <= 0) return invalid_argument("max TTL must be greater than zero");

  std::optional<WallTime> max_valid;
  if (in.period.count() > 0) {
    Duration period = in.period;
    if (period > max_ttl) {
      out.warnings.push_back("period of \"" + human_duration(period) +
                             "\" exceeded the effective max_ttl of \"" +
                             human_duration(max_ttl) + "\"; period value is capped accordingly");
      period = max_ttl;
    }
    out.ttl = period;
    if (in.explicit_max_ttl.count() > 0) max_valid = in.start + in.explicit_max_ttl;
  } else {
    if (in.increment.count() > 0) {
      out.ttl = in.increment;
    } else if (in.ttl.count() > 0) {
      out.ttl = in.ttl;
    }
    max_valid = in.start + max_ttl;
  }
  if (max_valid) {
    Duration left = std::chrono::duration_cast<Duration>(*max_valid - now);
    if (left.count() <= 0) return invalid_argument("past the max TTL, cannot renew");
    if (out.ttl > left) {
      out.warnings.push_back("TTL of \"" + human_duration(out.ttl) +
                             "\" exceeded the effective max_ttl of \"" + human_duration(left) +
                             "\"; TTL value is capped accordingly");
      out.ttl = left;
    }
  }
  return out;
}

}  // namespace leasefs::backend::sdk
