// The SQLite backend: opening and vetting the file, the exclusive-use lock, the pool of
// read connections, and group commit of writes.
#include "backend/storage/sqlite_storage.h"
#include <utility>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <concepts>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <mutex>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/storage/one_level_walk.h"

namespace leasefs::backend::storage {
namespace {

namespace fs = std::filesystem;
using sdk::Code;
using sdk::Result;
using sdk::Status;

constexpr std::string_view kSqliteMagic{"SQLite format 3\0", 16};
constexpr std::size_t kSqliteHeaderSize = 100;
// SQLite's default SQLITE_MAX_LENGTH bounds a row; larger values cannot be stored.
constexpr std::size_t kMaxValueBytes = 1'000'000'000;
// Page caches (negative: KiB, allocated as pages are used). SQLite's default of 2 MB
// per connection is a few thousand pages: with a million leases and tokens stored, every
// lookup of a random key (they are hashes and random ids) missed it and read its leaf
// page from the kernel again. The writer touches the most pages (each revocation
// deletes several keys); the four readers share the rest.
// The writer also checkpoints the WAL every 8000 pages (~32 MB) instead of 1000: keys
// are random, so a batch of deletes dirties a leaf page per key, and at 1000 pages an
// expiry storm checkpointed after every few commits, copying each page twice (WAL, then
// the database file). Together these took a 100,000-token expiry storm from 36 s to
// 27 s (bench/lease_storm_bench.sh).
constexpr const char* kWriterTuningSql =
    "PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 8000";
constexpr const char* kReaderCacheSql = "PRAGMA cache_size = -16384";

// A stand-in for std::format, which g++ 12 lacks: each "{}" in `pattern` becomes the
// next argument (text or an integer).
std::string to_text(std::string_view text) {
  return std::string(text);
}
template <class T>
requires std::integral<T> std::string to_text(T number) {
  return std::to_string(number);
}
template <class... Args>
std::string fmt(std::string_view pattern, const Args&... args) {
  std::vector<std::string> parts{to_text(args)...};
  std::string out;
  std::size_t next = 0;
  while (!pattern.empty()) {
    auto hole = pattern.find("{}");
    out += pattern.substr(0, hole);
    if (hole == std::string_view::npos) break;
    if (next < parts.size()) out += parts[next++];
    pattern.remove_prefix(hole + 2);
  }
  return out;
}

std::string hex32(std::uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", value);
  return buf;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// The canonical code for a SQLite result code (primary or extended).
Code code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return Code::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Code::kDataLoss;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return Code::kResourceExhausted;
    case SQLITE_TOOBIG:
      return Code::kTooLarge;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Code::kPermissionDenied;
    case SQLITE_READONLY:
      return Code::kFailedPrecondition;
    default:
      return Code::kInternal;
  }
}

// Binds text or bytes without ever binding NULL for an empty view (SQLite turns a null
// pointer into SQL NULL).
int bind_text(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text(stmt, index, text.empty() ? "" : text.data(),
                           static_cast<int>(text.size()), SQLITE_TRANSIENT);
}
int bind_blob(sqlite3_stmt* stmt, int index, std::string_view bytes) {
  return sqlite3_bind_blob(stmt, index, bytes.empty() ? "" : bytes.data(),
                           static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

// Resets a statement when the scope ends, so it holds no read snapshot or lock.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { sqlite3_reset(stmt_); }

 private:
  sqlite3_stmt* stmt_;
};

// One SQLite connection and the statements prepared on it. Statements are finalized
// before the connection closes; the close is checked so no connection outlives it.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { close(); }

  // Opens `file` with `flags` (SQLITE_OPEN_READONLY or _READWRITE); `label` names the
  // file in errors.
  static Result<std::unique_ptr<Connection>> open(const fs::path& file, int flags,
                                                  std::string label,
                                                  std::chrono::milliseconds busy_timeout) {
    auto conn = std::make_unique<Connection>();
    conn->label_ = std::move(label);
    int rc = sqlite3_open_v2(file.c_str(), &conn->db_,
                             flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
    if (rc != SQLITE_OK) return sdk::error(conn->failure(rc, "cannot open it"));
    auto ms = std::clamp<std::chrono::milliseconds::rep>(busy_timeout.count(), 1,
                                                         std::numeric_limits<int>::max());
    sqlite3_busy_timeout(conn->db_, static_cast<int>(ms));
    return conn;
  }

  sqlite3* db() const { return db_; }
  const std::string& label() const { return label_; }

  // A Status for a failed SQLite call: "<label>: <what>: <SQLite's message>", or
  // "<label> is corrupt (<what>: <SQLite's message>)" when SQLite found damage.
  Status failure(int rc, std::string_view what) const {
    std::string detail = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    Code code = code_for(rc);
    if (rc == SQLITE_READONLY_ROLLBACK) {
      return Status(Code::kFailedPrecondition,
                    fmt("{} has an interrupted transaction (a hot '-journal' file) that must be "
                        "rolled back before leasefs vets it ({}: {})",
                        label_, what, detail));
    }
    if (code == Code::kDataLoss) {
      return Status(code,
                    fmt("{} is corrupt or not a SQLite database ({}: {})", label_, what, detail));
    }
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
      detail += " (lock wait timed out)";
    }
    return Status(code, fmt("{}: {}: {}", label_, what, detail));
  }

  // Prepares `sql` once for the life of the connection.
  Result<sqlite3_stmt*> prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return sdk::error(failure(rc, "cannot prepare a statement"));
    statements_.push_back(stmt);
    return stmt;
  }

  // Runs SQL that returns no rows needed (pragmas, DDL).
  Result<void> exec(const char* sql, std::string_view what) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sdk::error(failure(rc, what));
    return {};
  }

  // Runs a one-row query and returns its first column as an integer.
  Result<std::int64_t> query_int(const char* sql, std::string_view what) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return sdk::error(failure(rc, what));
    rc = sqlite3_step(stmt);
    std::int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sdk::error(failure(rc, what));
    return value;
  }

  // Runs a one-row query and returns its first column as text ("" when no row).
  Result<std::string> query_text(const char* sql, std::string_view what) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return sdk::error(failure(rc, what));
    rc = sqlite3_step(stmt);
    std::string value;
    if (rc == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      if (text != nullptr) {
        value.assign(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
      }
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sdk::error(failure(rc, what));
    return value;
  }

  // Steps a statement that returns no rows, then resets it. Returns the step's code.
  static int run(sqlite3_stmt* stmt) {
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW ? SQLITE_DONE : rc;
  }

  // True when no transaction is open (SQLite rolled it back, or none was begun).
  bool autocommit() const { return sqlite3_get_autocommit(db_) != 0; }

 private:
  void close() {
    for (auto* stmt : statements_) sqlite3_finalize(stmt);
    statements_.clear();
    if (db_ != nullptr) {
      // Every statement is finalized, so this closes for real (no deferred close that
      // could outlive the flock descriptor).
      sqlite3_close(db_);
      db_ = nullptr;
    }
  }

  sqlite3* db_ = nullptr;
  std::string label_;
  std::vector<sqlite3_stmt*> statements_;
};

// A read-only connection with its cached statements.
struct Reader {
  std::unique_ptr<Connection> conn;
  sqlite3_stmt* get = nullptr;
  sqlite3_stmt* seek_at_or_after = nullptr;
  sqlite3_stmt* seek_after = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* end = nullptr;

  static Result<std::unique_ptr<Reader>> open(const fs::path& file, const std::string& label,
                                              std::chrono::milliseconds busy_timeout) {
    auto reader = std::make_unique<Reader>();
    auto conn = Connection::open(file, SQLITE_OPEN_READONLY, label, busy_timeout);
    LEASEFS_TRY(conn);
    reader->conn = std::move(*conn);
    Connection& c = *reader->conn;
    LEASEFS_TRY(c.exec(kReaderCacheSql, "cannot set the page cache size"));
    auto prepare = [&](sqlite3_stmt*& slot, std::string_view sql) -> Result<void> {
      auto stmt = c.prepare(sql);
      LEASEFS_TRY(stmt);
      slot = *stmt;
      return {};
    };
    LEASEFS_TRY(prepare(reader->get, "SELECT value FROM entries WHERE key = ?1"));
    LEASEFS_TRY(
        prepare(reader->seek_at_or_after, "SELECT key FROM entries WHERE key >= ?1 ORDER BY key"));
    LEASEFS_TRY(prepare(reader->seek_after, "SELECT key FROM entries WHERE key > ?1 ORDER BY key"));
    LEASEFS_TRY(prepare(reader->begin, "BEGIN"));
    LEASEFS_TRY(prepare(reader->end, "COMMIT"));
    return reader;
  }
};

// walk_one_level's cursor over the key index of a reader connection.
class IndexCursor {
 public:
  explicit IndexCursor(Reader& reader) : reader_(&reader) {}
  IndexCursor(const IndexCursor&) = delete;
  IndexCursor& operator=(const IndexCursor&) = delete;
  ~IndexCursor() {
    if (active_ != nullptr) sqlite3_reset(active_);
  }

  Result<void> seek(std::string_view bound, bool inclusive) {
    if (active_ != nullptr) sqlite3_reset(active_);
    active_ = inclusive ? reader_->seek_at_or_after : reader_->seek_after;
    int rc = bind_text(active_, 1, bound);
    if (rc != SQLITE_OK) return sdk::error(reader_->conn->failure(rc, "list failed"));
    return {};
  }

  Result<std::optional<std::string_view>> next() {
    int rc = sqlite3_step(active_);
    if (rc == SQLITE_DONE) return std::optional<std::string_view>();
    if (rc != SQLITE_ROW) return sdk::error(reader_->conn->failure(rc, "list failed"));
    const auto* text = sqlite3_column_text(active_, 0);
    auto size = static_cast<std::size_t>(sqlite3_column_bytes(active_, 0));
    if (text == nullptr) return std::optional<std::string_view>(std::string_view());
    return std::optional<std::string_view>(
        std::string_view(reinterpret_cast<const char*>(text), size));
  }

 private:
  Reader* reader_;
  sqlite3_stmt* active_ = nullptr;
};

// Holds one read transaction on a reader so a listing sees one snapshot.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Reader& reader) : reader_(&reader) {}
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot() {
    if (begun_) Connection::run(reader_->end);
  }
  Result<void> begin() {
    int rc = Connection::run(reader_->begin);
    if (rc != SQLITE_DONE) return sdk::error(reader_->conn->failure(rc, "list failed"));
    begun_ = true;
    return {};
  }

 private:
  Reader* reader_;
  bool begun_ = false;
};

// The writer connection with its cached statements.
struct Writer {
  std::unique_ptr<Connection> conn;
  sqlite3_stmt* put = nullptr;
  sqlite3_stmt* remove = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;
  sqlite3_stmt* savepoint = nullptr;
  sqlite3_stmt* release = nullptr;
  sqlite3_stmt* rollback_to = nullptr;

  Result<void> prepare_all() {
    Connection& c = *conn;
    auto prepare = [&](sqlite3_stmt*& slot, std::string_view sql) -> Result<void> {
      auto stmt = c.prepare(sql);
      LEASEFS_TRY(stmt);
      slot = *stmt;
      return {};
    };
    LEASEFS_TRY(prepare(put,
                        "INSERT INTO entries (key, value) VALUES (?1, ?2) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
    LEASEFS_TRY(prepare(remove, "DELETE FROM entries WHERE key = ?1"));
    LEASEFS_TRY(prepare(begin, "BEGIN IMMEDIATE"));
    LEASEFS_TRY(prepare(commit, "COMMIT"));
    LEASEFS_TRY(prepare(rollback, "ROLLBACK"));
    LEASEFS_TRY(prepare(savepoint, "SAVEPOINT member"));
    LEASEFS_TRY(prepare(release, "RELEASE member"));
    LEASEFS_TRY(prepare(rollback_to, "ROLLBACK TO member"));
    return {};
  }
};

// One put/remove/apply call waiting for its commit. Shared between the caller and the
// leader committing it, so a caller that gives up (write_timeout) leaves nothing
// dangling.
struct WriteRequest {
  std::vector<sdk::StorageOp> ops;
  bool taken = false;  // a leader has started on it (guarded by the queue mutex)
  bool done = false;   // `result` is final (guarded by the queue mutex)
  Result<void> result;
  // Signalled when the request is done, or when its caller should lead the next group.
  std::condition_variable wake;
};

// Identity of a file, to refuse opening one file twice in this process: a second
// descriptor's close would drop the POSIX locks SQLite holds through the first.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  auto operator<=>(const FileId&) const = default;
};

std::mutex& open_files_mutex() {
  static std::mutex mutex;
  return mutex;
}
// File -> pid of the process that opened it (a forked child must not trust the
// parent's entries).
std::map<FileId, pid_t>& open_files() {
  static std::map<FileId, pid_t> files;
  return files;
}

// The exclusive-use lock: a descriptor of the database file holding flock(LOCK_EX),
// registered in open_files(). Closed only after every SQLite connection is closed.
class FileLock {
 public:
  FileLock() = default;
  FileLock(int fd, FileId id) : fd_(fd), id_(id) {}
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)), id_(other.id_) {}
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ < 0) return;
    ::close(fd_);
    std::lock_guard lock(open_files_mutex());
    auto it = open_files().find(id_);
    if (it != open_files().end() && it->second == ::getpid()) open_files().erase(it);
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  FileId id_;
};

Result<void> check_value_size(std::string_view value) {
  if (value.size() > kMaxValueBytes) {
    return sdk::error(Code::kTooLarge, "storage value is larger than 1000000000 bytes");
  }
  return {};
}

std::string describe(const fs::path& file) {
  return fmt("storage file '{}'", file.string());
}

// Checks the path, opens (creating if allowed) and locks the file. Never truncates.
Result<FileLock> lock_file(const fs::path& file, const SqliteOptions& options,
                           const std::string& label) {
  fs::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return sdk::error(Code::kNotFound,
                        fmt("{}: its directory '{}' does not exist", label, dir.string()));
    }
    return sdk::error(
        err == EACCES ? Code::kPermissionDenied : Code::kUnavailable,
        fmt("{}: cannot reach its directory '{}': {}", label, dir.string(), errno_text(err)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return sdk::error(Code::kInvalidArgument,
                      fmt("{}: '{}' is not a directory", label, dir.string()));
  }

  std::lock_guard registry_lock(open_files_mutex());
  bool exists = ::stat(file.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) {
    int err = errno;
    return sdk::error(err == EACCES ? Code::kPermissionDenied : Code::kUnavailable,
                      fmt("{}: cannot stat it: {}", label, errno_text(err)));
  }
  if (exists) {
    if (S_ISDIR(st.st_mode)) {
      return sdk::error(Code::kInvalidArgument,
                        fmt("{} is a directory, not a database file", label));
    }
    if (!S_ISREG(st.st_mode)) {
      return sdk::error(Code::kInvalidArgument, fmt("{} is not a regular file", label));
    }
    auto it = open_files().find(FileId{st.st_dev, st.st_ino});
    if (it != open_files().end() && it->second == ::getpid()) {
      return sdk::error(Code::kFailedPrecondition,
                        fmt("{} is already open in this process", label));
    }
  } else if (!options.create_if_missing) {
    return sdk::error(Code::kNotFound, fmt("{} does not exist", label));
  }

  int flags = O_RDWR | O_CLOEXEC | O_NOCTTY | (options.create_if_missing ? O_CREAT : 0);
  int fd = ::open(file.c_str(), flags, 0600);
  if (fd < 0) {
    int err = errno;
    switch (err) {
      case EACCES:
      case EPERM:
      case EROFS:
        return sdk::error(
            Code::kPermissionDenied,
            fmt("{} cannot be opened for reading and writing: {}", label, errno_text(err)));
      case EISDIR:
        return sdk::error(Code::kInvalidArgument,
                          fmt("{} is a directory, not a database file", label));
      case ENOENT:
        return sdk::error(Code::kNotFound, fmt("{} does not exist", label));
      default:
        return sdk::error(Code::kUnavailable,
                          fmt("{} cannot be opened: {}", label, errno_text(err)));
    }
  }
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return sdk::error(Code::kInvalidArgument, fmt("{} is not a regular file", label));
  }
  FileId id{st.st_dev, st.st_ino};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    // No SQLite connection of this process has this file open (the registry says so),
    // so closing this descriptor cannot drop anyone's POSIX locks.
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return sdk::error(Code::kFailedPrecondition,
                        fmt("{} is in use by another leasefs process", label));
    }
    return sdk::error(Code::kUnavailable, fmt("{} cannot be locked: {}", label, errno_text(err)));
  }
  open_files()[id] = ::getpid();
  return FileLock(fd, id);
}

// Refuses files that do not start with the SQLite header, before SQLite reads them.
Result<void> check_header(int fd, const std::string& label) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return sdk::error(Code::kUnavailable,
                      fmt("{} cannot be examined: {}", label, errno_text(errno)));
  }
  if (st.st_size == 0) return {};  // a new, empty database
  char header[kSqliteHeaderSize];
  ssize_t n = ::pread(fd, header, sizeof header, 0);
  if (n < 0) {
    return sdk::error(Code::kUnavailable, fmt("{} cannot be read: {}", label, errno_text(errno)));
  }
  if (static_cast<std::size_t>(n) < kSqliteHeaderSize ||
      std::string_view(header, kSqliteMagic.size()) != kSqliteMagic) {
    return sdk::error(Code::kDataLoss, fmt("{} is not a SQLite database (its header is missing or "
                                           "damaged); refusing to use it",
                                           label));
  }
  return {};
}

// What vet_file() learned about an existing file.
struct Vetted {
  bool fresh = false;  // an empty database: no schema, no ids; safe to initialize
};

// Reads (never writes) the file through a read-only connection: application id,
// schema version, schema and the integrity check.
Result<Vetted> vet_file(const fs::path& file, const SqliteOptions& options,
                        const std::string& label) {
  auto opened = Connection::open(file, SQLITE_OPEN_READONLY, label, options.busy_timeout);
  LEASEFS_TRY(opened);
  Connection& c = **opened;
  auto app_id = c.query_int("PRAGMA application_id", "cannot read its application id");
  LEASEFS_TRY(app_id);
  auto version = c.query_int("PRAGMA user_version", "cannot read its schema version");
  LEASEFS_TRY(version);
  auto objects = c.query_int("SELECT count(*) FROM sqlite_schema", "cannot read its schema");
  LEASEFS_TRY(objects);
  if (*app_id == 0 && *version == 0 && *objects == 0) return Vetted{.fresh = true};
  if (*app_id != SqliteStorage::kApplicationId) {
    return sdk::error(Code::kFailedPrecondition,
                      fmt("{} is a SQLite database of another application "
                          "(application_id {}, leasefs uses {}); "
                          "refusing to use it",
                          label, hex32(static_cast<std::uint32_t>(*app_id)),
                          hex32(static_cast<std::uint32_t>(SqliteStorage::kApplicationId))));
  }
  if (*version > SqliteStorage::kSchemaVersion) {
    return sdk::error(Code::kFailedPrecondition,
                      fmt("{} was written by a newer leasefs (schema version {}; this "
                          "build knows versions up to {})",
                          label, *version, SqliteStorage::kSchemaVersion));
  }
  if (*version < 1) {
    return sdk::error(Code::kDataLoss, fmt("{} has a leasefs id but no schema version", label));
  }
  auto table =
      c.query_text("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'entries'",
                   "cannot read its schema");
  LEASEFS_TRY(table);
  if (table->empty()) {
    return sdk::error(Code::kDataLoss, fmt("{} lacks the entries table", label));
  }

  IntegrityCheck check = options.integrity_check;
  if (check == IntegrityCheck::kAuto) {
    std::error_code ec;
    std::uint64_t size = fs::file_size(file, ec);
    if (ec) size = 0;
    std::error_code wal_ec;
    std::uint64_t wal_size = fs::file_size(fs::path(file.string() + "-wal"), wal_ec);
    if (wal_ec) wal_size = 0;
    check = size + wal_size <= kAutoQuickCheckLimit ? IntegrityCheck::kQuick
                                                    : IntegrityCheck::kStructure;
  }
  if (check == IntegrityCheck::kQuick) {
    auto verdict = c.query_text("PRAGMA quick_check", "integrity check failed");
    LEASEFS_TRY(verdict);
    if (*verdict != "ok") {
      std::string first = verdict->substr(0, 200);
      std::replace(first.begin(), first.end(), '\n', ' ');
      return sdk::error(Code::kDataLoss, fmt("{} is corrupt (quick_check: {})", label, first));
    }
  } else {
    // SQLite itself refuses (SQLITE_CORRUPT) a file shorter than its header says on the
    // first read above; walking both edges of the key index checks the pages on them.
    LEASEFS_TRY(
        c.query_text("SELECT key FROM entries ORDER BY key LIMIT 1", "cannot read its first key"));
    LEASEFS_TRY(c.query_text("SELECT key FROM entries ORDER BY key DESC LIMIT 1",
                             "cannot read its last key"));
  }
  return Vetted{};
}

}  // namespace

class SqliteStorage::Impl {
 public:
  Impl(fs::path file, std::string label, SqliteOptions options, FileLock lock)
      : file_(std::move(file)),
        label_(std::move(label)),
        options_(options),
        lock_(std::move(lock)) {}

  ~Impl() {
    // Readers first, so the writer is the last connection: it checkpoints the WAL and
    // removes it. lock_ (declared first) is closed after all of them.
    readers_.clear();
    writer_.reset();
  }

  // Opens the writer connection (initializing a fresh file) and the readers.
  Result<void> start(bool fresh) {
    auto opened = Connection::open(file_, SQLITE_OPEN_READWRITE, label_, options_.busy_timeout);
    LEASEFS_TRY(opened);
    writer_ = std::make_unique<Writer>();
    writer_->conn = std::move(*opened);
    Connection& w = *writer_->conn;
    LEASEFS_TRY(w.exec("PRAGMA synchronous = FULL", "cannot set synchronous=FULL"));
    LEASEFS_TRY(w.exec(kWriterTuningSql, "cannot set the page cache and checkpoint size"));
    if (fresh) {
      // One rollback-journal transaction, so the file is either empty or complete.
      std::string init =
          fmt("BEGIN IMMEDIATE;"
              "CREATE TABLE entries (key TEXT COLLATE BINARY PRIMARY KEY NOT NULL,"
              "                      value BLOB NOT NULL) WITHOUT ROWID;"
              "PRAGMA application_id = {};"
              "PRAGMA user_version = {};"
              "COMMIT;",
              kApplicationId, kSchemaVersion);
      auto created = w.exec(init.c_str(), "cannot create the schema");
      if (!created) {
        if (!w.autocommit()) (void)w.exec("ROLLBACK", "rollback");
        return created;
      }
    }
    auto mode = w.query_text("PRAGMA journal_mode = WAL", "cannot switch to WAL mode");
    LEASEFS_TRY(mode);
    if (*mode != "wal") {
      return sdk::error(Code::kFailedPrecondition,
                        fmt("{}: cannot switch to WAL mode (journal mode is '{}')", label_, *mode));
    }
    if (options_.max_file_bytes != 0) {
      auto page_size = w.query_int("PRAGMA page_size", "cannot read its page size");
      LEASEFS_TRY(page_size);
      auto pages = std::max<std::uint64_t>(
          1, options_.max_file_bytes / static_cast<std::uint64_t>(*page_size));
      auto sql = fmt("PRAGMA max_page_count = {}", pages);
      LEASEFS_TRY(w.query_int(sql.c_str(), "cannot set the size limit"));
    }
    LEASEFS_TRY(writer_->prepare_all());

    for (std::size_t i = 0; i < options_.read_connections; ++i) {
      auto reader = Reader::open(file_, label_, options_.busy_timeout);
      LEASEFS_TRY(reader);
      free_readers_.push_back(reader->get());
      readers_.push_back(std::move(*reader));
    }
    return {};
  }

  const fs::path& file() const { return file_; }

  Stats stats() const { return Stats{writes_.load(), transactions_.load(), split_groups_.load()}; }

  Result<std::optional<std::string>> get(std::string_view key) {
    auto reader = acquire_reader();
    LEASEFS_TRY(reader);
    Reader& r = *reader->get();
    ResetOnExit reset(r.get);
    int rc = bind_text(r.get, 1, key);
    if (rc != SQLITE_OK) return sdk::error(r.conn->failure(rc, "read failed"));
    rc = sqlite3_step(r.get);
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return sdk::error(r.conn->failure(rc, "read failed"));
    const void* bytes = sqlite3_column_blob(r.get, 0);
    auto size = static_cast<std::size_t>(sqlite3_column_bytes(r.get, 0));
    std::string value;
    if (bytes != nullptr) value.assign(static_cast<const char*>(bytes), size);
    return std::optional<std::string>(std::move(value));
  }

  Result<std::vector<std::string>> list_page(std::string_view prefix, std::string_view after,
                                             std::size_t limit) {
    auto reader = acquire_reader();
    LEASEFS_TRY(reader);
    Reader& r = *reader->get();
    std::vector<std::string> names;
    ReadSnapshot snapshot(r);
    LEASEFS_TRY(snapshot.begin());
    IndexCursor cursor(r);
    LEASEFS_TRY(internal::walk_one_level(cursor, prefix, after, limit, names));
    return names;
  }

  // Queues `ops` and returns once they are committed and synced. The first caller
  // that finds no commit in progress becomes the leader: it commits everything queued
  // (its own write and those of the callers waiting behind it) as one group, then wakes
  // them; a lone writer so commits in its own thread, with no hand-off. A caller waits
  // at most write_timeout for a leader to commit its write.
  Result<void> write(std::vector<sdk::StorageOp> ops) {
    auto request = std::make_shared<WriteRequest>();
    request->ops = std::move(ops);
    auto deadline = std::chrono::steady_clock::now() + options_.write_timeout;
    std::unique_lock lock(queue_mutex_);
    queue_.push_back(request);
    queue_cv_.notify_one();  // a leader in commit_delay may be waiting for more
    while (!request->done) {
      if (!leader_active_) {
        // Nobody is committing, so this request is still queued: lead a group.
        lead_one_group(lock);
        continue;
      }
      if (request->wake.wait_until(lock, deadline) == std::cv_status::no_timeout || request->done) {
        continue;
      }
      if (!request->taken) {
        std::erase(queue_, request);
        // This caller may have been the one woken to lead the next group.
        if (!leader_active_ && !queue_.empty()) queue_.front()->wake.notify_one();
        return sdk::error(Code::kUnavailable,
                          fmt("{}: no commit reached this write within {} ms; it was not "
                              "applied",
                              label_, options_.write_timeout.count()));
      }
      return sdk::error(Code::kDeadlineExceeded,
                        fmt("{}: a write did not finish within {} ms; it may or may not "
                            "have been applied",
                            label_, options_.write_timeout.count()));
    }
    return std::move(request->result);
  }

 private:
  // Returns a reader to the pool when it goes out of scope.
  class ReaderLease {
   public:
    ReaderLease(Impl* impl, Reader* reader) : impl_(impl), reader_(reader) {}
    ReaderLease(ReaderLease&& other) noexcept
        : impl_(other.impl_), reader_(std::exchange(other.reader_, nullptr)) {}
    ReaderLease& operator=(ReaderLease&&) = delete;
    ReaderLease(const ReaderLease&) = delete;
    ~ReaderLease() {
      if (reader_ == nullptr) return;
      {
        std::lock_guard lock(impl_->pool_mutex_);
        impl_->free_readers_.push_back(reader_);
      }
      impl_->pool_cv_.notify_one();
    }
    Reader* get() const { return reader_; }

   private:
    Impl* impl_;
    Reader* reader_;
  };

  Result<ReaderLease> acquire_reader() {
    std::unique_lock lock(pool_mutex_);
    if (!pool_cv_.wait_for(lock, options_.busy_timeout, [&] { return !free_readers_.empty(); })) {
      return sdk::error(Code::kUnavailable,
                        fmt("{}: all {} read connections stayed busy for {} ms", label_,
                            readers_.size(), options_.busy_timeout.count()));
    }
    Reader* reader = free_readers_.back();
    free_readers_.pop_back();
    return ReaderLease(this, reader);
  }

  // Called by write() with `lock` held and no leader active: takes what is queued
  // (up to max_group_writes, after waiting up to commit_delay for more), commits it
  // with the lock released, marks it done and wakes the waiting callers.
  void lead_one_group(std::unique_lock<std::mutex>& lock) {
    leader_active_ = true;
    if (options_.commit_delay.count() > 0) {
      queue_cv_.wait_for(lock, options_.commit_delay,
                         [&] { return queue_.size() >= options_.max_group_writes; });
    }
    std::vector<std::shared_ptr<WriteRequest>> group;
    while (!queue_.empty() && group.size() < options_.max_group_writes) {
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
      group.back()->taken = true;
    }
    lock.unlock();
    commit_group(group);
    lock.lock();
    leader_active_ = false;
    for (auto& request : group) {
      request->done = true;
      request->wake.notify_one();
    }
    // The oldest waiting caller leads the next group.
    if (!queue_.empty()) queue_.front()->wake.notify_one();
  }

  // Runs one op on the writer connection. Returns the SQLite code.
  int run_op(const sdk::StorageOp& op) {
    Writer& w = *writer_;
    sqlite3_stmt* stmt = op.kind == sdk::StorageOp::Kind::kDelete ? w.remove : w.put;
    int rc = bind_text(stmt, 1, op.key);
    if (rc == SQLITE_OK && op.kind == sdk::StorageOp::Kind::kPut) rc = bind_blob(stmt, 2, op.value);
    if (rc != SQLITE_OK) {
      sqlite3_reset(stmt);
      return rc;
    }
    return Connection::run(stmt);
  }

  // Rolls back the open transaction, if SQLite has not already done so.
  void rollback_if_open() {
    if (!writer_->conn->autocommit()) Connection::run(writer_->rollback);
  }

  // Commits one request in a transaction of its own.
  Result<void> commit_alone(const WriteRequest& request) {
    Writer& w = *writer_;
    int rc = Connection::run(w.begin);
    if (rc != SQLITE_DONE) return sdk::error(w.conn->failure(rc, "cannot begin a write"));
    for (const auto& op : request.ops) {
      rc = run_op(op);
      if (rc != SQLITE_DONE) {
        Status status = w.conn->failure(rc, "write failed");
        rollback_if_open();
        return sdk::error(std::move(status));
      }
    }
    rc = Connection::run(w.commit);
    if (rc != SQLITE_DONE) {
      Status status = w.conn->failure(rc, "commit failed");
      rollback_if_open();
      return sdk::error(std::move(status));
    }
    transactions_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  // Runs one member of a group inside the open group transaction. On failure the
  // member's own changes are undone; `lost` says the whole transaction is gone.
  Result<void> run_member(const WriteRequest& request, bool& lost) {
    Writer& w = *writer_;
    bool multi = request.ops.size() > 1;  // a single statement is atomic by itself
    if (multi) {
      int rc = Connection::run(w.savepoint);
      if (rc != SQLITE_DONE) {
        lost = w.conn->autocommit();
        return sdk::error(w.conn->failure(rc, "cannot begin a write"));
      }
    }
    for (const auto& op : request.ops) {
      int rc = run_op(op);
      if (rc == SQLITE_DONE) continue;
      Status status = w.conn->failure(rc, "write failed");
      lost = w.conn->autocommit();
      if (!lost && multi) {
        Connection::run(w.rollback_to);
        Connection::run(w.release);
      }
      return sdk::error(std::move(status));
    }
    if (multi) Connection::run(w.release);
    return {};
  }

  // Commits a group of requests in one transaction and sets each one's result. When
  // the transaction fails as a whole, every member is retried alone.
  void commit_group(std::span<const std::shared_ptr<WriteRequest>> group) {
    writes_.fetch_add(group.size(), std::memory_order_relaxed);
    if (group.size() == 1) {
      group.front()->result = commit_alone(*group.front());
      return;
    }
    Writer& w = *writer_;
    std::vector<Result<void>> results(group.size());
    bool lost = Connection::run(w.begin) != SQLITE_DONE;
    for (std::size_t i = 0; i < group.size() && !lost; ++i) {
      results[i] = run_member(*group[i], lost);
    }
    if (!lost && Connection::run(w.commit) != SQLITE_DONE) lost = true;
    if (lost) {
      rollback_if_open();
      split_groups_.fetch_add(1, std::memory_order_relaxed);
      for (const auto& request : group) request->result = commit_alone(*request);
      return;
    }
    transactions_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < group.size(); ++i) group[i]->result = std::move(results[i]);
  }

  const fs::path file_;
  const std::string label_;
  const SqliteOptions options_;
  // Declared first so it is destroyed last: the flock descriptor outlives every
  // SQLite connection to the file.
  FileLock lock_;

  std::unique_ptr<Writer> writer_;
  std::vector<std::unique_ptr<Reader>> readers_;

  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<Reader*> free_readers_;  // guarded by pool_mutex_

  // The write queue. The writer connection is used only by the leader (the one
  // caller with leader_active_ set), with queue_mutex_ released.
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;                 // wakes a leader waiting out commit_delay
  std::deque<std::shared_ptr<WriteRequest>> queue_;  // guarded by queue_mutex_
  bool leader_active_ = false;                       // guarded by queue_mutex_

  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> split_groups_{0};
};

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(const fs::path& file,
                                                           SqliteOptions options) {
  std::string label = describe(file);
  if (options.read_connections == 0 || options.max_group_writes == 0 ||
      options.busy_timeout.count() <= 0 || options.write_timeout.count() <= 0) {
    return sdk::error(Code::kInvalidArgument,
                      fmt("{}: read_connections, max_group_writes, busy_timeout and "
                          "write_timeout must be positive",
                          label));
  }
  if (file.empty()) return sdk::error(Code::kInvalidArgument, "storage file path is empty");
  if (sqlite3_threadsafe() == 0) {
    return sdk::error(Code::kInternal, "the SQLite library was built without thread support");
  }
  auto lock = lock_file(file, options, label);
  LEASEFS_TRY(lock);
  LEASEFS_TRY(check_header(lock->fd(), label));
  auto vetted = vet_file(file, options, label);
  LEASEFS_TRY(vetted);
  auto impl = std::make_unique<Impl>(file, label, options, std::move(*lock));
  LEASEFS_TRY(impl->start(vetted->fresh));
  return std::unique_ptr<SqliteStorage>(new SqliteStorage(std::move(impl)));
}

SqliteStorage::SqliteStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStorage::~SqliteStorage() = default;

const fs::path& SqliteStorage::file() const {
  return impl_->file();
}
SqliteStorage::Stats SqliteStorage::stats() const {
  return impl_->stats();
}

sdk::Result<std::optional<std::string>> SqliteStorage::get(std::string_view key) {
  LEASEFS_TRY(sdk::validate_key(key));
  return impl_->get(key);
}

sdk::Result<void> SqliteStorage::put(std::string_view key, std::string_view value) {
  LEASEFS_TRY(sdk::validate_key(key));
  LEASEFS_TRY(check_value_size(value));
  std::vector<sdk::StorageOp> ops;
  ops.push_back(sdk::StorageOp::put(std::string(key), std::string(value)));
  return impl_->write(std::move(ops));
}

sdk::Result<void> SqliteStorage::remove(std::string_view key) {
  LEASEFS_TRY(sdk::validate_key(key));
  std::vector<sdk::StorageOp> ops;
  ops.push_back(sdk::StorageOp::remove(std::string(key)));
  return impl_->write(std::move(ops));
}

sdk::Result<std::vector<std::string>> SqliteStorage::list(std::string_view prefix) {
  return list_page(prefix, "", std::numeric_limits<std::size_t>::max());
}

sdk::Result<std::vector<std::string>> SqliteStorage::list_page(std::string_view prefix,
                                                               std::string_view after,
                                                               std::size_t limit) {
  LEASEFS_TRY(internal::validate_list_prefix(prefix));
  LEASEFS_TRY(internal::validate_list_after(after));
  return impl_->list_page(prefix, after, limit);
}

sdk::Result<void> SqliteStorage::apply(std::span<const sdk::StorageOp> ops) {
  for (const auto& op : ops) {
    LEASEFS_TRY(sdk::validate_key(op.key));
    LEASEFS_TRY(check_value_size(op.value));
  }
  if (ops.empty()) return {};
  return impl_->write(std::vector<sdk::StorageOp>(ops.begin(), ops.end()));
}

}  // namespace leasefs::backend::storage
