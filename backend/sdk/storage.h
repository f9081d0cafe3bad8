// The storage contract shared by physical backends (backend/storage), the barrier
// (backend/barrier) and the prefixed views engines get. Keys are '/'-separated paths of
// printable bytes; values are opaque bytes. Listing is one level deep, as in Vault:
// the children of a prefix, folders ending in '/'.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/status.h"

namespace leasefs::backend::sdk {

// One write of an atomic batch.
struct StorageOp {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // empty for kDelete

  static StorageOp put(std::string key, std::string value) {
    return {Kind::kPut, std::move(key), std::move(value)};
  }
  static StorageOp remove(std::string key) { return {Kind::kDelete, std::move(key), {}}; }
};

// Every method is thread-safe and durable on success: once put() returns, the value
// survives a crash of the process (and, for SQLite, of the machine).
class Storage {
 public:
  virtual ~Storage() = default;

  // The value at `key`, or nullopt if there is none.
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
  virtual Result<void> put(std::string_view key, std::string_view value) = 0;
  // Deleting a missing key succeeds.
  virtual Result<void> remove(std::string_view key) = 0;
  // Names directly under `prefix` (which is "" or ends in '/'), sorted: a key
  // "a/b/c" under "a/" lists as "b/". Each folder appears once.
  virtual Result<std::vector<std::string>> list(std::string_view prefix) = 0;
  // At most `limit` names from list(prefix) that sort after `after` ("" = from the
  // start). Lets callers walk a million keys without holding them all.
  virtual Result<std::vector<std::string>> list_page(std::string_view prefix,
                                                     std::string_view after,
                                                     std::size_t limit) = 0;
  // Applies all ops or none of them, in order.
  virtual Result<void> apply(std::span<const StorageOp> ops) = 0;
};

// Checks a storage key: non-empty, at most 1024 bytes, no NUL or control bytes, no
// leading '/', no empty or "." or ".." segment (a trailing '/' is rejected for keys
// but allowed for list prefixes when `is_prefix`).
Result<void> validate_key(std::string_view key, bool is_prefix = false);

// Reduces sorted full keys under `prefix` to one-level names; helper for backends.
// `keys` must be sorted and all start with `prefix`.
std::vector<std::string> one_level_names(std::string_view prefix,
                                         std::span<const std::string> keys);

// The smallest string greater than every string that starts with `prefix`, or ""
// when there is none (prefix empty or all 0xff bytes).
std::string prefix_successor(std::string_view prefix);

// The key just past a one-level name: after "b/" every key "prefix/b/..." is skipped.
std::string skip_past(std::string_view prefix, std::string_view name);

}  // namespace leasefs::backend::sdk
