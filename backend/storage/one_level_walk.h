// The one-level listing walk shared by the storage backends. Given a cursor over the
// sorted keys, it yields the names directly under a prefix and jumps over each folder
// with one seek, so listing a folder with a million nested keys costs one seek per
// child, not one step per key. Internal to backend/storage.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/status.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::storage::internal {

// Checks a list prefix: a valid key prefix (sdk::validate_key with is_prefix) that is
// "" or ends in '/', as the Storage contract requires.
inline sdk::Result<void> validate_list_prefix(std::string_view prefix) {
  LEASEFS_TRY(sdk::validate_key(prefix, /*is_prefix=*/true));
  if (!prefix.empty() && prefix.back() != '/') {
    return sdk::invalid_argument("storage list prefix must be empty or end in '/'");
  }
  return {};
}

// Checks list_page's `after`: any name-like string, but no control bytes.
inline sdk::Result<void> validate_list_after(std::string_view after) {
  for (char c : after) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return sdk::invalid_argument("storage list 'after' contains a control byte");
    }
  }
  return {};
}

// A Cursor has:
//   sdk::Result<void> seek(std::string_view bound, bool inclusive);
//     positions before the first key >= bound (inclusive) or > bound (exclusive);
//   sdk::Result<std::optional<std::string_view>> next();
//     the next key in byte order, valid until the following seek() or next().
//
// Appends to `out` at most `limit` names from the one-level listing of `prefix` that
// sort after `after` ("" = from the start). `prefix` is "" or ends in '/'.
template <class Cursor>
sdk::Result<void> walk_one_level(Cursor& cursor, std::string_view prefix, std::string_view after,
                                 std::size_t limit, std::vector<std::string>& out) {
  if (limit == 0) return {};
  std::string start(prefix);
  if (after.empty()) {
    LEASEFS_TRY(cursor.seek(start, /*inclusive=*/true));
  } else {
    start += after;
    if (start.back() == '/') {
      // Every key under the folder `after` lists as `after` itself: skip them all.
      std::string past = sdk::prefix_successor(start);
      if (past.empty()) return {};
      LEASEFS_TRY(cursor.seek(past, /*inclusive=*/true));
    } else {
      LEASEFS_TRY(cursor.seek(start, /*inclusive=*/false));
    }
  }
  const std::size_t wanted = out.size() + limit;
  while (out.size() < wanted) {
    auto next = cursor.next();
    LEASEFS_TRY(next);
    if (!*next) break;
    std::string_view key = **next;
    if (!key.starts_with(prefix)) break;  // past the prefix's range
    std::string_view rest = key.substr(prefix.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
      if (!rest.empty() && (after.empty() || rest > after)) out.emplace_back(rest);
      continue;
    }
    std::string name(rest.substr(0, slash + 1));
    // A name can sort at or before `after` only when `after` is not itself a listed
    // name (e.g. "b/c" lists nothing, but keys under "b/" sort after it).
    if (after.empty() || std::string_view(name) > after) out.push_back(name);
    std::string past = sdk::skip_past(prefix, name);
    if (past.empty()) break;
    LEASEFS_TRY(cursor.seek(past, /*inclusive=*/true));
  }
  return {};
}

}  // namespace leasefs::backend::storage::internal
