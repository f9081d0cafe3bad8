// What an engine sees of a request: the operation, the path relative to its mount, the
// decoded body, who is asking (never their token), and the context it may use —
// its storage view, the clock, randomness and the mount's TTL settings.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/sdk/clock.h"
#include "backend/sdk/random.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::sdk {

// Vault's logical operations. HTTP GET is kRead (or kList with ?list=true), LIST is
// kList, POST/PUT is kCreate or kUpdate (decided by the path's existence check), PATCH
// is kPatch, DELETE is kDelete.
enum class Operation { kRead, kList, kCreate, kUpdate, kPatch, kDelete };

std::string_view operation_name(Operation op);  // "read", "list", ..., as Vault's audit log
// The inverse; nullopt for an unknown name.
std::optional<Operation> operation_from_name(std::string_view name);

// Who is calling, as far as an engine may know (for username templates and metadata).
struct Caller {
  std::string display_name{};  // e.g. "token", "approle-web"
  std::string entity_id{};
  std::string accessor{};      // the token's accessor (not secret; for audit and templates)
  std::vector<std::string> policies{};
  std::map<std::string, std::string> metadata{};
  std::string remote_address{};
};

// Effective TTL limits of the mount that handles the request (system defaults applied).
struct MountLimits {
  Duration default_lease_ttl{std::chrono::hours(768)};
  Duration max_lease_ttl{std::chrono::hours(768)};
};

// Named password policies (Vault's sys/policies/password), for engines that generate
// passwords (database). Implemented by the core.
class PasswordPolicies {
 public:
  virtual ~PasswordPolicies() = default;
  // A new password satisfying the policy `name`: not_found when there is no such
  // policy, internal when `random` fails.
  virtual Result<std::string> generate(std::string_view name, Random& random) = 0;
};

// Vault's system-wide default and maximum lease TTL (32 days).
inline constexpr Duration kSystemMaxLeaseTtl = std::chrono::hours(768);

// A request body decoded straight into the form one path's handler wants, instead of
// into `Request::data` (a JSON tree costs more than some hot paths can spend). Each such
// path defines its own type deriving from this; its handler finds it with dynamic_cast
// and must still accept the same request as a tree in `data`, as other callers send it.
struct DecodedBody {
  virtual ~DecodedBody() = default;
};

struct Request {
  std::string id;           // request id (a UUID), the same in both audit entries
  Operation operation = Operation::kRead;
  std::string path;         // relative to the mount: "creds/readonly"
  std::string mount_point;  // "database/"
  // Body of the request; for reads and lists, the query parameters as strings.
  nlohmann::json data = nlohmann::json::object();
  // Set (and `data` then empty) when the HTTP layer decoded the body for its path; so
  // far only POST/PUT sys/access-events (core::AccessEventBatch). Null otherwise.
  std::shared_ptr<const DecodedBody> decoded_body{};
  Caller caller;
  MountLimits limits;
  // The caller's token. Set only for the core's own backends (sys/, auth/token/);
  // always empty for engines, which never see tokens.
  std::string client_token;

  // Context, set by the router before an engine sees the request. Never null there.
  Storage* storage = nullptr;
  const Clock* clock = nullptr;
  Random* random = nullptr;
  // Null for the core's own maintenance requests (revocations).
  PasswordPolicies* passwords = nullptr;
};

}  // namespace leasefs::backend::sdk
