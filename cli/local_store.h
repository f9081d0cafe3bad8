// Offline access to a storage file for the operator commands given -storage: they
// act on the file directly, without a server (initialize before the first start,
// check that a set of key shares opens the store, rotate the key). The file is locked
// while open, so this refuses a file a running server holds.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "backend/barrier/seal.h"
#include "backend/storage/sqlite_storage.h"

namespace leasefs::cli {

class LocalStore {
 public:
  // Opens `file`; creates it only when `create`. Errors name the file and the problem.
  static backend::sdk::Result<std::unique_ptr<LocalStore>> open(const std::filesystem::path& file,
                                                                bool create);

  backend::barrier::SealManager& seal() { return *seal_; }
  backend::barrier::Barrier& barrier() { return *barrier_; }
  backend::storage::SqliteStorage& physical() { return *physical_; }

  // Feeds key shares until the store unseals. Keys come from `given` (command-line
  // arguments) or, when there are none, from standard input: prompted for without
  // echo on a terminal, one per line otherwise. Fails on the first bad share, or
  // when the input ends before the threshold.
  backend::sdk::Result<backend::barrier::SealStatus> unseal(const std::vector<std::string>& given);

  ~LocalStore();

 private:
  LocalStore() = default;

  std::unique_ptr<backend::storage::SqliteStorage> physical_;
  std::unique_ptr<backend::barrier::Barrier> barrier_;
  std::unique_ptr<backend::barrier::SealManager> seal_;
};

// Reads one line from standard input; on a terminal the echo is off while typing.
// nullopt at end of input.
std::optional<std::string> read_secret_line(const std::string& prompt);

}  // namespace leasefs::cli
