// root/generate/{internal|exported}: make the mount's self-signed CA; root DELETE:
// remove it. One issuer per mount, as Vault's single-issuer API had it: generating
// over an existing root is refused with Vault's warning (200, no data), not an error.
#include <mutex>
#include <shared_mutex>

#include "backend/sdk/encoding.h"
#include "backend/sdk/random.h"
#include "backend/sdk/secure_buffer.h"
#include "engines/pki/creation.h"
#include "engines/pki/crl.h"
#include "engines/pki/engine.h"

namespace leasefs::engines::pki {
namespace {

using nlohmann::json;
using sdk::FieldType;

std::vector<sdk::FieldSpec> root_fields() {
  std::vector<sdk::FieldSpec> fields = certificate_fields();
  std::vector<sdk::FieldSpec> more = {
      {.name = "exported",
       .type = FieldType::kString,
       .description = "\"internal\" keeps the key; \"exported\" also returns it."},
      {.name = "key_type",
       .type = FieldType::kString,
       .description = "rsa, ec or ed25519.",
       .default_value = "rsa"},
      {.name = "key_bits",
       .type = FieldType::kInt,
       .description = "RSA: 2048 (default), 3072, 4096, 8192; EC: 256 (default), 224, 384, 521.",
       .default_value = 0},
      {.name = "max_path_length",
       .type = FieldType::kInt,
       .description = "The CA's path length constraint; -1 = none.",
       .default_value = -1},
      {.name = "not_before_duration",
       .type = FieldType::kDuration,
       .description = "How far before now the certificate becomes valid.",
       .default_value = 30},
      {.name = "issuer_name", .type = FieldType::kString, .description = "A name for the issuer."},
      {.name = "key_name", .type = FieldType::kString, .description = "A name for the key."},
  };
  for (const char* part :
       {"ou", "organization", "country", "locality", "province", "street_address", "postal_code"}) {
    more.push_back({.name = part,
                    .type = FieldType::kCommaStringList,
                    .description = std::string("The subject's ") + part + "."});
  }
  for (auto& f : more) fields.push_back(std::move(f));
  return fields;
}

sdk::Result<sdk::Response> generate_root(Engine& engine, sdk::Request& request,
                                         const sdk::FieldData& f) {
  std::unique_lock ca_lock(engine.ca_mutex());
  sdk::Storage& storage = *request.storage;
  auto existing = load_ca(storage, false);
  if (!existing) return sdk::error(existing.error());
  if (existing->has_value()) {
    sdk::Response r;
    r.warnings.push_back(
        "Refusing to generate a root certificate over an existing root certificate. If you "
        "really want to destroy the original root certificate, please issue a delete against " +
        engine.mount_point(request) + "root.");
    return r;
  }

  const std::string exported_text = f.string("exported");
  if (exported_text != "internal" && exported_text != "exported") {
    return sdk::invalid_argument(
        "the \"exported\" path parameter must be \"internal\" or \"exported\"");
  }
  const bool exported = exported_text == "exported";
  auto format = output_format(f);
  if (!format) return sdk::error(format.error());
  auto key_format = private_key_format(f);
  if (!key_format) return sdk::error(key_format.error());

  const std::string key_type_text = f.string("key_type");
  auto bits = validate_key_type_length(key_type_text, f.integer("key_bits"), false);
  if (!bits) return sdk::error(bits.error());
  const KeyType key_type = *parse_key_type(key_type_text);
  const std::int64_t max_path_length = f.integer("max_path_length");
  if (max_path_length < -1 || max_path_length > 1024) {
    return sdk::invalid_argument("requested max_path_length " + std::to_string(max_path_length) +
                                 " is invalid: must be a non-negative integer or -1 for no "
                                 "constraint");
  }

  // Vault's root "role": any name, any SAN, subject parts from the request.
  Role role;
  role.allow_any_name = true;
  role.allow_localhost = true;
  role.allow_ip_sans = true;
  role.enforce_hostnames = false;
  role.allowed_uri_sans = {"*"};
  role.allowed_serial_numbers = {"*"};
  role.require_cn = false;
  role.use_csr_common_name = false;
  role.use_csr_sans = false;
  role.ttl = sdk::Duration{0};
  role.max_ttl = sdk::Duration{0};
  role.not_before_duration = f.duration("not_before_duration");
  role.ou = f.strings("ou");
  role.organization = f.strings("organization");
  role.country = f.strings("country");
  role.locality = f.strings("locality");
  role.province = f.strings("province");
  role.street_address = f.strings("street_address");
  role.postal_code = f.strings("postal_code");

  std::vector<std::string> warnings;
  auto tmpl = creation_template(request, role, f, nullptr, nullptr, warnings);
  if (!tmpl) return sdk::error(tmpl.error());
  tmpl->is_ca = true;
  tmpl->max_path_length = static_cast<int>(max_path_length);
  tmpl->key_usage = kCertSign | kCrlSign;
  tmpl->ext_key_usage_oids.clear();
  tmpl->basic_constraints_for_non_ca = false;

  auto key = generate_key(key_type, *bits);
  if (!key) return sdk::error(key.error());
  auto der = build_certificate(*tmpl, key->get(), nullptr, nullptr);
  if (!der) return sdk::error(der.error());
  auto cert = parse_certificate_der(*der);
  if (!cert) return sdk::error(cert.error());

  CaBundle ca;
  ca.certificate_der = *der;
  ca.certificate = std::move(*cert);
  ca.private_key = std::move(*key);
  ca.key_type = std::string(key_type_name(key_type));
  ca.serial = tmpl->serial;
  ca.issuer_name = f.string("issuer_name");
  ca.key_name = f.string("key_name");
  auto issuer_id = sdk::random_uuid(*request.random);
  if (!issuer_id) return sdk::error(issuer_id.error());
  auto key_id = sdk::random_uuid(*request.random);
  if (!key_id) return sdk::error(key_id.error());
  ca.issuer_id = std::move(*issuer_id);
  ca.key_id = std::move(*key_id);

  // The CA, its certificate by serial (Vault lists and serves it like any other), and
  // a first, empty CRL: one batch.
  auto ops = store_ca_ops(ca);
  if (!ops) return sdk::error(ops.error());
  ops->push_back(sdk::StorageOp::put(cert_key(ca.serial), ca.certificate_der));
  {
    std::lock_guard crl_lock(engine.crl_mutex());
    auto crl_ops = rebuild_crl_ops(request, ca, {});
    if (!crl_ops) return sdk::error(crl_ops.error());
    for (auto& op : *crl_ops) ops->push_back(std::move(op));
    auto applied = storage.apply(*ops);
    // The batch held the key's PEM in ordinary strings: wipe them before they are freed.
    for (auto& op : *ops) sdk::wipe(op.value.data(), op.value.size());
    if (!applied) return sdk::error(applied.error());
  }

  const std::string cert_text = encode_for(*format, "CERTIFICATE", ca.certificate_der);
  json data = {
      {"expiration",
       std::chrono::floor<std::chrono::seconds>(not_after(ca.certificate.get()).time_since_epoch())
           .count()},
      {"serial_number", colon_hex(ca.serial)},
      {"certificate", cert_text},
      {"issuing_ca", cert_text},
      {"issuer_id", ca.issuer_id},
      {"issuer_name", ca.issuer_name},
      {"key_id", ca.key_id},
      {"key_name", ca.key_name},
  };
  if (exported) {
    std::string key_text;
    if (*format == OutputFormat::kDer) {
      auto key_der = private_key_der(ca.private_key.get(), *key_format);
      if (!key_der) return sdk::error(key_der.error());
      key_text = sdk::base64_encode(key_der->view());
    } else {
      auto key_pem = private_key_pem(ca.private_key.get(), *key_format);
      if (!key_pem) return sdk::error(key_pem.error());
      key_text = std::string(key_pem->view());
    }
    if (*format == OutputFormat::kPemBundle) data["certificate"] = key_text + "\n" + cert_text;
    data["private_key"] = std::move(key_text);
    data["private_key_type"] = ca.key_type;
  }

  sdk::Response response = sdk::Response::with_data(std::move(data));
  response.warnings = std::move(warnings);
  if (max_path_length == 0) {
    response.warnings.push_back(
        "Max path length of the generated certificate is zero. This certificate cannot be used "
        "to issue intermediate CA certificates.");
  }
  return response;
}

// Vault's legacy DELETE root: the CA and its CRL go; issued certificates and
// revocations stay (they can still be listed and read).
sdk::Result<sdk::Response> delete_root(Engine& engine, sdk::Request& request,
                                       const sdk::FieldData&) {
  std::unique_lock ca_lock(engine.ca_mutex());
  std::lock_guard crl_lock(engine.crl_mutex());
  std::vector<sdk::StorageOp> ops = {
      sdk::StorageOp::remove(std::string(kCaCertificateKey)),
      sdk::StorageOp::remove(std::string(kCaPrivateKeyKey)),
      sdk::StorageOp::remove(std::string(kCaInfoKey)),
      sdk::StorageOp::remove(std::string(kCrlKey)),
  };
  LEASEFS_TRY(request.storage->apply(ops));
  return sdk::Response::empty();
}

}  // namespace

std::vector<sdk::PathSpec> root_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back({.pattern = "root/generate/{exported}",
                   .fields = root_fields(),
                   .operations = {{sdk::Operation::kUpdate, bind_handler(engine, generate_root)}},
                   .existence = {},
                   .synopsis = "Generate a new self-signed CA certificate and private key."});
  paths.push_back({.pattern = "root",
                   .fields = {},
                   .operations = {{sdk::Operation::kDelete, bind_handler(engine, delete_root)}},
                   .existence = {},
                   .synopsis = "Delete the CA key and certificate so a new one can be made."});
  return paths;
}

}  // namespace leasefs::engines::pki
