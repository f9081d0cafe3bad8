// Reading what the CA published: the CA certificate and chain (ca, ca/pem, ca_chain,
// cert/ca, cert/ca_chain), the CRL (crl, crl/pem, cert/crl), stored certificates by
// serial (cert/<serial>, cert/<serial>/raw[/pem]) and their list (certs/). The raw
// paths answer the bytes themselves with Vault's content types (an empty 204 when there
// is nothing yet); the cert/ paths answer Vault's JSON. All but certs/ need no token.
#include <shared_mutex>

#include "engines/pki/crl.h"
#include "engines/pki/engine.h"

namespace leasefs::engines::pki {
namespace {

using nlohmann::json;

constexpr std::string_view kDerCert = "application/pkix-cert";
constexpr std::string_view kPemChain = "application/pem-certificate-chain";
constexpr std::string_view kDerCrl = "application/pkix-crl";
constexpr std::string_view kPemFile = "application/x-pem-file";

sdk::Response raw(std::string_view content_type, std::string body) {
  sdk::Response r;
  const int status = body.empty() ? 204 : 200;
  r.raw = sdk::RawBody{
      .status = status, .content_type = std::string(content_type), .body = std::move(body)};
  return r;
}

json certificate_json(std::string certificate) {
  return json{{"certificate", std::move(certificate)},
              {"revocation_time", 0},
              {"revocation_time_rfc3339", ""}};
}

// The CA's certificate DER, or "" when there is none.
sdk::Result<std::string> ca_der(sdk::Storage& storage) {
  auto der = storage.get(kCaCertificateKey);
  if (!der) return sdk::error(der.error());
  return der->value_or(std::string());
}

sdk::Result<std::string> crl_der(sdk::Storage& storage) {
  auto der = storage.get(kCrlKey);
  if (!der) return sdk::error(der.error());
  return der->value_or(std::string());
}

enum class CaView { kDer, kPem, kChain };

sdk::Result<sdk::Response> read_ca_raw(Engine& engine, sdk::Request& request, CaView view) {
  std::shared_lock lock(engine.ca_mutex());
  auto der = ca_der(*request.storage);
  if (!der) return sdk::error(der.error());
  switch (view) {
    case CaView::kDer:
      return raw(kDerCert, std::move(*der));
    case CaView::kPem:
      return raw(kPemChain, der->empty() ? std::string() : pem_encode("CERTIFICATE", *der));
    case CaView::kChain:
      // Vault serves the PEM chain here under the DER content type; kept for clients.
      return raw(kDerCert, der->empty() ? std::string() : pem_encode("CERTIFICATE", *der));
  }
  return sdk::internal_error("pki: unknown CA view");
}

sdk::Result<sdk::Response> read_ca_json(Engine& engine, sdk::Request& request, bool chain) {
  std::shared_lock lock(engine.ca_mutex());
  auto der = ca_der(*request.storage);
  if (!der) return sdk::error(der.error());
  if (der->empty()) return sdk::invalid_argument(std::string(kNoCa));
  const std::string pem = pem_encode("CERTIFICATE", *der);
  json data = certificate_json(pem);
  if (chain) data["ca_chain"] = pem;
  return sdk::Response::with_data(std::move(data));
}

sdk::Result<sdk::Response> read_crl_raw(Engine& engine, sdk::Request& request, bool pem) {
  std::shared_lock lock(engine.ca_mutex());
  auto der = crl_der(*request.storage);
  if (!der) return sdk::error(der.error());
  if (!pem) return raw(kDerCrl, std::move(*der));
  return raw(kPemFile, der->empty() ? std::string() : pem_encode("X509 CRL", *der));
}

sdk::Result<sdk::Response> read_crl_json(Engine& engine, sdk::Request& request,
                                         const sdk::FieldData&) {
  std::shared_lock lock(engine.ca_mutex());
  auto der = crl_der(*request.storage);
  if (!der) return sdk::error(der.error());
  if (der->empty()) return plain_not_found();
  return sdk::Response::with_data(certificate_json(pem_encode("X509 CRL", *der)));
}

sdk::Result<sdk::Response> read_cert_json(Engine&, sdk::Request& request, const sdk::FieldData& f) {
  auto serial = parse_serial(f.string("serial"));
  if (!serial) return plain_not_found();
  auto der = request.storage->get(cert_key(*serial));
  if (!der) return sdk::error(der.error());
  if (!der->has_value()) return plain_not_found();
  json data = certificate_json(pem_encode("CERTIFICATE", **der));
  auto revocation = read_revocation(*request.storage, *serial);
  if (!revocation) return sdk::error(revocation.error());
  if (revocation->has_value()) {
    const auto when = (*revocation)->revocation_time;
    data["revocation_time"] =
        std::chrono::floor<std::chrono::seconds>(when.time_since_epoch()).count();
    data["revocation_time_rfc3339"] = go_rfc3339_nano(when);
  }
  return sdk::Response::with_data(std::move(data));
}

// cert/<serial>/raw and cert/<serial>/raw/pem; <serial> may also be "ca" or "crl".
sdk::Result<sdk::Response> read_cert_raw(Engine& engine, sdk::Request& request,
                                         const sdk::FieldData& f, bool pem) {
  const std::string name = f.string("serial");
  if (name == "ca") return read_ca_raw(engine, request, pem ? CaView::kPem : CaView::kDer);
  if (name == "crl") return read_crl_raw(engine, request, pem);
  std::string der;
  if (auto serial = parse_serial(name)) {
    auto stored = request.storage->get(cert_key(*serial));
    if (!stored) return sdk::error(stored.error());
    der = stored->value_or(std::string());
  }
  if (!pem) return raw(kDerCert, std::move(der));
  return raw(kPemChain, der.empty() ? std::string() : pem_encode("CERTIFICATE", der));
}

sdk::Result<sdk::Response> list_certs(Engine&, sdk::Request& request, const sdk::FieldData&) {
  auto names = request.storage->list(kCertsPrefix);
  if (!names) return sdk::error(names.error());
  std::vector<std::string> keys;
  keys.reserve(names->size());
  for (const auto& name : *names) {
    if (!name.ends_with('/')) keys.push_back(denormalize_serial(name));
  }
  return list_response(std::move(keys));
}

sdk::PathSpec read_path(const std::shared_ptr<Engine>& engine, std::string pattern,
                        EngineHandler handler, std::string synopsis,
                        std::vector<sdk::FieldSpec> fields = {}) {
  return {.pattern = std::move(pattern),
          .fields = std::move(fields),
          .operations = {{sdk::Operation::kRead, bind_handler(engine, std::move(handler))}},
          .existence = {},
          .synopsis = std::move(synopsis)};
}

}  // namespace

std::vector<sdk::PathSpec> fetch_paths(const std::shared_ptr<Engine>& engine) {
  const std::vector<sdk::FieldSpec> serial = {
      {.name = "serial",
       .type = sdk::FieldType::kString,
       .description = "Certificate serial number, colon- or hyphen-separated hex."}};
  std::vector<sdk::PathSpec> paths;
  paths.push_back(read_path(
      engine, "ca",
      [](Engine& e, sdk::Request& r, const sdk::FieldData&) {
        return read_ca_raw(e, r, CaView::kDer);
      },
      "The CA certificate, DER."));
  paths.push_back(read_path(
      engine, "ca/pem",
      [](Engine& e, sdk::Request& r, const sdk::FieldData&) {
        return read_ca_raw(e, r, CaView::kPem);
      },
      "The CA certificate, PEM."));
  paths.push_back(read_path(
      engine, "ca_chain",
      [](Engine& e, sdk::Request& r, const sdk::FieldData&) {
        return read_ca_raw(e, r, CaView::kChain);
      },
      "The CA chain, PEM."));
  paths.push_back(read_path(
      engine, "cert/ca",
      [](Engine& e, sdk::Request& r, const sdk::FieldData&) { return read_ca_json(e, r, false); },
      "The CA certificate, JSON."));
  paths.push_back(read_path(
      engine, "cert/ca_chain",
      [](Engine& e, sdk::Request& r, const sdk::FieldData&) { return read_ca_json(e, r, true); },
      "The CA chain, JSON."));
  paths.push_back(read_path(engine, "cert/crl", read_crl_json, "The CRL, JSON."));
  paths.push_back(read_path(engine, "cert/{serial}", read_cert_json,
                            "A certificate and its revocation time, JSON.", serial));
  paths.push_back(read_path(
      engine, "cert/{serial}/raw",
      [](Engine& e, sdk::Request& r, const sdk::FieldData& f) {
        return read_cert_raw(e, r, f, false);
      },
      "A certificate, DER.", serial));
  paths.push_back(read_path(
      engine, "cert/{serial}/raw/pem",
      [](Engine& e, sdk::Request& r, const sdk::FieldData& f) {
        return read_cert_raw(e, r, f, true);
      },
      "A certificate, PEM.", serial));
  paths.push_back({.pattern = "certs",
                   .fields = {},
                   .operations = {{sdk::Operation::kList, bind_handler(engine, list_certs)}},
                   .existence = {},
                   .synopsis = "List the serials of stored certificates."});
  paths.push_back(read_path(
      engine, "crl",
      [](Engine& e, sdk::Request& r, const sdk::FieldData&) { return read_crl_raw(e, r, false); },
      "The CRL, DER."));
  paths.push_back(read_path(
      engine, "crl/pem",
      [](Engine& e, sdk::Request& r, const sdk::FieldData&) { return read_crl_raw(e, r, true); },
      "The CRL, PEM."));
  return paths;
}

}  // namespace leasefs::engines::pki
