// What the expiration manager stores about one lease, and where. Kept apart from the
// manager so the storage layout can be read (and tested) without its machinery.
//
// Layout inside the storage view the core gives the manager ("sys/expire/" behind the
// barrier):
//   id/<lease id>                           the lease record (encode_record): a
//                                           one-line header with what the timer needs
//                                           ("L1 <s|t> <irrevocable 0|1> <revoke
//                                           attempts> <expire ns>"), then the JSON
//                                           record. Restore reads only the header.
//   token/<token hash>/<escaped lease id>   "" : the leases a token owns, including the
//                                           token's own lease; the lease id with '%'
//                                           and '/' escaped so it is one path segment
// Lease ids are request paths plus a random segment ("database/creds/ro/Xy...") or,
// for tokens, the token's creation path plus its hash ("auth/token/create/h3f..."), so
// a one-level listing of id/<prefix> is what LIST sys/leases/lookup/<prefix> shows and
// a walk under it is what revoke-prefix revokes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backend/sdk/clock.h"
#include "backend/sdk/response.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::lease {

inline constexpr std::string_view kRecordFolder = "id/";
inline constexpr std::string_view kTokenIndexFolder = "token/";
// Vault keeps at most this much of a failed revocation's error with the lease.
inline constexpr std::size_t kMaxRevokeErrorBytes = 240;

enum class LeaseKind : std::uint8_t {
  kSecret,  // a secret an engine handed out; revoked through the engine
  kToken,   // a token with a TTL; revoked through the token store
};

// Everything stored about one lease. Engine internal data may hold secrets: it goes to
// storage (behind the barrier) and to the engine's renew/revoke, never to a log.
struct LeaseRecord {
  std::string lease_id{};
  LeaseKind kind = LeaseKind::kSecret;
  std::string path{};         // API request path that made it: "database/creds/ro"
  std::string mount{};        // API path of the owning mount: "database/", "auth/token/"
  std::string secret_type{};  // the engine's secret type (kSecret only)
  nlohmann::json internal = nlohmann::json::object();  // sdk::SecretInfo::internal
  std::string token_hash{};  // kSecret: the token that asked; kToken: the token itself
  sdk::WallTime issue_time{};
  sdk::WallTime expire_time{};
  sdk::WallTime last_renewal_time{};  // the epoch (zero) until first renewed
  bool renewable = false;
  sdk::Duration ttl{0};           // the TTL last granted
  sdk::Duration role_max_ttl{0};  // the engine's (role's) max; 0 = none
  int revoke_attempts = 0;        // failed revocations so far
  std::string revoke_error{};     // the last revocation error (<= 240 bytes)
  bool irrevocable = false;       // out of retries: kept, listed, no timer

  bool renewed() const { return last_renewal_time != sdk::WallTime{}; }
  // What the engine sees when asked to renew (with `increment`) or revoke this lease.
  sdk::LeaseInfo lease_info(sdk::Duration increment = sdk::Duration{0}) const;
};

// The storage key of a lease record: "id/" + lease id.
std::string record_key(std::string_view lease_id);
// The token index key: "token/<token hash>/<escaped lease id>".
std::string token_index_key(std::string_view token_hash, std::string_view lease_id);

// A lease id as one path segment: '%' -> "%25", '/' -> "%2F". Total function.
std::string escape_segment(std::string_view id);
// The inverse; nullopt for a malformed escape.
std::optional<std::string> unescape_segment(std::string_view segment);

// Checks a lease id that came from outside (a client, a request path): non-empty and a
// valid storage key once under "id/". invalid_argument otherwise.
sdk::Result<void> validate_lease_id(std::string_view id);
// Checks a token hash: non-empty, one printable path segment. invalid_argument.
sdk::Result<void> validate_token_hash(std::string_view token_hash);

// The few fields the timer needs: what restore reads from each of possibly a million
// records, from the record's header line, without parsing its JSON.
struct LeaseSchedule {
  std::string lease_id{};  // filled in by the caller, from the storage key
  LeaseKind kind = LeaseKind::kSecret;
  sdk::WallTime expire_time{};
  int revoke_attempts = 0;
  bool irrevocable = false;
};

// The stored bytes of a record (header line + JSON). Never fails: invalid UTF-8 in
// strings is replaced.
std::string encode_record(const LeaseRecord& record);
// Parses a stored record; data_loss if the bytes are not a well-formed record.
// Never throws.
sdk::Result<LeaseRecord> decode_record(std::string_view bytes);

// The schedule fields of a stored record, from its header only (the barrier binds a
// value to its key, so the lease id is the key's); data_loss for a malformed header.
sdk::Result<LeaseSchedule> decode_schedule(std::string_view bytes);

// `message` cut to at most kMaxRevokeErrorBytes without splitting a UTF-8 character.
std::string truncate_error(std::string_view message);

}  // namespace leasefs::backend::lease
