// Hex/base64 codecs, random ids and locked buffers.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "backend/sdk/encoding.h"
#include "backend/sdk/random.h"
#include "backend/sdk/secure_buffer.h"

namespace leasefs::backend::sdk {
namespace {

TEST(EncodingTest, RoundTripsEveryLength) {
  SeededRandom random(7);
  for (std::size_t n = 0; n < 70; ++n) {
    std::vector<std::uint8_t> bytes(n);
    ASSERT_TRUE(random.fill(bytes));
    auto hex = hex_decode(hex_encode(bytes));
    ASSERT_TRUE(hex);
    EXPECT_TRUE(constant_time_equal(hex->span(), bytes));
    auto b64 = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(b64) << n;
    EXPECT_TRUE(constant_time_equal(b64->span(), bytes));
  }
  EXPECT_EQ(base64_encode(std::string_view("foob")), "Zm9vYg==");
  EXPECT_EQ(hex_encode(std::string_view("\x01\xab")), "01ab");
}

TEST(EncodingTest, StrictDecoders) {
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("zz"));
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("ab!="));
  EXPECT_FALSE(base64_decode("a=bc"));
  EXPECT_TRUE(base64_decode("Zm9vYg=="));
}

TEST(EncodingTest, Utf8Validation) {
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"));
  EXPECT_FALSE(valid_utf8("bad\xff\xfe"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // truncated
}

TEST(RandomTest, IdsHaveTheirShape) {
  auto& random = SystemRandom::instance();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto id = random_base62(random, 24);
    ASSERT_TRUE(id);
    EXPECT_TRUE(std::regex_match(*id, std::regex("[0-9A-Za-z]{24}")));
    seen.insert(*id);
  }
  EXPECT_EQ(seen.size(), 100u);
  auto uuid = random_uuid(random);
  ASSERT_TRUE(uuid);
  EXPECT_TRUE(std::regex_match(
      *uuid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
}

TEST(RandomTest, SeededRandomIsReproducible) {
  SeededRandom a(42), b(42);
  EXPECT_EQ(random_base62(a, 32).value(), random_base62(b, 32).value());
}

TEST(SecureBufferTest, LockedZeroedAndMovable) {
  SecureBuffer key(32);
  ASSERT_EQ(key.size(), 32u);
  for (auto b : key.span()) EXPECT_EQ(b, 0);
  // The machines this runs on allow 8 MiB of locked memory; the heap must be locked.
  EXPECT_TRUE(key.locked());
  EXPECT_GT(secure_memory_used(), 0u);
  key.data()[0] = 7;
  SecureBuffer moved = std::move(key);
  EXPECT_TRUE(key.empty());
  EXPECT_EQ(moved.data()[0], 7);
  auto copy = moved.clone();
  EXPECT_TRUE(constant_time_equal(copy.span(), moved.span()));
  copy.reset();
  EXPECT_TRUE(copy.empty());
  EXPECT_FALSE(constant_time_equal(std::string_view("ab"), std::string_view("abc")));
}

}  // namespace
}  // namespace leasefs::backend::sdk
