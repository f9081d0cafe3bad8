// ACL matching against Vault's documented behaviour: exact paths, '*' globs, '+'
// segments, the five priority rules, merging of one pattern across policies, deny,
// root, the default policy, parameter constraints, wrapping TTLs and sudo.
#include "backend/auth/acl.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include <gtest/gtest.h>

namespace leasefs::backend::auth {
namespace {

using nlohmann::json;
using sdk::Operation;
using std::chrono::seconds;

Policy policy(std::string name, std::string_view text) {
  auto p = parse_policy(std::move(name), text);
  EXPECT_TRUE(p) << (p ? "" : p.error().message());
  return p ? std::move(*p) : Policy{};
}

Acl acl_of(std::vector<Policy> policies) {
  auto acl = Acl::build(policies);
  EXPECT_TRUE(acl) << (acl ? "" : acl.error().message());
  return acl ? std::move(*acl) : Acl{};
}

Acl acl_of(std::string_view text) {
  return acl_of({policy("p", text)});
}

bool can(const Acl& acl, Operation op, std::string_view path, const json& data = json::object()) {
  return acl.allowed(op, path, data, /*path_needs_sudo=*/false).allowed;
}

std::vector<std::string> caps(const Acl& acl, std::string_view path) {
  return acl.capabilities(path).names;
}

using Names = std::vector<std::string>;

TEST(AclTest, EmptyAclDeniesEverything) {
  Acl acl = acl_of(std::vector<Policy>{});
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/foo"));
  EXPECT_EQ(caps(acl, "secret/foo"), Names{"deny"});
  EXPECT_FALSE(acl.is_root());
}

// The glob examples of Vault's policy documentation.
TEST(AclTest, DocumentedGlobExamples) {
  Acl acl = acl_of(R"(
path "secret/foo" { capabilities = ["read"] }
path "secret/bar/*" { capabilities = ["read"] }
path "secret/zip-*" { capabilities = ["read"] }
)");
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/foo"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/food"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/foo/bar"));
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/bar/zip"));
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/bar/zip/zap"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/bars/zip"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/bar"));  // the glob needs the '/'
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/zip-zap"));
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/zip-zap/zong"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/zip/zap"));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "secret/foo"));
}

TEST(AclTest, DocumentedSegmentExamples) {
  Acl acl = acl_of(R"(
path "secret/+/teamb" { capabilities = ["read"] }
path "secret/+/+/teamc" { capabilities = ["read"] }
path "secret/+/teams/*" { capabilities = ["list"] }
)");
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/foo/teamb"));
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/bar/teamb"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/foo/bar/teamb"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/teamb"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/foo/teamb/x"));
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/foo/bar/teamc"));
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/bar/foo/teamc"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/foo/teamc"));
  EXPECT_TRUE(can(acl, Operation::kList, "secret/a/teams/x"));
  EXPECT_TRUE(can(acl, Operation::kList, "secret/a/teams/x/y/z"));
  EXPECT_TRUE(can(acl, Operation::kList, "secret/a/teams/"));
  EXPECT_FALSE(can(acl, Operation::kList, "secret/a/b/teams/x"));
  // '+' is one whole segment: an empty segment counts, a partial one does not match.
  EXPECT_TRUE(can(acl, Operation::kRead, "secret//teamb"));
}

TEST(AclTest, ExactRuleBeatsEveryGlob) {
  Acl acl = acl_of(R"(
path "secret/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }
path "secret/super-secret" { capabilities = ["deny"] }
path "secret/foo*" { capabilities = ["read"] }
path "secret/foo/bar" { capabilities = ["update"] }
)");
  EXPECT_TRUE(can(acl, Operation::kUpdate, "secret/anything"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/super-secret"));
  EXPECT_EQ(caps(acl, "secret/super-secret"), Names{"deny"});
  // secret/foo* is a longer prefix than secret/*, so it alone applies to secret/food...
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/food"));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "secret/food"));
  // ...and the exact secret/foo/bar beats it.
  EXPECT_TRUE(can(acl, Operation::kUpdate, "secret/foo/bar"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/foo/bar"));
}

// Each case has a "read" rule and an "update" rule for the same path; the update rule
// must win by the priority rule named.
TEST(AclTest, PriorityRules) {
  struct Case {
    const char* why;
    const char* low;   // gets "read"
    const char* high;  // gets "update"
    const char* path;
  };
  const Case cases[] = {
      // The documentation's example: same first wildcard, both globs, more '+' loses (3).
      {"rule 3 (docs)", "secret/+/+/foo/*", "secret/*", "secret/a/b/foo/c"},
      {"rule 1: '+' before the glob", "secret/+/teams", "secret/a*", "secret/a/teams"},
      {"rule 1: plus at 0 vs none", "+/*", "*", "foo/bar/bar/baz"},
      {"rule 1: earlier plus", "+/*", "foo/+/*", "foo/bar/bar/baz"},
      {"rule 1: '(' sorts before '+' but position decides", "foo/+/(ar/baz", "foo/(ar/+/baz",
       "foo/(ar/(ar/baz"},
      {"rule 2: glob loses to the same without glob", "secret/*", "secret/+/teams",
       "secret/a/teams"},
      {"rule 2: segment glob", "foo/bar/+/baz*", "foo/bar/+/baz", "foo/bar/bar/baz"},
      {"rule 2: foo/* vs foo/+", "foo/*", "foo/+", "foo/x"},
      {"rule 2 before rule 3", "foo/+/+/*", "foo/+/bar/baz", "foo/bar/bar/baz"},
      {"rule 3: more wildcards, no glob", "foo/+/+/baz", "foo/+/bar/baz", "foo/bar/bar/baz"},
      {"rule 4: shorter", "foo/bar/+/b*", "foo/bar/+/ba*", "foo/bar/bar/baz"},
      {"plain globs: the longest prefix", "secret/*", "secret/foo*", "secret/foobar"},
      {"rule 5: lexicographically smaller", "+/+/y", "+/x/+", "q/x/y"},
  };
  for (const Case& c : cases) {
    std::string text = std::string("path \"") + c.low + "\" { capabilities = [\"read\"] }\n" +
                       "path \"" + c.high + "\" { capabilities = [\"update\"] }\n";
    Acl acl = acl_of(text);
    EXPECT_TRUE(can(acl, Operation::kUpdate, c.path)) << c.why;
    EXPECT_FALSE(can(acl, Operation::kRead, c.path)) << c.why;
    // Order of writing does not matter.
    std::string reversed = std::string("path \"") + c.high +
                           "\" { capabilities = [\"update\"] }\n" + "path \"" + c.low +
                           "\" { capabilities = [\"read\"] }\n";
    Acl acl2 = acl_of(reversed);
    EXPECT_TRUE(can(acl2, Operation::kUpdate, c.path)) << c.why;
    EXPECT_FALSE(can(acl2, Operation::kRead, c.path)) << c.why;
  }
}

TEST(AclTest, MoreSegmentPriorityExamples) {
  Acl acl = acl_of(R"(
path "a/+/b" { capabilities = ["read"] }
path "a/+/+" { capabilities = ["update"] }
)");
  // "a/+/+" has more '+' segments, so rule 3 already decides for a/+/b.
  EXPECT_TRUE(can(acl, Operation::kRead, "a/x/b"));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "a/x/b"));
  Acl acl2 = acl_of(R"(
path "+/b/c" { capabilities = ["read"] }
path "+/b/d*" { capabilities = ["update"] }
path "+/b/c*" { capabilities = ["list"] }
)");
  // +/b/c (no glob) beats both globs; between the globs, c* and d* never match together.
  EXPECT_TRUE(can(acl2, Operation::kRead, "x/b/c"));
  EXPECT_TRUE(can(acl2, Operation::kList, "x/b/cc"));
}

// A small policy in the style of Vault's own ACL tests, with the shorthand, globs and
// segments mixed, checked operation by operation (allowed, sudo).
TEST(AclTest, MixedPolicyTable) {
  Acl acl = acl_of(R"(
path "dev/*" { policy = "sudo" }
path "stage/*" { policy = "write" }
path "stage/aws/*" {
  policy = "read"
  capabilities = ["update", "sudo"]
}
path "prod/*" { policy = "read" }
path "prod/aws/*" { policy = "deny" }
path "foo/bar" { capabilities = ["read", "create", "sudo"] }
path "baz/quux" { capabilities = ["read", "create", "patch"] }
path "test/+/segment" { capabilities = ["read"] }
path "+/segment/at/front" { capabilities = ["read"] }
path "test/segment/at/end/+" { capabilities = ["read"] }
path "test/segment/at/end/v2/+/" { capabilities = ["read"] }
path "test/+/wildcard/+/*" { capabilities = ["read"] }
path "1/2/*" { capabilities = ["create"] }
path "1/2/+" { capabilities = ["read"] }
path "1/2/+/+" { capabilities = ["update"] }
)");
  struct Case {
    Operation op;
    const char* path;
    bool allowed;
    bool sudo;
  };
  const Case cases[] = {
      {Operation::kRead, "root", false, false},
      {Operation::kRead, "dev/foo", true, true},
      {Operation::kUpdate, "dev/foo", true, true},
      {Operation::kDelete, "stage/foo", true, false},
      {Operation::kList, "stage/aws/foo", true, true},
      {Operation::kUpdate, "stage/aws/foo", true, true},
      {Operation::kDelete, "stage/aws/foo", false, true},
      {Operation::kDelete, "prod/foo", false, false},
      {Operation::kRead, "prod/foo", true, false},
      {Operation::kList, "prod/foo", true, false},
      {Operation::kRead, "prod/aws/foo", false, false},
      {Operation::kRead, "foo/bar", true, true},
      {Operation::kList, "foo/bar", false, true},
      {Operation::kCreate, "foo/bar", true, true},
      {Operation::kPatch, "baz/quux", true, false},
      {Operation::kUpdate, "baz/quux", false, false},
      {Operation::kRead, "test/foo/bar/segment", false, false},
      {Operation::kRead, "test/foo/segment", true, false},
      {Operation::kRead, "test/segment/at/frond", false, false},
      {Operation::kRead, "test/segment/at/front", true, false},
      {Operation::kRead, "test/segment/at/end/foo", true, false},
      {Operation::kRead, "test/segment/at/end/foo/", false, false},
      {Operation::kRead, "test/segment/at/end/v2/foo/", true, false},
      {Operation::kRead, "test/segment/wildcard/at/foo/", true, false},
      {Operation::kRead, "test/segment/wildcard/at/end", true, false},
      {Operation::kRead, "test/segment/wildcard/at", false, false},
      {Operation::kRead, "1/2/3/4", false, false},
      {Operation::kRead, "1/2/3", true, false},
      {Operation::kUpdate, "1/2/3", false, false},
      {Operation::kUpdate, "1/2/3/4", true, false},
      {Operation::kCreate, "1/2/3/4/5", true, false},
  };
  for (const Case& c : cases) {
    AclDecision d = acl.allowed(c.op, c.path, json::object(), false);
    EXPECT_EQ(d.allowed, c.allowed) << operation_name(c.op) << " " << c.path;
    EXPECT_EQ(d.root_privs, c.sudo) << operation_name(c.op) << " " << c.path;
  }
}

TEST(AclTest, SamePatternAcrossPoliciesIsUnioned) {
  Acl acl = acl_of({policy("a", R"(path "kv/foo" { capabilities = ["read"] }
path "kv/path/*" { capabilities = ["read"] }
path "kv/only-a" { capabilities = ["update"] })"),
                    policy("b", R"(path "kv/foo" { capabilities = ["update", "read"] }
path "kv/path/*" { capabilities = ["list"] }
path "kv/path/longer" { capabilities = ["read"] })")});
  EXPECT_EQ(caps(acl, "kv/foo"), (Names{"read", "update"}));
  EXPECT_EQ(acl.allowed(Operation::kRead, "kv/foo", json::object(), false).granting_policies,
            (Names{"a", "b"}));
  EXPECT_EQ(acl.allowed(Operation::kUpdate, "kv/foo", json::object(), false).granting_policies,
            Names{"b"});
  EXPECT_EQ(caps(acl, "kv/path/x"), (Names{"read", "list"}));
  // Different patterns are not unioned: the exact rule alone applies.
  EXPECT_EQ(caps(acl, "kv/path/longer"), Names{"read"});
  EXPECT_FALSE(can(acl, Operation::kList, "kv/path/longer"));
  AclDecision d = acl.allowed(Operation::kUpdate, "kv/only-a", json::object(), false);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.granting_policies, Names{"a"});
  EXPECT_TRUE(
      acl.allowed(Operation::kRead, "kv/nothing", json::object(), false).granting_policies.empty());
}

TEST(AclTest, DenyWinsForTheSamePatternInAnyOrder) {
  Policy grant = policy("grant", R"(path "kv/deny" { capabilities = ["read", "update", "sudo"] })");
  Policy deny = policy("deny", R"(path "kv/deny" { capabilities = ["deny"] })");
  for (auto order : {std::vector<Policy>{grant, deny}, std::vector<Policy>{deny, grant}}) {
    Acl acl = acl_of(order);
    EXPECT_FALSE(can(acl, Operation::kRead, "kv/deny"));
    EXPECT_FALSE(can(acl, Operation::kUpdate, "kv/deny"));
    EXPECT_EQ(caps(acl, "kv/deny"), Names{"deny"});
    AclDecision d = acl.allowed(Operation::kRead, "kv/deny", json::object(), false);
    EXPECT_FALSE(d.root_privs);
    EXPECT_TRUE(d.granting_policies.empty());
  }
  // A deny only counts in the rule that applies: a more specific grant overrides a
  // denying glob (only the highest-priority pattern is used).
  Acl acl = acl_of({policy("a", R"(path "secret/*" { capabilities = ["deny"] })"),
                    policy("b", R"(path "secret/open" { capabilities = ["read"] }
path "secret/open-*" { capabilities = ["read"] })")});
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/open"));
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/open-x"));
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/closed"));
  // The deprecated shorthand deny also wins over capabilities in the same block.
  Acl acl2 = acl_of({policy("a", R"(path "stage/aws/policy/*" { policy = "sudo" })"),
                     policy("b", R"(path "stage/aws/policy/*" {
  policy = "deny"
  capabilities = ["read", "update", "sudo"]
})")});
  EXPECT_FALSE(can(acl2, Operation::kUpdate, "stage/aws/policy/foo"));
}

TEST(AclTest, RootAllowsEverything) {
  Policy root{.name = "root", .raw = "", .rules = {}};
  Acl acl = acl_of({root});
  EXPECT_TRUE(acl.is_root());
  AclDecision d = acl.allowed(Operation::kDelete, "sys/audit/file", json::object(), true);
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.root_privs);
  EXPECT_TRUE(d.is_root);
  EXPECT_EQ(d.granting_policies, Names{"root"});
  EXPECT_EQ(caps(acl, "any/path"), Names{"root"});
  EXPECT_EQ(acl.capabilities("any/path").bits, capability::kAllGrants);
  // Parameter rules and wrapping TTLs do not apply to root.
  EXPECT_TRUE(acl.allowed(Operation::kUpdate, "x", json{{"a", 1}}, true, seconds(1)).allowed);

  auto mixed = Acl::build(std::vector<Policy>{root, policy("default", kDefaultPolicyText)});
  ASSERT_FALSE(mixed);
  EXPECT_EQ(mixed.error().message(), "other policies present along with root");
}

TEST(AclTest, DefaultPolicyGrants) {
  Acl acl = acl_of({policy("default", kDefaultPolicyText)});
  struct Case {
    Operation op;
    const char* path;
    bool allowed;
  };
  const Case cases[] = {
      {Operation::kRead, "auth/token/lookup-self", true},
      {Operation::kUpdate, "auth/token/lookup-self", false},
      {Operation::kUpdate, "auth/token/renew-self", true},
      {Operation::kUpdate, "auth/token/revoke-self", true},
      {Operation::kUpdate, "auth/token/create", false},
      {Operation::kUpdate, "sys/capabilities-self", true},
      {Operation::kRead, "sys/internal/ui/resultant-acl", true},
      {Operation::kUpdate, "sys/renew", true},
      {Operation::kUpdate, "sys/leases/renew", true},
      {Operation::kUpdate, "sys/leases/lookup", true},
      {Operation::kUpdate, "sys/leases/revoke", false},
      {Operation::kCreate, "cubbyhole/mine", true},
      {Operation::kRead, "cubbyhole/a/b", true},
      {Operation::kDelete, "cubbyhole/mine", true},
      {Operation::kList, "cubbyhole/", true},
      {Operation::kPatch, "cubbyhole/mine", false},
      {Operation::kUpdate, "sys/wrapping/wrap", true},
      {Operation::kUpdate, "sys/wrapping/lookup", true},
      {Operation::kUpdate, "sys/wrapping/unwrap", true},
      {Operation::kUpdate, "sys/wrapping/rewrap", false},
      {Operation::kUpdate, "sys/tools/hash", true},
      {Operation::kUpdate, "sys/tools/hash/sha2-256", true},
      {Operation::kRead, "secret/data/foo", false},
      {Operation::kRead, "sys/policies/acl/default", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(can(acl, c.op, c.path), c.allowed) << operation_name(c.op) << " " << c.path;
  }
  EXPECT_EQ(acl.allowed(Operation::kRead, "cubbyhole/x", json::object(), false).granting_policies,
            Names{"default"});
}

TEST(AclTest, CapabilityNamesInVaultOrder) {
  Acl acl = acl_of(R"(
path "all" { capabilities = ["patch", "create", "delete", "update", "list", "read", "sudo"] }
path "some" { capabilities = ["list", "read"] }
path "none" { capabilities = [] }
)");
  EXPECT_EQ(caps(acl, "all"),
            (Names{"sudo", "read", "list", "update", "delete", "create", "patch"}));
  EXPECT_EQ(caps(acl, "some"), (Names{"read", "list"}));
  EXPECT_EQ(caps(acl, "none"), Names{"deny"});
  EXPECT_EQ(caps(acl, "missing"), Names{"deny"});
  EXPECT_EQ(acl.capabilities("missing").bits, 0u);
  // Lookups are as for a list: the trailing '/' may fall back to the path without it.
  EXPECT_EQ(caps(acl, "some/"), (Names{"read", "list"}));
  EXPECT_EQ(caps(acl, "/some"), (Names{"read", "list"}));
}

TEST(AclTest, ListTrailingSlash) {
  Acl acl = acl_of(R"(
path "secret/metadata/app" { capabilities = ["list"] }
path "kv/dir*" { capabilities = ["list"] }
path "kv/dir/*" { capabilities = ["read"] }
)");
  // An exact rule for the path without the '/' grants listing the folder...
  EXPECT_TRUE(can(acl, Operation::kList, "secret/metadata/app/"));
  // ...but not reading it.
  EXPECT_FALSE(can(acl, Operation::kRead, "secret/metadata/app/"));
  // For lists the trimmed path is looked up first: kv/dir matches kv/dir* (list) before
  // kv/dir/ would match kv/dir/* (read).
  EXPECT_TRUE(can(acl, Operation::kList, "kv/dir/"));
  EXPECT_EQ(caps(acl, "kv/dir/"), Names{"list"});
  // Other operations look up kv/dir/ as it is, which kv/dir/* matches.
  EXPECT_TRUE(can(acl, Operation::kRead, "kv/dir/"));
  EXPECT_TRUE(can(acl, Operation::kRead, "kv/dir/x"));
}

TEST(AclTest, LeadingSlashesInTheRequestPathAreIgnored) {
  Acl acl = acl_of(R"(path "/secret/foo" { capabilities = ["read"] })");
  EXPECT_TRUE(can(acl, Operation::kRead, "secret/foo"));
  EXPECT_TRUE(can(acl, Operation::kRead, "//secret/foo"));
}

TEST(AclTest, SudoIsNeededOnRootProtectedPaths) {
  Acl acl = acl_of(R"(
path "sys/audit/*" { capabilities = ["update", "sudo"] }
path "sys/mounts/*" { capabilities = ["update"] }
)");
  AclDecision d = acl.allowed(Operation::kUpdate, "sys/audit/file", json::object(), true);
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.root_privs);
  d = acl.allowed(Operation::kUpdate, "sys/mounts/kv", json::object(), true);
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.root_privs);
  EXPECT_EQ(d.granting_policies, Names{"p"});  // the capability matched; sudo was missing
  EXPECT_TRUE(acl.allowed(Operation::kUpdate, "sys/mounts/kv", json::object(), false).allowed);
  // sudo without the operation's own capability is not enough.
  d = acl.allowed(Operation::kRead, "sys/audit/file", json::object(), true);
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.root_privs);
}

// The parameter examples of Vault's documentation, and the rules behind them.
TEST(AclTest, ParameterConstraints) {
  Acl acl = acl_of(R"(
path "docs/any-bar" {
  capabilities = ["create"]
  allowed_parameters = { "bar" = [] }
}
path "docs/bar-values" {
  capabilities = ["create"]
  allowed_parameters = { "bar" = ["zip", "zap"] }
}
path "docs/bar-values-and-rest" {
  capabilities = ["create"]
  allowed_parameters = {
    "bar" = ["zip", "zap"]
    "*"   = []
  }
}
path "docs/no-bar" {
  capabilities = ["create"]
  denied_parameters = { "bar" = [] }
}
path "docs/bar-not-values" {
  capabilities = ["create"]
  denied_parameters = { "bar" = ["zip", "zap"] }
}
path "docs/nothing" {
  capabilities = ["create"]
  denied_parameters = { "*" = [] }
}
path "docs/required" {
  capabilities = ["create", "read", "list", "delete"]
  required_parameters = ["bar", "Baz"]
}
path "docs/globs" {
  capabilities = ["create"]
  allowed_parameters = { "bar" = ["foo-*", "*-suffix", "*middle*"] }
}
path "docs/both" {
  capabilities = ["create"]
  allowed_parameters = { "*" = [] }
  denied_parameters = { "foo" = [] }
}
path "docs/types" {
  capabilities = ["create"]
  allowed_parameters = {
    "map" = [{"good" = "one"}]
    "int" = [1, 2]
    "bool" = [false]
    "nullable" = ["x"]
  }
}
path "docs/mixed-case" {
  capabilities = ["create"]
  allowed_parameters = { "ALLOW" = ["good"] }
  denied_parameters = { "dEny" = ["bad"] }
}
)");
  struct Case {
    const char* path;
    json data;
    bool allowed;
  };
  const Case cases[] = {
      {"docs/any-bar", {{"bar", "anything"}}, true},
      {"docs/any-bar", {{"bar", 42}}, true},
      {"docs/any-bar", {{"bar", "x"}, {"other", "y"}}, false},
      {"docs/any-bar", json::object(), true},
      {"docs/bar-values", {{"bar", "zip"}}, true},
      {"docs/bar-values", {{"bar", "zop"}}, false},
      {"docs/bar-values", {{"bar", "zip"}, {"x", 1}}, false},
      {"docs/bar-values-and-rest", {{"bar", "zap"}, {"x", 1}}, true},
      {"docs/bar-values-and-rest", {{"bar", "zop"}, {"x", 1}}, false},
      {"docs/no-bar", {{"foo", "x"}}, true},
      {"docs/no-bar", {{"bar", "x"}}, false},
      {"docs/bar-not-values", {{"bar", "zip"}}, false},
      {"docs/bar-not-values", {{"bar", "zop"}}, true},
      {"docs/nothing", {{"a", 1}}, false},
      {"docs/nothing", json::object(), true},
      {"docs/required", {{"bar", 1}, {"baz", 2}}, true},
      {"docs/required", {{"bar", 1}}, false},
      {"docs/required", json::object(), false},
      {"docs/globs", {{"bar", "foo-1"}}, true},
      {"docs/globs", {{"bar", "x-suffix"}}, true},
      {"docs/globs", {{"bar", "a-middle-b"}}, true},
      {"docs/globs", {{"bar", "fo-1"}}, false},
      {"docs/both", {{"x", 1}}, true},
      {"docs/both", {{"foo", 1}}, false},
      {"docs/types", {{"map", {{"good", "one"}}}}, true},
      {"docs/types", {{"map", {{"bad", "one"}}}}, false},
      {"docs/types", {{"int", 1}}, true},
      {"docs/types", {{"int", 1.0}}, true},
      {"docs/types", {{"int", 3}}, false},
      {"docs/types", {{"int", "1"}}, false},
      {"docs/types", {{"bool", false}}, true},
      {"docs/types", {{"bool", true}}, false},
      {"docs/types", {{"nullable", nullptr}}, false},
      // Keys compare case-insensitively, in the policy and in the request.
      {"docs/mixed-case", {{"aLLow", "good"}}, true},
      {"docs/mixed-case", {{"allow", "bad"}}, false},
      {"docs/mixed-case", {{"allow", "good"}, {"DENY", "bad"}}, false},
      {"docs/mixed-case", {{"Neither", "x"}}, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(can(acl, Operation::kCreate, c.path, c.data), c.allowed) << c.path << " " << c.data;
  }
  // Parameters count for read, create, update and patch only.
  EXPECT_FALSE(can(acl, Operation::kRead, "docs/required", json::object()));
  EXPECT_TRUE(can(acl, Operation::kList, "docs/required", json::object()));
  EXPECT_TRUE(can(acl, Operation::kDelete, "docs/required", json::object()));
  // A body that is not an object counts as empty.
  EXPECT_TRUE(can(acl, Operation::kCreate, "docs/nothing", json(nullptr)));
}

// reads_parameters says when allowed() looks at the body at all, so a caller holding
// the body in another form (the core's access-event batches) builds the tree only then.
TEST(AclTest, ReadsParametersOnlyWhereARuleHasThem) {
  Acl acl = acl_of(R"(
path "plain" { capabilities = ["update"] }
path "allow" {
  capabilities = ["update"]
  allowed_parameters = { "a" = [] }
}
path "deny" {
  capabilities = ["update"]
  denied_parameters = { "a" = [] }
}
path "need/*" {
  capabilities = ["update", "list", "delete"]
  required_parameters = ["a"]
}
)");
  EXPECT_FALSE(acl.reads_parameters(Operation::kUpdate, "plain"));
  EXPECT_FALSE(acl.reads_parameters(Operation::kUpdate, "nowhere"));
  EXPECT_TRUE(acl.reads_parameters(Operation::kUpdate, "allow"));
  EXPECT_TRUE(acl.reads_parameters(Operation::kCreate, "deny"));
  EXPECT_TRUE(acl.reads_parameters(Operation::kUpdate, "need/x"));
  EXPECT_TRUE(acl.reads_parameters(Operation::kRead, "need/x"));
  EXPECT_TRUE(acl.reads_parameters(Operation::kPatch, "/need/x"));
  EXPECT_FALSE(acl.reads_parameters(Operation::kList, "need/x"));
  EXPECT_FALSE(acl.reads_parameters(Operation::kDelete, "need/x"));
  Policy root{.name = "root", .raw = "", .rules = {}};
  EXPECT_FALSE(acl_of({root}).reads_parameters(Operation::kUpdate, "need/x"));
}

TEST(AclTest, ListAndCommaValuesAreCheckedItemByItem) {
  Acl acl = acl_of(R"(
path "allow" {
  capabilities = ["update"]
  allowed_parameters = { "policies" = ["web", "db*"] }
}
path "deny" {
  capabilities = ["update"]
  denied_parameters = { "policies" = ["root"] }
}
)");
  EXPECT_TRUE(can(acl, Operation::kUpdate, "allow", {{"policies", json::array({"web", "db-ro"})}}));
  EXPECT_FALSE(
      can(acl, Operation::kUpdate, "allow", {{"policies", json::array({"web", "admin"})}}));
  EXPECT_TRUE(can(acl, Operation::kUpdate, "allow", {{"policies", "web, db-ro"}}));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "allow", {{"policies", "web,admin"}}));
  // leasefs refuses an empty string here, where Vault's comma reading lets it through.
  EXPECT_FALSE(can(acl, Operation::kUpdate, "allow", {{"policies", ""}}));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "deny", {{"policies", json::array({"web", "root"})}}));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "deny", {{"policies", "web, root"}}));
  EXPECT_TRUE(can(acl, Operation::kUpdate, "deny", {{"policies", "web,default"}}));
  EXPECT_TRUE(can(acl, Operation::kUpdate, "deny", {{"policies", ""}}));
}

TEST(AclTest, ParameterConstraintsMergeForTheSamePattern) {
  Acl acl = acl_of({policy("one", R"(
path "foo/bar" {
  policy = "write"
  denied_parameters = { "baz" = [] }
  required_parameters = ["baz"]
}
path "allow/all" {
  policy = "write"
  allowed_parameters = { "test" = [], "test1" = ["foo"] }
}
path "value/merge" {
  policy = "write"
  allowed_parameters = { "test" = [1, 2] }
}
path "value/empty" {
  policy = "write"
  allowed_parameters = { "empty" = [] }
}
path "ttl" {
  capabilities = ["update"]
  max_wrapping_ttl = 300
  min_wrapping_ttl = 100
}
)"),
                    policy("two", R"(
path "foo/bar" {
  policy = "write"
  denied_parameters = { "zip" = [] }
}
path "allow/all" {
  policy = "write"
  allowed_parameters = { "*" = [] }
}
path "value/merge" {
  policy = "write"
  allowed_parameters = { "test" = [3, 4] }
}
path "value/empty" {
  policy = "write"
  allowed_parameters = { "empty" = [1] }
}
path "ttl" {
  capabilities = ["update"]
  max_wrapping_ttl = 200
  min_wrapping_ttl = 50
}
)")});
  const Acl::Rule* merged = nullptr;
  for (const Acl::Rule& r : acl.rules()) {
    if (r.pattern == "value/merge") merged = &r;
  }
  ASSERT_NE(merged, nullptr);
  EXPECT_EQ(merged->allowed_parameters.at("test"), (std::vector<json>{3, 4, 1, 2}));

  EXPECT_FALSE(can(acl, Operation::kUpdate, "foo/bar", {{"baz", 1}}));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "foo/bar", {{"baz", 1}, {"zip", 1}}));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "foo/bar", {{"other", 1}}));  // baz required
  EXPECT_TRUE(can(acl, Operation::kUpdate, "allow/all", {{"anything", 1}}));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "allow/all", {{"test1", "bar"}}));
  EXPECT_TRUE(can(acl, Operation::kUpdate, "value/merge", {{"test", 4}}));
  EXPECT_FALSE(can(acl, Operation::kUpdate, "value/merge", {{"test", 5}}));
  EXPECT_TRUE(can(acl, Operation::kUpdate, "value/empty", {{"empty", "whatever"}}));

  // The smaller of each wrapping TTL survives: min 50s, max 200s.
  auto wrapped = [&](int s) {
    return acl.allowed(Operation::kUpdate, "ttl", json::object(), false, seconds(s)).allowed;
  };
  EXPECT_FALSE(acl.allowed(Operation::kUpdate, "ttl", json::object(), false).allowed);
  EXPECT_FALSE(wrapped(40));
  EXPECT_TRUE(wrapped(50));
  EXPECT_TRUE(wrapped(200));
  EXPECT_FALSE(wrapped(250));
}

TEST(AclTest, WrappingTtlBounds) {
  Acl acl = acl_of(R"(
path "both" {
  capabilities = ["update"]
  min_wrapping_ttl = 300
  max_wrapping_ttl = 400
}
path "max-only" {
  capabilities = ["update"]
  max_wrapping_ttl = 400
}
)");
  auto ok = [&](const char* path, std::optional<int> ttl) {
    std::optional<sdk::Duration> wrap;
    if (ttl) wrap = seconds(*ttl);
    return acl.allowed(Operation::kUpdate, path, json::object(), false, wrap).allowed;
  };
  EXPECT_FALSE(ok("both", std::nullopt));
  EXPECT_FALSE(ok("both", 50));
  EXPECT_TRUE(ok("both", 350));
  EXPECT_FALSE(ok("both", 450));
  EXPECT_FALSE(ok("max-only", std::nullopt));  // a bound on wrapping makes wrapping required
  EXPECT_TRUE(ok("max-only", 1));
  EXPECT_FALSE(ok("max-only", 401));
}

TEST(AclTest, SharedBetweenThreads) {
  Acl acl = acl_of({policy("default", kDefaultPolicyText),
                    policy("app", R"(path "secret/+/config" { capabilities = ["read"] })")});
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!can(acl, Operation::kRead, "secret/app/config")) ++wrong;
        if (can(acl, Operation::kRead, "secret/app/other")) ++wrong;
        if (acl.capabilities("cubbyhole/x").names.size() != 5) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A literal transcription of Vault's lookup (vault/acl.go: AllowOperation and
// CheckAllowedFromNonExactPaths: every '+' rule tried, the matches sorted by the priority
// rules), run over the merged rules, to check the indexed lookup against.
class VaultReference {
 public:
  explicit VaultReference(const std::vector<Acl::Rule>& rules) : rules_(rules) {}

  const Acl::Rule* find(std::string path, bool is_list) const {
    while (!path.empty() && path.front() == '/') path.erase(0, 1);
    if (auto* r = exact(path)) return r;
    std::string trimmed = path;
    if (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
    if (is_list) {
      if (auto* r = exact(trimmed)) return r;
      if (trimmed != path) {
        if (auto* r = non_exact(trimmed)) return r;
      }
    }
    return non_exact(path);
  }

 private:
  struct Desc {
    int first = 0;
    bool prefix = false;
    int wildcards = 0;
    std::string path{};
    const Acl::Rule* rule = nullptr;
  };
  static bool less(const Desc& i, const Desc& j) {
    if (i.first != j.first) return i.first < j.first;
    if (i.prefix != j.prefix) return i.prefix;
    if (i.wildcards != j.wildcards) return i.wildcards > j.wildcards;
    if (i.path.size() != j.path.size()) return i.path.size() < j.path.size();
    return i.path < j.path;
  }
  static std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
      std::size_t slash = s.find('/', start);
      out.push_back(
          s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      if (slash == std::string::npos) return out;
      start = slash + 1;
    }
  }
  const Acl::Rule* exact(const std::string& path) const {
    for (const auto& r : rules_) {
      if (!r.is_prefix && !r.has_segment_wildcards && r.pattern == path) return &r;
    }
    return nullptr;
  }
  const Acl::Rule* non_exact(const std::string& path) const {
    const Acl::Rule* prefix = nullptr;
    bool any_segment = false;
    for (const auto& r : rules_) {
      any_segment = any_segment || r.has_segment_wildcards;
      if (r.is_prefix && !r.has_segment_wildcards && path.starts_with(r.pattern) &&
          (prefix == nullptr || r.pattern.size() > prefix->pattern.size())) {
        prefix = &r;
      }
    }
    if (!any_segment) return prefix;
    std::vector<Desc> descs;
    if (prefix) {
      descs.push_back(Desc{.first = static_cast<int>(prefix->pattern.size()),
                           .prefix = true,
                           .wildcards = 0,
                           .path = prefix->pattern,
                           .rule = prefix});
    }
    const std::vector<std::string> parts = split(path);
    for (const auto& r : rules_) {
      if (!r.has_segment_wildcards) continue;
      std::string full = r.pattern + (r.is_prefix ? "*" : "");
      Desc d{.first = static_cast<int>(full.find('+')),
             .prefix = r.is_prefix,
             .wildcards = 0,
             .path = r.pattern,
             .rule = &r};
      const std::vector<std::string> acl_parts = split(r.pattern);
      if (parts.size() < acl_parts.size()) continue;
      if (!d.prefix && acl_parts.size() != parts.size()) continue;
      bool matched = true;
      for (std::size_t i = 0; i < acl_parts.size() && matched; ++i) {
        if (acl_parts[i] == "+") {
          ++d.wildcards;
        } else if (acl_parts[i] == parts[i]) {
        } else if (d.prefix && i == acl_parts.size() - 1 && parts[i].starts_with(acl_parts[i])) {
        } else {
          matched = false;
        }
      }
      if (matched) descs.push_back(d);
    }
    if (descs.empty()) return nullptr;
    std::sort(descs.begin(), descs.end(), less);
    return descs.back().rule;
  }

  const std::vector<Acl::Rule>& rules_;
};

TEST(AclTest, IndexedLookupAgreesWithVaultsAlgorithm) {
  std::mt19937 rng(20240611);
  const char* pattern_segments[] = {"a", "b", "ab", "+", "", "+", "a"};
  const char* path_segments[] = {"a", "b", "ab", "abc", "", "ba"};
  auto pick = [&](auto& table) { return std::string(table[rng() % std::size(table)]); };
  int compared = 0;
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int rule_count = 1 + static_cast<int>(rng() % 12);
    for (int r = 0; r < rule_count; ++r) {
      std::string pattern;
      const int segments = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < segments; ++k) pattern += (k ? "/" : "") + pick(pattern_segments);
      if (rng() % 3 == 0 && !pattern.ends_with('+')) pattern += "*";
      std::string cap = capability_name(1u << (rng() % 8)).data();
      text += "path \"" + pattern + "\" { capabilities = [\"" + cap + "\"] }\n";
    }
    Acl acl = acl_of(text);
    VaultReference reference(acl.rules());
    for (int q = 0; q < 60; ++q) {
      std::string path;
      const int parts = 1 + static_cast<int>(rng() % 5);
      for (int k = 0; k < parts; ++k) path += (k ? "/" : "") + pick(path_segments);
      if (rng() % 4 == 0) path += "/";
      for (bool is_list : {false, true}) {
        const Acl::Rule* want = reference.find(path, is_list);
        std::uint32_t want_bits = want ? want->capabilities : 0;
        if (is_list) {
          EXPECT_EQ(acl.capabilities(path).bits, want_bits) << text << "list " << path;
        } else {
          for (auto op : {Operation::kRead, Operation::kUpdate, Operation::kCreate,
                          Operation::kDelete, Operation::kPatch}) {
            bool granted = acl.allowed(op, path, json::object(), false).allowed;
            std::uint32_t bit = op == Operation::kRead     ? capability::kRead
                                : op == Operation::kUpdate ? capability::kUpdate
                                : op == Operation::kCreate ? capability::kCreate
                                : op == Operation::kDelete ? capability::kDelete
                                                           : capability::kPatch;
            EXPECT_EQ(granted, (want_bits & bit) != 0) << text << operation_name(op) << " " << path;
          }
        }
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 300 * 60 * 2);
}

// Not a benchmark, but a guard and a printed figure: a 100-rule policy (a third exact,
// a third globs, a third '+' rules) answered for a mix of paths.
TEST(AclTest, HundredRulePolicyIsFast) {
  std::string text;
  for (int i = 0; i < 34; ++i) {
    text +=
        "path \"secret/data/team" + std::to_string(i) + "/app\" { capabilities = [\"read\"] }\n";
    text += "path \"secret/data/team" + std::to_string(i) +
            "/shared/*\" { capabilities = [\"read\", \"list\"] }\n";
    if (i < 32) {
      text += "path \"secret/+/team" + std::to_string(i) +
              "/+/config\" { capabilities = [\"update\"] }\n";
    }
  }
  Acl acl = acl_of({policy("big", text), policy("default", kDefaultPolicyText)});
  const std::string paths[] = {
      "secret/data/team17/app",
      "secret/data/team3/shared/x/y",
      "secret/metadata/team30/a/config",
      "secret/data/team99/app",
      "cubbyhole/foo",
      "sys/mounts",
  };
  const json body = {{"key", "value"}};
  constexpr int kRounds = 200000;
  int allowed = 0;
  // CPU time of this thread, so a busy machine does not inflate the figure.
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  };
  double start = cpu_now();
  for (int i = 0; i < kRounds; ++i) {
    const std::string& p = paths[static_cast<std::size_t>(i) % std::size(paths)];
    allowed += acl.allowed(Operation::kRead, p, body, false).allowed ? 1 : 0;
  }
  double ns = (cpu_now() - start) / kRounds;
  std::printf("[ perf     ] Acl::allowed with %zu rules: %.0f ns per request\n", acl.rules().size(),
              ns);
  EXPECT_GT(allowed, 0);
  EXPECT_LT(ns, 50000.0);  // generous: sanitizer and debug builds run this too
}

}  // namespace
}  // namespace leasefs::backend::auth
