// The in-memory backend: std::map under a shared_mutex, listing by seeking past
// folders with lower_bound.
#include "backend/storage/inmem_storage.h"

#include <limits>
#include <mutex>

#include "backend/storage/one_level_walk.h"

namespace leasefs::backend::storage {
namespace {

// walk_one_level's cursor over a std::map; the caller holds the map's lock.
template <class Map>
class MapCursor {
 public:
  explicit MapCursor(const Map& map) : map_(&map), it_(map.end()) {}

  sdk::Result<void> seek(std::string_view bound, bool inclusive) {
    it_ = inclusive ? map_->lower_bound(bound) : map_->upper_bound(bound);
    return {};
  }

  sdk::Result<std::optional<std::string_view>> next() {
    if (it_ == map_->end()) return std::optional<std::string_view>();
    std::string_view key = it_->first;
    ++it_;
    return std::optional<std::string_view>(key);
  }

 private:
  const Map* map_;
  typename Map::const_iterator it_;
};

}  // namespace

sdk::Result<std::optional<std::string>> InmemStorage::get(std::string_view key) {
  LEASEFS_TRY(sdk::validate_key(key));
  std::shared_lock lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

sdk::Result<void> InmemStorage::put(std::string_view key, std::string_view value) {
  LEASEFS_TRY(sdk::validate_key(key));
  std::string copy(value);  // allocate outside the lock
  std::unique_lock lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    entries_.emplace(std::string(key), std::move(copy));
  } else {
    it->second = std::move(copy);
  }
  return {};
}

sdk::Result<void> InmemStorage::remove(std::string_view key) {
  LEASEFS_TRY(sdk::validate_key(key));
  std::unique_lock lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) entries_.erase(it);
  return {};
}

sdk::Result<std::vector<std::string>> InmemStorage::list(std::string_view prefix) {
  return list_page(prefix, "", std::numeric_limits<std::size_t>::max());
}

sdk::Result<std::vector<std::string>> InmemStorage::list_page(std::string_view prefix,
                                                              std::string_view after,
                                                              std::size_t limit) {
  LEASEFS_TRY(internal::validate_list_prefix(prefix));
  LEASEFS_TRY(internal::validate_list_after(after));
  std::vector<std::string> names;
  std::shared_lock lock(mutex_);
  MapCursor<Map> cursor(entries_);
  LEASEFS_TRY(internal::walk_one_level(cursor, prefix, after, limit, names));
  return names;
}

sdk::Result<void> InmemStorage::apply(std::span<const sdk::StorageOp> ops) {
  for (const auto& op : ops) LEASEFS_TRY(sdk::validate_key(op.key));
  std::unique_lock lock(mutex_);
  for (const auto& op : ops) {
    if (op.kind == sdk::StorageOp::Kind::kDelete) {
      auto it = entries_.find(op.key);
      if (it != entries_.end()) entries_.erase(it);
    } else {
      entries_.insert_or_assign(op.key, op.value);
    }
  }
  return {};
}

std::size_t InmemStorage::size() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

}  // namespace leasefs::backend::storage
