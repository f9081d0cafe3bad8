// issue/<role>: a new key pair and a certificate for it; sign/<role>: a certificate
// for the public key of a client's CSR. Both check every name against the role
// (creation.cc), sign with the mount's CA, store the certificate by serial unless the
// role says no_store, and put it under a lease when the role says generate_lease.
#include <shared_mutex>

#include "backend/sdk/encoding.h"
#include "engines/pki/creation.h"
#include "engines/pki/engine.h"

namespace leasefs::engines::pki {
namespace {

using nlohmann::json;
using sdk::FieldType;

std::vector<sdk::FieldSpec> issue_fields(bool sign) {
  std::vector<sdk::FieldSpec> fields = certificate_fields();
  fields.push_back({.name = "role", .type = FieldType::kString, .description = "The role."});
  fields.push_back({.name = "remove_roots_from_chain",
                    .type = FieldType::kBool,
                    .description = "Leave self-signed roots out of ca_chain.",
                    .default_value = false});
  if (sign) {
    fields.push_back({.name = "csr",
                      .type = FieldType::kString,
                      .description = "PEM-format CSR to be signed.",
                      .default_value = ""});
  }
  return fields;
}

// Vault's checks of a CSR's key against the role's key_type and key_bits.
sdk::Result<void> check_csr_key(const Role& role, const KeyInfo& key) {
  auto requires_type = [&] {
    return sdk::invalid_argument("role requires keys of type " + role.key_type);
  };
  auto too_small = [&] {
    return sdk::invalid_argument("role requires a minimum of a " + std::to_string(role.key_bits) +
                                 "-bit key, but CSR's key is " + std::to_string(key.bits) +
                                 " bits");
  };
  const bool weak_rsa = key.type == KeyType::kRsa && key.bits < 2048;
  if (role.key_type == "rsa") {
    if (key.type != KeyType::kRsa) return requires_type();
    if (weak_rsa) return sdk::invalid_argument("RSA keys < 2048 bits are unsafe and not supported");
    if (key.bits < role.key_bits) return too_small();
  } else if (role.key_type == "ec") {
    if (key.type != KeyType::kEc) return requires_type();
    if (key.bits < role.key_bits) return too_small();
  } else if (role.key_type == "ed25519") {
    if (key.type != KeyType::kEd25519) return requires_type();
  } else if (weak_rsa) {  // "any"
    return sdk::invalid_argument("RSA keys < 2048 bits are unsafe and not supported");
  }
  return {};
}

sdk::Result<sdk::Response> issue_or_sign(Engine& engine, sdk::Request& request,
                                         const sdk::FieldData& f, bool sign) {
  sdk::Storage& storage = *request.storage;
  const std::string role_name = f.string("role");
  std::optional<Role> role;
  if (valid_role_name(role_name)) {
    auto found = read_role(storage, role_name);
    if (!found) return sdk::error(found.error());
    role = std::move(*found);
  }
  if (!role) return sdk::invalid_argument("unknown role: " + role_name);
  if (!sign && role->key_type == "any") {
    return sdk::invalid_argument(
        "role key type \"any\" not allowed for issuing certificates, only signing");
  }
  auto format = output_format(f);
  if (!format) return sdk::error(format.error());
  auto key_format = private_key_format(f);
  if (!key_format) return sdk::error(key_format.error());

  std::shared_lock ca_lock(engine.ca_mutex());
  auto ca = require_ca(storage, true);
  if (!ca) return sdk::error(ca.error());

  std::optional<ParsedCsr> csr;
  if (sign) {
    auto parsed = parse_csr(f.string("csr"));
    if (!parsed) return sdk::error(parsed.error());
    LEASEFS_TRY(check_csr_key(*role, parsed->key));
    csr = std::move(*parsed);
  }

  std::vector<std::string> warnings;
  auto tmpl = creation_template(request, *role, f, csr ? &*csr : nullptr, &*ca, warnings);
  if (!tmpl) return sdk::error(tmpl.error());

  PkeyPtr key;
  if (!sign) {
    auto made = generate_key(*parse_key_type(role->key_type), role->key_bits);
    if (!made) return sdk::error(made.error());
    key = std::move(*made);
  }
  EVP_PKEY* subject_key = sign ? csr->public_key.get() : key.get();
  auto der = build_certificate(*tmpl, subject_key, ca->private_key.get(), ca->certificate.get());
  if (!der) return sdk::error(der.error());
  auto cert = parse_certificate_der(*der);
  if (!cert) return sdk::error(cert.error());
  const sdk::WallTime expires = not_after(cert->get());
  const std::string serial = colon_hex(tmpl->serial);

  if (!role->no_store) LEASEFS_TRY(storage.put(cert_key(tmpl->serial), *der));

  const std::string cert_text = encode_for(*format, "CERTIFICATE", *der);
  const std::string ca_text = encode_for(*format, "CERTIFICATE", ca->certificate_der);
  json data = {
      {"certificate", cert_text},
      {"issuing_ca", ca_text},
      {"serial_number", serial},
      {"expiration", std::chrono::floor<std::chrono::seconds>(expires.time_since_epoch()).count()},
  };
  // The chain above the certificate; with one self-signed root it is just the root.
  const bool chain = !f.boolean("remove_roots_from_chain");
  if (chain) data["ca_chain"] = json::array({ca_text});
  std::string key_text;
  if (!sign) {
    if (*format == OutputFormat::kDer) {
      auto key_der = private_key_der(key.get(), *key_format);
      if (!key_der) return sdk::error(key_der.error());
      key_text = sdk::base64_encode(key_der->view());
    } else {
      auto key_pem = private_key_pem(key.get(), *key_format);
      if (!key_pem) return sdk::error(key_pem.error());
      key_text = std::string(key_pem->view());
    }
  }
  if (*format == OutputFormat::kPemBundle) {
    // Vault's ToPEMBundle: key, certificate, then the chain.
    std::string bundle = sign ? cert_text : key_text + "\n" + cert_text;
    if (chain) bundle += "\n" + ca_text;
    data["certificate"] = std::move(bundle);
  }
  if (!sign) {
    data["private_key"] = std::move(key_text);
    data["private_key_type"] = role->key_type;
  }

  sdk::Response response = sdk::Response::with_data(std::move(data));
  if (role->generate_lease) {
    const auto left = std::chrono::duration_cast<sdk::Duration>(expires - request.clock->now());
    response.secret = sdk::SecretInfo{.type = std::string(kCertSecretType),
                                      .internal = json{{"serial_number", serial}},
                                      .ttl = left,
                                      .max_ttl = left,
                                      .renewable = false};
  }
  if (sign) {
    if (role->use_csr_common_name && !f.string("common_name").empty()) {
      warnings.push_back(
          "the common_name field was provided but the role is set with \"use_csr_common_name\" "
          "set to true");
    }
    if (role->use_csr_sans && !f.strings("alt_names").empty()) {
      warnings.push_back(
          "the alt_names field was provided but the role is set with \"use_csr_sans\" set to "
          "true");
    }
  }
  response.warnings = std::move(warnings);
  return response;
}

}  // namespace

std::vector<sdk::PathSpec> issue_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back(
      {.pattern = "issue/{role}",
       .fields = issue_fields(false),
       .operations = {{sdk::Operation::kUpdate,
                       bind_handler(engine,
                                    [](Engine& e, sdk::Request& r, const sdk::FieldData& f) {
                                      return issue_or_sign(e, r, f, false);
                                    })}},
       .existence = {},
       .synopsis = "Issue a certificate and private key under a role."});
  paths.push_back(
      {.pattern = "sign/{role}",
       .fields = issue_fields(true),
       .operations = {{sdk::Operation::kUpdate,
                       bind_handler(engine,
                                    [](Engine& e, sdk::Request& r, const sdk::FieldData& f) {
                                      return issue_or_sign(e, r, f, true);
                                    })}},
       .existence = {},
       .synopsis = "Sign a CSR under a role."});
  return paths;
}

}  // namespace leasefs::engines::pki
