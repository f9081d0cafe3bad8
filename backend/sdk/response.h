// What an engine returns: data for the client, and optionally a secret to put under a
// lease (SecretInfo) or an identity to turn into a token (AuthInfo). The core fills in
// the lease id and token; engines never make either themselves.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backend/sdk/clock.h"

namespace leasefs::backend::sdk {

// Asks the core to put the response's data under a lease.
struct SecretInfo {
  std::string type;                 // the engine's secret type that can renew/revoke it
  nlohmann::json internal = nlohmann::json::object();  // kept for renew/revoke, never sent
  Duration ttl{0};                  // wanted TTL; 0 = the mount's default
  Duration max_ttl{0};              // the role's max; 0 = the mount's max
  bool renewable = true;
};

// Asks the core to issue a token (auth methods' login paths).
struct AuthInfo {
  std::vector<std::string> policies;
  std::map<std::string, std::string> metadata;
  std::string display_name;
  Duration ttl{0};
  Duration max_ttl{0};
  Duration explicit_max_ttl{0};
  Duration period{0};
  bool renewable = true;
  int num_uses = 0;
  bool no_default_policy = false;
  nlohmann::json internal = nlohmann::json::object();  // kept for renew checks
  // CIDR blocks ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32") the issued token may be
  // used from (Vault's token_bound_cidrs); empty = from anywhere.
  std::vector<std::string> bound_cidrs{};
};

// A body that is not Vault's JSON envelope: ssh/public_key (text), pki/crl (DER).
struct RawBody {
  int status = 200;
  std::string content_type;
  std::string body;
};

struct Response {
  nlohmann::json data;  // null, or an object
  std::optional<SecretInfo> secret;
  std::optional<AuthInfo> auth;
  std::vector<std::string> warnings;
  std::optional<RawBody> raw;
  // A lease_duration to show without creating a lease (KV v1's "ttl" key): the core
  // puts it in the envelope's lease_duration, leaves lease_id "" and renewable false,
  // and registers nothing. Ignored when `secret` is set.
  std::optional<Duration> advisory_ttl{};
  // HTTP status of the envelope: 0 = default (200 with data, 204 without). Set when
  // Vault answers with data or warnings and a non-2xx status, e.g. 404 with the
  // version metadata for a deleted KV v2 version. Not used with `raw`.
  int status = 0;
  // The core's own backends only (auth/token/): an "auth" block for a token they made
  // or renewed themselves, passed to the client as is.
  nlohmann::json auth_block{};
  // The core's own backends only (sys/leases/renew): the envelope's lease fields for a
  // lease they renewed, {"lease_id", "renewable", "lease_duration"}.
  nlohmann::json lease_block{};

  static Response with_data(nlohmann::json data) {
    Response r;
    r.data = std::move(data);
    return r;
  }
  // No content: HTTP 204.
  static Response empty() { return Response{}; }
  bool is_empty() const {
    return data.is_null() && !secret && !auth && warnings.empty() && !raw;
  }
};

// A lease as the engine that created it sees it, when asked to renew or revoke.
struct LeaseInfo {
  std::string lease_id;
  std::string secret_type;
  nlohmann::json internal = nlohmann::json::object();  // SecretInfo::internal, as stored
  WallTime issue_time{};
  WallTime expire_time{};
  Duration increment{0};  // renew: the wanted new TTL from now (0 = default)
};

}  // namespace leasefs::backend::sdk
