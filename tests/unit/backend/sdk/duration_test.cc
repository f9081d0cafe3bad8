// Vault's duration forms, both ways.
#include "backend/sdk/duration.h"

#include <cstdio>
#include <ctime>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/sdk/clock.h"

namespace leasefs::backend::sdk {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(DurationTest, ParsesVaultForms) {
  EXPECT_EQ(parse_duration("300").value(), seconds(300));
  EXPECT_EQ(parse_duration("30s").value(), seconds(30));
  EXPECT_EQ(parse_duration("5m").value(), minutes(5));
  EXPECT_EQ(parse_duration("1h30m").value(), minutes(90));
  EXPECT_EQ(parse_duration("1.5h").value(), minutes(90));
  EXPECT_EQ(parse_duration("250ms").value(), milliseconds(250));
  EXPECT_EQ(parse_duration("7d").value(), hours(168));
  EXPECT_EQ(parse_duration("0").value(), seconds(0));
  EXPECT_EQ(duration_from_json(nlohmann::json(60)).value(), seconds(60));
  EXPECT_EQ(duration_from_json(nlohmann::json("2h")).value(), hours(2));
}

// Exact to the nanosecond, as Go's time.ParseDuration: no floating-point rounding, and a
// fraction finer than a nanosecond is cut off.
TEST(DurationTest, ParsesExactlyToTheNanosecond) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(parse_duration("1.000000101s").value(), nanoseconds(1'000'000'101));
  EXPECT_EQ(parse_duration("3.123456789s").value(), nanoseconds(3'123'456'789));
  EXPECT_EQ(parse_duration("0.3s").value(), milliseconds(300));
  EXPECT_EQ(parse_duration("1.9999999999s").value(), nanoseconds(1'999'999'999));
  EXPECT_EQ(parse_duration("0.0000000009s").value(), nanoseconds(0));
  EXPECT_EQ(parse_duration("1.0000000000000000000000000001h").value(), hours(1));
  EXPECT_EQ(parse_duration("5.s").value(), seconds(5));
  EXPECT_EQ(parse_duration(".5m").value(), seconds(30));
  // The largest duration there is, and one nanosecond more.
  EXPECT_EQ(parse_duration("2562047h47m16.854775807s").value().count(), INT64_MAX);
  EXPECT_FALSE(parse_duration("2562047h47m16.854775808s"));
  EXPECT_EQ(parse_duration("9223372036854775807ns").value().count(), INT64_MAX);
  EXPECT_FALSE(parse_duration("9223372036854775808ns"));
  for (const char* text : {"1h2m3.000000004s", "1.5s", "999.999999ms", "768h0m0s"}) {
    auto d = parse_duration(text).value();
    EXPECT_EQ(parse_duration(format_duration(d)).value(), d) << text;
  }
}

TEST(DurationTest, RejectsGarbageWithTheText) {
  for (const char* bad : {"", "h", "1x", "-5s", "1..5s", "s1", "1h-2m", "1e3s", ".s", "1.5", "1h30",
                          "99999999999999999999999999999999999h"}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  }
  auto r = parse_duration("12q");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("\"12q\""), std::string::npos);
  EXPECT_FALSE(duration_from_json(nlohmann::json(-1)));
  EXPECT_FALSE(duration_from_json(nlohmann::json::array()));
}

TEST(DurationTest, FormatsLikeGo) {
  EXPECT_EQ(format_duration(hours(768)), "768h0m0s");
  EXPECT_EQ(format_duration(seconds(90)), "1m30s");
  EXPECT_EQ(format_duration(seconds(0)), "0s");
  EXPECT_EQ(format_duration(seconds(5)), "5s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(hours(1)), "1h0m0s");
  EXPECT_EQ(format_duration(-seconds(90)), "-1m30s");
  EXPECT_EQ(format_duration(Duration::max()), "2562047h47m16.854775807s");
  EXPECT_EQ(format_duration(Duration::min()), "-2562047h47m16.854775808s");
}

}  // namespace
}  // namespace leasefs::backend::sdk

namespace leasefs::backend::sdk {
namespace {

// rfc3339 writes its digits by hand; it must match the snprintf form it replaced.
TEST(Rfc3339Test, MatchesTheSnprintfForm) {
  auto reference = [](std::int64_t secs, std::int64_t frac) {
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(frac));
    return std::string(buf);
  };
  for (std::int64_t secs :
       {std::int64_t{0}, std::int64_t{1}, std::int64_t{951782400}, std::int64_t{1796036694},
        std::int64_t{9214646400}, std::int64_t{-2208988800}, std::int64_t{-1}}) {
    for (std::int64_t frac :
         {std::int64_t{0}, std::int64_t{5}, std::int64_t{123456789}, std::int64_t{999999999}}) {
      const WallTime t{std::chrono::duration_cast<WallTime::duration>(
          std::chrono::seconds(secs) + std::chrono::nanoseconds(frac))};
      EXPECT_EQ(rfc3339(t), reference(secs, frac)) << secs << "." << frac;
    }
  }
}

}  // namespace
}  // namespace leasefs::backend::sdk
