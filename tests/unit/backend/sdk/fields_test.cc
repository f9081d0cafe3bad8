// Field conversion follows Vault's framework; bad input names the field.
#include "backend/sdk/fields.h"

#include <gtest/gtest.h>

namespace leasefs::backend::sdk {
namespace {

using nlohmann::json;

std::vector<FieldSpec> schema() {
  return {
      {.name = "name", .type = FieldType::kString, .required = true},
      {.name = "ttl", .type = FieldType::kDuration, .default_value = "1h"},
      {.name = "count", .type = FieldType::kInt},
      {.name = "enabled", .type = FieldType::kBool, .default_value = true},
      {.name = "roles", .type = FieldType::kCommaStringList},
      {.name = "tags", .type = FieldType::kStringList},
      {.name = "meta", .type = FieldType::kStringMap},
      {.name = "options", .type = FieldType::kMap},
  };
}

TEST(FieldsTest, ConvertsAndDefaults) {
  json body = {{"ttl", "30m"}, {"count", "12"}, {"enabled", "false"}, {"roles", "a, b,,c"},
               {"tags", "one"}, {"meta", json::array({"k=v", "x=y=z"})},
               {"options", "{\"version\":\"2\"}"}, {"extra", 1}};
  auto fd = FieldData::parse(schema(), body, {{"name", "web"}});
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(fd->string("name"), "web");
  EXPECT_EQ(fd->duration("ttl"), std::chrono::minutes(30));
  EXPECT_EQ(fd->integer("count"), 12);
  EXPECT_FALSE(fd->boolean("enabled"));
  EXPECT_EQ(fd->strings("roles"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(fd->strings("tags"), std::vector<std::string>{"one"});
  EXPECT_EQ(fd->string_map("meta").at("x"), "y=z");
  EXPECT_EQ(fd->map("options")["version"], "2");
  EXPECT_EQ(fd->unknown(), std::vector<std::string>{"extra"});

  auto defaults = FieldData::parse(schema(), json::object(), {{"name", "x"}});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->duration("ttl"), std::chrono::hours(1));
  EXPECT_TRUE(defaults->boolean("enabled"));
  EXPECT_FALSE(defaults->has("ttl"));
  EXPECT_TRUE(defaults->has("name"));
}

TEST(FieldsTest, PathCapturesWinOverTheBody) {
  auto fd = FieldData::parse(schema(), json{{"name", "from-body"}}, {{"name", "from-path"}});
  ASSERT_TRUE(fd);
  EXPECT_EQ(fd->string("name"), "from-path");
}

TEST(FieldsTest, BadInputNamesTheField) {
  struct Case {
    json body;
    std::string field;
  } cases[] = {{json{{"count", "twelve"}}, "count"},
               {json{{"count", 1.5}}, "count"},
               {json{{"count", 1e300}}, "count"},
               {json{{"count", -9.3e18}}, "count"},
               {json{{"count", 9223372036854775808.0}}, "count"},
               {json{{"enabled", "maybe"}}, "enabled"},
               {json{{"ttl", "forever"}}, "ttl"},
               {json{{"roles", json{{"a", 1}}}}, "roles"},
               {json{{"meta", json::array({"novalue"})}}, "meta"},
               {json{{"options", 5}}, "options"}};
  for (const auto& c : cases) {
    auto fd = FieldData::parse(schema(), c.body, {{"name", "x"}});
    ASSERT_FALSE(fd) << c.body.dump();
    EXPECT_EQ(fd.error().code(), Code::kInvalidArgument);
    EXPECT_NE(fd.error().message().find("\"" + c.field + "\""), std::string::npos)
        << fd.error().message();
  }
  auto missing = FieldData::parse(schema(), json::object(), {});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("\"name\""), std::string::npos);
  EXPECT_FALSE(FieldData::parse(schema(), json::array(), {}));
}

}  // namespace
}  // namespace leasefs::backend::sdk
