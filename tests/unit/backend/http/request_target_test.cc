// Request-target decoding and the response header rules.
#include "backend/http/request_target.h"

#include <gtest/gtest.h>

#include "backend/http/response_rules.h"

namespace leasefs::backend::http {
namespace {

using Pairs = HeaderList;

TEST(RequestTargetTest, DecodesPathWithoutTurningPlusIntoSpace) {
  auto decoded = decode_target("/v1/secret/data/a%20b%2Fc+d%c3%a9");
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->path, "/v1/secret/data/a b/c+d\xc3\xa9");
  EXPECT_TRUE(decoded->query.empty());
}

TEST(RequestTargetTest, DecodesQueryPairsInOrder) {
  auto decoded = decode_target("/p?b=2&a=1&a=3&flag&&x=a+b%26c&e=%3D&=v#frag");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->path, "/p");
  EXPECT_EQ(decoded->query, (Pairs{{"b", "2"},
                                   {"a", "1"},
                                   {"a", "3"},
                                   {"flag", ""},
                                   {"x", "a b&c"},
                                   {"e", "="},
                                   {"", "v"}}));
}

TEST(RequestTargetTest, AcceptsAbsoluteFormAndAsterisk) {
  auto absolute = decode_target("http://vault:8200/v1/sys/health?standbyok=true");
  ASSERT_TRUE(absolute);
  EXPECT_EQ(absolute->path, "/v1/sys/health");
  EXPECT_EQ(absolute->query, (Pairs{{"standbyok", "true"}}));
  auto bare = decode_target("https://vault:8200?x=1");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->path, "/");
  EXPECT_EQ(bare->query, (Pairs{{"x", "1"}}));
  EXPECT_EQ(decode_target("*")->path, "*");
}

TEST(RequestTargetTest, RejectsBadEscapesNulAndRelativeTargets) {
  for (std::string_view bad :
       {"/a%", "/a%2", "/a%zz", "/a%00b", "/p?x=%0", "/p?%00=1", "", "a/b", "?x=1"}) {
    auto decoded = decode_target(bad);
    ASSERT_FALSE(decoded) << bad;
    EXPECT_EQ(decoded.error().code(), sdk::Code::kInvalidArgument);
  }
}

TEST(RequestTargetTest, PercentDecodeHonoursPlusMode) {
  EXPECT_EQ(percent_decode("a+b%2B", true).value(), "a b+");
  EXPECT_EQ(percent_decode("a+b%2B", false).value(), "a+b+");
}

TEST(ResponseRulesTest, ErrorBodyIsVaultShaped) {
  auto response = error_response(503, "Vault is sealed");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"errors":["Vault is sealed"]})");
}

TEST(ResponseRulesTest, FiltersHeadersTheServerOwnsOrThatAreMalformed) {
  EXPECT_TRUE(is_allowed_response_header("X-Vault-Index", "abc"));
  EXPECT_TRUE(is_allowed_response_header("Location", "/v1/x"));
  for (std::string_view owned : {"Content-Length", "transfer-encoding", "Connection", "Keep-Alive",
                                 "Cache-Control", "Content-Type"}) {
    EXPECT_FALSE(is_allowed_response_header(owned, "x")) << owned;
  }
  EXPECT_FALSE(is_allowed_response_header("", "x"));
  EXPECT_FALSE(is_allowed_response_header("Bad Name", "x"));
  EXPECT_FALSE(is_allowed_response_header("X-A", "a\r\nB: c"));
  EXPECT_FALSE(is_allowed_response_header("X-A", std::string_view("a\0b", 3)));
}

}  // namespace
}  // namespace leasefs::backend::http
