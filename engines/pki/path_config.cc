// config/urls (issuing_certificates, crl_distribution_points, ocsp_servers: written
// into every certificate issued afterwards) and config/crl (the CRL's lifetime, and
// whether it lists anything).
#include <cctype>
#include <mutex>
#include <shared_mutex>

#include "backend/sdk/duration.h"
#include "engines/pki/crl.h"
#include "engines/pki/engine.h"

namespace leasefs::engines::pki {
namespace {

using nlohmann::json;
using sdk::FieldType;

// govalidator.IsURL, simplified: scheme://host..., no spaces or control characters.
bool valid_url(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0 || sep + 3 >= url.size()) return false;
  for (char c : url.substr(0, sep)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

sdk::Result<void> check_urls(const std::vector<std::string>& urls, std::string_view what) {
  for (const auto& url : urls) {
    if (!valid_url(url)) {
      return sdk::invalid_argument("invalid URL found in " + std::string(what) + ": " + url);
    }
  }
  return {};
}

sdk::Result<sdk::Response> read_urls(Engine&, sdk::Request& request, const sdk::FieldData&) {
  auto urls = load_urls(*request.storage);
  if (!urls) return sdk::error(urls.error());
  return sdk::Response::with_data(urls_json(*urls));
}

sdk::Result<sdk::Response> write_urls(Engine&, sdk::Request& request, const sdk::FieldData& f) {
  auto urls = load_urls(*request.storage);
  if (!urls) return sdk::error(urls.error());
  if (f.has("issuing_certificates")) urls->issuing_certificates = f.strings("issuing_certificates");
  if (f.has("crl_distribution_points")) {
    urls->crl_distribution_points = f.strings("crl_distribution_points");
  }
  if (f.has("ocsp_servers")) urls->ocsp_servers = f.strings("ocsp_servers");
  LEASEFS_TRY(check_urls(urls->issuing_certificates, "issuing certificates"));
  LEASEFS_TRY(check_urls(urls->crl_distribution_points, "CRL distribution points"));
  LEASEFS_TRY(check_urls(urls->ocsp_servers, "OCSP servers"));
  LEASEFS_TRY(request.storage->put(kUrlsKey, json_text(urls_json(*urls))));
  return sdk::Response::empty();
}

sdk::Result<sdk::Response> read_crl_config(Engine&, sdk::Request& request, const sdk::FieldData&) {
  auto config = load_crl_config(*request.storage);
  if (!config) return sdk::error(config.error());
  return sdk::Response::with_data(
      json{{"expiry", config->expiry_text}, {"disable", config->disable}});
}

sdk::Result<sdk::Response> write_crl_config(Engine& engine, sdk::Request& request,
                                            const sdk::FieldData& f) {
  std::shared_lock ca_lock(engine.ca_mutex());
  std::lock_guard crl_lock(engine.crl_mutex());
  auto config = load_crl_config(*request.storage);
  if (!config) return sdk::error(config.error());
  const bool was_disabled = config->disable;
  if (f.has("expiry")) {
    const std::string text = f.string("expiry");
    auto expiry = sdk::parse_duration(text);
    if (!expiry || expiry->count() <= 0) {
      return sdk::invalid_argument(
          "given expiry could not be decoded: " +
          (expiry ? std::string("must be positive") : expiry.error().message()));
    }
    config->expiry = *expiry;
    config->expiry_text = text;
  }
  if (f.has("disable")) config->disable = f.boolean("disable");

  std::vector<sdk::StorageOp> ops = {
      sdk::StorageOp::put(std::string(kCrlConfigKey), encode_crl_config(*config))};
  if (was_disabled != config->disable) {
    // The CRL's contents change with "disable": build it again now, as Vault does.
    auto ca = load_ca(*request.storage, true);
    if (!ca) return sdk::error(ca.error());
    if (ca->has_value()) {
      auto crl_ops = rebuild_crl_ops(request, **ca, {}, *config);
      if (!crl_ops) return sdk::error(crl_ops.error());
      for (auto& op : *crl_ops) ops.push_back(std::move(op));
    }
  }
  LEASEFS_TRY(request.storage->apply(ops));
  return sdk::Response::empty();
}

}  // namespace

std::vector<sdk::PathSpec> config_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back({.pattern = "config/urls",
                   .fields = {{.name = "issuing_certificates",
                               .type = FieldType::kCommaStringList,
                               .description = "URLs of the issuing certificate (AIA caIssuers)."},
                              {.name = "crl_distribution_points",
                               .type = FieldType::kCommaStringList,
                               .description = "URLs of the CRL."},
                              {.name = "ocsp_servers",
                               .type = FieldType::kCommaStringList,
                               .description = "URLs of OCSP responders (AIA OCSP)."}},
                   .operations = {{sdk::Operation::kRead, bind_handler(engine, read_urls)},
                                  {sdk::Operation::kUpdate, bind_handler(engine, write_urls)}},
                   .existence = {},
                   .synopsis = "URLs written into issued certificates."});
  paths.push_back(
      {.pattern = "config/crl",
       .fields = {{.name = "expiry",
                   .type = FieldType::kString,
                   .description = "How long a CRL stays valid (\"72h\")."},
                  {.name = "disable",
                   .type = FieldType::kBool,
                   .description = "Publish an empty CRL."}},
       .operations = {{sdk::Operation::kRead, bind_handler(engine, read_crl_config)},
                      {sdk::Operation::kUpdate, bind_handler(engine, write_crl_config)}},
       .existence = {},
       .synopsis = "CRL settings."});
  return paths;
}

}  // namespace leasefs::engines::pki
