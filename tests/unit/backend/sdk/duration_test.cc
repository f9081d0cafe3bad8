// Vault's duration forms, both ways.
#include "backend/sdk/duration.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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
