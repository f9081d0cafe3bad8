// roles/ (LIST) and roles/<name> (create, read, update, delete). A write replaces the
// whole role: fields left out take their defaults, as in Vault's role endpoint.
#include <algorithm>
#include <cctype>

#include "backend/sdk/engine_paths.h"
#include "engines/pki/engine.h"

namespace leasefs::engines::pki {
namespace {

using nlohmann::json;
using sdk::FieldType;

sdk::FieldSpec flag(const char* name, bool default_value, const char* description) {
  return {.name = name,
          .type = FieldType::kBool,
          .description = description,
          .default_value = default_value};
}

sdk::FieldSpec list(const char* name, const char* description) {
  return {.name = name, .type = FieldType::kCommaStringList, .description = description};
}

std::vector<sdk::FieldSpec> role_fields() {
  std::vector<sdk::FieldSpec> fields = {
      {.name = "name", .type = FieldType::kString, .description = "Name of the role."},
      {.name = "ttl",
       .type = FieldType::kDuration,
       .description = "Default lifetime of issued certificates."},
      {.name = "max_ttl",
       .type = FieldType::kDuration,
       .description = "Longest lifetime of issued certificates."},
      flag("allow_localhost", true, "Allow \"localhost\" and \"localdomain\"."),
      list("allowed_domains", "Domains the role issues for."),
      flag("allow_bare_domains", false, "Allow the allowed_domains themselves."),
      flag("allow_subdomains", false, "Allow subdomains (and wildcards) of allowed_domains."),
      flag("allow_glob_domains", false, "Treat '*' in allowed_domains as a glob."),
      flag("allow_any_name", false, "Allow any name."),
      flag("enforce_hostnames", true, "Only allow valid host names."),
      flag("allow_ip_sans", true, "Allow IP SANs."),
      list("allowed_uri_sans", "Allowed URI SANs (globs)."),
      list("allowed_serial_numbers", "Allowed subject serialNumber values (globs)."),
      flag("server_flag", true, "Mark certificates for TLS server use."),
      flag("client_flag", true, "Mark certificates for TLS client use."),
      flag("code_signing_flag", false, "Mark certificates for code signing."),
      flag("email_protection_flag", false, "Mark certificates for e-mail protection."),
      {.name = "key_type",
       .type = FieldType::kString,
       .description = "rsa, ec, ed25519, or any (sign only).",
       .default_value = "rsa"},
      {.name = "key_bits",
       .type = FieldType::kInt,
       .description = "Key size; 0 = the type's default (rsa 2048, ec 256).",
       .default_value = 0},
      {.name = "key_usage",
       .type = FieldType::kCommaStringList,
       .description = "Key usages (Go's x509.KeyUsage names without the prefix).",
       .default_value = json::array({"DigitalSignature", "KeyAgreement", "KeyEncipherment"})},
      {.name = "ext_key_usage",
       .type = FieldType::kCommaStringList,
       .description = "Extended key usages (Go's x509.ExtKeyUsage names without the prefix).",
       .default_value = json::array()},
      list("ext_key_usage_oids", "Extended key usages by OID."),
      flag("use_csr_common_name", true, "sign/: take the common name from the CSR."),
      flag("use_csr_sans", true, "sign/: take the SANs from the CSR."),
      flag("generate_lease", false, "Put issued certificates under a lease."),
      flag("no_store", false, "Do not store issued certificates (they cannot be revoked)."),
      flag("require_cn", true, "Require a common name."),
      flag("basic_constraints_valid_for_non_ca", false,
           "Add basicConstraints CA:FALSE to issued certificates."),
      {.name = "not_before_duration",
       .type = FieldType::kDuration,
       .description = "How far before now certificates become valid.",
       .default_value = 30},
  };
  for (const char* part :
       {"ou", "organization", "country", "locality", "province", "street_address", "postal_code"}) {
    fields.push_back(list(part, "Subject field of issued certificates."));
  }
  return fields;
}

bool dotted_oid(std::string_view oid) {
  int arcs = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = oid.find('.', start);
    std::string_view arc =
        oid.substr(start, dot == std::string_view::npos ? oid.npos : dot - start);
    if (arc.empty() || arc.size() > 18 || !std::all_of(arc.begin(), arc.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
      return false;
    }
    ++arcs;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return arcs >= 2;
}

sdk::Result<std::string> role_name(const sdk::FieldData& f) {
  std::string name = f.string("name");
  if (!valid_role_name(name)) return plain_not_found();  // Vault's router would not match it
  return name;
}

sdk::Result<bool> role_exists(Engine&, sdk::Request& request, const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return false;
  auto role = read_role(*request.storage, *name);
  if (!role) return sdk::error(role.error());
  return role->has_value();
}

sdk::Result<sdk::Response> write_role(Engine&, sdk::Request& request, const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return sdk::error(name.error());

  Role r;
  r.ttl = f.duration("ttl");
  r.max_ttl = f.duration("max_ttl");
  r.allow_localhost = f.boolean("allow_localhost");
  r.allowed_domains = f.strings("allowed_domains");
  r.allow_bare_domains = f.boolean("allow_bare_domains");
  r.allow_subdomains = f.boolean("allow_subdomains");
  r.allow_glob_domains = f.boolean("allow_glob_domains");
  r.allow_any_name = f.boolean("allow_any_name");
  r.enforce_hostnames = f.boolean("enforce_hostnames");
  r.allow_ip_sans = f.boolean("allow_ip_sans");
  r.allowed_uri_sans = f.strings("allowed_uri_sans");
  r.allowed_serial_numbers = f.strings("allowed_serial_numbers");
  r.server_flag = f.boolean("server_flag");
  r.client_flag = f.boolean("client_flag");
  r.code_signing_flag = f.boolean("code_signing_flag");
  r.email_protection_flag = f.boolean("email_protection_flag");
  r.key_type = f.string("key_type");
  r.key_usage = f.strings("key_usage");
  r.ext_key_usage = f.strings("ext_key_usage");
  r.ext_key_usage_oids = f.strings("ext_key_usage_oids");
  r.use_csr_common_name = f.boolean("use_csr_common_name");
  r.use_csr_sans = f.boolean("use_csr_sans");
  r.ou = f.strings("ou");
  r.organization = f.strings("organization");
  r.country = f.strings("country");
  r.locality = f.strings("locality");
  r.province = f.strings("province");
  r.street_address = f.strings("street_address");
  r.postal_code = f.strings("postal_code");
  r.no_store = f.boolean("no_store");
  // no_store implies no lease: a lease could not revoke an unstored certificate.
  r.generate_lease = r.no_store ? false : f.boolean("generate_lease");
  r.require_cn = f.boolean("require_cn");
  r.basic_constraints_valid_for_non_ca = f.boolean("basic_constraints_valid_for_non_ca");
  r.not_before_duration = f.duration("not_before_duration");

  auto bits = validate_key_type_length(r.key_type, f.integer("key_bits"), true);
  if (!bits) return sdk::error(bits.error());
  r.key_bits = *bits;
  if (r.max_ttl.count() > 0 && r.ttl > r.max_ttl) {
    return sdk::invalid_argument("\"ttl\" value must be less than \"max_ttl\" value");
  }
  for (const auto& oid : r.ext_key_usage_oids) {
    if (!dotted_oid(oid)) {
      return sdk::invalid_argument("\"" + oid +
                                   "\" could not be parsed as a valid oid for an extended key "
                                   "usage");
    }
  }

  LEASEFS_TRY(request.storage->put(std::string(kRolePrefix) + *name, encode_role(r)));
  return sdk::Response::with_data(role_response_data(r));
}

sdk::Result<sdk::Response> read_role_path(Engine&, sdk::Request& request, const sdk::FieldData& f) {
  auto name = role_name(f);
  if (!name) return sdk::error(name.error());
  auto role = read_role(*request.storage, *name);
  if (!role) return sdk::error(role.error());
  if (!role->has_value()) return plain_not_found();
  return sdk::Response::with_data(role_response_data(**role));
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
  return list_response(std::move(*names));
}

}  // namespace

std::vector<sdk::PathSpec> role_paths(const std::shared_ptr<Engine>& engine) {
  return sdk::role_paths<Engine>(engine,
                                 {.list = list_roles,
                                  .read = read_role_path,
                                  .write = write_role,
                                  .remove = delete_role,
                                  .exists = role_exists},
                                 role_fields(),
                                 "Manage the roles certificates are issued and signed against.");
}

}  // namespace leasefs::engines::pki
