// The compiled form of a token's policies. The request pipeline builds one Acl per set
// of policies and asks it, on every request, whether the operation on the path may go
// ahead; sys/capabilities-self asks it for the capabilities on a path. Matching follows
// Vault exactly (vault/acl.go): an exact rule wins; otherwise the highest-priority glob
// or `+` rule; the same pattern in several policies is merged; deny wins.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/auth/policy.h"
#include "backend/sdk/clock.h"
#include "backend/sdk/request.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::auth {

// The two built-in policies.
inline constexpr std::string_view kRootPolicyName = "root";
inline constexpr std::string_view kDefaultPolicyName = "default";

// The text the `default` policy starts with; the policy store writes it once and
// operators may edit it afterwards, as in Vault.
inline constexpr std::string_view kDefaultPolicyText =
    R"hcl(# The default policy: what every token may do to and for itself. Attached to every
# token unless it was created with no_default_policy. Operators may edit it.

# A token can look itself up, renew itself and revoke itself.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# A token can ask what it may do on a path, and see its whole resultant ACL (UIs use it).
path "sys/capabilities-self" {
  capabilities = ["update"]
}
path "sys/internal/ui/resultant-acl" {
  capabilities = ["read"]
}

# Lease renewal and lookup by lease id (knowing the id is the credential); sys/renew is
# the older spelling that old clients still use.
path "sys/renew" {
  capabilities = ["update"]
}
path "sys/leases/renew" {
  capabilities = ["update"]
}
path "sys/leases/lookup" {
  capabilities = ["update"]
}

# The token's private cubbyhole.
path "cubbyhole/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Response wrapping: wrap a value, inspect a wrapping token, unwrap one.
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}

# Hashing helpers.
path "sys/tools/hash" {
  capabilities = ["update"]
}
path "sys/tools/hash/*" {
  capabilities = ["update"]
}
)hcl";

// What sys/capabilities-self reports for one path.
struct Capabilities {
  // capability::* bits of the rule that applies (kAllGrants for root, 0 when none).
  std::uint32_t bits = 0;
  // Vault's list: ["root"] for the root policy; ["deny"] when denied or nothing is
  // granted; otherwise in Vault's order sudo, read, list, update, delete, create, patch.
  std::vector<std::string> names{};
};

// The ACL's answer for one request.
struct AclDecision {
  bool allowed = false;
  // The matching rule grants sudo (or the token is root): root-protected paths are open.
  bool root_privs = false;
  bool is_root = false;
  // The policies whose rule granted the operation's capability, for the audit log's
  // policy_results.granting_policies (Vault fills it once the capability matched, so
  // a request later refused by a parameter rule or by sudo still names them).
  std::vector<std::string> granting_policies{};
};

class Acl {
 public:
  // Compiles `policies` (any order; a policy may appear once). A policy named "root"
  // gives the root ACL, which allows everything including sudo; it must come alone
  // (invalid_argument "other policies present along with root", as Vault). Policies
  // with the same pattern are merged as Vault merges them. An empty span gives an ACL
  // that denies everything. The result keeps no reference to `policies`.
  static sdk::Result<Acl> build(std::span<const Policy> policies);

  // The capabilities on `path` (relative to the API root, e.g. "secret/data/x"; leading
  // '/' ignored), found as for a list operation (a trailing '/' may also match the rule
  // for the path without it), as Vault's sys/capabilities(-self) does.
  Capabilities capabilities(std::string_view path) const;

  // Whether `op` on `path` may go ahead. `request_data` is the request body (for reads
  // the query parameters); only its top-level keys matter, and only for read, create,
  // update and patch (Vault's allowed/denied/required_parameters). `path_needs_sudo`
  // says the path is root-protected (the core decides which): then the rule must also
  // grant sudo. `wrap_ttl` is the requested response-wrapping TTL, checked against
  // min/max_wrapping_ttl (a rule with either set refuses unwrapped requests).
  AclDecision allowed(sdk::Operation op, std::string_view path, const nlohmann::json& request_data,
                      bool path_needs_sudo,
                      std::optional<sdk::Duration> wrap_ttl = std::nullopt) const;

  // Whether allowed() would look at `request_data` for `op` on `path`: the rule that
  // decides has allowed, denied or required parameters and `op` carries parameters. A
  // caller that holds the body in another form builds the tree only then.
  bool reads_parameters(sdk::Operation op, std::string_view path) const;

  bool is_root() const { return root_; }

  // Thread-safety: an Acl is immutable once built; share it freely between threads.

  // Merged rules, one per distinct pattern, for inspection (resultant-acl, tests).
  struct Rule {
    std::string pattern{};  // without the trailing '*'
    bool is_prefix = false;
    bool has_segment_wildcards = false;
    std::uint32_t capabilities = 0;
    ParameterMap allowed_parameters{};
    ParameterMap denied_parameters{};
    std::vector<std::string> required_parameters{};  // lower-cased
    sdk::Duration min_wrapping_ttl{};
    sdk::Duration max_wrapping_ttl{};
    // Per capability bit position: the policies that granted it.
    std::array<std::vector<std::string>, capability::kCount> granting{};
    // Segment rules only: `pattern` split on '/', and the priority inputs.
    std::vector<std::string> segments{};
    int first_wildcard = 0;
    int wildcard_count = 0;
  };
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  const Rule* find_exact(std::string_view path) const;
  const Rule* find_longest_prefix(std::string_view path) const;
  const Rule* find_non_exact(std::string_view path) const;
  const Rule* find_rule(std::string_view path, bool is_list) const;

  const Rule* find_segment(std::string_view path) const;

  // The `+` rules as a trie of segments: a literal segment leads to the child with that
  // text, '+' to the wildcard child. A rule of n segments ends at its n-th node; a glob
  // rule is kept at its (n-1)-th node instead, with its last segment as a prefix to test.
  struct SegmentNode {
    std::vector<std::pair<std::string, std::uint32_t>> literal{};  // sorted by text
    std::uint32_t plus = kNoNode;
    std::vector<std::uint32_t> exact_rules{};  // match a path with no segment left
    std::vector<std::uint32_t> glob_rules{};   // match if the next segment starts right
  };
  static constexpr std::uint32_t kNoNode = 0xffffffffu;

  bool root_ = false;
  std::vector<Rule> rules_{};
  // Indexes into rules_: exact and prefix rules sorted by pattern; the `+` rules' trie,
  // whose root is segment_nodes_[0] when there are any.
  std::vector<std::uint32_t> exact_{};
  std::vector<std::uint32_t> prefix_{};
  std::vector<SegmentNode> segment_nodes_{};
};

}  // namespace leasefs::backend::auth
