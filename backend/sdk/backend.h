// The engine contract. An engine (secrets engine or auth method) is a Backend mounted
// at a path; the core hands it requests whose path is relative to the mount. Most
// engines are declarative: a FrameworkBackend built from a list of PathSpecs (pattern,
// typed fields, one handler per operation) and SecretTypes (renew and revoke of what
// the engine leased). Reading an engine's paths.cc tells what it serves.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/fields.h"
#include "backend/sdk/path_pattern.h"
#include "backend/sdk/request.h"
#include "backend/sdk/response.h"

namespace leasefs::backend::sdk {

using Handler = std::function<Result<Response>(Request&, const FieldData&)>;
// Says whether the entry a POST/PUT addresses exists (update) or not (create).
using ExistenceCheck = std::function<Result<bool>(Request&, const FieldData&)>;

struct PathSpec {
  // "config", "roles/{name}", "creds/{name}", "data/{path*}", "metadata/{path*?}";
  // see path_pattern.h. The first spec whose pattern matches handles the request.
  std::string pattern{};
  std::vector<FieldSpec> fields{};
  std::map<Operation, Handler> operations{};
  ExistenceCheck existence{};  // empty: every POST/PUT is an update
  std::string synopsis{};
};

struct SecretType {
  std::string name;
  // Extends a lease; returns the response whose SecretInfo carries the new ttl/max_ttl.
  // Empty: leases of this type cannot be renewed.
  std::function<Result<Response>(Request&, const LeaseInfo&)> renew;
  // Destroys what the lease stands for. Must succeed when it is already gone.
  std::function<Result<void>(Request&, const LeaseInfo&)> revoke;
};

// Paths of an engine that need no token, or need sudo, as path_pattern globs relative
// to the mount ("public_key", "crl", "login").
struct SpecialPaths {
  std::vector<std::string> unauthenticated;
  std::vector<std::string> root;
};

// Everything an engine needs at mount time. References stay valid while it is mounted.
struct BackendConfig {
  std::string mount_path;  // "secret/"
  std::string type;        // "kv"
  std::map<std::string, std::string> options;  // mount options, e.g. {"version": "2"}
  Storage* storage = nullptr;  // the mount's view, behind the barrier
  const Clock* clock = nullptr;
  Random* random = nullptr;
};

// Gives `request` the mount's storage, clock and random source where it has none (an
// engine handler called directly rather than through the router, as tests do).
// kInternal, naming `engine`, when one is still missing.
Result<void> fill_request_context(Request& request, Storage* storage, const Clock* clock,
                                  Random* random, std::string_view engine);

class Backend {
 public:
  virtual ~Backend() = default;

  // Handles one request. Unknown paths give not_found, known paths without the
  // operation give unsupported. Thread-safe: called concurrently.
  virtual Result<Response> handle(Request& request) = 0;
  // nullopt when the path has no existence check (then POST/PUT is an update).
  virtual Result<std::optional<bool>> exists(Request& request) = 0;
  virtual Result<Response> renew_secret(Request& request, const LeaseInfo& lease) = 0;
  virtual Result<void> revoke_secret(Request& request, const LeaseInfo& lease) = 0;
  virtual const SpecialPaths& special_paths() const = 0;

  // Called once after mounting (and after every unseal) before any request.
  virtual Result<void> initialize() { return {}; }
  // Called before unmounting or sealing; must release connections and wipe keys.
  virtual void cleanup() {}
};

class FrameworkBackend : public Backend {
 public:
  FrameworkBackend(std::vector<PathSpec> paths, std::vector<SecretType> secret_types,
                   SpecialPaths special = {});

  Result<Response> handle(Request& request) override;
  Result<std::optional<bool>> exists(Request& request) override;
  Result<Response> renew_secret(Request& request, const LeaseInfo& lease) override;
  Result<void> revoke_secret(Request& request, const LeaseInfo& lease) override;
  const SpecialPaths& special_paths() const override { return special_; }

 private:
  struct CompiledPath {
    PathPattern pattern;
    PathSpec spec;
  };
  // The matching path and its captures, or nullptr.
  const CompiledPath* route(std::string_view path,
                            std::map<std::string, std::string>& captures) const;
  const SecretType* secret_type(const std::string& name) const;

  std::vector<CompiledPath> paths_;
  std::vector<SecretType> secret_types_;
  SpecialPaths special_;
};

// Name -> factory of engines, filled by engines/registry.cc. A duplicate name is a
// programming error and aborts at start-up.
using BackendFactory = std::function<Result<std::unique_ptr<Backend>>(const BackendConfig&)>;

}  // namespace leasefs::backend::sdk
