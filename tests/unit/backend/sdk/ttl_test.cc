// Vault's TTL rules (ttl.h), at the edges a client can reach: TTLs and maxes of up to
// ~292 years, which run past the end of the clock.
#include "backend/sdk/ttl.h"

#include <chrono>

#include <gtest/gtest.h>

#include "backend/sdk/duration.h"

namespace leasefs::backend::sdk {
namespace {

using std::chrono::hours;

const WallTime kNow{std::chrono::seconds(1'795'000'000)};  // 2026-11-18
// The largest duration a client can send ("2562047h47m16.854775807s").
const Duration kLongest = Duration::max();

TEST(TtlTest, CapsAtTheSmallestMax) {
  MountLimits limits{.default_lease_ttl = hours(10), .max_lease_ttl = hours(20)};
  auto r = calculate_ttl(limits, {.ttl = hours(30), .start = kNow}, kNow).value();
  EXPECT_EQ(r.ttl, hours(20));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("exceeded the effective max_ttl of \"20h\""), std::string::npos);
  r = calculate_ttl(limits, {.ttl = hours(30), .role_max_ttl = hours(5), .start = kNow}, kNow)
          .value();
  EXPECT_EQ(r.ttl, hours(5));
  r = calculate_ttl(limits, {.start = kNow}, kNow).value();
  EXPECT_EQ(r.ttl, hours(10));
  EXPECT_TRUE(r.warnings.empty());
  // Counted from the start: 15h into a lease with a 20h max, 5h are left.
  r = calculate_ttl(limits, {.increment = hours(10), .start = kNow - hours(15)}, kNow).value();
  EXPECT_EQ(r.ttl, hours(5));
  auto past = calculate_ttl(limits, {.increment = hours(1), .start = kNow - hours(21)}, kNow);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code(), Code::kInvalidArgument);
}

TEST(TtlTest, TtlsPastTheEndOfTheClockAreCappedToIt) {
  // A mount tuned to the longest max, and a token asking for all of it: now + ttl must
  // still be a real time (it used to wrap around into the past, so the new token was
  // expired the moment it was made).
  MountLimits limits{.default_lease_ttl = kLongest, .max_lease_ttl = kLongest};
  auto r = calculate_ttl(limits, {.ttl = kLongest, .start = kNow}, kNow).value();
  EXPECT_EQ(kNow + r.ttl, WallTime::max());
  EXPECT_EQ(r.warnings.size(), 1u);
  // Periodic, with and without the longest explicit max.
  r = calculate_ttl(limits, {.period = kLongest, .explicit_max_ttl = kLongest, .start = kNow}, kNow)
          .value();
  EXPECT_EQ(kNow + r.ttl, WallTime::max());
  r = calculate_ttl(limits, {.period = kLongest, .start = kNow}, kNow).value();
  EXPECT_EQ(kNow + r.ttl, WallTime::max());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("runs past the end of the clock"), std::string::npos);
  // An ordinary TTL under a max that runs past the clock's end is not touched.
  r = calculate_ttl(limits, {.ttl = hours(1), .explicit_max_ttl = kLongest, .start = kNow}, kNow)
          .value();
  EXPECT_EQ(r.ttl, hours(1));
  EXPECT_TRUE(r.warnings.empty());
}

}  // namespace
}  // namespace leasefs::backend::sdk
