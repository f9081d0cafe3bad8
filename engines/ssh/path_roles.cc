// roles/ (LIST) and roles/<name>: what sign/<name> may put into a certificate. A write
// replaces the whole role. Only CA roles (key_type "ca") exist in leasefs.
#include "backend/sdk/duration.h"
#include "backend/sdk/engine_paths.h"
#include "engines/ssh/engine.h"

namespace leasefs::engines::ssh {
namespace {

using nlohmann::json;
using sdk::FieldType;

sdk::FieldSpec flag(const char* name, const char* description) {
  return {
      .name = name, .type = FieldType::kBool, .description = description, .default_value = false};
}
sdk::FieldSpec text(const char* name, const char* description) {
  return {.name = name, .type = FieldType::kString, .description = description};
}

std::vector<sdk::FieldSpec> role_fields() {
  return {
      text("name", "Name of the role."),
      text("key_type", "ca (otp is not served)."),
      flag("allow_user_certificates", "Sign user certificates."),
      flag("allow_host_certificates", "Sign host certificates."),
      text("allowed_users", "\"*\" or a comma-separated list of user principals."),
      text("default_user", "Principal used when the request names none."),
      text("allowed_users_template", "Ignored (templates are not supported)."),
      text("allowed_domains", "\"*\" or comma-separated domains for host principals."),
      flag("allow_bare_domains", "Allow the allowed_domains themselves."),
      flag("allow_subdomains", "Allow subdomains of allowed_domains."),
      text("allowed_extensions", "\"*\" or extensions a request may set (empty: none)."),
      {.name = "default_extensions",
       .type = FieldType::kMap,
       .description = "Extensions by default."},
      text("allowed_critical_options", "Critical options a request may set (empty: any)."),
      {.name = "default_critical_options",
       .type = FieldType::kMap,
       .description = "Critical options by default."},
      {.name = "ttl", .type = FieldType::kDuration, .description = "Default certificate lifetime."},
      {.name = "max_ttl", .type = FieldType::kDuration, .description = "Longest lifetime."},
      text("key_id_format",
           "Key ID template: {{token_display_name}}, {{role_name}}, "
           "{{public_key_hash}}."),
      {.name = "algorithm_signer",
       .type = FieldType::kString,
       .description = "RSA CA signatures: default (rsa-sha2-256), rsa-sha2-256, rsa-sha2-512.",
       .default_value = "default"},
      {.name = "not_before_duration",
       .type = FieldType::kDuration,
       .description = "How far before now certificates become valid.",
       .default_value = 30},
      {.name = "allowed_user_key_lengths",
       .type = FieldType::kMap,
       .description = "Minimum bits per key type (rsa, ec, ed25519); others are refused."},
      flag("allow_user_key_ids", "Let requests set the key ID."),
  };
}

sdk::Result<std::map<std::string, std::string>> string_map(const json& j, const char* field) {
  std::map<std::string, std::string> out;
  if (j.is_null()) return out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) {
      return sdk::invalid_argument(std::string(field) + " values must be strings");
    }
    out[k] = v.get<std::string>();
  }
  return out;
}

sdk::Result<std::string> role_name(const sdk::FieldData& f) {
  std::string name = f.string("name");
  if (!valid_role_name(name)) return sdk::invalid_argument("invalid role name \"" + name + "\"");
  return name;
}

sdk::Result<bool> role_exists(Engine& engine, sdk::Request& request, const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return false;
  auto role = engine.read_role(*request.storage, *name);
  if (!role) return sdk::error(role.error());
  return role->has_value();
}

sdk::Result<sdk::Response> write_role(Engine&, sdk::Request& request, const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return sdk::error(name.error());
  SshRole r;
  r.key_type = f.string("key_type");
  if (r.key_type == "otp") {
    return sdk::invalid_argument("key_type \"otp\" is not supported by leasefs; use \"ca\"");
  }
  if (r.key_type != "ca") return sdk::invalid_argument("missing or invalid key_type (use \"ca\")");
  r.allow_user_certificates = f.boolean("allow_user_certificates");
  r.allow_host_certificates = f.boolean("allow_host_certificates");
  if (!r.allow_user_certificates && !r.allow_host_certificates) {
    return sdk::invalid_argument(
        "Either 'allow_user_certificates' or 'allow_host_certificates' must be set to 'true'");
  }
  r.allowed_users = f.string("allowed_users");
  r.default_user = f.string("default_user");
  r.allowed_domains = f.string("allowed_domains");
  r.allow_bare_domains = f.boolean("allow_bare_domains");
  r.allow_subdomains = f.boolean("allow_subdomains");
  r.allowed_extensions = f.string("allowed_extensions");
  auto ext = string_map(f.raw("default_extensions"), "default_extensions");
  if (!ext) return sdk::error(ext.error());
  r.default_extensions = std::move(*ext);
  r.allowed_critical_options = f.string("allowed_critical_options");
  auto crit = string_map(f.raw("default_critical_options"), "default_critical_options");
  if (!crit) return sdk::error(crit.error());
  r.default_critical_options = std::move(*crit);
  r.ttl = f.duration("ttl");
  r.max_ttl = f.duration("max_ttl");
  if (r.max_ttl.count() > 0 && r.ttl > r.max_ttl) {
    return sdk::invalid_argument("ttl cannot be longer than max_ttl");
  }
  r.key_id_format = f.string("key_id_format");
  r.algorithm_signer = f.string("algorithm_signer");
  if (r.algorithm_signer.empty()) r.algorithm_signer = "default";
  if (r.algorithm_signer != "default" && r.algorithm_signer != "rsa-sha2-256" &&
      r.algorithm_signer != "rsa-sha2-512") {
    return sdk::invalid_argument("unknown algorithm_signer \"" + r.algorithm_signer +
                                 "\" (default, rsa-sha2-256, rsa-sha2-512; ssh-rsa/SHA-1 is "
                                 "refused by current OpenSSH)");
  }
  r.not_before_duration = f.duration("not_before_duration");
  const json lengths = f.raw("allowed_user_key_lengths");
  if (lengths.is_object()) {
    for (const auto& [k, v] : lengths.items()) {
      if (k != "rsa" && k != "ec" && k != "ed25519") {
        return sdk::invalid_argument("allowed_user_key_lengths: unknown key type \"" + k +
                                     "\" (rsa, ec, ed25519)");
      }
      auto bits = sdk::convert_field(k, FieldType::kInt, v);
      if (!bits) return sdk::error(bits.error());
      r.allowed_user_key_lengths[k] = bits->get<int>();
    }
  }
  r.allow_user_key_ids = f.boolean("allow_user_key_ids");
  LEASEFS_TRY(request.storage->put(std::string(kRolePrefix) + *name, encode_role(r)));
  return sdk::Response::empty();
}

sdk::Result<sdk::Response> read_role(Engine& engine, sdk::Request& request,
                                     const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return sdk::error(name.error());
  auto role = engine.read_role(*request.storage, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return sdk::not_found("");
  return sdk::Response::with_data(role_response(**role));
}

sdk::Result<sdk::Response> delete_role(Engine&, sdk::Request& request, const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return sdk::error(name.error());
  LEASEFS_TRY(request.storage->remove(std::string(kRolePrefix) + *name));
  return sdk::Response::empty();
}

sdk::Result<sdk::Response> list_roles(Engine&, sdk::Request& request, const sdk::FieldData&) {
  auto names = request.storage->list(kRolePrefix);
  if (!names) return sdk::error(names.error());
  if (names->empty()) return sdk::not_found("");
  return sdk::Response::with_data(json{{"keys", std::move(*names)}});
}

}  // namespace

std::vector<sdk::PathSpec> role_paths(const std::shared_ptr<Engine>& engine) {
  return sdk::role_paths<Engine>(engine,
                                 {.list = list_roles,
                                  .read = read_role,
                                  .write = write_role,
                                  .remove = delete_role,
                                  .exists = role_exists},
                                 role_fields(), "Manage the roles keys are signed against.");
}

}  // namespace leasefs::engines::ssh
