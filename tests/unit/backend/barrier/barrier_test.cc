// The barrier: values round-trip, any altered byte or moved value is an integrity
// error (never garbage), rotation keeps old terms readable, sealing drops every key.
#include "backend/barrier/barrier.h"

#include <gtest/gtest.h>

#include <thread>

#include "backend/barrier/value_format.h"
#include "backend/storage/inmem_storage.h"

namespace leasefs::backend::barrier {
namespace {

using sdk::Code;

class BarrierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_key_ = sdk::random_key(random_, kKeySize).value();
    ASSERT_TRUE(barrier_.initialize(root_key_));
    ASSERT_TRUE(barrier_.unseal(root_key_));
  }

  storage::InmemStorage physical_;
  sdk::ManualClock clock_;
  sdk::SystemRandom& random_ = sdk::SystemRandom::instance();
  Barrier barrier_{physical_, clock_, random_};
  sdk::SecureBuffer root_key_;
};

TEST_F(BarrierTest, RoundTripsValuesOfEverySize) {
  for (std::size_t n : {0, 1, 15, 16, 17, 1024, 1 << 20}) {
    std::string value(n, '\0');
    for (std::size_t i = 0; i < n; ++i) value[i] = static_cast<char>(i * 7);
    std::string key = "data/v" + std::to_string(n);
    ASSERT_TRUE(barrier_.put(key, value));
    auto got = barrier_.get(key);
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ(**got, value);
    auto raw = physical_.get(key).value().value();
    EXPECT_EQ(raw.size(), n + kValueOverhead);
    EXPECT_EQ(raw.substr(0, 5), std::string("\0\0\0\1\2", 5));  // term 1, version 2
    if (n >= 16) {
      EXPECT_EQ(raw.find(value.substr(0, 16)), std::string::npos);  // not stored in clear
    }
  }
  EXPECT_FALSE(barrier_.get("data/missing").value().has_value());
}

TEST_F(BarrierTest, EverySingleByteFlipIsAnIntegrityError) {
  const std::string value = "a secret of some length, {\"password\":\"hunter2\"}";
  ASSERT_TRUE(barrier_.put("data/x", value));
  const std::string stored = physical_.get("data/x").value().value();
  for (std::size_t i = 0; i < stored.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string altered = stored;
      altered[i] = static_cast<char>(altered[i] ^ flip);
      ASSERT_TRUE(physical_.put("data/x", altered));
      auto got = barrier_.get("data/x");
      ASSERT_FALSE(got) << "byte " << i << " flip " << int(flip) << " decrypted";
      EXPECT_EQ(got.error().code(), Code::kDataLoss);
      EXPECT_NE(got.error().message().find("data/x"), std::string::npos);
    }
  }
  for (std::size_t cut : {std::size_t{0}, std::size_t{4}, std::size_t{32}, stored.size() - 1}) {
    ASSERT_TRUE(physical_.put("data/x", stored.substr(0, cut)));
    auto got = barrier_.get("data/x");
    ASSERT_FALSE(got) << "truncated to " << cut;
    EXPECT_EQ(got.error().code(), Code::kDataLoss);
  }
  ASSERT_TRUE(physical_.put("data/x", stored + "extra"));
  EXPECT_FALSE(barrier_.get("data/x"));
  ASSERT_TRUE(physical_.put("data/x", stored));
  EXPECT_EQ(barrier_.get("data/x").value().value(), value);
}

TEST_F(BarrierTest, ValueCopiedToAnotherPathFailsToDecrypt) {
  ASSERT_TRUE(barrier_.put("logical/a/password", "one"));
  auto stored = physical_.get("logical/a/password").value().value();
  ASSERT_TRUE(physical_.put("logical/b/password", stored));
  auto got = barrier_.get("logical/b/password");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), Code::kDataLoss);
}

TEST_F(BarrierTest, OldTermsDecryptAfterRotation) {
  ASSERT_TRUE(barrier_.put("k/1", "written under term 1"));
  clock_.advance(std::chrono::hours(1));
  auto status = barrier_.rotate();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->term, 2u);
  EXPECT_EQ(status->install_time, clock_.now());
  ASSERT_TRUE(barrier_.put("k/2", "written under term 2"));
  ASSERT_TRUE(barrier_.rotate());
  EXPECT_EQ(physical_.get("k/2").value().value()[3], '\2');
  EXPECT_EQ(barrier_.get("k/1").value().value(), "written under term 1");
  EXPECT_EQ(barrier_.get("k/2").value().value(), "written under term 2");

  // ...also after sealing and unsealing from storage.
  barrier_.seal();
  ASSERT_TRUE(barrier_.unseal(root_key_));
  EXPECT_EQ(barrier_.key_status().value().term, 3u);
  EXPECT_EQ(barrier_.get("k/1").value().value(), "written under term 1");
  EXPECT_EQ(barrier_.get("k/2").value().value(), "written under term 2");
}

TEST_F(BarrierTest, KeyStatusCountsEncryptionsAcrossSeals) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(barrier_.put("k/" + std::to_string(i), "v"));
  sdk::StorageOp batch[] = {sdk::StorageOp::put("k/a", "1"), sdk::StorageOp::put("k/b", "2"),
                            sdk::StorageOp::remove("k/0")};
  ASSERT_TRUE(barrier_.apply(batch));
  EXPECT_EQ(barrier_.key_status().value().encryptions, 12u);
  barrier_.seal();
  ASSERT_TRUE(barrier_.unseal(root_key_));
  EXPECT_EQ(barrier_.key_status().value().encryptions, 12u);
  EXPECT_FALSE(barrier_.get("k/0").value().has_value());
}

TEST(BarrierRotationTest, RotatesAutomaticallyAfterTheLimit) {
  storage::InmemStorage physical;
  sdk::ManualClock clock;
  Barrier barrier(physical, clock, sdk::SystemRandom::instance(),
                  BarrierOptions{.rotate_after_encryptions = 5});
  auto root = sdk::random_key(sdk::SystemRandom::instance(), kKeySize).value();
  ASSERT_TRUE(barrier.initialize(root));
  ASSERT_TRUE(barrier.unseal(root));
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(barrier.put("k/" + std::to_string(i), "v"));
  EXPECT_EQ(barrier.key_status().value().term, 3u);
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(barrier.get("k/" + std::to_string(i)));
}

TEST_F(BarrierTest, SealedRefusesEverything) {
  ASSERT_TRUE(barrier_.put("k", "v"));
  barrier_.seal();
  EXPECT_TRUE(barrier_.sealed());
  for (auto code : {barrier_.get("k").error().code(), barrier_.put("k", "v").error().code(),
                    barrier_.remove("k").error().code(), barrier_.list("").error().code(),
                    barrier_.key_status().error().code(), barrier_.rotate().error().code()}) {
    EXPECT_EQ(code, Code::kSealed);
  }
  EXPECT_EQ(barrier_.get("k").error().message(), "Vault is sealed");
}

TEST_F(BarrierTest, WrongRootKeyAndSecondInitAreRefused) {
  barrier_.seal();
  auto wrong = sdk::random_key(random_, kKeySize).value();
  auto r = barrier_.unseal(wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kDataLoss);
  EXPECT_TRUE(barrier_.sealed());

  auto before = physical_.get(kKeyringPath).value();
  auto again = barrier_.initialize(wrong);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Code::kAlreadyExists);
  EXPECT_EQ(physical_.get(kKeyringPath).value(), before);
  EXPECT_TRUE(barrier_.unseal(root_key_));
}

TEST_F(BarrierTest, ReservedKeysAndBadKeysAreRefused) {
  auto r = barrier_.put(kKeyringPath, "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kPermissionDenied);
  EXPECT_FALSE(barrier_.get(kKeyringPath));
  EXPECT_FALSE(barrier_.remove(kKeyringPath));
  EXPECT_EQ(barrier_.put("/abs", "x").error().code(), Code::kInvalidArgument);
  sdk::StorageOp batch[] = {sdk::StorageOp::put("ok", "1"),
                            sdk::StorageOp::put(std::string(kKeyringPath), "2")};
  EXPECT_FALSE(barrier_.apply(batch));
  EXPECT_FALSE(barrier_.get("ok").value().has_value());
}

TEST_F(BarrierTest, ConcurrentUseDuringRotation) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        std::string key = "c/" + std::to_string(t) + "/" + std::to_string(i);
        std::string value = key + "-value";
        if (!barrier_.put(key, value)) ++failures;
        auto got = barrier_.get(key);
        if (!got || !got->has_value() || **got != value) ++failures;
      }
    });
  }
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(barrier_.rotate());
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(barrier_.key_status().value().term, 21u);
}

}  // namespace
}  // namespace leasefs::backend::barrier
