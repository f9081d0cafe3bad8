// Generated user names (Vault's default shape, the template subset, the 63-byte cap at
// a character boundary) and passwords (length, alphabet, every class present).
#include "engines/database/credentials.h"

#include <regex>
#include <set>

#include <gtest/gtest.h>

namespace leasefs::engines::database {
namespace {

const sdk::WallTime kNow{std::chrono::seconds(1'764'000'000)};

TEST(DatabaseCredentials, DefaultUsernameHasVaultsShape) {
  sdk::SystemRandom& random = sdk::SystemRandom::instance();
  auto name = generate_username(
      "", {.display_name = "approle-web", .role_name = "readonly-long", .now = kNow}, random);
  ASSERT_TRUE(name) << name.error().message();
  EXPECT_TRUE(std::regex_match(*name, std::regex("v-approle--readonly-[A-Za-z0-9]{20}-1764000000")))
      << *name;
  EXPECT_LE(name->size(), kMaxPostgresUsername);
}

TEST(DatabaseCredentials, LongNamesAreCutAtACharacterBoundary) {
  sdk::SeededRandom random(7);
  // 'é' is two bytes; a template that puts it across byte 63 must not split it.
  std::string display(61, 'a');
  display += "\xC3\xA9z";
  auto name = generate_username("{{.DisplayName}}",
                                {.display_name = display, .role_name = "r", .now = kNow}, random);
  ASSERT_TRUE(name);
  EXPECT_EQ(name->size(), 61u + 2u);
  auto cut = truncate_utf8(std::string(62, 'a') + "\xC3\xA9", 63);
  EXPECT_EQ(cut, std::string(62, 'a'));
}

TEST(DatabaseCredentials, TemplateSubset) {
  sdk::SeededRandom random(1);
  const UsernameInput in{.display_name = "Token", .role_name = "RO", .now = kNow};
  auto a =
      generate_username("app_{{.RoleName | lowercase}}_{{random 6}}_{{unix_time}}", in, random);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_TRUE(std::regex_match(*a, std::regex("app_ro_[A-Za-z0-9]{6}_1764000000"))) << *a;
  auto b = generate_username("{{ .DisplayName | uppercase | replace \"O\" \"0\" | truncate 3 }}",
                             in, random);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(*b, "T0K");
  auto c = generate_username("{{unix_time_millis}}", in, random);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, "1764000000000");

  for (const char* bad : {"{{.Nope}}", "{{random}}", "{{random x}}", "{{.RoleName | sha}}",
                          "{{printf \"%s\" .RoleName}}", "v-{{.RoleName", "{{}}"}) {
    SCOPED_TRACE(bad);
    auto r = check_username_template(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), sdk::Code::kInvalidArgument);
  }
  EXPECT_TRUE(check_username_template("plain-{{.RoleName}}"));
}

// Chained replaces grow a name exponentially: six of these would make 40^6 bytes (4 GB)
// from "token" when the role is written. Refused once the text passes 4096 bytes.
TEST(DatabaseCredentials, TemplatesCannotGrowWithoutBound) {
  const std::string forty(40, 't');
  std::string templ = "{{.DisplayName";
  for (int i = 0; i < 6; ++i) templ += " | replace \"t\" \"" + forty + "\"";
  templ += "}}";
  auto r = check_username_template(templ);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), sdk::Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("longer than 4096 bytes plus the display and role names"),
            std::string::npos)
      << r.error().message();
  // Many actions in a row are bounded the same way.
  std::string many;
  for (int i = 0; i < 5; ++i) many += "{{random 1024}}";
  EXPECT_FALSE(check_username_template(many));
  // Under the bound a long intermediate text is fine: the name is cut to 63 bytes.
  sdk::SeededRandom random(3);
  auto name = generate_username("{{random 1024 | replace \"a\" \"bb\"}}x", {}, random);
  ASSERT_TRUE(name) << name.error().message();
  EXPECT_EQ(name->size(), kMaxPostgresUsername);
  // The bound grows with the inputs: a long display name is still cut, not refused, and
  // replaces that do not grow it are fine.
  const UsernameInput long_names{.display_name = std::string(10000, 'd'), .role_name = "r"};
  name = generate_username("{{.DisplayName | replace \"d\" \"e\"}}", long_names, random);
  ASSERT_TRUE(name) << name.error().message();
  EXPECT_EQ(*name, std::string(kMaxPostgresUsername, 'e'));
}

TEST(DatabaseCredentials, PasswordsAreStrongAndDistinct) {
  sdk::SystemRandom& random = sdk::SystemRandom::instance();
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto pw = generate_password(random);
    ASSERT_TRUE(pw);
    ASSERT_EQ(pw->size(), 20u);
    EXPECT_TRUE(std::regex_match(*pw, std::regex("[A-Za-z0-9-]{20}")));
    EXPECT_TRUE(std::regex_search(*pw, std::regex("[A-Z]")));
    EXPECT_TRUE(std::regex_search(*pw, std::regex("[a-z]")));
    EXPECT_TRUE(std::regex_search(*pw, std::regex("[0-9]")));
    EXPECT_NE(pw->find('-'), std::string::npos);
    seen.insert(*pw);
  }
  EXPECT_EQ(seen.size(), 200u);
}

}  // namespace
}  // namespace leasefs::engines::database
