// The mount's side of the Vault API: authenticate (token file or AppRole), keep the
// token alive (renew-self at ~2/3 of its TTL, log in again or re-read the token file
// when it stops working), fetch secrets, renew and revoke their leases, and post access
// events. Every call is bounded by the configured timeout (backend/api's promise), and
// the outcome of each call updates the reachability shown in .leasefs/status. Messages
// never contain tokens or secret values.
#pragma once

#include <utility>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/api/client.h"
#include "backend/sdk/clock.h"
#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"
#include "fs/config.h"

namespace leasefs::fs {

using Headers = std::vector<std::pair<std::string, std::string>>;

// One generated or read secret.
struct Fetched {
  nlohmann::json envelope{};  // the whole response (data, auth, lease fields)
  std::string lease_id{};     // "" for static secrets and token leases
  std::chrono::seconds ttl{0};
  bool renewable = false;
  // For responses that created a token (auth/token/create, logins): the token is the
  // handle to renew and revoke it, and its accessor names it.
  sdk::SecureBuffer auth_token{};
  std::string accessor{};
};

// A renewal's answer.
struct Renewed {
  std::chrono::seconds ttl{0};
  bool renewable = false;
};

struct ClientHealth {
  bool reachable = false;       // the last call got an HTTP answer
  std::string last_error{};     // of the last failed call
  std::int64_t token_ttl = -1;  // seconds left on the mount's token; 0 = no expiry; -1 unknown
  bool token_renewable = false;
};

class VaultClient {
 public:
  // Builds the HTTP client (no connection yet). Errors: a bad address or CA file.
  static sdk::Result<std::unique_ptr<VaultClient>> create(const ServerSpec& spec);
  ~VaultClient();

  // Reads the token file or logs in with AppRole, then starts the thread that keeps the
  // token alive. A server that cannot be reached is not an error here (the token file is
  // enough to start; AppRole retries in the background). Errors: unreadable files.
  sdk::Result<void> start();
  // Stops the token thread. Idempotent.
  void stop();

  // GET/POST/PUT the secret at `path`. `headers` carry the caller's identity. Errors:
  // kUnavailable/kDeadlineExceeded when the server cannot be reached in time, the
  // server's error (its code following the HTTP status) otherwise.
  sdk::Result<Fetched> fetch(const std::string& method, const std::string& path,
                             const nlohmann::json& args, const Headers& headers);

  // sys/leases/renew and sys/leases/revoke.
  sdk::Result<Renewed> renew_lease(const std::string& lease_id, std::chrono::seconds increment);
  sdk::Result<void> revoke_lease(const std::string& lease_id);
  // auth/token/renew and auth/token/revoke for tokens the mount created as secrets.
  sdk::Result<Renewed> renew_token(const sdk::SecureBuffer& token, std::chrono::seconds increment);
  sdk::Result<void> revoke_token(const sdk::SecureBuffer& token);

  // Whether the server still knows a lease (sys/leases/lookup) or, for a token the
  // mount created, its accessor (auth/token/lookup-accessor). Errors: the server could
  // not say (unreachable, or another answer than 200/400/404).
  sdk::Result<bool> lease_alive(const std::string& lease_id, const std::string& accessor);

  // POST sys/access-events. Returns the HTTP status (404/405: the server has no such
  // endpoint) or a transport error.
  sdk::Result<int> post_access_events(std::string_view body);

  ClientHealth health() const;
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  VaultClient() = default;
  sdk::Result<backend::api::ApiResponse> call(std::string_view method, const std::string& path,
                                              const nlohmann::json& body,
                                              const Headers& headers = {});
  sdk::Result<nlohmann::json> call_json(std::string_view method, const std::string& path,
                                        const nlohmann::json& body, const Headers& headers = {});
  sdk::Result<void> authenticate();
  void token_loop();
  std::string token() const;

  ServerSpec spec_{};
  std::chrono::milliseconds timeout_{5000};
  std::unique_ptr<backend::api::Client> client_{};

  mutable std::mutex mu_{};
  std::condition_variable cv_{};
  std::string token_{};
  std::chrono::steady_clock::time_point token_expires_{};  // epoch: does not expire
  bool token_renewable_ = false;
  bool token_known_ = false;
  bool reauth_needed_ = false;
  bool stopping_ = false;
  std::thread token_thread_{};

  std::atomic<bool> reachable_{false};
  mutable std::mutex error_mu_{};
  std::string last_error_{};
};

}  // namespace leasefs::fs
