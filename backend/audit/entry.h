// What the core tells the audit broker, and the JSON lines built from it. Request and
// response entries have Vault's shapes (audit/types.go: empty members are left out), so
// tools that read Vault's audit log read ours; "access" entries are leasefs's own: one per
// file open that a FUSE mount reports. Every string of request and response data,
// every token and (by default) every accessor is written as a salted HMAC; paths,
// policies, lease ids, error text and access-event fields are written as they are.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/audit/hasher.h"
#include "backend/sdk/clock.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::audit {

struct PolicyResults {
  bool allowed = false;
  std::vector<std::string> granting_policies{};  // ACL policy names
};

// A token as audit shows it: the caller's (request.auth) or a login's new one
// (response.auth).
struct AuditAuth {
  std::string client_token{};  // HMAC'd
  std::string accessor{};      // HMAC'd unless the device has hmac_accessor=false
  std::string display_name{};
  std::vector<std::string> policies{};
  std::vector<std::string> token_policies{};
  std::vector<std::string> identity_policies{};
  std::map<std::string, std::string> metadata{};
  std::string entity_id{};
  std::string token_type{};                       // "service" or "batch"
  std::int64_t token_ttl = 0;                     // seconds
  std::string token_issue_time{};                 // RFC 3339
  std::int64_t num_uses = 0;                      // response.auth: the new token's use limit
  std::int64_t remaining_uses = 0;                // request.auth: uses left on the caller's token
  std::optional<PolicyResults> policy_results{};  // request.auth: the ACL decision
};

// The "auth" and "request" members of a request entry as one device wrote them, each
// with its leading comma. The response entry repeats both byte for byte, so it takes
// them from here instead of writing and hashing them again.
struct RequestMembers {
  std::string auth{};
  std::string request{};
};

// One API request, as the core filled it in before handling it. The same object is
// passed to log_request and then to log_response, so both entries carry the same id.
struct AuditRequest {
  std::string id{};           // request id (UUID), required
  std::string operation{};    // sdk::operation_name(): "read", "update", "list", ...
  std::string path{};         // full API path without "/v1/": "secret/data/app"
  std::string mount_point{};  // "secret/"
  std::string mount_type{};   // "kv"
  std::string mount_accessor{};
  std::string client_token{};           // HMAC'd
  std::string client_token_accessor{};  // HMAC'd unless hmac_accessor=false
  nlohmann::json data{};                // the request body / query; its strings are HMAC'd
  std::string remote_address{};
  int remote_port = 0;
  std::int64_t wrap_ttl = 0;  // seconds
  // Request headers chosen for auditing (never the token headers). Values of the
  // names in hmac_headers are HMAC'd, the others written as they are.
  std::map<std::string, std::vector<std::string>> headers{};
  std::vector<std::string> hmac_headers{};
  std::optional<AuditAuth> auth{};  // the calling token, when there is one
  // The mount's audit_non_hmac_request_keys / audit_non_hmac_response_keys.
  std::vector<std::string> non_hmac_request_keys{};
  std::vector<std::string> non_hmac_response_keys{};
  // Kept by Broker::log_request for log_response, by device serial; not the core's to
  // fill. The same AuditRequest goes to both calls, from one thread.
  mutable std::vector<std::pair<std::uint64_t, RequestMembers>> written{};
};

// What the request produced.
struct AuditResponse {
  std::optional<AuditAuth> auth{};  // a login's new token
  std::string lease_id{};           // response.secret.lease_id (not secret; plain)
  nlohmann::json data{};            // its strings are HMAC'd
  // When set, the data to log instead of `data`, which is then ignored: the core points
  // at the response it is about to send rather than copying it. Must outlive the call.
  const nlohmann::json* data_view = nullptr;
  std::vector<std::string> warnings{};
  std::string mount_point{};
  std::string mount_type{};
  std::string mount_accessor{};
  std::string error{};  // the error the client got, if any ("permission denied")

  const nlohmann::json& logged_data() const { return data_view != nullptr ? *data_view : data; }
};

enum class AccessResult { kAllowed, kDenied, kError };
std::string_view access_result_name(AccessResult result);

// One open of a secret file on a FUSE mount, as the mount reports it.
struct AccessEvent {
  sdk::WallTime time{};    // when the mount saw the open
  std::string host{};      // the mount's host name
  std::string mount{};     // the mount's directory on that host
  std::string file{};      // the file's path inside the mount
  std::string path{};      // the backend path it reads ("database/creds/ro")
  std::string lease_id{};  // the lease that served it ("" when none); not secret: plain
  std::int64_t pid = -1;
  std::string exe{};
  std::int64_t uid = -1;
  std::int64_t gid = -1;
  std::string cgroup{};
  AccessResult result = AccessResult::kAllowed;
  std::string error{};  // why it was denied or failed

  friend bool operator==(const AccessEvent&, const AccessEvent&) = default;
};

// Who reported a batch of access events (the mount's token, from the request that
// carried them).
struct AccessReporter {
  std::string request_id{};
  std::string client_token{};  // HMAC'd
  std::string accessor{};      // HMAC'd unless hmac_accessor=false
  std::string display_name{};
  std::string remote_address{};
};

// Limits on what one sys/access-events request may carry.
inline constexpr std::size_t kMaxAccessEventsPerBatch = 1000;
inline constexpr std::size_t kMaxAccessFieldSize = 4096;

// Parses the body of POST sys/access-events:
//   {"events":[{"time":"<RFC 3339>" | <unix seconds>, "host", "mount", "file", "path",
//               "lease_id", "pid", "exe", "uid", "gid", "cgroup",
//               "result":"allowed"|"denied"|"error", "error"}]}
// `time` defaults to `now`; "result" is required; strings are at most
// kMaxAccessFieldSize bytes; at most kMaxAccessEventsPerBatch events. Errors are
// kInvalidArgument naming the event index and field.
sdk::Result<std::vector<AccessEvent>> parse_access_events(const nlohmann::json& body,
                                                          sdk::WallTime now);
// The same for the "events" list itself (the body's member, not a copy of it).
sdk::Result<std::vector<AccessEvent>> parse_access_event_list(const nlohmann::json& events,
                                                              sdk::WallTime now);
// The same straight from the body's text, without a JSON tree (RapidJSON's SAX reader),
// for the common shape only: a top-level object whose one member is "events", a list
// of at most kMaxAccessEventsPerBatch objects whose members are strings, numbers,
// booleans or null, each event valid. Returns nullopt for any other body — malformed
// JSON, other top-level keys, nested objects or lists in an event, an event that
// parse_access_events would refuse — so the caller parses it the other way, which
// words the error. Where it returns events they equal parse_access_events(
// json::parse(body), now) field by field (a key repeated in an event: the last one
// counts, as in the tree). Thread-safe.
std::optional<std::vector<AccessEvent>> try_parse_access_events(std::string_view body,
                                                                sdk::WallTime now);
// Checks one event's fields as parse_access_events does.
sdk::Result<void> validate_access_event(const AccessEvent& event);

// How one device formats entries.
struct FormatOptions {
  Hasher* hasher = nullptr;  // null: log_raw, values written in clear
  bool hmac_accessor = true;
  bool elide_list_responses = false;
  std::string_view prefix{};
};

// The body of one entry for the chain (chain.h): PREFIX + a JSON object whose first
// members are "time" and "type", the others in sorted order. `time` is RFC 3339. Never
// fails: strings that are not UTF-8 are written with U+FFFD in their place.
// `keep` (optional) receives the request entry's auth and request members; passing them
// back as `reuse` for the same request and device writes them without recomputing.
std::string format_request_entry(const AuditRequest& request, std::string_view error,
                                 std::string_view time, const FormatOptions& options,
                                 RequestMembers* keep = nullptr);
std::string format_response_entry(const AuditRequest& request, const AuditResponse& response,
                                  std::string_view time, const FormatOptions& options,
                                  const RequestMembers* reuse = nullptr);
std::string format_access_entry(const AccessEvent& event, const AccessReporter& reporter,
                                std::string_view time, const FormatOptions& options);
// The same for the events of one batch: the "auth" and "request" members (with their
// leading comma), which all of its entries share, are written and hashed once by
// access_entry_members and passed to each event's entry.
std::string access_entry_members(const AccessReporter& reporter, const FormatOptions& options);
std::string format_access_entry(const AccessEvent& event, std::string_view time,
                                const FormatOptions& options, std::string_view reporter_members);

// Parses RFC 3339 ("2026-11-28T13:24:54.123456789Z", "...+02:00"); nullopt if malformed.
std::optional<sdk::WallTime> parse_rfc3339(std::string_view text);

}  // namespace leasefs::backend::audit
