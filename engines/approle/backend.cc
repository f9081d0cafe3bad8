// Wiring of the AppRole engine: the list of its paths (one file per group) and the
// Backend that owns the shared state. Read approle.h for the paths and the storage
// layout, then path_login.cc for the heart of it.
#include "engines/approle/approle.h"
#include "engines/approle/engine.h"

namespace leasefs::engines::approle {
namespace {

class AppRoleBackend final : public sdk::FrameworkBackend {
 public:
  AppRoleBackend(std::shared_ptr<Engine> engine, std::vector<sdk::PathSpec> paths)
      : FrameworkBackend(std::move(paths), {},
                         sdk::SpecialPaths{.unauthenticated = {"login"}, .root = {}}),
        engine_(std::move(engine)) {}

  void cleanup() override { engine_->forget_salt(); }

 private:
  std::shared_ptr<Engine> engine_;
};

}  // namespace

sdk::Result<std::unique_ptr<sdk::Backend>> make_approle(const sdk::BackendConfig& config) {
  auto engine = std::make_shared<Engine>(config);
  std::vector<sdk::PathSpec> paths;
  // Order matters only where patterns overlap: the first match wins, and no two
  // of these match the same path.
  for (auto group :
       {login_paths(engine), role_paths(engine), secret_id_paths(engine), tidy_paths(engine)}) {
    for (auto& p : group) paths.push_back(std::move(p));
  }
  return std::unique_ptr<sdk::Backend>(
      std::make_unique<AppRoleBackend>(std::move(engine), std::move(paths)));
}

}  // namespace leasefs::engines::approle
