// SqliteStorage: the default server storage, one SQLite file (WAL, synchronous=FULL,
// table `entries(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID`).
//
// Why it is shaped this way:
// - Durable writes cost an fsync each, so concurrent put/remove/apply calls are
//   grouped: they queue up, and the first caller that finds no commit in progress
//   commits everything queued in one transaction on the one writer connection (each
//   caller's ops inside its own SAVEPOINT), then wakes the others once it is durable.
//   If a grouped transaction fails as a whole, each member is retried alone so every
//   caller gets its own true result.
// - Reads go through a small pool of read-only connections, which WAL lets run while
//   the writer commits.
// - One file must be served by one process: open() takes flock(LOCK_EX) on the file
//   through a descriptor that stays open until every SQLite connection is closed
//   (closing any descriptor of the file drops SQLite's own POSIX locks, so it must be
//   the last one closed).
// - A file that is not ours (not SQLite, another application's database, a newer
//   schema, truncated or corrupt) is refused with an error naming the file and the
//   problem, before anything is written to it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/status.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::storage {

// How much of an existing file open() reads to convince itself the file is sound.
// Damage that open() does not look for still surfaces as kDataLoss on the read that
// meets it (SQLite checks each page it loads), and values are authenticated by the
// barrier above.
enum class IntegrityCheck {
  // kQuick for files (with their WAL) up to kAutoQuickCheckLimit, kStructure above:
  // open() stays within a couple of seconds however big the file grows.
  kAuto,
  // PRAGMA quick_check: reads every page, so its cost grows with the file. Measured on
  // the development machine (1M entries of 200 bytes, 255 MiB): 0.25 s with the file
  // in the page cache, 3.4 s cold.
  kQuick,
  // Header, application id, schema version, schema, that the file is as long as its
  // header says (SQLite checks that on the first read), and a walk down both edges of
  // the key index. About a millisecond at any size.
  kStructure,
};

// Where kAuto stops running quick_check: about 1.7 s of cold reads at the rate above.
inline constexpr std::uint64_t kAutoQuickCheckLimit = 128ull << 20;

struct SqliteOptions {
  // Create the file (mode 0600) when it does not exist; otherwise kNotFound.
  bool create_if_missing = true;
  // Read-only connections in the pool (>= 1). Reads beyond this many wait.
  std::size_t read_connections = 4;
  // Bound on every wait for a SQLite lock or a free read connection; past it the call
  // fails with kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
  // Bound on how long put/remove/apply wait for their commit. Past it they fail with
  // kUnavailable when the write had not started (and never will), or
  // kDeadlineExceeded when it had started and may or may not have been applied.
  std::chrono::milliseconds write_timeout{30000};
  // Extra time a committing caller waits for more writes to join its group.
  // Zero (the default) commits at once; groups form from the writes that queue up
  // while the previous commit is being synced.
  std::chrono::microseconds commit_delay{0};
  // Most calls committed in one transaction (>= 1).
  std::size_t max_group_writes = 512;
  // When non-zero, the database may not grow past about this many bytes; writes that
  // would fail with kResourceExhausted.
  std::uint64_t max_file_bytes = 0;
  IntegrityCheck integrity_check = IntegrityCheck::kAuto;
};

class SqliteStorage final : public sdk::Storage {
 public:
  // Stored as PRAGMA application_id ("LFSL"), so a leasefs file is recognizable.
  static constexpr std::int32_t kApplicationId = 0x4C46534C;
  // Stored as PRAGMA user_version. Files with a newer version are refused.
  static constexpr int kSchemaVersion = 1;

  // Counters since open(), for benchmarks and tests.
  struct Stats {
    std::uint64_t writes = 0;        // put/remove/apply calls that reached the writer
    std::uint64_t transactions = 0;  // committed transactions
    std::uint64_t split_groups = 0;  // groups that failed and were retried one by one
  };

  // Opens (or creates) the storage file. Errors name the file and say what is wrong:
  // kNotFound (file or its directory missing), kInvalidArgument (a directory or other
  // non-regular file; bad options), kPermissionDenied (not readable and writable),
  // kFailedPrecondition (in use by another process or already open in this one;
  // another application's SQLite database; a newer schema version), kDataLoss (not a
  // SQLite file, truncated, corrupt), kUnavailable (I/O errors, lock timeouts). On
  // error nothing in the file has been written. Thread-safe.
  static sdk::Result<std::unique_ptr<SqliteStorage>> open(const std::filesystem::path& file,
                                                          SqliteOptions options = {});

  // Closes every connection (the last one checkpoints the WAL into the file and
  // removes it), then releases the file. No call may be in progress or start during
  // destruction.
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  // The sdk::Storage methods. All are thread-safe; writes return once committed and
  // synced (or with an error, in which case that call's ops were not applied — except
  // kDeadlineExceeded, which says the outcome is unknown). Invalid keys or prefixes
  // give sdk::validate_key's error. SQLite errors map to: busy/locked -> kUnavailable,
  // corrupt -> kDataLoss, full -> kResourceExhausted, too big -> kTooLarge, I/O ->
  // kUnavailable. Messages name the file, never a value.
  sdk::Result<std::optional<std::string>> get(std::string_view key) override;
  sdk::Result<void> put(std::string_view key, std::string_view value) override;
  sdk::Result<void> remove(std::string_view key) override;
  sdk::Result<std::vector<std::string>> list(std::string_view prefix) override;
  // Reads from one snapshot of the file; `after` may not contain control bytes.
  sdk::Result<std::vector<std::string>> list_page(std::string_view prefix, std::string_view after,
                                                  std::size_t limit) override;
  sdk::Result<void> apply(std::span<const sdk::StorageOp> ops) override;

  const std::filesystem::path& file() const;
  Stats stats() const;

 private:
  class Impl;
  explicit SqliteStorage(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace leasefs::backend::storage
