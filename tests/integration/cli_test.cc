// The leasefs command as an operator runs it: help for every subcommand, the version,
// and init / unseal / status / key-status / rotate on a real storage file, with the
// bad inputs an operator will sooner or later give it.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/process.h"

namespace leasefs::testing {
namespace {

ProcessResult leasefs(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv = {leasefs_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, input);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Subcommand names listed under "Subcommands:" in a help text.
std::vector<std::string> subcommands_in(const std::string& help) {
  std::vector<std::string> names;
  auto at = help.find("Subcommands:");
  if (at == std::string::npos) return names;
  std::istringstream lines(help.substr(at));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != ' ') break;
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

TEST(CliTest, VersionAndHelpForEverySubcommand) {
  auto v = leasefs({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(std::regex_search(v.out, std::regex("^leasefs [0-9]+\\.[0-9]+\\.[0-9]+")));
  EXPECT_EQ(leasefs({"-version"}).exit_code, 0);  // Vault's one-dash spelling

  std::vector<std::vector<std::string>> queue = {{}};
  std::set<std::string> seen;
  while (!queue.empty()) {
    auto path = queue.back();
    queue.pop_back();
    auto args = path;
    args.push_back("--help");
    auto r = leasefs(args);
    std::string name = path.empty() ? "leasefs" : path.back();
    ASSERT_EQ(r.exit_code, 0) << "help of " << name << ": " << r.err;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << name;
    seen.insert(name);
    for (const auto& child : subcommands_in(r.out)) {
      auto next = path;
      next.push_back(child);
      queue.push_back(next);
    }
  }
  for (const char* expected :
       {"server", "mount", "operator", "init", "unseal", "seal", "key-status", "rotate", "kv",
        "read", "write", "list", "delete", "lease", "token", "policy", "secrets", "auth",
        "audit", "status", "verify", "login", "put", "get", "undelete", "destroy", "metadata",
        "patch", "create", "lookup", "renew", "revoke", "capabilities", "enable", "disable",
        "tune"}) {
    EXPECT_TRUE(seen.contains(expected)) << expected;
  }
}

TEST(CliTest, MountWithoutConfigIsAUsageError) {
  // `mount` is built now (issue 5, tests/fuse); without --config it is a usage error.
  auto r = leasefs({"mount", "/tmp/x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(leasefs({}).exit_code, 2);
  EXPECT_EQ(leasefs({"operator", "init", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(leasefs({"operator", "init", "-format=yaml"}).exit_code, 2);
  EXPECT_EQ(leasefs({"operator", "init", "-key-shares=many"}).exit_code, 2);
}

class OperatorTest : public ::testing::Test {
 protected:
  // Initializes a store with 3 shares, threshold 2; keeps the keys (never printed).
  void init() {
    auto r = leasefs({"operator", "init", "-storage", db_, "-key-shares=3", "-key-threshold=2",
                      "-format=json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded());
    hex_ = doc["unseal_keys_hex"].get<std::vector<std::string>>();
    b64_ = doc["unseal_keys_b64"].get<std::vector<std::string>>();
    ASSERT_EQ(hex_.size(), 3u);
    EXPECT_EQ(doc["unseal_threshold"], 2);
    for (const auto& k : hex_) EXPECT_TRUE(std::regex_match(k, std::regex("[0-9a-f]{66}")));
  }

  TempDir dir_;
  std::string db_ = dir_ / "leasefs.db";
  std::vector<std::string> hex_, b64_;
};

TEST_F(OperatorTest, InitUnsealStatusRotate) {
  init();
  auto status = leasefs({"status", "-storage", db_, "-format=json"});
  EXPECT_EQ(status.exit_code, 2);  // sealed, as Vault's status exit code
  auto s = nlohmann::json::parse(status.out);
  EXPECT_EQ(s["initialized"], true);
  EXPECT_EQ(s["sealed"], true);
  EXPECT_EQ(s["t"], 2);
  EXPECT_EQ(s["n"], 3);

  // Keys on standard input, one per line, hex and base64 mixed, blank lines skipped.
  auto unseal = leasefs({"operator", "unseal", "-storage", db_}, hex_[2] + "\n\n" + b64_[0] + "\n");
  ASSERT_EQ(unseal.exit_code, 0) << unseal.err;
  EXPECT_TRUE(std::regex_search(unseal.out, std::regex("Sealed\\s+false")));

  auto keys = leasefs({"operator", "key-status", "-storage", db_, "-format=json", hex_[0], hex_[1]});
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  EXPECT_EQ(nlohmann::json::parse(keys.out)["term"], 1);

  auto rotate = leasefs({"operator", "rotate", "-storage", db_}, b64_[1] + "\n" + b64_[2] + "\n");
  ASSERT_EQ(rotate.exit_code, 0) << rotate.err;
  EXPECT_TRUE(std::regex_search(rotate.out, std::regex("Key Term\\s+2")));
  keys = leasefs({"operator", "key-status", "-storage", db_, "-format=json", hex_[0], hex_[2]});
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  EXPECT_EQ(nlohmann::json::parse(keys.out)["term"], 2);
}

TEST_F(OperatorTest, SecondInitIsRefusedAndChangesNothing) {
  init();
  std::string before = read_file(db_);
  auto again = leasefs({"operator", "init", "-storage", db_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err, "leasefs: Vault is already initialized\n");
  EXPECT_TRUE(again.out.empty());  // no new keys printed
  EXPECT_EQ(read_file(db_), before);
  auto unseal = leasefs({"operator", "unseal", "-storage", db_, hex_[0], hex_[1]});
  EXPECT_EQ(unseal.exit_code, 0) << unseal.err;
}

TEST_F(OperatorTest, WrongMalformedAndTooFewKeys) {
  init();
  const std::string stranger(66, '7');
  auto wrong = leasefs({"operator", "unseal", "-storage", db_, hex_[0], stranger});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("unseal failed"), std::string::npos) << wrong.err;

  auto malformed = leasefs({"operator", "unseal", "-storage", db_, "zz!z"});
  EXPECT_EQ(malformed.exit_code, 1);
  EXPECT_EQ(malformed.err, "leasefs: unseal key is neither hex nor base64\n");

  auto short_key = leasefs({"operator", "unseal", "-storage", db_, hex_[0].substr(0, 64)});
  EXPECT_EQ(short_key.exit_code, 1);
  EXPECT_NE(short_key.err.find("has 32 bytes, want 33"), std::string::npos) << short_key.err;

  auto too_few = leasefs({"operator", "unseal", "-storage", db_}, hex_[0] + "\n");
  EXPECT_EQ(too_few.exit_code, 1);
  EXPECT_NE(too_few.err.find("input ended after 1 of 2 key shares"), std::string::npos)
      << too_few.err;

  // None of these printed a key back.
  for (const auto& r : {wrong, malformed, short_key, too_few}) {
    for (const auto& k : hex_) EXPECT_EQ(r.err.find(k.substr(0, 16)), std::string::npos);
  }
}

TEST_F(OperatorTest, BadInitCountsAreRefusedWithoutCreatingAStore) {
  auto r = leasefs({"operator", "init", "-storage", db_, "-key-shares=2", "-key-threshold=3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("secret_threshold cannot be larger than secret_shares"), std::string::npos);
  auto s = leasefs({"status", "-storage", db_, "-format=json"});
  EXPECT_EQ(nlohmann::json::parse(s.out)["initialized"], false);
}

TEST_F(OperatorTest, CorruptTruncatedAndMissingFiles) {
  {
    std::ofstream garbage(db_, std::ios::binary);
    garbage << std::string(8192, 'x');
  }
  std::string before = read_file(db_);
  auto r = leasefs({"operator", "init", "-storage", db_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(db_), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(read_file(db_), before);

  std::string good = dir_ / "good.db";
  auto ok = leasefs({"operator", "init", "-storage", good, "-key-shares=1", "-key-threshold=1"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  std::string bytes = read_file(good);
  ASSERT_GT(bytes.size(), 4096u);
  std::string cut = dir_ / "cut.db";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string cut_before = read_file(cut);
  r = leasefs({"status", "-storage", cut});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(cut), std::string::npos) << r.err;
  EXPECT_EQ(read_file(cut), cut_before);

  r = leasefs({"status", "-storage", dir_ / "absent.db"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("absent.db"), std::string::npos) << r.err;
  r = leasefs({"status", "-storage", dir_.path()});
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace leasefs::testing
