// Shamir over GF(2^8): every large-enough subset recovers, smaller ones do not,
// corrupted shares give a different key, bad input is refused.
#include "backend/barrier/shamir.h"

#include <gtest/gtest.h>

namespace leasefs::backend::barrier {
namespace {

using sdk::SecureBuffer;

SecureBuffer secret32() {
  SecureBuffer s(32);
  for (std::size_t i = 0; i < 32; ++i) s.data()[i] = static_cast<std::uint8_t>(i * 37 + 11);
  return s;
}

std::vector<SecureBuffer> pick(const std::vector<SecureBuffer>& all, unsigned mask) {
  std::vector<SecureBuffer> out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (mask & (1u << i)) out.push_back(all[i].clone());
  }
  return out;
}

TEST(Gf256Test, FieldLaws) {
  EXPECT_EQ(gf256_mul(0x53, 0xca), 0x01);  // the inverse pair from the AES specification
  EXPECT_EQ(gf256_mul(0x57, 0x83), 0xc1);  // FIPS-197 section 4.2
  for (int a = 1; a < 256; ++a) {
    auto x = static_cast<std::uint8_t>(a);
    EXPECT_EQ(gf256_mul(x, gf256_inv(x)), 1) << a;
    EXPECT_EQ(gf256_mul(x, 1), x);
    EXPECT_EQ(gf256_mul(x, 0), 0);
  }
  EXPECT_EQ(gf256_inv(0), 0);
}

TEST(ShamirTest, EverySubsetAtOrAboveThresholdRecoversAndNoneBelow) {
  auto& random = sdk::SystemRandom::instance();
  for (auto [n, t] : {std::pair{5, 3}, std::pair{3, 2}, std::pair{6, 6}, std::pair{7, 4}}) {
    auto secret = secret32();
    auto shares = shamir_split(secret.span(), n, t, random);
    ASSERT_TRUE(shares) << shares.error().message();
    ASSERT_EQ(shares->size(), static_cast<std::size_t>(n));
    for (const auto& s : *shares) EXPECT_EQ(s.size(), 33u);
    for (unsigned mask = 1; mask < (1u << n); ++mask) {
      int count = __builtin_popcount(mask);
      if (count < 2) continue;
      auto combined = shamir_combine(pick(*shares, mask));
      ASSERT_TRUE(combined) << combined.error().message();
      bool equal = sdk::constant_time_equal(combined->span(), secret.span());
      if (count >= t) {
        EXPECT_TRUE(equal) << "n=" << n << " t=" << t << " mask=" << mask;
      } else {
        EXPECT_FALSE(equal) << "n=" << n << " t=" << t << " mask=" << mask;
      }
    }
  }
}

TEST(ShamirTest, LargestSplit) {
  auto secret = secret32();
  auto shares = shamir_split(secret.span(), 255, 255, sdk::SystemRandom::instance());
  ASSERT_TRUE(shares);
  std::array<bool, 256> xs{};
  for (const auto& s : *shares) {
    std::uint8_t x = s.data()[32];
    EXPECT_NE(x, 0);
    EXPECT_FALSE(xs[x]);
    xs[x] = true;
  }
  auto combined = shamir_combine(*shares);
  ASSERT_TRUE(combined);
  EXPECT_TRUE(sdk::constant_time_equal(combined->span(), secret.span()));
}

TEST(ShamirTest, CorruptedShareGivesAnotherKeyOrAnError) {
  auto secret = secret32();
  auto shares = shamir_split(secret.span(), 5, 3, sdk::SystemRandom::instance());
  ASSERT_TRUE(shares);
  for (std::size_t byte = 0; byte < 33; ++byte) {
    auto subset = pick(*shares, 0b00111);
    subset[1].data()[byte] ^= 0x5a;
    auto combined = shamir_combine(subset);
    if (combined) {
      EXPECT_FALSE(sdk::constant_time_equal(combined->span(), secret.span())) << byte;
    } else {
      EXPECT_EQ(combined.error().code(), sdk::Code::kInvalidArgument);
    }
  }
}

TEST(ShamirTest, RefusesBadParameters) {
  auto secret = secret32();
  auto& random = sdk::SystemRandom::instance();
  EXPECT_FALSE(shamir_split(secret.span(), 5, 1, random));
  EXPECT_FALSE(shamir_split(secret.span(), 2, 3, random));
  EXPECT_FALSE(shamir_split(secret.span(), 256, 3, random));
  EXPECT_FALSE(shamir_split({}, 5, 3, random));

  auto shares = shamir_split(secret.span(), 3, 2, random);
  ASSERT_TRUE(shares);
  EXPECT_FALSE(shamir_combine(pick(*shares, 0b001)));  // one share
  auto dup = pick(*shares, 0b011);
  dup.push_back((*shares)[0].clone());
  auto r = shamir_combine(dup);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("twice"), std::string::npos);
  auto mixed = pick(*shares, 0b011);
  mixed[1] = SecureBuffer(20);
  EXPECT_FALSE(shamir_combine(mixed));
  auto zero_x = pick(*shares, 0b011);
  zero_x[0].data()[32] = 0;
  EXPECT_FALSE(shamir_combine(zero_x));
}

}  // namespace
}  // namespace leasefs::backend::barrier
