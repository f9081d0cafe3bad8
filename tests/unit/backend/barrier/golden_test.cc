// Format stability: tests/golden/barrier-v1.json holds the physical storage of a store
// initialized by an early leasefs (seal records, keyring with two terms, values written
// under each) and two of its three key shares. Every future version must unseal it and
// read the values back. Never regenerate the file to make this test pass; a change that
// breaks it breaks every existing installation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/barrier/seal.h"
#include "backend/barrier/value_format.h"
#include "backend/sdk/encoding.h"
#include "backend/storage/inmem_storage.h"
#include "tests/support/process.h"
#include "tests/support/storage_dump.h"

namespace leasefs::backend::barrier {
namespace {

std::string golden_path() { return leasefs::testing::source_dir() + "/tests/golden/barrier-v1.json"; }

TEST(GoldenTest, UnsealsAndReadsTheCommittedStore) {
  std::ifstream in(golden_path());
  ASSERT_TRUE(in) << "cannot open " << golden_path();
  auto golden = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(golden.is_discarded());

  storage::InmemStorage physical;
  for (const auto& [key, value] : golden["entries_base64"].items()) {
    auto bytes = sdk::base64_decode(value.get<std::string>());
    ASSERT_TRUE(bytes);
    ASSERT_TRUE(physical.put(key, bytes->view()));
  }
  sdk::ManualClock clock;
  Barrier barrier(physical, clock, sdk::SystemRandom::instance(), SealManager::barrier_options());
  SealManager seal(barrier, physical, clock, sdk::SystemRandom::instance());
  auto status = seal.status();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->initialized);
  EXPECT_EQ(status->threshold, 2);
  EXPECT_EQ(status->shares, 3);
  for (const auto& share : golden["shares_hex"]) {
    auto s = seal.submit_key(share.get<std::string>());
    ASSERT_TRUE(s) << s.error().message();
  }
  ASSERT_FALSE(barrier.sealed());
  EXPECT_EQ(barrier.key_status()->term, 2u);

  for (const auto& [key, plaintext] : golden["plaintexts"].items()) {
    auto stored = physical.get(key).value().value();
    EXPECT_EQ(value_term(stored).value(), golden["terms"][key].get<std::uint32_t>()) << key;
    auto got = barrier.get(key);
    ASSERT_TRUE(got) << key << ": " << got.error().message();
    EXPECT_EQ(got->value(), plaintext.get<std::string>());
  }
}

// Writes a new golden file to $LEASEFS_GOLDEN_OUT. Run only when adding a new format
// version (as a new file); never to replace barrier-v1.json.
TEST(GoldenTest, DISABLED_Write) {
  const char* out_path = std::getenv("LEASEFS_GOLDEN_OUT");
  ASSERT_NE(out_path, nullptr);
  storage::InmemStorage physical;
  sdk::ManualClock clock(sdk::WallTime(std::chrono::seconds(1'795'000'000)));
  auto& random = sdk::SystemRandom::instance();
  Barrier barrier(physical, clock, random, SealManager::barrier_options());
  SealManager seal(barrier, physical, clock, random);
  auto init = seal.initialize(3, 2).value();
  ASSERT_TRUE(seal.submit_key(sdk::hex_encode(init.keys[0].span())));
  ASSERT_TRUE(seal.submit_key(sdk::hex_encode(init.keys[2].span())));
  nlohmann::json plaintexts = {{"logical/golden/term1", "{\"password\":\"written under term 1\"}"},
                               {"logical/golden/term2", "written under term 2"},
                               {"logical/golden/empty", ""}};
  nlohmann::json terms;
  ASSERT_TRUE(barrier.put("logical/golden/term1", plaintexts["logical/golden/term1"].get<std::string>()));
  terms["logical/golden/term1"] = 1;
  clock.advance(std::chrono::hours(24));
  ASSERT_TRUE(barrier.rotate());
  ASSERT_TRUE(barrier.put("logical/golden/term2", "written under term 2"));
  ASSERT_TRUE(barrier.put("logical/golden/empty", ""));
  terms["logical/golden/term2"] = 2;
  terms["logical/golden/empty"] = 2;
  seal.seal();
  nlohmann::json entries;
  for (const auto& [key, value] : leasefs::testing::dump(physical)) {
    entries[key] = sdk::base64_encode(value);
  }
  nlohmann::json golden = {
      {"comment", "Written once by GoldenTest.DISABLED_Write; never regenerate (see golden_test.cc)."},
      {"shares_hex", {sdk::hex_encode(init.keys[0].span()), sdk::hex_encode(init.keys[1].span())}},
      {"entries_base64", entries},
      {"plaintexts", plaintexts},
      {"terms", terms}};
  std::ofstream(out_path) << golden.dump(2) << "\n";
}

}  // namespace
}  // namespace leasefs::backend::barrier
