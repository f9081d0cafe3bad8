// Password policies (Vault's sys/policies/password): named texts kept behind the barrier
// under sys/password_policy/<name>, parsed by backend/auth on write and on use, and the
// sys/ paths that manage them. Engines reach them through sdk::PasswordPolicies.
#include "backend/core/password_policies.h"

#include "backend/auth/policy.h"
#include "backend/core/core.h"
#include "backend/core/internal_backends.h"
#include "backend/core/policy_store.h"

namespace leasefs::backend::core {

using nlohmann::json;
using sdk::FieldData;
using sdk::FieldType;
using sdk::Operation;
using sdk::Request;
using sdk::Response;
using sdk::Result;

PasswordPolicyStore::PasswordPolicyStore(sdk::Storage& storage) : storage_(storage) {}

Result<std::optional<std::string>> PasswordPolicyStore::get(std::string_view name) {
  auto n = PolicyStore::normalize_name(name);
  if (!n) return sdk::error(n.error());
  return storage_.get(*n);
}

Result<void> PasswordPolicyStore::put(std::string_view name, std::string_view text) {
  auto n = PolicyStore::normalize_name(name);
  if (!n) return sdk::error(n.error());
  auto parsed = auth::parse_password_policy(text);
  if (!parsed) return sdk::error(parsed.error());
  return storage_.put(*n, text);
}

Result<void> PasswordPolicyStore::remove(std::string_view name) {
  auto n = PolicyStore::normalize_name(name);
  if (!n) return sdk::error(n.error());
  return storage_.remove(*n);
}

Result<std::vector<std::string>> PasswordPolicyStore::list() {
  return storage_.list("");
}

Result<std::string> PasswordPolicyStore::generate(std::string_view name, sdk::Random& random) {
  auto text = get(name);
  if (!text) return sdk::error(text.error());
  if (!text->has_value()) {
    return sdk::not_found("password policy \"" + std::string(name) + "\" does not exist");
  }
  auto policy = auth::parse_password_policy(**text);
  if (!policy) return sdk::error(policy.error());
  return auth::generate_password(*policy, random);
}

std::vector<sdk::PathSpec> password_policy_paths(Core& core) {
  Core* c = &core;
  std::vector<sdk::PathSpec> p;
  auto list = [c](Request&, const FieldData&) -> Result<Response> {
    auto names = c->password_policies().list();
    if (!names) return sdk::error(names.error());
    if (names->empty()) return sdk::not_found("");
    return Response::with_data({{"keys", *names}});
  };
  p.push_back({.pattern = "policies/password", .operations = {{Operation::kList, list}}});
  p.push_back(
      {.pattern = "policies/password/{name}",
       .fields = {{.name = "name", .type = FieldType::kString},
                  {.name = "policy", .type = FieldType::kString, .description = "HCL or JSON."}},
       .operations = {
           {Operation::kRead,
            [c](Request&, const FieldData& d) -> Result<Response> {
              auto text = c->password_policies().get(d.string("name"));
              if (!text) return sdk::error(text.error());
              if (!text->has_value()) return sdk::not_found("");
              return Response::with_data({{"policy", **text}});
            }},
           {Operation::kUpdate,
            [c](Request&, const FieldData& d) -> Result<Response> {
              const std::string text = auth::decode_policy_text(d.string("policy"));
              if (text.empty()) return sdk::invalid_argument("missing field 'policy'");
              LEASEFS_TRY(c->password_policies().put(d.string("name"), text));
              return Response::empty();
            }},
           {Operation::kDelete, [c](Request&, const FieldData& d) -> Result<Response> {
              LEASEFS_TRY(c->password_policies().remove(d.string("name")));
              return Response::empty();
            }}}});
  p.push_back({.pattern = "policies/password/{name}/generate",
               .fields = {{.name = "name", .type = FieldType::kString}},
               .operations = {{Operation::kRead,
                               [c](Request& r, const FieldData& d) -> Result<Response> {
                                 auto password =
                                     c->password_policies().generate(d.string("name"), *r.random);
                                 if (!password) return sdk::error(password.error());
                                 return Response::with_data({{"password", *password}});
                               }}}});
  return p;
}

}  // namespace leasefs::backend::core
