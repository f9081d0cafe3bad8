// sys/: the control API. Paths are relative to "sys/". The raw endpoints that work while
// sealed or without a token (init, unseal, seal-status, health, leader) are served by
// the HTTP layer before the pipeline, as in Vault; everything here needs an unsealed
// core and, unless listed as unauthenticated, a token.
#include <algorithm>

#include "backend/core/core.h"
#include "backend/core/internal_backends.h"
#include "backend/sdk/duration.h"

namespace leasefs::backend::core {

using nlohmann::json;
using sdk::FieldData;
using sdk::FieldSpec;
using sdk::FieldType;
using sdk::Operation;
using sdk::Request;
using sdk::Response;
using sdk::Result;

namespace {

// "secret/tune" -> {"secret", true}: Vault routes mounts/<path>/tune before mounts/<path>.
std::pair<std::string, bool> split_tune(const std::string& path) {
  constexpr std::string_view kTune = "/tune";
  if (path.size() > kTune.size() && path.ends_with(kTune)) {
    return {path.substr(0, path.size() - kTune.size()), true};
  }
  return {path, false};
}

json table_view(Core& core, MountTable table) {
  json out = json::object();
  for (const auto& e : core.mounts(table)) out[e.path] = mount_entry_view(e);
  return out;
}

Result<Response> read_tune(Core& core, const std::string& api_path) {
  auto mount = core.route(api_path);
  if (!mount || mount->entry.api_path() != api_path) {
    return sdk::invalid_argument("cannot fetch sysview for path \"" + api_path + "\"");
  }
  const auto& e = mount->entry;
  sdk::MountLimits limits = core.limits_for(e.config);
  json data = {{"default_lease_ttl", sdk::whole_seconds(limits.default_lease_ttl)},
               {"max_lease_ttl", sdk::whole_seconds(limits.max_lease_ttl)},
               {"force_no_cache", e.config.force_no_cache},
               {"description", e.description}};
  if (!e.options.empty()) data["options"] = e.options;
  return Response::with_data(std::move(data));
}

Result<MountEntry> entry_from_request(MountTable table, const std::string& path,
                                      const FieldData& d) {
  MountEntry e;
  e.table = table;
  e.path = path;
  e.type = d.string("type");
  e.description = d.string("description");
  e.local = d.boolean("local");
  e.seal_wrap = d.boolean("seal_wrap");
  auto config = parse_mount_config(d.map("config"), MountConfig{});
  if (!config) return sdk::error(config.error());
  e.config = *config;
  const json options = d.map("options");
  for (const auto& [k, v] : options.items()) {
    if (v.is_string()) {
      e.options[k] = v.get<std::string>();
    } else if (v.is_number() || v.is_boolean()) {
      e.options[k] = v.dump();
    } else {
      return sdk::invalid_argument("options: values must be strings");
    }
  }
  if (table == MountTable::kSecrets && e.type == "kv-v2") {
    e.type = "kv";
    e.options["version"] = "2";
  }
  return e;
}

std::vector<FieldSpec> mount_fields() {
  return {{.name = "path", .type = FieldType::kString},
          {.name = "type", .type = FieldType::kString},
          {.name = "description", .type = FieldType::kString},
          {.name = "config", .type = FieldType::kMap},
          {.name = "options", .type = FieldType::kMap},
          {.name = "local", .type = FieldType::kBool},
          {.name = "seal_wrap", .type = FieldType::kBool},
          {.name = "external_entropy_access", .type = FieldType::kBool},
          {.name = "plugin_name", .type = FieldType::kString},
          {.name = "plugin_version", .type = FieldType::kString},
          // tune fields arrive at the top level
          {.name = "default_lease_ttl", .type = FieldType::kAny},
          {.name = "max_lease_ttl", .type = FieldType::kAny},
          {.name = "force_no_cache", .type = FieldType::kAny},
          {.name = "listing_visibility", .type = FieldType::kAny},
          {.name = "audit_non_hmac_request_keys", .type = FieldType::kAny},
          {.name = "audit_non_hmac_response_keys", .type = FieldType::kAny},
          {.name = "passthrough_request_headers", .type = FieldType::kAny},
          {.name = "allowed_response_headers", .type = FieldType::kAny},
          {.name = "token_type", .type = FieldType::kAny}};
}

json tune_body(const FieldData& d) {
  json config = json::object();
  for (const char* key : {"default_lease_ttl", "max_lease_ttl", "force_no_cache",
                          "listing_visibility", "audit_non_hmac_request_keys",
                          "audit_non_hmac_response_keys", "passthrough_request_headers",
                          "allowed_response_headers"}) {
    if (d.has(key)) config[key] = d.raw(key);
  }
  if (d.has("description")) config["description"] = d.string("description");
  if (d.has("options")) config["options"] = d.map("options");
  return config;
}

// Mount paths for sys/mounts/<path> and sys/auth/<path> (secrets and auth alike).
sdk::PathSpec mount_path_spec(Core& core, MountTable table) {
  const std::string prefix = table == MountTable::kAuth ? "auth/" : "mounts/";
  auto handler = [&core, table](Operation op) {
    return [&core, table, op](Request&, const FieldData& d) -> Result<Response> {
      auto [path, tune] = split_tune(d.string("path"));
      auto norm = normalize_mount_path(path);
      if (!norm) return sdk::error(norm.error());
      std::string api = table == MountTable::kAuth ? "auth/" + *norm : *norm;
      if (tune) {
        if (op == Operation::kRead) return read_tune(core, api);
        if (op == Operation::kDelete) return sdk::error(sdk::Code::kUnsupported, "unsupported operation");
        LEASEFS_TRY(core.tune_mount(api, tune_body(d)));
        return Response::empty();
      }
      switch (op) {
        case Operation::kRead: {
          auto mount = core.route(api);
          if (!mount || mount->entry.api_path() != api) {
            return sdk::invalid_argument("no mount at \"" + api + "\"");
          }
          return Response::with_data(mount_entry_view(mount->entry));
        }
        case Operation::kDelete:
          LEASEFS_TRY(core.disable_mount(table, *norm));
          return Response::empty();
        default: {
          auto entry = entry_from_request(table, *norm, d);
          if (!entry) return sdk::error(entry.error());
          LEASEFS_TRY(core.enable_mount(std::move(*entry)));
          return Response::empty();
        }
      }
    };
  };
  return {.pattern = prefix + "{path*}",
          .fields = mount_fields(),
          .operations = {{Operation::kRead, handler(Operation::kRead)},
                         {Operation::kUpdate, handler(Operation::kUpdate)},
                         {Operation::kDelete, handler(Operation::kDelete)}}};
}

Result<Response> list_policies(Core& core, bool legacy) {
  auto names = core.policies().list();
  if (!names) return sdk::error(names.error());
  json data = {{"keys", *names}};
  if (legacy) data["policies"] = *names;
  return Response::with_data(std::move(data));
}

std::vector<std::string> paths_of(const FieldData& d) {
  std::vector<std::string> paths = d.strings("paths");
  if (d.has("path")) {
    std::string p = d.string("path");
    if (!p.empty()) paths.push_back(p);
  }
  return paths;
}

Result<Response> capabilities_response(Core& core, const auth::TokenEntry& token,
                                       const std::vector<std::string>& paths) {
  if (paths.empty()) return sdk::invalid_argument("missing paths");
  json data = json::object();
  std::vector<std::string> all;
  for (const auto& p : paths) {
    auto caps = core.capabilities(token, p);
    if (!caps) return sdk::error(caps.error());
    data[p] = *caps;
    all.insert(all.end(), caps->begin(), caps->end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  data["capabilities"] = paths.size() == 1 ? data[paths[0]] : json(all);
  return Response::with_data(std::move(data));
}

// Whether a token's ACL lets it do anything under a mount (for the UI mounts path).
bool has_mount_access(Core& core, const auth::TokenEntry& token, const std::string& api_path) {
  if (token.has_policy("root")) return true;
  auto acl = core.policies().acl_for(token.policies);
  if (!acl) return false;
  for (const auto& rule : (*acl)->rules()) {
    if ((rule.capabilities & auth::capability::kAllGrants) == 0) continue;
    if (rule.capabilities & auth::capability::kDeny) continue;
    if (rule.has_segment_wildcards) {
      std::string_view mount = api_path;
      std::size_t i = 0;
      bool ok = true;
      while (!mount.empty() && i < rule.segments.size()) {
        auto slash = mount.find('/');
        auto seg = mount.substr(0, slash);
        if (rule.segments[i] != "+" && rule.segments[i] != seg &&
            !(i + 1 == rule.segments.size() && rule.is_prefix &&
              std::string_view(seg).starts_with(rule.segments[i]))) {
          ok = false;
          break;
        }
        ++i;
        if (slash == std::string_view::npos) break;
        mount.remove_prefix(slash + 1);
      }
      if (ok) return true;
      continue;
    }
    if (rule.pattern.starts_with(api_path)) return true;
    if (rule.is_prefix && api_path.starts_with(rule.pattern)) return true;
  }
  return false;
}

class SystemBackend final : public sdk::FrameworkBackend {
 public:
  explicit SystemBackend(Core& core) : FrameworkBackend(paths(core), {}, special()) {}

 private:
  static sdk::SpecialPaths special() {
    return {.unauthenticated = {"internal/ui/mounts", "internal/ui/mounts/*"},
            .root = {"auth/*", "audit", "audit/*", "rotate", "rotate/*", "seal", "raw", "raw/*",
                     "leases/revoke-prefix/*", "leases/revoke-force/*", "revoke-prefix/*",
                     "revoke-force/*", "leases/lookup/*"}};
  }

  static std::vector<sdk::PathSpec> paths(Core& core) {
    Core* c = &core;
    std::vector<sdk::PathSpec> p;

    p.push_back({.pattern = "mounts",
                 .operations = {{Operation::kRead, [c](Request&, const FieldData&) -> Result<Response> {
                   return Response::with_data(table_view(*c, MountTable::kSecrets));
                 }}}});
    p.push_back(mount_path_spec(core, MountTable::kSecrets));
    p.push_back({.pattern = "auth",
                 .operations = {{Operation::kRead, [c](Request&, const FieldData&) -> Result<Response> {
                   return Response::with_data(table_view(*c, MountTable::kAuth));
                 }}}});
    p.push_back(mount_path_spec(core, MountTable::kAuth));

    // Policies, the current API and the older one (hvac 0.11 still uses sys/policy).
    auto policy_read = [c](bool legacy) {
      return [c, legacy](Request&, const FieldData& d) -> Result<Response> {
        auto policy = c->policies().get(d.string("name"));
        if (!policy) return sdk::error(policy.error());
        if (!policy->has_value()) return sdk::not_found("");
        json data = {{"name", (*policy)->name}, {legacy ? "rules" : "policy", (*policy)->text}};
        return Response::with_data(std::move(data));
      };
    };
    auto policy_write = [c](bool legacy) {
      return [c, legacy](Request&, const FieldData& d) -> Result<Response> {
        std::string text = d.string("policy");
        if (text.empty() && legacy) text = d.string("rules");
        if (text.empty()) return sdk::invalid_argument("'policy' parameter not supplied or empty");
        LEASEFS_TRY(c->policies().put(d.string("name"), text));
        return Response::empty();
      };
    };
    auto policy_delete = [c](Request&, const FieldData& d) -> Result<Response> {
      LEASEFS_TRY(c->policies().remove(d.string("name")));
      return Response::empty();
    };
    auto list_legacy = [c](Request&, const FieldData&) { return list_policies(*c, true); };
    auto list_acl = [c](Request&, const FieldData&) { return list_policies(*c, false); };
    std::vector<FieldSpec> policy_fields = {{.name = "name", .type = FieldType::kString},
                                            {.name = "policy", .type = FieldType::kString},
                                            {.name = "rules", .type = FieldType::kString}};
    p.push_back({.pattern = "policy",
                 .operations = {{Operation::kRead, list_legacy}, {Operation::kList, list_legacy}}});
    p.push_back({.pattern = "policy/{name}",
                 .fields = policy_fields,
                 .operations = {{Operation::kRead, policy_read(true)},
                                {Operation::kUpdate, policy_write(true)},
                                {Operation::kDelete, policy_delete}}});
    p.push_back({.pattern = "policies/acl",
                 .operations = {{Operation::kList, list_acl}, {Operation::kRead, list_acl}}});
    p.push_back({.pattern = "policies/acl/{name}",
                 .fields = policy_fields,
                 .operations = {{Operation::kRead, policy_read(false)},
                                {Operation::kUpdate, policy_write(false)},
                                {Operation::kDelete, policy_delete}}});

    // Capabilities.
    std::vector<FieldSpec> cap_fields = {{.name = "path", .type = FieldType::kString},
                                         {.name = "paths", .type = FieldType::kCommaStringList},
                                         {.name = "token", .type = FieldType::kString},
                                         {.name = "accessor", .type = FieldType::kString}};
    p.push_back({.pattern = "capabilities-self",
                 .fields = cap_fields,
                 .operations = {{Operation::kUpdate, [c](Request& r, const FieldData& d) -> Result<Response> {
                   auto token = caller_token(*c, r);
                   if (!token) return sdk::error(token.error());
                   return capabilities_response(*c, *token, paths_of(d));
                 }}}});
    p.push_back({.pattern = "capabilities",
                 .fields = cap_fields,
                 .operations = {{Operation::kUpdate, [c](Request&, const FieldData& d) -> Result<Response> {
                   auto token = c->tokens().lookup(d.string("token"));
                   if (!token) return sdk::error(token.error());
                   if (!token->has_value()) return sdk::invalid_argument("invalid token");
                   return capabilities_response(*c, **token, paths_of(d));
                 }}}});
    p.push_back({.pattern = "capabilities-accessor",
                 .fields = cap_fields,
                 .operations = {{Operation::kUpdate, [c](Request&, const FieldData& d) -> Result<Response> {
                   auto token = c->tokens().lookup_accessor(d.string("accessor"));
                   if (!token) return sdk::error(token.error());
                   if (!token->has_value()) return sdk::invalid_argument("invalid accessor");
                   return capabilities_response(*c, **token, paths_of(d));
                 }}}});

    // Keys and seal.
    auto key_status = [c](Request&, const FieldData&) -> Result<Response> {
      auto s = c->key_status();
      if (!s) return sdk::error(s.error());
      return Response::with_data({{"term", s->term},
                                  {"install_time", sdk::rfc3339(s->install_time)},
                                  {"encryptions", s->encryptions}});
    };
    p.push_back({.pattern = "key-status", .operations = {{Operation::kRead, key_status}}});
    auto rotate = [c](Request&, const FieldData&) -> Result<Response> {
      auto s = c->rotate_key();
      if (!s) return sdk::error(s.error());
      return Response::empty();
    };
    p.push_back({.pattern = "rotate", .operations = {{Operation::kUpdate, rotate}}});
    p.push_back({.pattern = "rotate/keyring", .operations = {{Operation::kUpdate, rotate}}});
    p.push_back({.pattern = "seal",
                 .operations = {{Operation::kUpdate, [c](Request&, const FieldData&) -> Result<Response> {
                   c->request_seal_after_response();
                   return Response::empty();
                 }}}});

    // The UI's mount lookup, which the vault CLI uses to tell KV v1 from v2.
    p.push_back({.pattern = "internal/ui/mounts",
                 .operations = {{Operation::kRead, [c](Request& r, const FieldData&) -> Result<Response> {
                   json secret = json::object(), auth = json::object();
                   std::optional<auth::TokenEntry> token;
                   if (!r.client_token.empty()) {
                     auto t = caller_token(*c, r);
                     if (t) token = *t;
                   }
                   for (MountTable table : {MountTable::kSecrets, MountTable::kAuth}) {
                     for (const auto& e : c->mounts(table)) {
                       bool visible = e.config.listing_visibility == "unauth" ||
                                      (token && has_mount_access(*c, *token, e.api_path()));
                       if (!visible) continue;
                       (table == MountTable::kAuth ? auth : secret)[e.path] = mount_entry_view(e);
                     }
                   }
                   return Response::with_data({{"secret", secret}, {"auth", auth}});
                 }}}});
    p.push_back({.pattern = "internal/ui/mounts/{path*}",
                 .fields = {{.name = "path", .type = FieldType::kString}},
                 .operations = {{Operation::kRead, [c](Request& r, const FieldData& d) -> Result<Response> {
                   auto token = caller_token(*c, r);
                   if (!token) return sdk::error(sdk::Code::kPermissionDenied, "permission denied");
                   auto mount = c->route(d.string("path"));
                   if (!mount || !has_mount_access(*c, *token, mount->entry.api_path())) {
                     return sdk::error(sdk::Code::kPermissionDenied, "permission denied");
                   }
                   json view = mount_entry_view(mount->entry);
                   view["path"] = mount->entry.path;
                   return Response::with_data(std::move(view));
                 }}}});

    p.push_back({.pattern = "metrics",
                 .fields = {{.name = "format", .type = FieldType::kString}},
                 .operations = {{Operation::kRead, [c](Request&, const FieldData& d) -> Result<Response> {
                   std::string format = d.string("format");
                   if (!format.empty() && format != "prometheus") {
                     return sdk::invalid_argument("unsupported metrics format \"" + format +
                                                  "\"; use format=prometheus");
                   }
                   Response r;
                   r.raw = sdk::RawBody{.status = 200,
                                        .content_type = "text/plain; version=0.0.4",
                                        .body = c->metrics().prometheus() + lease_metrics_text(*c)};
                   return r;
                 }}}});
    for (auto& spec : lease_paths(core)) p.push_back(std::move(spec));
    for (auto& spec : audit_paths(core)) p.push_back(std::move(spec));
    for (auto& spec : password_policy_paths(core)) p.push_back(std::move(spec));
    return p;
  }
};

}  // namespace

std::unique_ptr<sdk::Backend> make_system_backend(Core& core) {
  return std::make_unique<SystemBackend>(core);
}

}  // namespace leasefs::backend::core
