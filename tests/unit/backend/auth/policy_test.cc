// Policy parsing: the HCL subset Vault's policies use, the JSON form, base64 text, and
// the errors (with line and column) and limits an untrusted policy meets.
#include "backend/auth/policy.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "backend/auth/acl.h"
#include "backend/sdk/encoding.h"

namespace leasefs::backend::auth {
namespace {

using std::chrono::seconds;

Policy parse_ok(std::string_view text) {
  auto p = parse_policy("test", text);
  EXPECT_TRUE(p) << (p ? "" : p.error().message());
  return p ? std::move(*p) : Policy{};
}

std::string parse_error(std::string_view text) {
  auto p = parse_policy("test", text);
  EXPECT_FALSE(p) << "parsed: " << text;
  if (p) return "";
  EXPECT_EQ(p.error().code(), sdk::Code::kInvalidArgument);
  return p.error().message();
}

TEST(PolicyParseTest, PathBlocksWithEveryCapability) {
  Policy p = parse_ok(R"(
path "secret/data/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo"]
}
path "sys/audit" {
  capabilities = ["deny"]
}
)");
  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_EQ(p.name, "test");
  EXPECT_EQ(p.rules[0].pattern, "secret/data/");
  EXPECT_TRUE(p.rules[0].is_prefix);
  EXPECT_FALSE(p.rules[0].has_segment_wildcards);
  EXPECT_EQ(p.rules[0].capabilities, capability::kAllGrants);
  EXPECT_EQ(p.rules[1].pattern, "sys/audit");
  EXPECT_FALSE(p.rules[1].is_prefix);
  EXPECT_EQ(p.rules[1].capabilities, capability::kDeny);
  EXPECT_NE(p.raw.find("secret/data/*"), std::string::npos);
}

TEST(PolicyParseTest, CapabilityNamesRoundTrip) {
  for (std::string_view name :
       {"deny", "create", "read", "update", "delete", "list", "sudo", "patch"}) {
    auto bit = capability_from_name(name);
    ASSERT_TRUE(bit) << name;
    EXPECT_EQ(capability_name(*bit), name);
  }
  EXPECT_FALSE(capability_from_name("write"));
  EXPECT_FALSE(capability_from_name("root"));
  EXPECT_FALSE(capability_from_name("READ"));
}

TEST(PolicyParseTest, DenyDropsEverythingElseInTheBlock) {
  Policy p = parse_ok(R"(
path "a" {
  capabilities = ["read", "deny", "update"]
  allowed_parameters = { "x" = [] }
  required_parameters = ["y"]
  max_wrapping_ttl = "1h"
})");
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rules[0].capabilities, capability::kDeny);
  EXPECT_TRUE(p.rules[0].allowed_parameters.empty());
  EXPECT_TRUE(p.rules[0].required_parameters.empty());
  EXPECT_EQ(p.rules[0].max_wrapping_ttl.count(), 0);
}

TEST(PolicyParseTest, AllThreeCommentKindsAndCommas) {
  Policy p = parse_ok(R"(# hash comment
// slash comment
/* block
   comment spanning lines */
path "a" { # trailing comment
  capabilities = [ /* inline */ "read", // after an element
    "list",   # trailing comma is fine
  ],
  comment = "Vault accepts a comment key and ignores it"
}
path "b" { capabilities = ["update"] }, path "c" { capabilities = [] }
)");
  ASSERT_EQ(p.rules.size(), 3u);
  EXPECT_EQ(p.rules[0].capabilities, capability::kRead | capability::kList);
  EXPECT_EQ(p.rules[1].capabilities, capability::kUpdate);
  EXPECT_EQ(p.rules[2].capabilities, 0u);
}

TEST(PolicyParseTest, StringEscapes) {
  Policy p = parse_ok(
      "path \"q\\\"uote\\\\back\\tsl\\u00e9\\U0001F600\\x41\\101\" { capabilities = [\"read\"] }");
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rules[0].pattern,
            "q\"uote\\back\tsl\xC3\xA9\xF0\x9F\x98\x80"
            "AA");
}

TEST(PolicyParseTest, AssignmentFormsOfABlock) {
  // `path "x" = { }` and `path = { "x" = { } }` are the same HCL as `path "x" { }`.
  for (std::string_view text : {
           R"(path "x" { capabilities = ["read"] })",
           R"(path "x" = { capabilities = ["read"] })",
           R"(path = { "x" = { capabilities = ["read"] } })",
           R"(path = { x { capabilities = ["read"] } })",
       }) {
    Policy p = parse_ok(text);
    ASSERT_EQ(p.rules.size(), 1u) << text;
    EXPECT_EQ(p.rules[0].pattern, "x") << text;
    EXPECT_EQ(p.rules[0].capabilities, capability::kRead) << text;
  }
}

TEST(PolicyParseTest, TopLevelNameIsAcceptedAndIgnored) {
  Policy p = parse_ok(R"(name = "ops"
path "x" { capabilities = ["read"] })");
  EXPECT_EQ(p.name, "test");
  EXPECT_EQ(p.rules.size(), 1u);
}

TEST(PolicyParseTest, EmptyPolicyHasNoRules) {
  EXPECT_TRUE(parse_ok("").rules.empty());
  EXPECT_TRUE(parse_ok("  # nothing here\n").rules.empty());
  EXPECT_TRUE(parse_ok("{}").rules.empty());
}

TEST(PolicyParseTest, GlobAndSegmentFlags) {
  Policy p = parse_ok(R"(
path "secret/zip-*" { capabilities = ["read"] }
path "secret/+/teamb" { capabilities = ["read"] }
path "secret/+/teams/*" { capabilities = ["read"] }
path "+" { capabilities = ["read"] }
path "+/x" { capabilities = ["read"] }
path "/leading/slash" { capabilities = ["read"] }
path "a*b" { capabilities = ["read"] }
path "not+segment" { capabilities = ["read"] }
path "*" { capabilities = ["read"] }
)");
  ASSERT_EQ(p.rules.size(), 9u);
  auto expect = [&](std::size_t i, std::string_view pattern, bool prefix, bool segment) {
    EXPECT_EQ(p.rules[i].pattern, pattern) << i;
    EXPECT_EQ(p.rules[i].is_prefix, prefix) << i;
    EXPECT_EQ(p.rules[i].has_segment_wildcards, segment) << i;
  };
  expect(0, "secret/zip-", true, false);
  expect(1, "secret/+/teamb", false, true);
  expect(2, "secret/+/teams/", true, true);
  expect(3, "+", false, true);
  expect(4, "+/x", false, true);
  expect(5, "leading/slash", false, false);
  expect(6, "a*b", false, false);  // '*' is only special at the end
  expect(7, "not+segment", false, false);
  expect(8, "", true, false);
}

TEST(PolicyParseTest, PlusStarIsForbidden) {
  std::string m = parse_error(R"(path "secret/+*" { capabilities = ["read"] })");
  EXPECT_NE(m.find("'+*' is forbidden"), std::string::npos) << m;
}

TEST(PolicyParseTest, DeprecatedPolicyShorthand) {
  Policy p = parse_ok(R"(
path "r" { policy = "read" }
path "w" { policy = "write" }
path "s" { policy = "sudo" }
path "d" { policy = "deny" }
path "rc" {
  policy = "read"
  capabilities = ["create", "sudo"]
}
path "dc" {
  policy = "deny"
  capabilities = ["read", "update", "sudo"]
}
)");
  using namespace capability;
  ASSERT_EQ(p.rules.size(), 6u);
  EXPECT_EQ(p.rules[0].capabilities, kRead | kList);
  EXPECT_EQ(p.rules[1].capabilities, kCreate | kRead | kUpdate | kDelete | kList);
  EXPECT_EQ(p.rules[2].capabilities, kCreate | kRead | kUpdate | kDelete | kList | kSudo);
  EXPECT_EQ(p.rules[3].capabilities, kDeny);
  EXPECT_EQ(p.rules[4].capabilities, kCreate | kSudo | kRead | kList);
  EXPECT_EQ(p.rules[5].capabilities, kDeny);

  std::string m = parse_error(R"(path "x" { policy = "admin" })");
  EXPECT_NE(m.find(R"(path "x": invalid policy "admin")"), std::string::npos) << m;
}

TEST(PolicyParseTest, ParameterBlocks) {
  Policy p = parse_ok(R"(
path "secret/restricted" {
  capabilities = ["create"]
  allowed_parameters = {
    "foo" = []
    "BaR" = ["zip", "zap"]
    "*"   = []
    num = [1, 2.5, -3, 0x10]
    flag = [true, false]
    nested = [{"k" = "v"}, ["a", "b"]]
  }
  denied_parameters = {
    "baz" = ["bad*"]
  }
  required_parameters = ["foo", "Bar"]
}
)");
  ASSERT_EQ(p.rules.size(), 1u);
  const PathRule& r = p.rules[0];
  ASSERT_EQ(r.allowed_parameters.size(), 6u);
  EXPECT_TRUE(r.allowed_parameters.at("foo").empty());
  ASSERT_EQ(r.allowed_parameters.at("bar").size(), 2u);  // keys are lower-cased
  EXPECT_EQ(r.allowed_parameters.at("bar")[1], "zap");
  EXPECT_TRUE(r.allowed_parameters.contains("*"));
  const auto& nums = r.allowed_parameters.at("num");
  ASSERT_EQ(nums.size(), 4u);
  EXPECT_EQ(nums[0], 1);
  EXPECT_EQ(nums[1], 2.5);
  EXPECT_EQ(nums[2], -3);
  EXPECT_EQ(nums[3], 16);
  EXPECT_EQ(r.allowed_parameters.at("flag")[0], true);
  EXPECT_EQ(r.allowed_parameters.at("nested")[0], nlohmann::json({{"k", "v"}}));
  EXPECT_EQ(r.allowed_parameters.at("nested")[1], nlohmann::json({"a", "b"}));
  ASSERT_EQ(r.denied_parameters.size(), 1u);
  EXPECT_EQ(r.denied_parameters.at("baz")[0], "bad*");
  EXPECT_EQ(r.required_parameters, (std::vector<std::string>{"foo", "Bar"}));
}

TEST(PolicyParseTest, ParameterKeyRules) {
  EXPECT_NE(parse_error(R"(path "x" {
  capabilities = ["create"]
  allowed_parameters = { "fo*" = [] }
})")
                .find(R"(parameter key "fo*" cannot contain wildcards)"),
            std::string::npos);
  EXPECT_NE(parse_error(R"(path "x" { required_parameters = ["*"] })")
                .find("a wildcard is not permitted here"),
            std::string::npos);
  EXPECT_NE(parse_error(R"(path "x" { denied_parameters = { "/a/b" = [] } })")
                .find("JSON-pointer keys are not supported"),
            std::string::npos);
  EXPECT_NE(parse_error(R"(path "x" { allowed_parameters = { "a" = "b" } })")
                .find(R"(the values of "a" must be a list)"),
            std::string::npos);
  EXPECT_NE(parse_error(R"(path "x" { allowed_parameters = ["a"] })")
                .find("allowed_parameters must be an object, found a list"),
            std::string::npos);
}

TEST(PolicyParseTest, WrappingTtls) {
  Policy p = parse_ok(R"(
path "auth/approle/role/my-role/secret-id" {
  capabilities = ["create", "update"]
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = 90
}
path "b" {
  capabilities = ["read"]
  max_wrapping_ttl = "1h30m"
}
)");
  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_EQ(p.rules[0].min_wrapping_ttl, seconds(1));
  EXPECT_EQ(p.rules[0].max_wrapping_ttl, seconds(90));
  EXPECT_EQ(p.rules[1].max_wrapping_ttl, seconds(5400));
  EXPECT_EQ(p.rules[1].min_wrapping_ttl.count(), 0);

  EXPECT_NE(parse_error(R"(path "x" {
  min_wrapping_ttl = 300
  max_wrapping_ttl = 100
})")
                .find("max_wrapping_ttl cannot be less than min_wrapping_ttl"),
            std::string::npos);
  EXPECT_NE(parse_error(R"(path "x" { min_wrapping_ttl = "soon" })").find("invalid duration"),
            std::string::npos);
  EXPECT_NE(parse_error(R"(path "x" { min_wrapping_ttl = ["1s"] })").find("must be a number"),
            std::string::npos);
}

TEST(PolicyParseTest, RepeatedKeysInABlockAccumulate) {
  Policy p = parse_ok(R"(path "x" {
  capabilities = ["read"]
  capabilities = ["list"]
  allowed_parameters = { "a" = [] }
  allowed_parameters = { "b" = ["1"] }
})");
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rules[0].capabilities, capability::kRead | capability::kList);
  EXPECT_EQ(p.rules[0].allowed_parameters.size(), 2u);
}

TEST(PolicyParseTest, JsonForms) {
  const char* hcl = R"(
path "secret/*" { capabilities = ["read", "list"] }
path "secret/restricted" {
  capabilities = ["create"]
  allowed_parameters = { "bar" = ["zip", "zap"] }
  min_wrapping_ttl = "1s"
})";
  const char* json_object = R"({
  "path": {
    "secret/*": {"capabilities": ["read", "list"]},
    "secret/restricted": {
      "capabilities": ["create"],
      "allowed_parameters": {"bar": ["zip", "zap"]},
      "min_wrapping_ttl": "1s"
    }
  }
})";
  const char* json_array = R"(  {"path": [
    {"secret/*": {"capabilities": ["read", "list"]}},
    {"secret/restricted": [{"capabilities": ["create"],
                            "allowed_parameters": {"bar": ["zip", "zap"]}},
                           {"min_wrapping_ttl": "1s"}]}
  ]})";
  Policy from_hcl = parse_ok(hcl);
  for (const char* text : {json_object, json_array}) {
    Policy p = parse_ok(text);
    ASSERT_EQ(p.rules.size(), 2u) << text;
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(p.rules[i].pattern, from_hcl.rules[i].pattern);
      EXPECT_EQ(p.rules[i].is_prefix, from_hcl.rules[i].is_prefix);
      EXPECT_EQ(p.rules[i].capabilities, from_hcl.rules[i].capabilities);
      EXPECT_EQ(p.rules[i].allowed_parameters, from_hcl.rules[i].allowed_parameters);
      EXPECT_EQ(p.rules[i].min_wrapping_ttl, from_hcl.rules[i].min_wrapping_ttl);
    }
  }
  // Forcing a syntax works too; repeated JSON keys are kept like repeated HCL blocks.
  auto dup = parse_policy_json(
      "j", R"({"path": {"a": {"capabilities": ["read"]}}, "path": {"b": {"policy": "deny"}}})");
  ASSERT_TRUE(dup) << dup.error().message();
  EXPECT_EQ(dup->rules.size(), 2u);
  EXPECT_FALSE(parse_policy_hcl("h", json_object));
}

TEST(PolicyParseTest, JsonErrorsNameLineAndColumn) {
  std::string m =
      parse_error("{\n  \"path\": {\n    \"a\": {\"capabilities\": [\"read\",]}\n  }\n}");
  EXPECT_EQ(m.rfind("failed to parse policy: line 3, column ", 0), 0u) << m;
  m = parse_error(R"({"path": {"a": {"capabilities": ["reed"]}}})");
  EXPECT_EQ(m, R"(failed to parse policy: path "a": invalid capability "reed")");
  m = parse_error(R"({"paths": {}})");
  EXPECT_EQ(m, R"(failed to parse policy: invalid key "paths")");
  m = parse_error(R"({"path": {"a": {"capabilities": "read"}}})");
  EXPECT_NE(m.find("capabilities must be a list of strings, found a string"), std::string::npos)
      << m;
  EXPECT_FALSE(parse_policy("j", "{\"path\": {}} trailing"));
  EXPECT_FALSE(parse_policy("j", "{\"path\": \"\xff\"}"));
}

TEST(PolicyParseTest, HclErrorsNameLineAndColumn) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"path \"a\" {\n  capabilities = [\"read\"]\n}\npath \"b\" [\"read\"]",
       "failed to parse policy: line 4, column 10: expected '=' or '{', found '['"},
      {"path \"b\" capabilities",
       "failed to parse policy: line 1, column 22: expected '=' or '{', found the end of the "
       "text"},
      {"path \"a\" {\n  capabilities = [\"read\" \"list\"]\n}",
       "failed to parse policy: line 2, column 26: expected ',' or ']', found string \"list\""},
      {"path \"a\" {\n  capabilities = [\"read\"]\n",
       "failed to parse policy: line 3, column 1: expected '}', found the end of the text"},
      {"path \"a\" {\n  capabilities = \n}",
       "failed to parse policy: line 3, column 1: expected a value, found '}'"},
      {"path \"a\" {\n  capabilities = [\"read\", \"reed\"]\n}",
       "failed to parse policy: line 2, column 27: path \"a\": invalid capability \"reed\""},
      {"path \"a\" {\n  capabilites = [\"read\"]\n}",
       "failed to parse policy: line 2, column 3: path \"a\": invalid key \"capabilites\""},
      {"\n\npaths \"a\" {}", "failed to parse policy: line 3, column 1: invalid key \"paths\""},
      {"path \"a\" {\n  capabilities = [\"re\nad\"]\n}",
       "failed to parse policy: line 2, column 19: string not terminated (expected '\"' on the "
       "same line)"},
      {"path \"a\" { capabilities = [\"\\q\"] }",
       "failed to parse policy: line 1, column 29: unknown escape sequence '\\q'"},
      {"/* never closed\npath \"a\" {}",
       "failed to parse policy: line 1, column 1: comment not terminated (expected '*/')"},
      {"path \"a\" {\n  capabilities = <<EOF\nread\nEOF\n}",
       "failed to parse policy: line 2, column 18: heredoc strings are not supported"},
      {"path \"a\" { capabilities = [read] }",
       "failed to parse policy: line 1, column 28: expected a value (a string, number, true, "
       "false, list or object), found identifier \"read\""},
      {"path \"a\" { x = 12ab }", "failed to parse policy: line 1, column 16: invalid number"},
      {"path \"a\" { x = 99999999999999999999 }",
       "failed to parse policy: line 1, column 16: invalid number (not a 64-bit integer)"},
      {"path \"\xc3\xa9\" { capabilities = [\"read\"] } ; ",
       "failed to parse policy: line 1, column 38: unexpected character ';'"},
      {"}", "failed to parse policy: line 1, column 1: unexpected '}' (no block is open)"},
      {"path \"a\" \"b\" = \"c\"",
       "failed to parse policy: line 1, column 16: expected '{' after block labels, found string "
       "\"c\""},
      {"path \"a\" { mfa_methods = [\"m\"] }",
       "failed to parse policy: line 1, column 12: path \"a\": \"mfa_methods\" is not supported by "
       "leasefs"},
      {"path \"a\" { control_group = {} }",
       "failed to parse policy: line 1, column 12: path \"a\": \"control_group\" is not supported "
       "by "
       "leasefs"},
      {"path = \"a\"",
       "failed to parse policy: line 1, column 8: path must be an object, found a string"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parse_error(c.text), c.message) << c.text;
  }
}

TEST(PolicyParseTest, RejectsBadBytes) {
  std::string with_nul = "path \"a\" { capabilities = [\"read\"] }";
  with_nul[5] = '\0';
  EXPECT_EQ(parse_error(with_nul),
            "failed to parse policy: line 1, column 6: unexpected NUL character");
  EXPECT_EQ(parse_error("# ok\npath \"\xff\" {}"),
            "failed to parse policy: line 2, column 7: invalid UTF-8");
  // An escape that makes invalid UTF-8 is refused too (the text is shown to users as JSON).
  EXPECT_NE(parse_error(R"(path "\xff" {})").find("string is not valid UTF-8"), std::string::npos);
}

TEST(PolicyParseTest, DeepNestingIsRefusedWithoutRecursing) {
  for (int depth : {33, 1000, 100000}) {
    std::string lists = "path \"a\" { allowed_parameters = { \"k\" = " + std::string(depth, '[') +
                        std::string(depth, ']') + " } }";
    EXPECT_NE(parse_error(lists).find("nesting deeper than 32 levels"), std::string::npos) << depth;
    std::string objects = "x = ";
    for (int i = 0; i < depth; ++i) objects += "{ a = ";
    EXPECT_NE(parse_error(objects).find("nesting deeper than 32 levels"), std::string::npos)
        << depth;
    std::string labels = "path";
    for (int i = 0; i < depth; ++i) labels += " \"l\"";
    labels += " {}";
    EXPECT_NE(parse_error(labels).find("nesting deeper than 32 levels"), std::string::npos)
        << depth;
    std::string json = std::string(depth, '[') + std::string(depth, ']');
    json = "{\"path\": {\"a\": {\"allowed_parameters\": {\"k\": " + json + "}}}}";
    EXPECT_NE(parse_error(json).find("nesting deeper than 32 levels"), std::string::npos) << depth;
  }
  // Deep but within the limit is fine.
  std::string ok = "path \"a\" { allowed_parameters = { \"k\" = [" + std::string(20, '[') +
                   std::string(20, ']') + "] } }";
  EXPECT_TRUE(parse_policy("t", ok));
}

TEST(PolicyParseTest, SizeLimit) {
  std::string rule = "path \"secret/some/longish/path/number\" { capabilities = [\"read\"] }\n";
  std::string big;
  while (big.size() + rule.size() <= kMaxPolicyBytes) big += rule;
  auto p = parse_policy("big", big);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->rules.size(), big.size() / rule.size());
  big += rule;
  std::string m = parse_error(big);
  EXPECT_NE(m.find("over the limit of 1048576"), std::string::npos) << m;
  std::string json = "{" + std::string(kMaxPolicyBytes, ' ') + "}";
  EXPECT_NE(parse_error(json).find("over the limit"), std::string::npos);
}

TEST(PolicyParseTest, Base64Text) {
  const std::string hcl = "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n";
  const std::string encoded = sdk::base64_encode(hcl);
  EXPECT_EQ(decode_policy_text(encoded), hcl);
  // Line breaks inside the base64 are ignored, as Go's decoder does.
  std::string wrapped = encoded.substr(0, 8) + "\r\n" + encoded.substr(8) + "\n";
  EXPECT_EQ(decode_policy_text(wrapped), hcl);
  // Plain policies, invalid base64 and base64 of binary junk are left alone.
  EXPECT_EQ(decode_policy_text(hcl), hcl);
  const std::string json = R"({"path":{"a":{"capabilities":["read"]}}})";
  EXPECT_EQ(decode_policy_text(json), json);
  EXPECT_EQ(decode_policy_text("abc"), "abc");
  EXPECT_EQ(decode_policy_text("/w=="), "/w==");  // decodes to 0xff, not UTF-8
  EXPECT_EQ(decode_policy_text(""), "");
  auto p = parse_policy("b64", decode_policy_text(encoded));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->raw, hcl);
  EXPECT_EQ(p->rules.size(), 1u);
}

TEST(PolicyParseTest, DefaultPolicyTextParses) {
  auto p = parse_policy(std::string(kDefaultPolicyName), kDefaultPolicyText);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_GE(p->rules.size(), 14u);
}

}  // namespace
}  // namespace leasefs::backend::auth

namespace leasefs::backend::auth {
namespace {

constexpr std::string_view kPasswordPolicy = R"(
  length = 24
  rule "charset" {
    charset = "abcdefghijklmnopqrstuvwxyz"
    min-chars = 1
  }
  rule "charset" {
    charset = "0123456789"
    min-chars = 3
  }
  rule "charset" { charset = "!@#" min-chars = 2 }
)";

TEST(PasswordPolicyTest, ParsesVaultsHclAndJson) {
  auto p = parse_password_policy(kPasswordPolicy);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->length, 24);
  ASSERT_EQ(p->rules.size(), 3u);
  EXPECT_EQ(p->rules[1].chars, "0123456789");
  EXPECT_EQ(p->rules[1].min_chars, 3);
  auto j = parse_password_policy(
      R"({"length": 8, "rule": [{"charset": {"charset": "ab", "min-chars": 1}}]})");
  ASSERT_TRUE(j) << j.error().message();
  EXPECT_EQ(j->length, 8);
  ASSERT_EQ(j->rules.size(), 1u);
  EXPECT_EQ(j->rules[0].chars, "ab");
}

TEST(PasswordPolicyTest, GeneratedPasswordsKeepEveryRule) {
  auto p = parse_password_policy(kPasswordPolicy);
  ASSERT_TRUE(p);
  sdk::SeededRandom random(42);
  std::set<std::string> seen;
  for (int i = 0; i < 500; ++i) {
    auto pw = generate_password(*p, random);
    ASSERT_TRUE(pw) << pw.error().message();
    ASSERT_EQ(pw->size(), 24u);
    int lower = 0, digit = 0, symbol = 0;
    for (char c : *pw) {
      if (c >= 'a' && c <= 'z') ++lower;
      else if (c >= '0' && c <= '9') ++digit;
      else if (c == '!' || c == '@' || c == '#') ++symbol;
      else ADD_FAILURE() << "a character outside every charset";
    }
    EXPECT_GE(lower, 1);
    EXPECT_GE(digit, 3);
    EXPECT_GE(symbol, 2);
    seen.insert(*pw);
  }
  EXPECT_EQ(seen.size(), 500u);
  // The required characters are shuffled in, not always in front.
  std::set<char> leading;
  for (int i = 0; i < 50; ++i) leading.insert((*generate_password(*p, random))[0]);
  EXPECT_GT(leading.size(), 5u);
}

TEST(PasswordPolicyTest, BadPoliciesNameTheProblem) {
  auto error_of = [](std::string_view text) {
    auto p = parse_password_policy(text);
    return p ? std::string("(parsed)") : p.error().message();
  };
  EXPECT_EQ(error_of(R"(rule "charset" { charset = "ab" })"),
            "failed to parse password policy: length is required");
  EXPECT_NE(error_of("length = 3\nrule \"charset\" { charset = \"ab\" }").find("between 4 and 100"),
            std::string::npos);
  EXPECT_NE(error_of("length = 10").find("at least one rule"), std::string::npos);
  EXPECT_NE(error_of("length = 10\nrule \"charset\" { charset = \"\" }").find("needs a charset"),
            std::string::npos);
  EXPECT_NE(error_of("length = 10\nrule \"charset\" { charset = \"a b\" }").find("printable ASCII"),
            std::string::npos);
  EXPECT_NE(error_of("length = 10\nrule \"charset\" { charset = \"ab\" min-chars = 11 }")
                .find("more than the length"),
            std::string::npos);
  EXPECT_NE(error_of("length = 10\nrule \"charset\" { charset = \"ab\" colour = 1 }")
                .find("invalid key \"colour\""),
            std::string::npos);
  EXPECT_NE(error_of("length = 10\nrule \"charset\" { charset = \"ab\" }\nrule \"dictionary\" {}")
                .find("unknown rule type \"dictionary\""),
            std::string::npos);
  EXPECT_NE(error_of("length = \"ten\"").find("whole number"), std::string::npos);
  EXPECT_NE(error_of("length = 10\nrule \"charset\" {").find("failed to parse password policy: "),
            std::string::npos);
  EXPECT_NE(error_of("length = 10 # caf\xc3\xa9").find("ASCII"), std::string::npos);
  EXPECT_NE(error_of("{\"length\": ").find("failed to parse password policy"), std::string::npos);
}

}  // namespace
}  // namespace leasefs::backend::auth
