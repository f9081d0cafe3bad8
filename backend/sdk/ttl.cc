// TTL calculation as Vault's framework does it.
#include "backend/sdk/ttl.h"

#include <cstdint>
#include <limits>

#include "backend/sdk/duration.h"

namespace leasefs::backend::sdk {
namespace {

// a + b in nanoseconds, held at the ends of the range instead of wrapping around: a TTL
// or max may be asked for up to ~292 years, more than the clock has left (2262).
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  }
  return out;
}

WallTime end_of(WallTime start, Duration d) {
  return WallTime(Duration(saturating_add(start.time_since_epoch().count(), d.count())));
}

// `until` - `now`, held likewise.
Duration time_between(WallTime now, WallTime until) {
  const std::int64_t from = now.time_since_epoch().count();
  if (from == std::numeric_limits<std::int64_t>::min()) {
    return Duration(
        saturating_add(until.time_since_epoch().count(), std::numeric_limits<std::int64_t>::max()));
  }
  return Duration(saturating_add(until.time_since_epoch().count(), -from));
}

}  // namespace

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
    if (in.explicit_max_ttl.count() > 0) max_valid = end_of(in.start, in.explicit_max_ttl);
  } else {
    if (in.increment.count() > 0) {
      out.ttl = in.increment;
    } else if (in.ttl.count() > 0) {
      out.ttl = in.ttl;
    }
    max_valid = end_of(in.start, max_ttl);
  }
  if (max_valid) {
    Duration left = time_between(now, *max_valid);
    if (left.count() <= 0) return invalid_argument("past the max TTL, cannot renew");
    if (out.ttl > left) {
      out.warnings.push_back("TTL of \"" + human_duration(out.ttl) +
                             "\" exceeded the effective max_ttl of \"" + human_duration(left) +
                             "\"; TTL value is capped accordingly");
      out.ttl = left;
    }
  }
  // Whatever is granted must end on the clock, so now + ttl is a real time for every
  // caller (a lease's or token's expire_time).
  const Duration clock_left = time_between(now, WallTime::max());
  if (out.ttl > clock_left) {
    out.warnings.push_back("TTL of \"" + human_duration(out.ttl) +
                           "\" runs past the end of the clock (2262-04-11); TTL value is "
                           "capped accordingly");
    out.ttl = clock_left;
  }
  return out;
}

}  // namespace leasefs::backend::sdk
