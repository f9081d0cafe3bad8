// The hash chain's canonical form and the verifier: intact logs pass; an altered,
// dropped, reordered, duplicated or truncated line is named by its number.
#include "backend/audit/chain.h"

#include <cstdio>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/resource.h>

#include "backend/sdk/encoding.h"
#include "tests/unit/backend/audit/audit_test_support.h"

namespace leasefs::backend::audit {
namespace {

using testing::join_lines;
using testing::read_file;
using testing::split_lines;
using testing::TempDir;
using testing::write_file;

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return sdk::hex_encode(std::span<const std::uint8_t>(digest, size));
}

// n sealed lines "{"time":"...","type":"request","n":i}" from `prev`.
std::string make_log(int n, std::string prev = std::string(kGenesisHash),
                     std::string* last = nullptr, std::string_view prefix = "") {
  std::string out;
  std::string hash;
  for (int i = 0; i < n; ++i) {
    std::string body = std::string(prefix) +
                       "{\"time\":\"2026-11-28T13:24:54.000000000Z\",\"type\":\"request\",\"n\":" +
                       std::to_string(i) + "}";
    append_sealed_line(body, prev, out, hash);
    prev = hash;
  }
  if (last != nullptr) *last = prev;
  return out;
}

VerifyReport verify_expect_fault(const std::string& path, FaultKind kind, std::uint64_t line) {
  VerifyReport report;
  auto result = verify_log(path, {}, &report);
  EXPECT_FALSE(result.has_value());
  if (!result) {
    EXPECT_EQ(result.error().code(), sdk::Code::kDataLoss);
    EXPECT_NE(result.error().message().find("line " + std::to_string(line) + ":"),
              std::string::npos)
        << result.error().message();
  }
  EXPECT_EQ(report.fault, kind) << report.fault_detail;
  EXPECT_EQ(report.fault_line, line) << report.fault_detail;
  return report;
}

TEST(ChainTest, CanonicalFormIsTheLineWithoutItsHashMember) {
  std::string out;
  std::string hash;
  append_sealed_line("PFX {\"a\":1}", kGenesisHash, out, hash);
  const std::string canonical = "PFX {\"a\":1,\"prev_hash\":\"" + std::string(kGenesisHash) + "\"}";
  EXPECT_EQ(hash, sha256_hex(canonical));
  EXPECT_EQ(out, "PFX {\"a\":1,\"prev_hash\":\"" + std::string(kGenesisHash) + "\",\"hash\":\"" +
                     hash + "\"}\n");
  // The next line's hash covers this one's.
  std::string out2;
  std::string hash2;
  append_sealed_line("{\"b\":2}", hash, out2, hash2);
  EXPECT_EQ(hash2, sha256_hex("{\"b\":2,\"prev_hash\":\"" + hash + "\"}"));
}

// A head hashed ahead of time seals the same line: bodies of every length around
// SHA-256's 64-byte blocks, with and without a prefix, against the canonical form.
TEST(ChainTest, AHeadHashedAheadSealsTheSameLine) {
  std::string prev(kGenesisHash);
  for (std::size_t n = 0; n < 300; ++n) {
    const std::string body =
        (n % 2 == 0 ? "" : "PFX ") + std::string("{\"a\":\"") + std::string(n, 'x') + "\"}";
    const LineHead head = hash_line_head(body);
    std::string ahead;
    std::string ahead_hash;
    append_sealed_line(body, head, prev, ahead, ahead_hash);
    std::string at_once;
    std::string at_once_hash;
    append_sealed_line(body, prev, at_once, at_once_hash);
    ASSERT_EQ(ahead, at_once) << n;
    ASSERT_EQ(ahead_hash, at_once_hash) << n;
    const std::string canonical =
        body.substr(0, body.size() - 1) + ",\"prev_hash\":\"" + prev + "\"}";
    ASSERT_EQ(ahead_hash, sha256_hex(canonical)) << n;
    // The same head seals again for another previous hash (it is not used up).
    std::string again;
    std::string again_hash;
    append_sealed_line(body, head, ahead_hash, again, again_hash);
    ASSERT_EQ(again_hash, sha256_hex(body.substr(0, body.size() - 1) + ",\"prev_hash\":\"" +
                                     ahead_hash + "\"}"))
        << n;
    prev = ahead_hash;
  }
}

TEST(ChainTest, IntactLogVerifies) {
  TempDir dir;
  std::string last;
  write_file(dir.file("a.log"), make_log(50, std::string(kGenesisHash), &last));
  auto report = verify_log(dir.file("a.log"));
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_EQ(report->entries, 50u);
  EXPECT_TRUE(report->starts_at_genesis);
  EXPECT_EQ(report->last_hash, last);
  EXPECT_EQ(report->fault, FaultKind::kNone);
}

TEST(ChainTest, EmptyFileVerifiesWithNoEntries) {
  TempDir dir;
  write_file(dir.file("a.log"), "");
  auto report = verify_log(dir.file("a.log"));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->entries, 0u);
}

TEST(ChainTest, MissingFileIsNotFound) {
  TempDir dir;
  auto report = verify_log(dir.file("nope.log"));
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code(), sdk::Code::kNotFound);
}

TEST(ChainTest, PrefixIsCoveredByTheHash) {
  TempDir dir;
  auto lines = split_lines(make_log(3, std::string(kGenesisHash), nullptr, "vault-audit: "));
  write_file(dir.file("a.log"), join_lines(lines));
  ASSERT_TRUE(verify_log(dir.file("a.log")).has_value());
  lines[1].replace(0, 5, "VAULT");
  write_file(dir.file("a.log"), join_lines(lines));
  verify_expect_fault(dir.file("a.log"), FaultKind::kAltered, 2);
}

TEST(ChainTest, AlteredLineIsNamed) {
  TempDir dir;
  auto lines = split_lines(make_log(10));
  auto at = lines[6].find("\"n\":6");
  ASSERT_NE(at, std::string::npos);
  lines[6].replace(at, 5, "\"n\":7");
  write_file(dir.file("a.log"), join_lines(lines));
  verify_expect_fault(dir.file("a.log"), FaultKind::kAltered, 7);
}

TEST(ChainTest, WhitespaceChangeIsAnAlteration) {
  TempDir dir;
  auto lines = split_lines(make_log(4));
  lines[2].insert(1, " ");
  write_file(dir.file("a.log"), join_lines(lines));
  verify_expect_fault(dir.file("a.log"), FaultKind::kAltered, 3);
}

TEST(ChainTest, DroppedLineIsNamedAtTheLineAfterTheGap) {
  TempDir dir;
  auto lines = split_lines(make_log(10));
  lines.erase(lines.begin() + 4);  // entry 5 gone; old line 6 is now line 5
  write_file(dir.file("a.log"), join_lines(lines));
  auto report = verify_expect_fault(dir.file("a.log"), FaultKind::kDropped, 5);
  EXPECT_EQ(report.entries, 4u);
  EXPECT_NE(report.fault_detail.find("missing"), std::string::npos);
}

TEST(ChainTest, SwappedLinesAreNamed) {
  TempDir dir;
  auto lines = split_lines(make_log(10));
  std::swap(lines[3], lines[4]);
  write_file(dir.file("a.log"), join_lines(lines));
  auto report = verify_expect_fault(dir.file("a.log"), FaultKind::kReordered, 4);
  EXPECT_NE(report.fault_detail.find("swapped"), std::string::npos) << report.fault_detail;
}

TEST(ChainTest, SwappedLastTwoLinesAreNamed) {
  TempDir dir;
  auto lines = split_lines(make_log(5));
  std::swap(lines[3], lines[4]);
  write_file(dir.file("a.log"), join_lines(lines));
  verify_expect_fault(dir.file("a.log"), FaultKind::kReordered, 4);
}

TEST(ChainTest, DuplicatedLineIsNamed) {
  TempDir dir;
  auto lines = split_lines(make_log(6));
  lines.insert(lines.begin() + 3, lines[1]);  // line 4 is a copy of line 2
  write_file(dir.file("a.log"), join_lines(lines));
  verify_expect_fault(dir.file("a.log"), FaultKind::kReordered, 4);
}

TEST(ChainTest, LineMovedFarAwayIsNamed) {
  TempDir dir;
  auto lines = split_lines(make_log(10));
  std::string moved = lines[2];
  lines.erase(lines.begin() + 2);
  lines.push_back(moved);
  write_file(dir.file("a.log"), join_lines(lines));
  // Line 3 (old entry 4) no longer links to line 2: the gap is where entry 3 was.
  verify_expect_fault(dir.file("a.log"), FaultKind::kDropped, 3);
}

TEST(ChainTest, TruncatedLastLineIsNamed) {
  TempDir dir;
  std::string log = make_log(8);
  write_file(dir.file("a.log"), log.substr(0, log.size() - 30));
  verify_expect_fault(dir.file("a.log"), FaultKind::kTruncated, 8);
  // Cutting only the final line end is a truncation too.
  write_file(dir.file("b.log"), log.substr(0, log.size() - 1));
  verify_expect_fault(dir.file("b.log"), FaultKind::kTruncated, 8);
}

TEST(ChainTest, GarbageAndEmptyLinesAreMalformed) {
  TempDir dir;
  auto lines = split_lines(make_log(4));
  lines.insert(lines.begin() + 2, "{\"not\":\"an entry\"}");
  write_file(dir.file("a.log"), join_lines(lines));
  verify_expect_fault(dir.file("a.log"), FaultKind::kMalformed, 3);
  lines = split_lines(make_log(4));
  lines.insert(lines.begin() + 1, "");
  write_file(dir.file("b.log"), join_lines(lines));
  verify_expect_fault(dir.file("b.log"), FaultKind::kMalformed, 2);
}

TEST(ChainTest, FirstLineMayContinueAnotherFileUnlessExpectedOtherwise) {
  TempDir dir;
  std::string last;
  write_file(dir.file("1.log"), make_log(5, std::string(kGenesisHash), &last));
  std::string last2;
  write_file(dir.file("2.log"), make_log(5, last, &last2));
  auto second = verify_log(dir.file("2.log"));
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(second->starts_at_genesis);
  EXPECT_EQ(second->first_prev_hash, last);

  std::vector<std::filesystem::path> series = {dir.file("1.log"), dir.file("2.log")};
  auto both = verify_logs(series);
  ASSERT_TRUE(both.has_value()) << both.error().message();
  EXPECT_EQ(both->entries, 10u);
  EXPECT_EQ(both->last_hash, last2);
  EXPECT_TRUE(both->starts_at_genesis);

  // A file missing from the middle of a series breaks the link.
  write_file(dir.file("3.log"), make_log(2, last2));
  std::vector<std::filesystem::path> gap = {dir.file("1.log"), dir.file("3.log")};
  VerifyReport report;
  auto broken = verify_logs(gap, {}, &report);
  ASSERT_FALSE(broken.has_value());
  EXPECT_EQ(report.fault, FaultKind::kBrokenLink);
  EXPECT_EQ(report.fault_line, 1u);
  EXPECT_NE(broken.error().message().find("3.log"), std::string::npos);
  EXPECT_EQ(report.fault_file, dir.file("3.log"));

  VerifyOptions genesis;
  genesis.expected_prev_hash = std::string(kGenesisHash);
  EXPECT_FALSE(verify_log(dir.file("2.log"), genesis).has_value());
}

TEST(ChainTest, VeryLongLinesVerify) {
  TempDir dir;
  std::string out;
  std::string hash;
  std::string prev(kGenesisHash);
  for (int i = 0; i < 3; ++i) {
    std::string body = "{\"time\":\"t\",\"type\":\"request\",\"big\":\"" +
                       std::string(3u << 20, static_cast<char>('a' + i)) + "\"}";
    append_sealed_line(body, prev, out, hash);
    prev = hash;
  }
  write_file(dir.file("a.log"), out);
  auto report = verify_log(dir.file("a.log"));
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_EQ(report->entries, 3u);
  out[(3u << 20) + 4000] = 'z';  // inside line 2
  write_file(dir.file("a.log"), out);
  verify_expect_fault(dir.file("a.log"), FaultKind::kAltered, 2);
}

TEST(ChainTest, ManyLinesVerifyInBoundedMemory) {
  TempDir dir;
  constexpr int kLines = 300'000;
  {
    FILE* f = std::fopen(dir.file("big.log").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string prev(kGenesisHash);
    std::string hash;
    std::string out;
    for (int i = 0; i < kLines; ++i) {
      out.clear();
      append_sealed_line("{\"time\":\"2026-11-28T13:24:54.000000000Z\",\"type\":\"access\",\"i\":" +
                             std::to_string(i) + "}",
                         prev, out, hash);
      prev = hash;
      std::fwrite(out.data(), 1, out.size(), f);
    }
    std::fclose(f);
  }
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  auto report = verify_log(dir.file("big.log"));
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_EQ(report->entries, static_cast<std::uint64_t>(kLines));
#if !defined(__SANITIZE_ADDRESS__)
  // The file is ~75 MB; verifying it must not hold it (max RSS grows by KBs, not MBs).
  // (AddressSanitizer's quarantine keeps freed memory resident, so only without it.)
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 16 * 1024) << "KiB";
#endif
}

TEST(ChainTest, ExpectedLastHashCatchesEntriesCutOffTheEnd) {
  TempDir dir;
  std::string last;
  std::string log = make_log(6, std::string(kGenesisHash), &last);
  write_file(dir.file("a.log"), log);
  VerifyOptions options;
  options.expected_last_hash = last;
  ASSERT_TRUE(verify_log(dir.file("a.log"), options).has_value());
  // Whole lines removed from the end: the chain itself is intact, the end is not.
  auto lines = split_lines(log);
  lines.resize(4);
  write_file(dir.file("a.log"), join_lines(lines));
  EXPECT_TRUE(verify_log(dir.file("a.log")).has_value());
  VerifyReport report;
  auto cut = verify_log(dir.file("a.log"), options, &report);
  ASSERT_FALSE(cut.has_value());
  EXPECT_EQ(report.fault, FaultKind::kEndMismatch);
  EXPECT_EQ(report.fault_line, 5u);
  std::vector<std::filesystem::path> series = {dir.file("a.log")};
  EXPECT_FALSE(verify_logs(series, options).has_value());
}

TEST(ChainTest, ReadLogTailFindsTheLastCompleteEntry) {
  TempDir dir;
  std::string last;
  std::string log = make_log(3, std::string(kGenesisHash), &last);
  write_file(dir.file("a.log"), log);
  int fd = ::open(dir.file("a.log").c_str(), O_RDONLY);
  auto tail = read_log_tail(fd);
  ::close(fd);
  ASSERT_TRUE(tail.has_value());
  EXPECT_FALSE(tail->empty);
  EXPECT_FALSE(tail->torn);
  EXPECT_EQ(tail->last_hash, last);

  write_file(dir.file("b.log"), log + "{\"torn\":");
  fd = ::open(dir.file("b.log").c_str(), O_RDONLY);
  tail = read_log_tail(fd);
  ::close(fd);
  ASSERT_TRUE(tail.has_value());
  EXPECT_TRUE(tail->torn);
  EXPECT_EQ(tail->last_hash, last);

  write_file(dir.file("c.log"), "");
  fd = ::open(dir.file("c.log").c_str(), O_RDONLY);
  tail = read_log_tail(fd);
  ::close(fd);
  ASSERT_TRUE(tail.has_value());
  EXPECT_TRUE(tail->empty);
  EXPECT_EQ(tail->last_hash, "");

  write_file(dir.file("d.log"), "plain text that is not ours\n");
  fd = ::open(dir.file("d.log").c_str(), O_RDONLY);
  tail = read_log_tail(fd);
  ::close(fd);
  ASSERT_TRUE(tail.has_value());
  EXPECT_FALSE(tail->empty);
  EXPECT_EQ(tail->last_hash, "");
}

}  // namespace
}  // namespace leasefs::backend::audit
