// InmemStorage: the whole store in one ordered map in process memory. Used by `server
// --dev` and by tests; nothing survives the process, so "durable" here means "visible
// to every later call".
#pragma once

#include <map>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/status.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::storage {

class InmemStorage final : public sdk::Storage {
 public:
  InmemStorage() = default;
  InmemStorage(const InmemStorage&) = delete;
  InmemStorage& operator=(const InmemStorage&) = delete;

  // All methods follow sdk::Storage and are thread-safe: reads share a lock, writes
  // take it exclusively. Invalid keys or prefixes give sdk::validate_key's error
  // (kInvalidArgument) and change nothing.
  sdk::Result<std::optional<std::string>> get(std::string_view key) override;
  sdk::Result<void> put(std::string_view key, std::string_view value) override;
  sdk::Result<void> remove(std::string_view key) override;
  sdk::Result<std::vector<std::string>> list(std::string_view prefix) override;
  sdk::Result<std::vector<std::string>> list_page(std::string_view prefix, std::string_view after,
                                                  std::size_t limit) override;
  // Validates every op first, then applies them all under one exclusive lock.
  sdk::Result<void> apply(std::span<const sdk::StorageOp> ops) override;

  // Number of keys stored. Thread-safe.
  std::size_t size() const;

 private:
  using Map = std::map<std::string, std::string, std::less<>>;

  mutable std::shared_mutex mutex_;
  Map entries_;
};

}  // namespace leasefs::backend::storage
