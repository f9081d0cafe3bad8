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

TEST(DurationTest, RejectsGarbageWithTheText) {
  for (const char* bad : {"", "h", "1x", "-5s", "1..5s", "s1", "1h-2m", "1e3s",
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
