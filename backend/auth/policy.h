// ACL policies as Vault writes them: HCL (the subset Vault's policies use) or JSON,
// parsed into plain rules. This is the only place that reads policy text; the Acl
// (acl.h) compiles parsed policies into the structure that answers requests.
//
// Accepted HCL: `path "<glob>" { ... }` blocks (an `=` before the `{` is allowed),
// `key = value` items, strings with Go-style escapes, numbers, true/false, lists, nested
// objects, and `#`, `//` and `/* */` comments. Heredocs are not accepted. Text whose
// first non-blank character is `{` is JSON, as in Vault (hashicorp/hcl v1 decides the
// same way).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/clock.h"
#include "backend/sdk/random.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::auth {

// Capability bits, as Vault numbers them (vault/policy.go). A rule whose bits contain
// kDeny contains nothing else.
namespace capability {
inline constexpr std::uint32_t kDeny = 1u << 0;
inline constexpr std::uint32_t kCreate = 1u << 1;
inline constexpr std::uint32_t kRead = 1u << 2;
inline constexpr std::uint32_t kUpdate = 1u << 3;
inline constexpr std::uint32_t kDelete = 1u << 4;
inline constexpr std::uint32_t kList = 1u << 5;
inline constexpr std::uint32_t kSudo = 1u << 6;
inline constexpr std::uint32_t kPatch = 1u << 7;
// Every capability a policy may grant (all but deny).
inline constexpr std::uint32_t kAllGrants =
    kCreate | kRead | kUpdate | kDelete | kList | kSudo | kPatch;
// Number of distinct bits, for tables indexed by bit position.
inline constexpr std::size_t kCount = 8;
}  // namespace capability

// "read" -> capability::kRead; nullopt for a name Vault does not know.
std::optional<std::uint32_t> capability_from_name(std::string_view name);
// The name of exactly one capability bit ("deny", "create", ...).
std::string_view capability_name(std::uint32_t bit);

// Largest policy text accepted, in bytes, and deepest nesting of lists, objects and
// block labels. Both bound the work an untrusted policy can cause.
inline constexpr std::size_t kMaxPolicyBytes = 1u << 20;
inline constexpr int kMaxPolicyDepth = 32;

// Keys of allowed_parameters / denied_parameters (lower-cased, as Vault stores them) to
// the values allowed or denied; an empty list means "any value". Values are kept as JSON
// so they compare with request bodies directly.
using ParameterMap = std::map<std::string, std::vector<nlohmann::json>, std::less<>>;

struct PathRule {
  // The path as written, without a leading '/' and without the trailing '*' of a glob.
  std::string pattern{};
  // True when the written path ended in '*': a prefix match on `pattern` (for segment
  // patterns, on the last segment).
  bool is_prefix = false;
  // True when the path has a `+` segment (Vault's rule: "+", "+/..." or ".../+...").
  bool has_segment_wildcards = false;
  // capability::* bits. Only kDeny when the rule denies.
  std::uint32_t capabilities = 0;
  ParameterMap allowed_parameters{};
  ParameterMap denied_parameters{};
  std::vector<std::string> required_parameters{};
  // Zero when not set.
  sdk::Duration min_wrapping_ttl{};
  sdk::Duration max_wrapping_ttl{};
};

struct Policy {
  std::string name{};
  // The text the policy was parsed from (after base64 decoding), for sys/policies reads.
  std::string raw{};
  // In the order written; the same path may appear more than once (the Acl merges them).
  std::vector<PathRule> rules{};
};

// Parses a policy, choosing JSON when the first non-blank character is '{' and HCL
// otherwise. `name` is stored as given. On failure returns invalid_argument with a
// message that starts "failed to parse policy: " and, where the text has one, names the
// line and column ("line 3, column 12: expected '=' or '{'"). Never throws; input is
// untrusted (any bytes, any size: over kMaxPolicyBytes is refused before parsing).
// Thread-safe.
sdk::Result<Policy> parse_policy(std::string name, std::string_view text);
// The same, forcing one syntax.
sdk::Result<Policy> parse_policy_hcl(std::string name, std::string_view text);
sdk::Result<Policy> parse_policy_json(std::string name, std::string_view text);

// A password policy (Vault's sys/policies/password/:name), HCL or JSON:
//   length = 20
//   rule "charset" { charset = "abcdefghijklmnopqrstuvwxyz" min-chars = 1 }
// Every rule is a charset; the password draws from the union of all charsets and holds
// at least min-chars characters of each. length is 4..100; charsets are printable ASCII.
struct PasswordPolicy {
  struct Charset {
    std::string chars{};  // distinct characters, in first-seen order
    int min_chars = 0;
  };
  int length = 0;
  std::vector<Charset> rules{};
};
// invalid_argument naming the problem ("failed to parse password policy: ...").
sdk::Result<PasswordPolicy> parse_password_policy(std::string_view text);
// A password for `policy`: the minimum of each charset first, the rest from the union,
// then shuffled; every choice uniform (rejection sampling).
sdk::Result<std::string> generate_password(const PasswordPolicy& policy, sdk::Random& random);

// Vault's API accepts policy text base64-encoded (sys/policies/acl/:name, "policy"):
// when the whole text is valid standard, padded base64 (line breaks ignored, as Go's
// decoder does) and decodes to valid UTF-8, returns the decoded text; otherwise returns
// the text unchanged. Plain HCL or JSON is never valid base64 (it needs quotes or
// spaces), so this does not misread a real policy.
std::string decode_policy_text(std::string_view text);

}  // namespace leasefs::backend::auth
