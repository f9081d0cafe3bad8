// SecretSource against a real `leasefs server -dev`, without a mount and without its
// keeper thread, on a clock the test moves: a lease's edges, deterministically.
#include "fs/secret_source.h"

#include <chrono>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/sdk/clock.h"
#include "fs/config.h"
#include "fs/vault_client.h"
#include "tests/support/process.h"
#include "tests/support/server_fixture.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;

// An open that finds the shared lease run out before the keeper ended it fetches a new
// one and ends the old one itself. (It dereferenced the slot's pointer after resetting
// it: a mount crashed under readers racing 1 s leases.)
TEST(SecretSourceTest, AnOpenAfterTheLeaseRanOutBeforeTheKeeperEndedItGetsANewOne) {
  TempDir dir;
  auto server = ServerProcess::start(ServerSpec{});
  ASSERT_TRUE(server) << server.error();
  const std::string token_file = dir / "token";
  std::ofstream(token_file) << ServerSpec{}.dev_root_token << "\n";
  auto config = fs::parse_mount_config({{"server",
                                         {{"address", (*server)->address()},
                                          {"timeout", "2s"},
                                          {"auth", {{"token_file", token_file}}}}},
                                        {"mount", {{"spool_file", dir / "spool.jsonl"}}},
                                        {"files", json::array({{{"path", "t"},
                                                                {"secret", "auth/token/create"},
                                                                {"method", "POST"},
                                                                {"args", {{"ttl", "1h"}}},
                                                                {"field", "client_token"}}})}});
  ASSERT_TRUE(config) << config.error().message();
  auto client = fs::VaultClient::create(config->server);
  ASSERT_TRUE(client) << client.error().message();
  ASSERT_TRUE((*client)->start());
  backend::sdk::ManualClock clock;
  {
    fs::SecretSource source(*config, **client, clock, {});
    auto no_headers = [] { return fs::Headers{}; };
    auto first = source.open(0, no_headers);
    ASSERT_TRUE(first) << first.error().message();
    source.release(*first);
    EXPECT_FALSE(first->content->gone());

    clock.advance(std::chrono::hours(2));  // past the lease; no keeper to end it
    auto second = source.open(0, no_headers);
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_NE(second->record, first->record);
    EXPECT_TRUE(first->record->ended);
    EXPECT_TRUE(first->content->gone());  // the old bytes were wiped
    EXPECT_FALSE(second->content->gone());
    EXPECT_TRUE(second->fresh);
    source.release(*second);
    source.shutdown(/*revoke=*/false);
  }
  (*client)->stop();
}

}  // namespace
}  // namespace leasefs::testing
