// Wiring of the database engine: its paths (one file per group), the "creds" secret
// type, and cleanup() that closes the connection pools. Read database.h for the paths
// and the storage layout, then path_creds.cc and postgresql.cc for the heart of it.
#include "engines/database/database.h"
#include "engines/database/engine.h"

namespace leasefs::engines::database {
namespace {

class DatabaseBackend final : public sdk::FrameworkBackend {
 public:
  DatabaseBackend(std::shared_ptr<Engine> engine, std::vector<sdk::PathSpec> paths,
                  std::vector<sdk::SecretType> types)
      : FrameworkBackend(std::move(paths), std::move(types)), engine_(std::move(engine)) {}
  ~DatabaseBackend() override { engine_->close_all(); }

  void cleanup() override { engine_->close_all(); }

 private:
  std::shared_ptr<Engine> engine_;
};

}  // namespace

sdk::Result<std::unique_ptr<sdk::Backend>> make_database(const sdk::BackendConfig& config) {
  auto engine = std::make_shared<Engine>(config);
  std::vector<sdk::PathSpec> paths;
  for (auto group :
       {config_paths(engine), role_paths(engine), creds_paths(engine), rotate_paths(engine)}) {
    for (auto& p : group) paths.push_back(std::move(p));
  }
  return std::unique_ptr<sdk::Backend>(std::make_unique<DatabaseBackend>(
      engine, std::move(paths), std::vector<sdk::SecretType>{creds_secret_type(engine)}));
}

}  // namespace leasefs::engines::database
