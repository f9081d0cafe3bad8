// storage_bench: durable writes per second of SqliteStorage (one writer, and N
// concurrent writers sharing group commits), next to baselines measured in the same run
// on the same filesystem: the fsync floor (append 1 KiB + fdatasync to a plain file),
// and plain SQLite with WAL + synchronous=FULL doing one INSERT per transaction (the
// naive approach), from one thread and from N threads with a connection each.
// Optionally (--check-rows) also the cost of open()'s integrity check on a big file.
//
// The SQLite files are warmed up first (one transaction big enough to wrap the WAL) so
// commits measure the steady state, where WAL blocks are reused rather than appended.
//
//   storage_bench [--seconds 5] [--rounds 5] [--writers 8] [--value-bytes 1024] [--dir /tmp]
//                 [--check-rows 1000000] [--check-value-bytes 200]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/storage/sqlite_storage.h"

namespace {

namespace fs = std::filesystem;
using leasefs::backend::storage::IntegrityCheck;
using leasefs::backend::storage::SqliteOptions;
using leasefs::backend::storage::SqliteStorage;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "storage_bench: %s\n", message.c_str());
  std::exit(1);
}

// Runs `op(thread, i)` from `threads` threads until `seconds` pass; returns ops/s.
double run_for(double seconds, int threads, const std::function<bool(int, long)>& op) {
  std::atomic<long> total{0};
  std::atomic<bool> failed{false};
  auto start = Clock::now();
  auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      long i = 0;
      while (Clock::now() < deadline) {
        if (!op(t, i)) {
          failed = true;
          return;
        }
        ++i;
      }
      total += i;
    });
  }
  for (auto& th : pool) th.join();
  if (failed) die("an operation failed during the measurement");
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(total.load()) / elapsed;
}

// One row of the table: set up once, measured in several interleaved rounds.
class Subject {
 public:
  explicit Subject(std::string name) : name_(std::move(name)) {}
  virtual ~Subject() = default;
  const std::string& name() const { return name_; }
  // Durable writes per second over `seconds`; `round` keeps keys of rounds apart.
  virtual double run(double seconds, int round) = 0;
  virtual std::string note() const { return ""; }

 private:
  std::string name_;
};

// fdatasync after each 1 KiB write to a plain file: appending (every sync also
// commits the file's new size to the filesystem journal), or overwriting a
// preallocated region in place (what SQLite's WAL does once it has wrapped).
class FsyncFloor final : public Subject {
 public:
  FsyncFloor(const fs::path& file, const std::string& value, bool append)
      : Subject(append ? "fsync floor: append+fdatasync" : "fsync floor: overwrite+fdatasync"),
        value_(value),
        append_(append) {
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) die("cannot create " + file.string());
    if (!append_) {
      std::string zeros(kRegion, '\0');
      if (::pwrite(fd_, zeros.data(), zeros.size(), 0) != static_cast<ssize_t>(zeros.size()) ||
          ::fsync(fd_) != 0) {
        die("cannot preallocate " + file.string());
      }
    }
  }
  ~FsyncFloor() override { ::close(fd_); }

  double run(double seconds, int) override {
    return run_for(seconds, 1, [&](int, long) {
      if (!append_ && offset_ + value_.size() > kRegion) offset_ = 0;
      if (::pwrite(fd_, value_.data(), value_.size(), offset_) !=
          static_cast<ssize_t>(value_.size())) {
        return false;
      }
      offset_ += static_cast<off_t>(value_.size());
      return ::fdatasync(fd_) == 0;
    });
  }

 private:
  static constexpr std::size_t kRegion = 4 << 20;
  std::string value_;
  bool append_;
  int fd_ = -1;
  off_t offset_ = 0;
};

// Writes enough in one transaction through `exec` that the WAL passes its 1000-page
// checkpoint mark: later commits then reuse WAL blocks (the steady state of a server)
// instead of growing the file.
constexpr int kWarmupRows = 1100;
constexpr std::size_t kWarmupValue = 4000;

// Plain SQLite, WAL + synchronous=FULL, one INSERT per transaction (autocommit), one
// connection per thread.
class NaiveSqlite final : public Subject {
 public:
  NaiveSqlite(const fs::path& file, int threads, const std::string& value)
      : Subject(threads == 1 ? "naive sqlite, 1 thread"
                             : "naive sqlite, " + std::to_string(threads) + " threads"),
        threads_(threads),
        value_(value) {
    sqlite3* setup = open_connection(file);
    sqlite3_exec(setup, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* stmt = prepare(setup);
    std::string big(kWarmupValue, 'w');
    for (int i = 0; i < kWarmupRows; ++i) {
      std::string key = "warmup/" + std::to_string(i);
      sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
      sqlite3_bind_blob(stmt, 2, big.data(), static_cast<int>(big.size()), SQLITE_STATIC);
      if (sqlite3_step(stmt) != SQLITE_DONE) die("naive warm-up failed");
      sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    if (sqlite3_exec(setup, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) die("warm-up");
    sqlite3_close(setup);
    for (int t = 0; t < threads; ++t) {
      dbs_.push_back(open_connection(file));
      stmts_.push_back(prepare(dbs_.back()));
    }
  }
  ~NaiveSqlite() override {
    for (auto* stmt : stmts_) sqlite3_finalize(stmt);
    for (auto* db : dbs_) sqlite3_close(db);
  }

  double run(double seconds, int round) override {
    return run_for(seconds, threads_, [&](int t, long i) {
      sqlite3_stmt* stmt = stmts_[static_cast<std::size_t>(t)];
      std::string key =
          "bench/r" + std::to_string(round) + "/t" + std::to_string(t) + "/" + std::to_string(i);
      sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
      sqlite3_bind_blob(stmt, 2, value_.data(), static_cast<int>(value_.size()), SQLITE_STATIC);
      int rc = sqlite3_step(stmt);
      sqlite3_reset(stmt);
      return rc == SQLITE_DONE;
    });
  }
  std::string note() const override { return "1 INSERT per txn, 1 connection per thread"; }

 private:
  static sqlite3* open_connection(const fs::path& file) {
    sqlite3* db = nullptr;
    if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) die("cannot open " + file.string());
    sqlite3_busy_timeout(db, 30000);
    const char* setup =
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
        "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value BLOB NOT NULL) "
        "WITHOUT ROWID;";
    if (sqlite3_exec(db, setup, nullptr, nullptr, nullptr) != SQLITE_OK) {
      die(std::string("naive setup: ") + sqlite3_errmsg(db));
    }
    return db;
  }
  static sqlite3_stmt* prepare(sqlite3* db) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO entries VALUES (?1, ?2)", -1, &stmt,
                           nullptr) != SQLITE_OK) {
      die("naive prepare");
    }
    return stmt;
  }

  int threads_;
  std::string value_;
  std::vector<sqlite3*> dbs_;
  std::vector<sqlite3_stmt*> stmts_;
};

// SqliteStorage::put from `threads` threads.
class LeasefsPuts final : public Subject {
 public:
  LeasefsPuts(const fs::path& file, int threads, const std::string& value)
      : Subject(threads == 1 ? "leasefs put, 1 writer"
                             : "leasefs put, " + std::to_string(threads) + " writers"),
        threads_(threads),
        value_(value) {
    auto storage = SqliteStorage::open(file);
    if (!storage) die(storage.error().message());
    storage_ = std::move(*storage);
    std::vector<leasefs::backend::sdk::StorageOp> ops;
    for (int i = 0; i < kWarmupRows; ++i) {
      ops.push_back(leasefs::backend::sdk::StorageOp::put("warmup/" + std::to_string(i),
                                                          std::string(kWarmupValue, 'w')));
    }
    if (!storage_->apply(ops)) die("leasefs warm-up failed");
    warmup_ = storage_->stats();
  }

  double run(double seconds, int round) override {
    return run_for(seconds, threads_, [&](int t, long i) {
      auto r = storage_->put(
          "bench/r" + std::to_string(round) + "/t" + std::to_string(t) + "/" + std::to_string(i),
          value_);
      if (!r) std::fprintf(stderr, "put: %s\n", r.error().message().c_str());
      return r.has_value();
    });
  }
  std::string note() const override {
    auto stats = storage_->stats();
    double writes = static_cast<double>(stats.writes - warmup_.writes);
    double commits = static_cast<double>(stats.transactions - warmup_.transactions);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f writes per commit", commits > 0 ? writes / commits : 0);
    return buf;
  }

 private:
  int threads_;
  std::string value_;
  std::unique_ptr<SqliteStorage> storage_;
  SqliteStorage::Stats warmup_;
};

// Builds a storage file of `rows` entries and times open() with each integrity check.
void measure_open_check(const fs::path& dir, std::size_t rows, std::size_t value_bytes) {
  fs::path file = dir / "check.db";
  { auto created = SqliteStorage::open(file); }
  sqlite3* db = nullptr;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) die("cannot open " + file.string());
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO entries VALUES (?1, ?2)", -1, &stmt, nullptr);
  std::string value(value_bytes, 'v');
  for (std::size_t i = 0; i < rows; ++i) {
    char key[64];
    int n = std::snprintf(key, sizeof key, "leases/%03zu/%09zu", i % 997, i);
    sqlite3_bind_text(stmt, 1, key, n, SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE) die("filling the check file failed");
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  double mib = static_cast<double>(fs::file_size(file)) / (1024.0 * 1024.0);
  std::printf("\nopen() of a file with %zu entries of %zu bytes (%.0f MiB):\n", rows, value_bytes,
              mib);
  // Cold: the file's pages are dropped from the page cache first (fadvise DONTNEED).
  auto evict = [&file] {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open " + file.string());
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  };
  struct Case {
    IntegrityCheck check;
    bool cold;
    const char* name;
  };
  for (const Case& c : {Case{IntegrityCheck::kQuick, true, "quick_check, cold"},
                        Case{IntegrityCheck::kQuick, false, "quick_check, warm"},
                        Case{IntegrityCheck::kStructure, true, "structure, cold"},
                        Case{IntegrityCheck::kAuto, true, "auto (the default), cold"}}) {
    if (c.cold) evict();
    auto start = Clock::now();
    auto storage = SqliteStorage::open(file, SqliteOptions{.integrity_check = c.check});
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!storage) die(storage.error().message());
    std::printf("  %-26s %9.1f ms\n", c.name, ms);
  }
  fs::remove(file);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int rounds = 5;
  int writers = 8;
  std::size_t value_bytes = 1024;
  std::string base_dir = "/tmp";
  std::size_t check_rows = 0;
  std::size_t check_value_bytes = 200;
  CLI::App app("Durable write throughput of SqliteStorage against same-run baselines");
  app.add_option("--seconds", seconds, "Total length of each measurement")
      ->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "Interleaved rounds each measurement is split into")
      ->check(CLI::Range(1, 100));
  app.add_option("--writers", writers, "Concurrent writers in the multi-writer runs")
      ->check(CLI::Range(1, 256));
  app.add_option("--value-bytes", value_bytes, "Size of each written value");
  app.add_option("--dir", base_dir, "Directory for the temporary files")
      ->check(CLI::ExistingDirectory);
  app.add_option("--check-rows", check_rows,
                 "Also time open()'s integrity check on a file of this many entries");
  app.add_option("--check-value-bytes", check_value_bytes, "Value size for --check-rows");
  CLI11_PARSE(app, argc, argv);

  std::string pattern = (fs::path(base_dir) / "leasefs-storage-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) die("cannot create a directory under " + base_dir);
  fs::path dir = pattern;
  std::string value(value_bytes, '\0');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 7 + 3);

  std::printf(
      "storage_bench: %zu-byte values, %d interleaved rounds of %.1f s each, files in "
      "%s\n",
      value_bytes, rounds, seconds / rounds, dir.c_str());
  std::vector<std::unique_ptr<Subject>> subjects;
  subjects.push_back(std::make_unique<FsyncFloor>(dir / "append.bin", value, true));
  subjects.push_back(std::make_unique<FsyncFloor>(dir / "overwrite.bin", value, false));
  subjects.push_back(std::make_unique<NaiveSqlite>(dir / "naive1.db", 1, value));
  subjects.push_back(std::make_unique<NaiveSqlite>(dir / "naiveN.db", writers, value));
  subjects.push_back(std::make_unique<LeasefsPuts>(dir / "leasefs1.db", 1, value));
  subjects.push_back(std::make_unique<LeasefsPuts>(dir / "leasefsN.db", writers, value));
  enum { kAppend, kOverwrite, kNaive1, kNaiveN, kLeasefs1, kLeasefsN };

  // Rounds interleave the subjects, so a drift in the disk's speed hits all of them.
  std::vector<std::vector<double>> rates(subjects.size());
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t s = 0; s < subjects.size(); ++s) {
      rates[s].push_back(subjects[s]->run(seconds / rounds, round));
    }
  }
  std::vector<double> median;
  for (auto& r : rates) {
    std::sort(r.begin(), r.end());
    median.push_back(r[r.size() / 2]);
  }

  std::printf("\n%-34s %10s %10s %10s   %s\n", "durable writes (median of rounds)", "ops/s",
              "vs naive", "min..max", "");
  for (std::size_t s = 0; s < subjects.size(); ++s) {
    std::printf("%-34s %10.0f %9.2fx %5.0f..%-6.0f %s\n", subjects[s]->name().c_str(), median[s],
                median[s] / median[kNaive1], rates[s].front(), rates[s].back(),
                subjects[s]->note().c_str());
  }
  std::printf("\nratios: leasefs 1 writer / naive 1 thread        %6.2fx\n",
              median[kLeasefs1] / median[kNaive1]);
  std::printf("        leasefs %d writers / naive 1 thread       %6.2fx\n", writers,
              median[kLeasefsN] / median[kNaive1]);
  std::printf("        leasefs %d writers / naive %d threads      %6.2fx\n", writers, writers,
              median[kLeasefsN] / median[kNaiveN]);
  std::printf("        leasefs %d writers / leasefs 1 writer     %6.2fx\n", writers,
              median[kLeasefsN] / median[kLeasefs1]);
  std::printf("        leasefs 1 writer / overwrite fsync floor  %6.2fx\n",
              median[kLeasefs1] / median[kOverwrite]);
  subjects.clear();

  if (check_rows > 0) measure_open_check(dir, check_rows, check_value_bytes);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
