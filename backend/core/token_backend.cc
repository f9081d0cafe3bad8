// auth/token/: the token store's API (create, lookup, renew, revoke and their -self
// and -accessor forms). Paths are relative to "auth/token/".
#include <algorithm>

#include "backend/core/core.h"
#include "backend/core/internal_backends.h"

namespace leasefs::backend::core {

using nlohmann::json;
using sdk::FieldData;
using sdk::FieldSpec;
using sdk::FieldType;
using sdk::Operation;
using sdk::Request;
using sdk::Response;
using sdk::Result;

Result<auth::TokenEntry> caller_token(Core& core, const Request& req) {
  auto found = core.tokens().lookup(req.client_token);
  if (!found) return sdk::error(found.error());
  if (!found->has_value()) return sdk::error(sdk::Code::kPermissionDenied, "permission denied");
  return std::move(**found);
}

namespace {

// Root tokens, and tokens whose ACL grants sudo on the path, may make orphans, periodic
// tokens and tokens with chosen ids.
bool has_sudo(Core& core, const auth::TokenEntry& token, const std::string& api_path) {
  if (token.has_policy("root")) return true;
  auto acl = core.policies().acl_for(token.policies);
  if (!acl) return false;
  return ((*acl)->capabilities(api_path).bits & auth::capability::kSudo) != 0;
}

std::vector<FieldSpec> create_fields() {
  return {{.name = "policies", .type = FieldType::kCommaStringList},
          {.name = "meta", .type = FieldType::kStringMap},
          {.name = "metadata", .type = FieldType::kStringMap},
          {.name = "display_name", .type = FieldType::kString},
          {.name = "id", .type = FieldType::kString},
          {.name = "ttl", .type = FieldType::kDuration},
          {.name = "lease", .type = FieldType::kDuration},
          {.name = "explicit_max_ttl", .type = FieldType::kDuration},
          {.name = "period", .type = FieldType::kDuration},
          {.name = "num_uses", .type = FieldType::kInt},
          {.name = "renewable", .type = FieldType::kBool, .default_value = true},
          {.name = "no_parent", .type = FieldType::kBool},
          {.name = "no_default_policy", .type = FieldType::kBool},
          {.name = "type", .type = FieldType::kString},
          {.name = "role_name", .type = FieldType::kString},
          {.name = "entity_alias", .type = FieldType::kString},
          {.name = "format", .type = FieldType::kString}};
}

Result<Response> create(Core& core, Request& req, const FieldData& d, bool orphan_path) {
  auto parent = caller_token(core, req);
  if (!parent) return sdk::error(parent.error());
  if (d.has("role_name") && !d.string("role_name").empty()) {
    return sdk::error(sdk::Code::kUnimplemented, "token roles are not supported by leasefs");
  }
  if (d.has("entity_alias") && !d.string("entity_alias").empty()) {
    return sdk::error(sdk::Code::kUnimplemented, "entity aliases are not supported by leasefs");
  }
  std::string type = d.string("type");
  if (!type.empty() && type != "service" && type != "default") {
    return sdk::invalid_argument(type == "batch" ? "batch tokens are not supported by leasefs"
                                                 : "invalid 'type' value \"" + type + "\"");
  }
  const bool sudo = has_sudo(core, *parent, "auth/token/" + req.path);
  auth::TokenCreate tc;
  tc.policies = d.strings("policies");
  tc.meta = d.has("metadata") ? d.string_map("metadata") : d.string_map("meta");
  tc.display_name = d.string("display_name");
  tc.id = d.string("id");
  tc.ttl = d.has("ttl") ? d.duration("ttl") : d.duration("lease");
  tc.explicit_max_ttl = d.duration("explicit_max_ttl");
  tc.period = d.duration("period");
  tc.num_uses = d.integer("num_uses");
  tc.renewable = d.boolean("renewable");
  tc.no_default_policy = d.boolean("no_default_policy");
  tc.limits = req.limits;
  if (d.boolean("no_parent")) {
    if (!sudo) return sdk::invalid_argument("root or sudo privileges required to create orphan token");
    tc.orphan = true;
  }
  if (orphan_path) tc.orphan = true;
  tc.path = "auth/token/" + req.path;
  auto issued = core.tokens().create(&*parent, sudo, std::move(tc));
  if (!issued) return sdk::error(issued.error());
  // A token with a TTL gets a lease; without it the token would not be revoked on time.
  if (auto tracked = core.track_token(issued->entry); !tracked) {
    (void)core.tokens().revoke_tree(issued->entry.id_hash);
    return sdk::error(tracked.error());
  }
  Response r;
  r.auth_block = auth::TokenStore::auth_block(*issued, core.clock());
  r.warnings = issued->warnings;
  for (const auto& p : issued->entry.policies) {
    auto exists = core.policies().exists(p);
    if (exists && !*exists) r.warnings.push_back("Policy \"" + p + "\" does not exist");
  }
  return r;
}

Result<Response> lookup(Core& core, const auth::TokenEntry& entry, std::string_view token) {
  return Response::with_data(core.tokens().lookup_data(entry, token));
}

Result<Response> renew(Core& core, Request& req, const auth::TokenEntry& entry,
                       const FieldData& d, std::string_view token) {
  Response r;
  auto renewed = core.tokens().renew(entry.id_hash, d.duration("increment"), req.limits, r.warnings);
  if (!renewed) return sdk::error(renewed.error());
  LEASEFS_TRY(core.track_token(*renewed));
  auth::IssuedToken view{.token = std::string(token), .entry = *renewed};
  r.auth_block = auth::TokenStore::auth_block(view, core.clock());
  return r;
}

Result<auth::TokenEntry> by_token(Core& core, const std::string& token) {
  if (token.empty()) return sdk::invalid_argument("missing token");
  auto found = core.tokens().lookup(token);
  if (!found) return sdk::error(found.error());
  if (!found->has_value()) return sdk::invalid_argument("bad token");
  return std::move(**found);
}

Result<auth::TokenEntry> by_accessor(Core& core, const std::string& accessor) {
  if (accessor.empty()) return sdk::invalid_argument("missing accessor");
  auto found = core.tokens().lookup_accessor(accessor);
  if (!found) return sdk::error(found.error());
  if (!found->has_value()) return sdk::invalid_argument("invalid accessor");
  return std::move(**found);
}

class TokenBackend final : public sdk::FrameworkBackend {
 public:
  explicit TokenBackend(Core& core)
      : FrameworkBackend(paths(core), {},
                         {.unauthenticated = {}, .root = {"revoke-orphan", "accessors*"}}) {}

 private:
  static std::vector<sdk::PathSpec> paths(Core& core) {
    Core* c = &core;
    std::vector<sdk::PathSpec> p;
    std::vector<FieldSpec> token_field = {{.name = "token", .type = FieldType::kString}};
    std::vector<FieldSpec> accessor_field = {{.name = "accessor", .type = FieldType::kString}};
    std::vector<FieldSpec> renew_fields = {{.name = "token", .type = FieldType::kString},
                                           {.name = "accessor", .type = FieldType::kString},
                                           {.name = "increment", .type = FieldType::kDuration}};

    p.push_back({.pattern = "create",
                 .fields = create_fields(),
                 .operations = {{Operation::kUpdate, [c](Request& r, const FieldData& d) {
                   return create(*c, r, d, false);
                 }}}});
    p.push_back({.pattern = "create-orphan",
                 .fields = create_fields(),
                 .operations = {{Operation::kUpdate, [c](Request& r, const FieldData& d) {
                   return create(*c, r, d, true);
                 }}}});
    p.push_back({.pattern = "create/{role_name}",
                 .fields = create_fields(),
                 .operations = {{Operation::kUpdate, [](Request&, const FieldData&) -> Result<Response> {
                   return sdk::error(sdk::Code::kUnimplemented, "token roles are not supported by leasefs");
                 }}}});

    auto lookup_self = [c](Request& r, const FieldData&) -> Result<Response> {
      auto me = caller_token(*c, r);
      if (!me) return sdk::error(me.error());
      return lookup(*c, *me, r.client_token);
    };
    p.push_back({.pattern = "lookup-self",
                 .fields = token_field,
                 .operations = {{Operation::kRead, lookup_self}, {Operation::kUpdate, lookup_self}}});
    auto lookup_token = [c](Request& r, const FieldData& d) -> Result<Response> {
      std::string token = d.string("token");
      if (token.empty()) token = r.client_token;
      auto entry = by_token(*c, token);
      if (!entry) return sdk::error(entry.error());
      return lookup(*c, *entry, token);
    };
    p.push_back({.pattern = "lookup",
                 .fields = token_field,
                 .operations = {{Operation::kRead, lookup_token}, {Operation::kUpdate, lookup_token}}});
    p.push_back({.pattern = "lookup-accessor",
                 .fields = accessor_field,
                 .operations = {{Operation::kUpdate, [c](Request&, const FieldData& d) -> Result<Response> {
                   auto entry = by_accessor(*c, d.string("accessor"));
                   if (!entry) return sdk::error(entry.error());
                   return lookup(*c, *entry, "");
                 }}}});

    p.push_back({.pattern = "renew-self",
                 .fields = renew_fields,
                 .operations = {
                     {Operation::kUpdate, [c](Request& r, const FieldData& d) -> Result<Response> {
                        auto me = caller_token(*c, r);
                        if (!me) return sdk::error(me.error());
                        return renew(*c, r, *me, d, r.client_token);
                      }}}});
    p.push_back({.pattern = "renew",
                 .fields = renew_fields,
                 .operations = {{Operation::kUpdate, [c](Request& r, const FieldData& d) -> Result<Response> {
                   auto entry = by_token(*c, d.string("token"));
                   if (!entry) return sdk::error(entry.error());
                   return renew(*c, r, *entry, d, d.string("token"));
                 }}}});
    p.push_back({.pattern = "renew-accessor",
                 .fields = renew_fields,
                 .operations = {{Operation::kUpdate, [c](Request& r, const FieldData& d) -> Result<Response> {
                   auto entry = by_accessor(*c, d.string("accessor"));
                   if (!entry) return sdk::error(entry.error());
                   auto resp = renew(*c, r, *entry, d, "");
                   if (resp) resp->auth_block["client_token"] = "";
                   return resp;
                 }}}});

    p.push_back(
        {.pattern = "revoke-self",
         .operations = {{Operation::kUpdate, [c](Request& r, const FieldData&) -> Result<Response> {
                           auto me = caller_token(*c, r);
                           if (!me) return sdk::error(me.error());
                           LEASEFS_TRY(c->tokens().revoke_tree(me->id_hash));
                           return Response::empty();
                         }}}});
    p.push_back({.pattern = "revoke",
                 .fields = token_field,
                 .operations = {{Operation::kUpdate, [c](Request&, const FieldData& d) -> Result<Response> {
                   std::string token = d.string("token");
                   if (token.empty()) return sdk::invalid_argument("missing token ID");
                   auto found = c->tokens().lookup(token);
                   if (!found) return sdk::error(found.error());
                   if (found->has_value()) LEASEFS_TRY(c->tokens().revoke_tree((*found)->id_hash));
                   return Response::empty();
                 }}}});
    p.push_back({.pattern = "revoke-orphan",
                 .fields = token_field,
                 .operations = {{Operation::kUpdate, [c](Request&, const FieldData& d) -> Result<Response> {
                   std::string token = d.string("token");
                   if (token.empty()) return sdk::invalid_argument("missing token ID");
                   auto found = c->tokens().lookup(token);
                   if (!found) return sdk::error(found.error());
                   if (found->has_value()) LEASEFS_TRY(c->tokens().revoke_orphan((*found)->id_hash));
                   return Response::empty();
                 }}}});
    p.push_back({.pattern = "revoke-accessor",
                 .fields = accessor_field,
                 .operations = {{Operation::kUpdate, [c](Request&, const FieldData& d) -> Result<Response> {
                   auto entry = by_accessor(*c, d.string("accessor"));
                   if (!entry) return sdk::error(entry.error());
                   LEASEFS_TRY(c->tokens().revoke_tree(entry->id_hash));
                   return Response::empty();
                 }}}});
    p.push_back({.pattern = "accessors",
                 .operations = {{Operation::kList, [c](Request&, const FieldData&) -> Result<Response> {
                   auto list = c->tokens().accessors();
                   if (!list) return sdk::error(list.error());
                   if (list->empty()) return sdk::not_found("");
                   return Response::with_data({{"keys", *list}});
                 }}}});
    return p;
  }
};

}  // namespace

std::unique_ptr<sdk::Backend> make_token_backend(Core& core) {
  return std::make_unique<TokenBackend>(core);
}

}  // namespace leasefs::backend::core
