// The PKI engine's shared state and storage codecs (see engine.h).
#include "engines/pki/engine.h"

#include <algorithm>

#include "backend/sdk/random.h"
#include "backend/sdk/stored_json.h"

namespace leasefs::engines::pki {
namespace {

using nlohmann::json;
using sdk::get_string;
using sdk::get_strings;

std::string hyphen_hex(const std::vector<std::uint8_t>& serial) {
  std::string s = colon_hex(serial);
  std::replace(s.begin(), s.end(), ':', '-');
  return s;
}

}  // namespace

std::string cert_key(const std::vector<std::uint8_t>& serial) {
  return std::string(kCertsPrefix) + hyphen_hex(serial);
}

std::string revoked_key(const std::vector<std::uint8_t>& serial) {
  return std::string(kRevokedPrefix) + hyphen_hex(serial);
}

std::string denormalize_serial(std::string_view name) {
  std::string s(name);
  std::replace(s.begin(), s.end(), '-', ':');
  return s;
}

sdk::Result<std::optional<CaBundle>> load_ca(sdk::Storage& storage, bool with_key) {
  auto cert = storage.get(kCaCertificateKey);
  if (!cert) return sdk::error(cert.error());
  if (!cert->has_value()) return std::optional<CaBundle>();
  auto info = storage.get(kCaInfoKey);
  if (!info) return sdk::error(info.error());
  if (!info->has_value()) {
    return sdk::error(sdk::Code::kDataLoss, "pki: the CA has a certificate but no ca/info");
  }
  auto info_json = sdk::parse_stored_object("pki", kCaInfoKey, **info);
  if (!info_json) return sdk::error(info_json.error());

  CaBundle ca;
  ca.certificate_der = std::move(**cert);
  auto parsed = parse_certificate_der(ca.certificate_der);
  if (!parsed) return sdk::error(parsed.error());
  ca.certificate = std::move(*parsed);
  ca.serial = serial_bytes(ca.certificate.get());
  ca.key_type = get_string(*info_json, "key_type");
  ca.issuer_id = get_string(*info_json, "issuer_id");
  ca.issuer_name = get_string(*info_json, "issuer_name");
  ca.key_id = get_string(*info_json, "key_id");
  ca.key_name = get_string(*info_json, "key_name");

  if (with_key) {
    auto pem = storage.get(kCaPrivateKeyKey);
    if (!pem) return sdk::error(pem.error());
    if (!pem->has_value()) {
      return sdk::error(sdk::Code::kDataLoss, "pki: the CA has a certificate but no key");
    }
    // Move the key text into locked memory and wipe the ordinary copy at once.
    sdk::SecureBuffer key_pem = sdk::SecureBuffer::copy_of(**pem);
    sdk::wipe((*pem)->data(), (*pem)->size());
    pem->reset();
    auto key = parse_private_key_pem(key_pem.view());
    if (!key) return sdk::error(key.error());
    ca.private_key = std::move(*key);
  }
  return std::optional<CaBundle>(std::move(ca));
}

sdk::Result<CaBundle> require_ca(sdk::Storage& storage, bool with_key) {
  auto ca = load_ca(storage, with_key);
  if (!ca) return sdk::error(ca.error());
  if (!ca->has_value()) {
    return sdk::invalid_argument("could not fetch the CA certificate (was one set?): " +
                                 std::string(kNoCa));
  }
  return std::move(**ca);
}

sdk::Result<std::vector<sdk::StorageOp>> store_ca_ops(const CaBundle& ca) {
  if (!ca.private_key) return sdk::internal_error("pki: storing a CA without its key");
  auto key_pem = private_key_pem(ca.private_key.get(), KeyFormat::kPkcs8);
  if (!key_pem) return sdk::error(key_pem.error());
  json info = {{"key_type", ca.key_type},       {"issuer_id", ca.issuer_id},
               {"issuer_name", ca.issuer_name}, {"key_id", ca.key_id},
               {"key_name", ca.key_name},       {"serial_number", colon_hex(ca.serial)}};
  std::vector<sdk::StorageOp> ops;
  ops.push_back(sdk::StorageOp::put(std::string(kCaCertificateKey), ca.certificate_der));
  // The StorageOp's copy is an ordinary string; it lives only until the batch is applied.
  ops.push_back(sdk::StorageOp::put(std::string(kCaPrivateKeyKey), std::string(key_pem->view())));
  ops.push_back(sdk::StorageOp::put(std::string(kCaInfoKey), json_text(info)));
  return ops;
}

sdk::Result<Urls> load_urls(sdk::Storage& storage) {
  auto value = storage.get(kUrlsKey);
  if (!value) return sdk::error(value.error());
  Urls urls;
  if (!value->has_value()) return urls;
  auto j = sdk::parse_stored_object("pki", kUrlsKey, **value);
  if (!j) return sdk::error(j.error());
  urls.issuing_certificates = get_strings(*j, "issuing_certificates");
  urls.crl_distribution_points = get_strings(*j, "crl_distribution_points");
  urls.ocsp_servers = get_strings(*j, "ocsp_servers");
  return urls;
}

nlohmann::json urls_json(const Urls& urls) {
  return json{{"issuing_certificates", urls.issuing_certificates},
              {"crl_distribution_points", urls.crl_distribution_points},
              {"ocsp_servers", urls.ocsp_servers}};
}

sdk::Result<CrlConfig> load_crl_config(sdk::Storage& storage) {
  auto value = storage.get(kCrlConfigKey);
  if (!value) return sdk::error(value.error());
  CrlConfig config;
  if (!value->has_value()) return config;
  auto j = sdk::parse_stored_object("pki", kCrlConfigKey, **value);
  if (!j) return sdk::error(j.error());
  if (auto it = j->find("expiry_seconds"); it != j->end() && it->is_number_integer()) {
    config.expiry = std::chrono::seconds(it->get<std::int64_t>());
  }
  if (auto it = j->find("expiry"); it != j->end() && it->is_string()) {
    config.expiry_text = it->get<std::string>();
  }
  if (auto it = j->find("disable"); it != j->end() && it->is_boolean()) {
    config.disable = it->get<bool>();
  }
  return config;
}

std::string encode_crl_config(const CrlConfig& config) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(config.expiry).count();
  return json_text(json{
      {"expiry_seconds", seconds}, {"expiry", config.expiry_text}, {"disable", config.disable}});
}

sdk::Result<std::optional<Role>> read_role(sdk::Storage& storage, std::string_view name) {
  const std::string key = std::string(kRolePrefix) + std::string(name);
  auto value = storage.get(key);
  if (!value) return sdk::error(value.error());
  if (!value->has_value()) return std::optional<Role>();
  auto role = decode_role(key, **value);
  if (!role) return sdk::error(role.error());
  return std::optional<Role>(std::move(*role));
}

sdk::Result<std::vector<std::uint8_t>> new_serial(sdk::Random& random) {
  std::vector<std::uint8_t> serial(20);
  LEASEFS_TRY(random.fill(serial));
  serial[0] &= 0x7f;
  if (serial[0] == 0) serial[0] = 0x01;
  return serial;
}

Engine::Engine(const sdk::BackendConfig& config)
    : mount_path_(config.mount_path),
      storage_(config.storage),
      clock_(config.clock),
      random_(config.random) {}

sdk::Result<void> Engine::fill_context(sdk::Request& request) const {
  return sdk::fill_request_context(request, storage_, clock_, random_, "pki");
}

std::string Engine::mount_point(const sdk::Request& request) const {
  return request.mount_point.empty() ? mount_path_ : request.mount_point;
}

sdk::Handler bind_handler(const std::shared_ptr<Engine>& engine, EngineHandler handler) {
  return sdk::bind_engine_handler(engine, std::move(handler));
}

sdk::Result<sdk::Response> list_response(std::vector<std::string> keys) {
  if (keys.empty()) return plain_not_found();
  return sdk::Response::with_data(json{{"keys", std::move(keys)}});
}

}  // namespace leasefs::engines::pki
