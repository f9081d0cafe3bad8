// Fuzz target for policy text: whatever the bytes, decoding, parsing (HCL and JSON) and
// building an Acl must neither crash nor hang, errors must be invalid_argument with the
// usual prefix, and what parses must give an Acl whose answers agree with each other.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "backend/auth/acl.h"
#include "backend/auth/policy.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

using leasefs::backend::auth::Acl;
using leasefs::backend::auth::Policy;
namespace auth = leasefs::backend::auth;
namespace sdk = leasefs::backend::sdk;

void check_error(const sdk::Status& status) {
  FUZZ_CHECK(status.code() == sdk::Code::kInvalidArgument);
  FUZZ_CHECK(status.message().starts_with("failed to parse policy: "));
}

void check_policy(const Policy& policy) {
  for (const auto& rule : policy.rules) {
    if (rule.capabilities & auth::capability::kDeny) {
      FUZZ_CHECK(rule.capabilities == auth::capability::kDeny);
    }
    FUZZ_CHECK((rule.capabilities & ~(auth::capability::kAllGrants | auth::capability::kDeny)) ==
               0);
    FUZZ_CHECK(rule.pattern.find("+*") == std::string::npos);
  }
}

// Paths worth asking about: fixed ones, and ones made from the policy's own patterns.
std::vector<std::string> probe_paths(const Policy& policy) {
  std::vector<std::string> paths = {
      "", "secret/foo", "secret/foo/", "cubbyhole/x", "auth/token/lookup-self", "a/b/c/d", "/"};
  std::size_t n = 0;
  for (const auto& rule : policy.rules) {
    if (++n > 16) break;
    std::string p = rule.pattern;
    paths.push_back(p);
    paths.push_back(p + "x");
    paths.push_back(p + "/x/y");
    std::string filled = p;
    for (char& c : filled) {
      if (c == '+') c = 'q';
    }
    paths.push_back(filled);
    paths.push_back(filled + "z/");
  }
  return paths;
}

nlohmann::json probe_body(const Policy& policy) {
  nlohmann::json body = nlohmann::json::object();
  for (const auto& rule : policy.rules) {
    for (const auto& [key, values] : rule.allowed_parameters) {
      body[key] = values.empty() ? nlohmann::json("v") : values.front();
      if (body.size() > 8) return body;
    }
    for (const auto& [key, values] : rule.denied_parameters) {
      body[key + "x"] = values.empty() ? nlohmann::json(1) : values.back();
      if (body.size() > 8) return body;
    }
  }
  return body;
}

void exercise(const Policy& policy) {
  check_policy(policy);
  static const Policy kDefault = [] {
    auto parsed = auth::parse_policy("default", auth::kDefaultPolicyText);
    FUZZ_CHECK(parsed.has_value());
    return *parsed;
  }();
  std::vector<Policy> set = {policy, kDefault};
  auto acl = Acl::build(set);
  FUZZ_CHECK(acl.has_value());
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json body = probe_body(policy);
  for (const std::string& path : probe_paths(policy)) {
    auto caps = acl->capabilities(path);
    FUZZ_CHECK(!caps.names.empty());
    if (caps.bits & auth::capability::kDeny)
      FUZZ_CHECK(caps.names == std::vector<std::string>{"deny"});
    bool trailing_slash = !path.empty() && path.back() == '/';
    for (auto op : {sdk::Operation::kRead, sdk::Operation::kList, sdk::Operation::kCreate,
                    sdk::Operation::kUpdate, sdk::Operation::kPatch, sdk::Operation::kDelete}) {
      auto d = acl->allowed(op, path, empty, false);
      auto with_body = acl->allowed(op, path, body, true, std::chrono::seconds(60));
      if (d.allowed) FUZZ_CHECK(!d.granting_policies.empty());
      if (with_body.allowed) FUZZ_CHECK(with_body.root_privs);
      // capabilities() looks paths up as a list does; for other operations that is the
      // same lookup unless the path ends in '/'.
      if (d.allowed && (op == sdk::Operation::kList || !trailing_slash)) {
        auto name = std::string(
            auth::capability_name(op == sdk::Operation::kRead     ? auth::capability::kRead
                                  : op == sdk::Operation::kList   ? auth::capability::kList
                                  : op == sdk::Operation::kCreate ? auth::capability::kCreate
                                  : op == sdk::Operation::kUpdate ? auth::capability::kUpdate
                                  : op == sdk::Operation::kPatch  ? auth::capability::kPatch
                                                                  : auth::capability::kDelete));
        bool listed = false;
        for (const auto& n : caps.names) listed = listed || n == name;
        FUZZ_CHECK(listed);
        FUZZ_CHECK(d.root_privs == ((caps.bits & auth::capability::kSudo) != 0));
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string decoded = auth::decode_policy_text(text);
  for (auto parsed : {auth::parse_policy("fuzz", decoded), auth::parse_policy_hcl("fuzz", text),
                      auth::parse_policy_json("fuzz", text)}) {
    if (parsed) {
      exercise(*parsed);
    } else {
      check_error(parsed.error());
    }
  }
  return 0;
}
