// Readers of engines' stored JSON (stored_json.h): a record from an older version, or a
// member of another type, reads as the fallback; only a value that is not an object is
// an error, which names the engine and the key.
#include "backend/sdk/stored_json.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace leasefs::backend::sdk {
namespace {

using nlohmann::json;

TEST(StoredJsonTest, MissingOrMistypedMembersGiveTheFallback) {
  const json j = {{"s", "text"},
                  {"n", 7},
                  {"b", true},
                  {"list", {"a", 1, "b"}},
                  {"map", {{"k", "v"}, {"x", 2}}},
                  {"wrong", {1, 2}}};
  EXPECT_EQ(get_string(j, "s"), "text");
  EXPECT_EQ(get_string(j, "n"), "");
  EXPECT_EQ(get_string(j, "absent", "dflt"), "dflt");
  EXPECT_EQ(get_int(j, "n"), 7);
  EXPECT_EQ(get_int(j, "s", 5), 5);
  EXPECT_EQ(get_int(j, "absent"), 0);
  EXPECT_TRUE(get_bool(j, "b"));
  EXPECT_FALSE(get_bool(j, "n"));
  EXPECT_TRUE(get_bool(j, "absent", true));
  EXPECT_EQ(get_strings(j, "list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(get_strings(j, "s", {"x"}), (std::vector<std::string>{"x"}));
  EXPECT_EQ(get_string_map(j, "map"), (std::map<std::string, std::string>{{"k", "v"}}));
  EXPECT_TRUE(get_string_map(j, "wrong").empty());
}

TEST(StoredJsonTest, IntegersSignedAndUnsigned) {
  const json j = {{"neg", -3}, {"big", std::numeric_limits<std::uint64_t>::max()}, {"f", 1.5}};
  EXPECT_EQ(get_int(j, "neg"), -3);
  EXPECT_EQ(get_int(j, "big"), -1);  // wraps, as documented
  EXPECT_EQ(get_int(j, "f", 9), 9);  // not an integer
}

TEST(StoredJsonTest, OnlyAnObjectParses) {
  auto ok = parse_stored_object("pki", "config/ca", R"({"a":1})");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)["a"], 1);
  for (const char* text : {"[1]", "\"s\"", "{", ""}) {
    auto bad = parse_stored_object("pki", "config/ca", text);
    ASSERT_FALSE(bad.has_value()) << text;
    EXPECT_EQ(bad.error().code(), Code::kDataLoss);
    EXPECT_EQ(bad.error().message(), "pki: stored value at \"config/ca\" is not valid");
  }
}

}  // namespace
}  // namespace leasefs::backend::sdk
