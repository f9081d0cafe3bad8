// SqliteStorage beyond the shared contract: the file format, persistence, exclusive
// use, refusing bad files without touching them, and per-caller results under group
// commit.
#include "backend/storage/sqlite_storage.h"

#include <filesystem>
#include <latch>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <grp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/backend/storage/test_files.h"

namespace leasefs::backend::storage {
namespace {

namespace fs = std::filesystem;
using sdk::Code;
using sdk::StorageOp;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

// Runs SQL on a file with plain SQLite, outside leasefs.
void raw_exec(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

// One integer from plain SQLite, read-only.
std::int64_t raw_int(const fs::path& file, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::int64_t value = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

std::unique_ptr<SqliteStorage> open_ok(const fs::path& file, SqliteOptions options = {}) {
  auto storage = SqliteStorage::open(file, options);
  EXPECT_TRUE(storage) << storage.error().message();
  return storage ? std::move(*storage) : nullptr;
}

// Fills a storage file with `count` entries of `value_size` bytes and closes it.
void fill(const fs::path& file, int count, std::size_t value_size) {
  auto storage = open_ok(file);
  ASSERT_NE(storage, nullptr);
  std::vector<StorageOp> ops;
  for (int i = 0; i < count; ++i) {
    ops.push_back(StorageOp::put("fill/" + std::to_string(i), std::string(value_size, 'v')));
  }
  ASSERT_TRUE(storage->apply(ops));
}

// Expects open() to fail with `code`, naming the file and saying `problem`, and the
// file's bytes to be exactly what they were.
void expect_refused(const fs::path& file, Code code, std::string_view problem,
                    SqliteOptions options = {}) {
  std::string before = read_bytes(file);
  auto storage = SqliteStorage::open(file, options);
  ASSERT_FALSE(storage);
  EXPECT_EQ(storage.error().code(), code) << storage.error().message();
  EXPECT_NE(storage.error().message().find(file.string()), std::string::npos)
      << storage.error().message();
  EXPECT_NE(storage.error().message().find(problem), std::string::npos)
      << storage.error().message();
  EXPECT_EQ(read_bytes(file), before) << "the refused file was modified";
}

class SqliteStorageTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }
  fs::path db() const { return dir_ / "leasefs.db"; }
  TempDir dir_;
};

TEST_F(SqliteStorageTest, CreatesAWalFileWithLeasefsIds) {
  {
    auto storage = open_ok(db());
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->file(), db());
    ASSERT_TRUE(storage->put("k", "v"));
  }
  // A clean close checkpoints and removes the WAL.
  EXPECT_FALSE(fs::exists(db().string() + "-wal"));
  EXPECT_EQ(fs::status(db()).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(raw_int(db(), "PRAGMA application_id"), SqliteStorage::kApplicationId);
  EXPECT_EQ(raw_int(db(), "PRAGMA user_version"), SqliteStorage::kSchemaVersion);
  // Bytes 18 and 19 of the header are 2 for a WAL database.
  std::string bytes = read_bytes(db());
  ASSERT_GE(bytes.size(), 100u);
  EXPECT_EQ(bytes[18], 2);
  EXPECT_EQ(bytes[19], 2);
}

TEST_F(SqliteStorageTest, DataSurvivesReopen) {
  {
    auto storage = open_ok(db());
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->put("a/1", std::string("x\0y", 3)));
    ASSERT_TRUE(storage->put("a/2", ""));
    ASSERT_TRUE(storage->put("b", "gone soon"));
    ASSERT_TRUE(storage->remove("b"));
    std::vector<StorageOp> ops{StorageOp::put("c/d/e", "f")};
    ASSERT_TRUE(storage->apply(ops));
  }
  for (auto check : {IntegrityCheck::kQuick, IntegrityCheck::kStructure}) {
    auto storage =
        open_ok(db(), SqliteOptions{.create_if_missing = false, .integrity_check = check});
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->get("a/1").value(), std::string("x\0y", 3));
    EXPECT_EQ(storage->get("a/2").value(), "");
    EXPECT_EQ(storage->get("b").value(), std::nullopt);
    EXPECT_EQ(storage->list("").value(), (std::vector<std::string>{"a/", "c/"}));
    EXPECT_EQ(storage->list("c/d/").value(), std::vector<std::string>{"e"});
  }
}

TEST_F(SqliteStorageTest, SecondOpenInThisProcessIsRefused) {
  auto first = open_ok(db());
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->put("k", "v"));
  auto second = SqliteStorage::open(db());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(second.error().message().find("already open"), std::string::npos);
  // Also through another name for the same file.
  fs::create_hard_link(db(), dir_ / "alias.db");
  second = SqliteStorage::open(dir_ / "alias.db");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Code::kFailedPrecondition);
  // The first one is undisturbed.
  ASSERT_TRUE(first->put("k2", "v2"));
  EXPECT_EQ(first->get("k").value(), "v");
  first.reset();
  // Once closed, it opens again.
  EXPECT_NE(open_ok(db()), nullptr);
}

TEST_F(SqliteStorageTest, SecondProcessIsRefused) {
  auto first = open_ok(db());
  ASSERT_NE(first, nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto second = SqliteStorage::open(db());
    int code = 0;
    if (second) {
      code = 1;
    } else if (second.error().code() != Code::kFailedPrecondition) {
      code = 2;
    } else if (second.error().message().find("in use by another leasefs process") ==
               std::string::npos) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: opened, 2: wrong code, 3: wrong message";
  ASSERT_TRUE(first->put("still", "mine"));
  EXPECT_EQ(first->get("still").value(), "mine");
}

TEST_F(SqliteStorageTest, RefusesGarbage) {
  std::mt19937 rng(42);
  std::string garbage(64 * 1024, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  write_bytes(db(), garbage);
  expect_refused(db(), Code::kDataLoss, "not a SQLite database");
  EXPECT_FALSE(fs::exists(db().string() + "-wal"));
  EXPECT_FALSE(fs::exists(db().string() + "-journal"));

  write_bytes(db(), "hello\n");  // shorter than a header
  expect_refused(db(), Code::kDataLoss, "not a SQLite database");
}

TEST_F(SqliteStorageTest, RefusesGarbageBehindAValidMagic) {
  std::string bytes("SQLite format 3\0", 16);
  bytes += std::string(8192, '\x5a');
  write_bytes(db(), bytes);
  expect_refused(db(), Code::kDataLoss, "is corrupt");
}

TEST_F(SqliteStorageTest, RefusesATruncatedFile) {
  fill(db(), 3000, 300);
  auto size = fs::file_size(db());
  ASSERT_GT(size, 500'000u);
  fs::resize_file(db(), size / 2);
  expect_refused(db(), Code::kDataLoss, "is corrupt");
  expect_refused(db(), Code::kDataLoss, "is corrupt",
                 SqliteOptions{.integrity_check = IntegrityCheck::kStructure});
}

TEST_F(SqliteStorageTest, RefusesACorruptPage) {
  fill(db(), 3000, 300);
  std::string bytes = read_bytes(db());
  // Scribble over a page in the middle (pages are 4 KiB; page 1 is the header).
  for (std::size_t i = 0; i < 4096; ++i) bytes[bytes.size() / 2 / 4096 * 4096 + i] = '\x77';
  write_bytes(db(), bytes);
  expect_refused(db(), Code::kDataLoss, "corrupt");
}

TEST_F(SqliteStorageTest, RefusesADirectory) {
  fs::create_directory(db());
  auto storage = SqliteStorage::open(db());
  ASSERT_FALSE(storage);
  EXPECT_EQ(storage.error().code(), Code::kInvalidArgument);
  EXPECT_NE(storage.error().message().find(db().string()), std::string::npos);
  EXPECT_NE(storage.error().message().find("is a directory"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(db()));
}

TEST_F(SqliteStorageTest, MissingDirectoryOrFile) {
  fs::path nested = dir_ / "no" / "such" / "leasefs.db";
  auto storage = SqliteStorage::open(nested);
  ASSERT_FALSE(storage);
  EXPECT_EQ(storage.error().code(), Code::kNotFound);
  EXPECT_NE(storage.error().message().find(nested.string()), std::string::npos);
  EXPECT_NE(storage.error().message().find("does not exist"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "no"));

  storage = SqliteStorage::open(db(), SqliteOptions{.create_if_missing = false});
  ASSERT_FALSE(storage);
  EXPECT_EQ(storage.error().code(), Code::kNotFound);
  EXPECT_NE(storage.error().message().find("does not exist"), std::string::npos);
  EXPECT_FALSE(fs::exists(db()));
}

TEST_F(SqliteStorageTest, RefusesAnUnreadableFile) {
  fill(db(), 10, 10);
  ASSERT_EQ(::chmod(db().c_str(), 0000), 0);
  std::string before;
  {
    ::chmod(db().c_str(), 0600);
    before = read_bytes(db());
    ::chmod(db().c_str(), 0000);
  }
  if (::geteuid() != 0) {
    auto storage = SqliteStorage::open(db());
    ASSERT_FALSE(storage);
    EXPECT_EQ(storage.error().code(), Code::kPermissionDenied);
    EXPECT_NE(storage.error().message().find(db().string()), std::string::npos);
  } else {
    // Root reads anything; check as an unprivileged user in a child process.
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
        ::_exit(9);
      }
      auto storage = SqliteStorage::open(db());
      int code = 0;
      if (storage) {
        code = 1;
      } else if (storage.error().code() != Code::kPermissionDenied) {
        code = 2;
      } else if (storage.error().message().find(db().string()) == std::string::npos) {
        code = 3;
      }
      ::_exit(code);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: opened, 2: wrong code, 3: unnamed, 9: no setuid";
  }
  ::chmod(db().c_str(), 0600);
  EXPECT_EQ(read_bytes(db()), before);
}

TEST_F(SqliteStorageTest, RefusesAnotherApplicationsDatabase) {
  raw_exec(db(),
           "PRAGMA application_id = 305419896;"  // 0x12345678
           "CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
           "INSERT INTO entries VALUES ('a', x'00');");
  expect_refused(db(), Code::kFailedPrecondition, "another application");
  expect_refused(db(), Code::kFailedPrecondition, "0x12345678");
  EXPECT_FALSE(fs::exists(db().string() + "-wal"));
  EXPECT_FALSE(fs::exists(db().string() + "-journal"));

  // No application id at all, but data in it: not ours either.
  fs::remove(db());
  raw_exec(db(), "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  expect_refused(db(), Code::kFailedPrecondition, "another application");
}

// A database whose writer died mid-transaction has a hot rollback journal. Vetting reads
// through a read-only connection, which cannot roll it back: refuse, touching nothing.
TEST_F(SqliteStorageTest, RefusesAHotJournalWithoutTouchingIt) {
  raw_exec(db(), "CREATE TABLE t (x BLOB); INSERT INTO t VALUES (zeroblob(100));");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A transaction bigger than the page cache spills pages into the file, then the
    // process dies without committing.
    sqlite3* raw = nullptr;
    if (sqlite3_open(db().c_str(), &raw) != SQLITE_OK) ::_exit(2);
    const char* sql =
        "PRAGMA cache_size = 5; BEGIN;"
        "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)"
        "INSERT INTO t SELECT zeroblob(1000) FROM c;";
    ::_exit(sqlite3_exec(raw, sql, nullptr, nullptr, nullptr) == SQLITE_OK ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(fs::exists(db().string() + "-journal"));
  std::string journal = read_bytes(db().string() + "-journal");
  expect_refused(db(), Code::kFailedPrecondition, "interrupted transaction");
  EXPECT_EQ(read_bytes(db().string() + "-journal"), journal);
}

TEST_F(SqliteStorageTest, RefusesANewerSchema) {
  fill(db(), 5, 5);
  raw_exec(db(), "PRAGMA user_version = 2;");
  expect_refused(db(), Code::kFailedPrecondition, "newer leasefs");
}

TEST_F(SqliteStorageTest, InitializesAnEmptyFile) {
  write_bytes(db(), "");
  auto storage = open_ok(db(), SqliteOptions{.create_if_missing = false});
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->put("k", "v"));
}

TEST_F(SqliteStorageTest, RejectsBadOptions) {
  auto storage = SqliteStorage::open(db(), SqliteOptions{.read_connections = 0});
  ASSERT_FALSE(storage);
  EXPECT_EQ(storage.error().code(), Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(db()));
}

// A group whose transaction fails must still give each caller its own result: the
// writer waits for all eight calls (commit_delay, max_group_writes), one of which
// cannot fit in the size limit; the seven others succeed.
TEST_F(SqliteStorageTest, GroupCommitGivesEachCallerItsOwnResult) {
  constexpr int kCallers = 8;
  auto storage = open_ok(db(), SqliteOptions{.commit_delay = std::chrono::seconds(5),
                                             .max_group_writes = kCallers,
                                             .max_file_bytes = 256 * 1024});
  ASSERT_NE(storage, nullptr);
  for (int round = 0; round < 3; ++round) {
    std::vector<sdk::Result<void>> results(kCallers);
    std::latch start(kCallers);
    std::vector<std::thread> threads;
    for (int i = 0; i < kCallers; ++i) {
      threads.emplace_back([&, i] {
        std::string key = "r" + std::to_string(round) + "/c" + std::to_string(i);
        start.arrive_and_wait();
        if (i == 3) {
          results[i] = storage->put(key, std::string(1 << 20, 'x'));  // over the limit
        } else if (i == 5) {
          std::vector<StorageOp> ops{StorageOp::put(key + "/small", "s"),
                                     StorageOp::put(key + "/big", std::string(1 << 20, 'y'))};
          results[i] = storage->apply(ops);  // all or nothing
        } else {
          results[i] = storage->put(key, "small");
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kCallers; ++i) {
      std::string key = "r" + std::to_string(round) + "/c" + std::to_string(i);
      if (i == 3 || i == 5) {
        ASSERT_FALSE(results[i]) << i;
        EXPECT_EQ(results[i].error().code(), Code::kResourceExhausted)
            << results[i].error().message();
        EXPECT_EQ(storage->get(key).value(), std::nullopt);
        EXPECT_EQ(storage->get(key + "/small").value(), std::nullopt);
      } else {
        EXPECT_TRUE(results[i]) << i << ": " << results[i].error().message();
        EXPECT_EQ(storage->get(key).value(), "small");
      }
    }
  }
  auto stats = storage->stats();
  EXPECT_EQ(stats.writes, 3u * kCallers);
  EXPECT_LT(stats.transactions, stats.writes);  // the groups did form
}

// A caller whose write no commit reaches within write_timeout gets kUnavailable and its
// write is never applied. Here the leader holds its group open for commit_delay (1 s),
// far past the other caller's 100 ms.
TEST_F(SqliteStorageTest, WriteTimeoutLeavesTheWriteUnapplied) {
  auto storage = open_ok(db(), SqliteOptions{.write_timeout = std::chrono::milliseconds(100),
                                             .commit_delay = std::chrono::seconds(1),
                                             .max_group_writes = 100});
  ASSERT_NE(storage, nullptr);
  std::vector<sdk::Result<void>> results(2);
  std::latch start(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = storage->put("k" + std::to_string(i), "v");
    });
  }
  for (auto& t : threads) t.join();
  int failed = results[0] ? 1 : 0;
  ASSERT_NE(static_cast<bool>(results[0]), static_cast<bool>(results[1]));
  EXPECT_EQ(results[failed].error().code(), Code::kUnavailable);
  EXPECT_NE(results[failed].error().message().find("not applied"), std::string::npos);
  EXPECT_EQ(storage->get("k" + std::to_string(failed)).value(), std::nullopt);
  EXPECT_EQ(storage->get("k" + std::to_string(1 - failed)).value(), "v");
}

TEST_F(SqliteStorageTest, ManyReadersShareASmallPool) {
  auto storage = open_ok(db(), SqliteOptions{.read_connections = 1});
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->put("k", "v"));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto v = storage->get("k");
        if (!v || *v != "v") ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace leasefs::backend::storage
