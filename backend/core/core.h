// The core: the seal lifecycle and the one request pipeline every API call goes
// through (DESIGN.md, "Architecture"):
//   sealed? -> route by longest mount prefix -> authenticate the token -> decide
//   create/update (existence check) -> ACL (sudo for root-protected paths) -> count a
//   token use -> engine -> turn an engine's AuthInfo into a token -> shape the response
// Engines see a Request with their mount's storage view and never a token (the core's
// own backends, sys/ and auth/token/, get the caller's token).
//
// Locking: `state_mu_` is held shared by every request and exclusively by init,
// unseal's final step and seal, so sealing waits for requests in flight and no request
// sees a half-built core. Mount changes take `mounts_mu_` exclusively.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "backend/audit/broker.h"
#include "backend/auth/token_store.h"
#include "backend/barrier/seal.h"
#include "backend/core/metrics.h"
#include "backend/core/mount_table.h"
#include "backend/core/password_policies.h"
#include "backend/core/policy_store.h"
#include "backend/lease/expiration_manager.h"
#include "backend/sdk/backend.h"
#include "backend/sdk/storage_view.h"

namespace leasefs::backend::core {

struct CoreOptions {
  sdk::Storage* physical = nullptr;  // must outlive the core
  const sdk::Clock* clock = nullptr;
  sdk::Random* random = nullptr;
  sdk::MountLimits system_limits{};  // default and max lease TTL for every mount
  std::string storage_type = "inmem";
  std::string cluster_name = "leasefs";
  // Engines that sys/mounts and sys/auth may enable, by type (engines/registry.h).
  const std::map<std::string, sdk::BackendFactory>* secrets_engines = nullptr;
  const std::map<std::string, sdk::BackendFactory>* auth_methods = nullptr;
  // The expiration manager's tuning; tests turn `background` off and drive it by hand.
  lease::ExpirationOptions expiration{};
};

// A POST/PUT sys/access-events body that the HTTP layer parsed straight into events
// (audit::try_parse_access_events) instead of into a JSON tree: up to 1000 events, where
// the tree cost more than a third of the request. The request's `data` is then empty;
// the text stays for the rare audit entry that records the body as sent (a refused or
// rejected batch), which parses it then.
struct AccessEventBatch final : sdk::DecodedBody {
  std::vector<audit::AccessEvent> events{};
  std::string body{};  // the body as sent
};

// The batch a request carries in place of its JSON body, or null.
inline const AccessEventBatch* access_event_batch_of(const sdk::Request& request) {
  return dynamic_cast<const AccessEventBatch*>(request.decoded_body.get());
}

// A request as the HTTP layer decoded it.
struct CoreRequest {
  std::string id{};                    // request id (UUID)
  std::string method{};                // HTTP method, for metrics and audit
  sdk::Operation operation = sdk::Operation::kRead;
  bool create_or_update = false;       // POST/PUT: the existence check decides
  std::string path{};                  // API path without "/v1/": "secret/data/app"
  nlohmann::json data = nlohmann::json::object();
  std::string client_token{};
  std::string remote_address{};
  // Request headers the audit log records as they are: leasefs's own X-Leasefs-*
  // (a mount's caller identity: pid, exe, uid, gid, cgroup, file, host, mount).
  std::map<std::string, std::vector<std::string>> audit_headers{};
  // Set, with `data` left empty, when the body is a sys/access-events batch the HTTP
  // layer parsed without a tree (see AccessEventBatch); the core hands it to the
  // handler as sdk::Request::decoded_body.
  std::shared_ptr<const AccessEventBatch> access_events{};
};

// What the HTTP layer needs to write Vault's envelope.
struct CoreResponse {
  int status = 0;  // 0: 200 with a body, 204 without
  nlohmann::json data{};
  nlohmann::json auth{};  // the "auth" block, or null
  std::vector<std::string> warnings{};
  std::string lease_id{};
  bool renewable = false;
  std::int64_t lease_duration = 0;
  std::optional<sdk::RawBody> raw{};
  bool data_at_top = false;  // Vault's legacy routes also copy data keys to the top level
  std::string mount_type{};
};

struct InitResult {
  std::vector<sdk::SecureBuffer> keys{};
  std::string root_token{};
  int shares = 0;
  int threshold = 0;
};

// A mounted engine as requests see it. Shared so a request in flight keeps it alive
// while sys/mounts disables it.
struct MountState {
  MountEntry entry{};
  std::unique_ptr<sdk::StorageView> view{};
  std::unique_ptr<sdk::Backend> backend{};
  sdk::MountLimits limits{};
  bool internal = false;  // the core's own backend: may see the caller's token
};

class Core {
 public:
  explicit Core(CoreOptions options);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // --- seal lifecycle (the raw sys endpoints) ---
  // Creates keys, default mounts, the default policy and a root token (`root_token_id`
  // may choose its value). Leaves the core sealed.
  sdk::Result<InitResult> initialize(int shares, int threshold, std::string root_token_id = {});
  sdk::Result<barrier::SealStatus> submit_unseal_key(std::string_view key);
  sdk::Result<barrier::SealStatus> reset_unseal();
  sdk::Result<barrier::SealStatus> seal_status();
  // Waits for requests in flight, tears down engines and wipes every key.
  void seal();
  bool sealed() const { return sealed_.load(); }
  bool initialized();

  // --- the pipeline ---
  sdk::Result<CoreResponse> handle(CoreRequest& request);

  // --- used by sys/ and dev mode (callers hold no core lock) ---
  sdk::Result<void> enable_mount(MountEntry entry);
  sdk::Result<void> disable_mount(MountTable table, std::string_view path);
  sdk::Result<void> tune_mount(std::string_view api_path, const nlohmann::json& config);
  std::vector<MountEntry> mounts(MountTable table) const;
  // The mount serving an API path, or nullptr.
  std::shared_ptr<MountState> route(std::string_view api_path) const;

  sdk::Result<barrier::KeyStatus> key_status();
  sdk::Result<barrier::KeyStatus> rotate_key();

  auth::TokenStore& tokens() { return *tokens_; }
  PolicyStore& policies() { return *policies_; }
  PasswordPolicyStore& password_policies() { return *passwords_; }
  // Valid while unsealed (callers hold a request, so the core cannot seal under them).
  lease::ExpirationManager& expiration() { return *expiration_; }
  // The audit devices (sys/audit); loaded at unseal, closed at seal.
  audit::Broker& audit() { return audit_; }
  // Gives a token with a TTL its lease (or moves it after a renewal), so it is revoked
  // with everything it owns when it expires. Tokens that never expire have none.
  sdk::Result<void> track_token(const auth::TokenEntry& token);
  Metrics& metrics() { return metrics_; }
  const sdk::Clock& clock() const { return *options_.clock; }
  sdk::Random& random() { return *options_.random; }
  const CoreOptions& options() const { return options_; }

  // The capabilities a token has on a path (sys/capabilities*): Vault's names list.
  sdk::Result<std::vector<std::string>> capabilities(const auth::TokenEntry& token,
                                                     std::string_view path);
  // The mount limits with system defaults applied.
  sdk::MountLimits limits_for(const MountConfig& config) const;
  // Requests sys/seal's handler to seal once the request finishes.
  void request_seal_after_response() { seal_requested_.store(true); }

 private:
  sdk::Result<void> post_unseal();
  void pre_seal();
  sdk::Result<std::shared_ptr<MountState>> build_mount(const MountEntry& entry);
  sdk::Result<void> persist_table(MountTable table);
  sdk::Result<MountEntry> new_entry(MountTable table, std::string path, std::string type);
  sdk::Result<CoreResponse> handle_locked(CoreRequest& request);
  // The mount whose API path is exactly `api_path`, or nullptr.
  std::shared_ptr<MountState> mount_at(std::string_view api_path) const;
  // The expiration manager's way back into engines and the token store.
  lease::ExpirationCallbacks expiration_callbacks();
  sdk::Result<void> start_expiration();
  // The request as the audit log records it, between its two entries.
  struct AuditTrail {
    std::optional<audit::AuditRequest> request{};
    // Set when the request entry waits to be written with the response entry (a
    // refusal: broker.h's log_exchange).
    std::optional<audit::Broker::DeferredRequest> deferred{};
    std::vector<std::string> granting{};  // policies that granted the operation
  };
  sdk::Result<CoreResponse> run_pipeline(CoreRequest& request, AuditTrail& trail);
  // Writes the request entry (when a device is enabled); an error means no device
  // recorded it and the request must not run. A refusal's entry (not `allowed`: nothing
  // runs) is only prepared, and written with the response entry.
  sdk::Result<void> audit_request(AuditTrail& trail, const CoreRequest& request,
                                  const sdk::Request& engine_request, const MountState& mount,
                                  const auth::TokenEntry* token, bool allowed,
                                  std::string_view error);
  sdk::Result<void> audit_response(const AuditTrail& trail,
                                   const sdk::Result<CoreResponse>& result);
  sdk::Result<nlohmann::json> issue_login_token(const CoreRequest& request,
                                                const MountState& mount,
                                                const sdk::AuthInfo& auth,
                                                std::vector<std::string>& warnings);

  CoreOptions options_;
  barrier::Barrier barrier_;
  barrier::SealManager seal_;
  Metrics metrics_;

  mutable std::shared_mutex state_mu_;
  std::atomic<bool> sealed_{true};
  std::atomic<bool> seal_requested_{false};

  // Built at unseal, dropped at seal (guarded by state_mu_).
  std::unique_ptr<sdk::StorageView> token_view_;
  std::unique_ptr<sdk::StorageView> policy_view_;
  std::unique_ptr<auth::TokenStore> tokens_;
  std::unique_ptr<PolicyStore> policies_;
  std::unique_ptr<sdk::StorageView> password_view_;
  std::unique_ptr<PasswordPolicyStore> passwords_;
  std::unique_ptr<sdk::StorageView> lease_view_;
  std::unique_ptr<lease::ExpirationManager> expiration_;
  std::unique_ptr<sdk::StorageView> audit_view_;
  audit::Broker audit_;

  mutable std::shared_mutex mounts_mu_;
  std::map<std::string, std::shared_ptr<MountState>> mounts_;  // by api path; mounts_mu_
};

}  // namespace leasefs::backend::core
