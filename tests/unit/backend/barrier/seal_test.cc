// The Shamir seal: init once, unseal with progress and reset, wrong and malformed
// shares refused with clear errors, nothing overwritten.
#include "backend/barrier/seal.h"

#include <gtest/gtest.h>

#include "backend/sdk/encoding.h"
#include "backend/storage/inmem_storage.h"
#include "tests/support/storage_dump.h"

namespace leasefs::backend::barrier {
namespace {

using sdk::Code;

class SealTest : public ::testing::Test {
 protected:
  storage::InmemStorage physical_;
  sdk::ManualClock clock_;
  sdk::SystemRandom& random_ = sdk::SystemRandom::instance();
  Barrier barrier_{physical_, clock_, random_, SealManager::barrier_options()};
  SealManager seal_{barrier_, physical_, clock_, random_};

  static std::string hex(const sdk::SecureBuffer& b) { return sdk::hex_encode(b.span()); }
  static std::string b64(const sdk::SecureBuffer& b) { return sdk::base64_encode(b.span()); }
};

TEST_F(SealTest, InitThenUnsealWithThresholdShares) {
  auto status = seal_.status().value();
  EXPECT_FALSE(status.initialized);

  auto init = seal_.initialize(5, 3);
  ASSERT_TRUE(init) << init.error().message();
  ASSERT_EQ(init->keys.size(), 5u);
  for (const auto& k : init->keys) EXPECT_EQ(k.size(), 33u);
  EXPECT_TRUE(barrier_.sealed());

  status = seal_.status().value();
  EXPECT_TRUE(status.initialized);
  EXPECT_TRUE(status.sealed);
  EXPECT_EQ(status.threshold, 3);
  EXPECT_EQ(status.shares, 5);
  EXPECT_EQ(status.progress, 0);
  EXPECT_EQ(status.nonce, "");

  auto s1 = seal_.submit_key(hex(init->keys[4]));
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1->progress, 1);
  EXPECT_FALSE(s1->nonce.empty());
  // The same share twice does not count.
  EXPECT_EQ(seal_.submit_key(b64(init->keys[4]))->progress, 1);
  auto s2 = seal_.submit_key(" " + b64(init->keys[1]) + "\n");
  ASSERT_TRUE(s2);
  EXPECT_EQ(s2->progress, 2);
  EXPECT_EQ(s2->nonce, s1->nonce);
  auto s3 = seal_.submit_key(hex(init->keys[2]));
  ASSERT_TRUE(s3) << s3.error().message();
  EXPECT_FALSE(s3->sealed);
  EXPECT_EQ(s3->progress, 0);
  EXPECT_FALSE(barrier_.sealed());
  EXPECT_TRUE(barrier_.put("x/y", "z"));

  seal_.seal();
  EXPECT_TRUE(barrier_.sealed());
  EXPECT_EQ(barrier_.get("x/y").error().code(), Code::kSealed);
}

TEST_F(SealTest, ResetForgetsProgress) {
  auto init = seal_.initialize(3, 2).value();
  EXPECT_EQ(seal_.submit_key(hex(init.keys[0]))->progress, 1);
  auto reset = seal_.reset_progress();
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->progress, 0);
  EXPECT_EQ(reset->nonce, "");
  EXPECT_EQ(seal_.submit_key(hex(init.keys[1]))->progress, 1);
  EXPECT_FALSE(seal_.submit_key(hex(init.keys[2]))->sealed);
}

TEST_F(SealTest, WrongShareIsRejectedAndResetsProgress) {
  auto init = seal_.initialize(5, 3).value();
  ASSERT_TRUE(seal_.submit_key(hex(init.keys[0])));
  ASSERT_TRUE(seal_.submit_key(hex(init.keys[1])));
  auto stranger = sdk::random_key(random_, 33).value();
  stranger.data()[32] = static_cast<std::uint8_t>(init.keys[0].data()[32] ^ 1);
  if (stranger.data()[32] == 0 || stranger.data()[32] == init.keys[1].data()[32]) {
    stranger.data()[32] = 0x7f;
  }
  auto r = seal_.submit_key(hex(stranger));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("unseal failed"), std::string::npos);
  EXPECT_TRUE(barrier_.sealed());
  EXPECT_EQ(seal_.status()->progress, 0);
  // The right shares still work afterwards.
  ASSERT_TRUE(seal_.submit_key(hex(init.keys[0])));
  ASSERT_TRUE(seal_.submit_key(hex(init.keys[3])));
  EXPECT_FALSE(seal_.submit_key(hex(init.keys[4]))->sealed);
}

TEST_F(SealTest, CorruptedShareIsRejected) {
  auto init = seal_.initialize(3, 2).value();
  for (std::size_t byte = 0; byte < 33; ++byte) {
    auto bad = init.keys[1].clone();
    bad.data()[byte] ^= 0x10;
    ASSERT_TRUE(seal_.submit_key(hex(init.keys[0])));
    auto r = seal_.submit_key(hex(bad));
    ASSERT_FALSE(r) << "corrupting byte " << byte << " went unnoticed";
    EXPECT_TRUE(barrier_.sealed());
  }
}

TEST_F(SealTest, MalformedSharesDoNotCount) {
  auto init = seal_.initialize(3, 2).value();
  ASSERT_TRUE(seal_.submit_key(hex(init.keys[0])));
  for (std::string bad : {std::string(""), std::string("not a key"), std::string("abcd"),
                          hex(init.keys[1]).substr(2), b64(init.keys[1]) + "AAAA",
                          std::string(66, 'g')}) {
    auto r = seal_.submit_key(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_EQ(seal_.status()->progress, 1);
  }
  EXPECT_FALSE(seal_.submit_key(hex(init.keys[1]))->sealed);
}

TEST_F(SealTest, SecondInitIsRefusedAndOverwritesNothing) {
  auto init = seal_.initialize(3, 2);
  ASSERT_TRUE(init);
  auto before = testing::dump(physical_);
  auto again = seal_.initialize(5, 3);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Code::kAlreadyExists);
  EXPECT_EQ(again.error().message(), "Vault is already initialized");
  EXPECT_EQ(testing::dump(physical_), before);
  EXPECT_EQ(seal_.status()->shares, 3);
}

TEST_F(SealTest, BadCountsAreRefused) {
  for (auto [n, t] : {std::pair{0, 0}, std::pair{5, 1}, std::pair{2, 3}, std::pair{256, 3},
                      std::pair{3, 0}, std::pair{1, 2}}) {
    auto r = seal_.initialize(n, t);
    ASSERT_FALSE(r) << n << "/" << t;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(testing::dump(physical_).empty());
}

TEST_F(SealTest, SingleUnsplitKey) {
  auto init = seal_.initialize(1, 1);
  ASSERT_TRUE(init);
  ASSERT_EQ(init->keys.size(), 1u);
  EXPECT_EQ(init->keys[0].size(), 32u);
  EXPECT_FALSE(seal_.submit_key(b64(init->keys[0]))->sealed);
}

TEST_F(SealTest, WhileUnsealedRunsBeforeTheConfigIsWrittenAndMayBeRetried) {
  auto failed = seal_.initialize(3, 2, [&]() -> sdk::Result<void> {
    EXPECT_FALSE(barrier_.sealed());
    EXPECT_TRUE(barrier_.put("core/half", "written"));
    return sdk::error(Code::kInternal, "token store broke");
  });
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message().find("token store broke"), std::string::npos);
  EXPECT_FALSE(seal_.status()->initialized);
  EXPECT_TRUE(barrier_.sealed());

  std::string token_written;
  auto init = seal_.initialize(3, 2, [&]() -> sdk::Result<void> {
    return barrier_.put("core/root-token", "root");
  });
  ASSERT_TRUE(init) << init.error().message();
  ASSERT_TRUE(seal_.submit_key(hex(init->keys[0])));
  ASSERT_FALSE(seal_.submit_key(hex(init->keys[2]))->sealed);
  EXPECT_EQ(barrier_.get("core/root-token").value().value(), "root");
}

TEST_F(SealTest, CorruptSealRecordsGiveClearErrors) {
  auto init = seal_.initialize(3, 2).value();
  ASSERT_TRUE(physical_.put(kSealConfigPath, "{not json"));
  auto s = seal_.status();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kDataLoss);
  EXPECT_NE(s.error().message().find("core/seal-config"), std::string::npos);

  ASSERT_TRUE(physical_.put(kSealConfigPath,
                            R"({"type":"shamir","secret_shares":3,"secret_threshold":2})"));
  auto wrapped = physical_.get(kUnsealKeysPath).value().value();
  wrapped[10] ^= 1;
  ASSERT_TRUE(physical_.put(kUnsealKeysPath, wrapped));
  ASSERT_TRUE(seal_.submit_key(hex(init.keys[0])));
  auto r = seal_.submit_key(hex(init.keys[1]));
  ASSERT_FALSE(r);
  EXPECT_TRUE(barrier_.sealed());
}

TEST_F(SealTest, NotInitialized) {
  auto r = seal_.submit_key(std::string(66, 'a'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.error().message(), "Vault is not initialized");
}

}  // namespace
}  // namespace leasefs::backend::barrier
