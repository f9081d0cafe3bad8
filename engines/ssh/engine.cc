// The SSH engine's shared state and storage codecs (see engine.h).
#include "engines/ssh/engine.h"

#include <cctype>
#include <mutex>

#include "backend/sdk/duration.h"
#include "backend/sdk/stored_json.h"

namespace leasefs::engines::ssh {
namespace {

using nlohmann::json;
using sdk::get_bool;
using sdk::get_int;
using sdk::get_string;
using sdk::get_string_map;

}  // namespace

std::string encode_role(const SshRole& r) {
  return role_response(r).dump();
}

sdk::Result<SshRole> decode_role(std::string_view key, std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return sdk::error(sdk::Code::kDataLoss,
                      "ssh: stored value at \"" + std::string(key) + "\" is not valid");
  }
  SshRole r;
  r.key_type = get_string(j, "key_type", "ca");
  r.allow_user_certificates = get_bool(j, "allow_user_certificates");
  r.allow_host_certificates = get_bool(j, "allow_host_certificates");
  r.allowed_users = get_string(j, "allowed_users");
  r.default_user = get_string(j, "default_user");
  r.allowed_domains = get_string(j, "allowed_domains");
  r.allow_bare_domains = get_bool(j, "allow_bare_domains");
  r.allow_subdomains = get_bool(j, "allow_subdomains");
  r.allowed_extensions = get_string(j, "allowed_extensions");
  r.default_extensions = get_string_map(j, "default_extensions");
  r.allowed_critical_options = get_string(j, "allowed_critical_options");
  r.default_critical_options = get_string_map(j, "default_critical_options");
  r.ttl = std::chrono::seconds(get_int(j, "ttl", 0));
  r.max_ttl = std::chrono::seconds(get_int(j, "max_ttl", 0));
  r.key_id_format = get_string(j, "key_id_format");
  r.algorithm_signer = get_string(j, "algorithm_signer", "default");
  r.not_before_duration = std::chrono::seconds(get_int(j, "not_before_duration", 30));
  r.allow_user_key_ids = get_bool(j, "allow_user_key_ids");
  if (auto it = j.find("allowed_user_key_lengths"); it != j.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (v.is_number_integer()) r.allowed_user_key_lengths[k] = v.get<int>();
    }
  }
  return r;
}

json role_response(const SshRole& r) {
  return json{{"key_type", r.key_type},
              {"allow_user_certificates", r.allow_user_certificates},
              {"allow_host_certificates", r.allow_host_certificates},
              {"allowed_users", r.allowed_users},
              {"default_user", r.default_user},
              {"allowed_domains", r.allowed_domains},
              {"allow_bare_domains", r.allow_bare_domains},
              {"allow_subdomains", r.allow_subdomains},
              {"allowed_extensions", r.allowed_extensions},
              {"default_extensions", r.default_extensions},
              {"allowed_critical_options", r.allowed_critical_options},
              {"default_critical_options", r.default_critical_options},
              {"ttl", sdk::whole_seconds(r.ttl)},
              {"max_ttl", sdk::whole_seconds(r.max_ttl)},
              {"key_id_format", r.key_id_format},
              {"algorithm_signer", r.algorithm_signer},
              {"not_before_duration", sdk::whole_seconds(r.not_before_duration)},
              {"allowed_user_key_lengths", r.allowed_user_key_lengths},
              {"allow_user_key_ids", r.allow_user_key_ids}};
}

bool valid_role_name(std::string_view name) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  if (name.empty() || name.size() > 128 || !word(name.front()) || !word(name.back())) return false;
  for (char c : name) {
    if (!word(c) && c != '-' && c != '.') return false;
  }
  return true;
}

Engine::Engine(const sdk::BackendConfig& config)
    : storage_(config.storage), clock_(config.clock), random_(config.random) {}

sdk::Result<void> Engine::fill_context(sdk::Request& request) const {
  return sdk::fill_request_context(request, storage_, clock_, random_, "ssh");
}

sdk::Result<std::shared_ptr<const Ca>> Engine::ca(sdk::Storage& storage) {
  {
    std::lock_guard lock(cache_mu_);
    if (ca_) return ca_;
  }
  auto pem = storage.get(kCaPrivateKeyKey);
  if (!pem) return sdk::error(pem.error());
  if (!pem->has_value()) return std::shared_ptr<const Ca>();
  sdk::SecureBuffer key_pem = sdk::SecureBuffer::copy_of(**pem);
  sdk::wipe((*pem)->data(), (*pem)->size());
  auto key = parse_private_key_pem(key_pem.view());
  if (!key) return sdk::error(sdk::Code::kDataLoss, "ssh: the stored CA key is not valid");
  auto pub = public_key_of(key->get());
  if (!pub) return sdk::error(pub.error());
  auto ca = std::make_shared<Ca>();
  ca->key = std::move(*key);
  ca->public_key = std::move(*pub);
  ca->public_key_line = public_key_line(ca->public_key);
  std::lock_guard lock(cache_mu_);
  ca_ = ca;
  return ca_;
}

sdk::Result<std::optional<SshRole>> Engine::read_role(sdk::Storage& storage,
                                                      std::string_view name) {
  const std::string key = std::string(kRolePrefix) + std::string(name);
  auto value = storage.get(key);
  if (!value) return sdk::error(value.error());
  if (!value->has_value()) return std::optional<SshRole>();
  auto role = decode_role(key, **value);
  if (!role) return sdk::error(role.error());
  return std::optional<SshRole>(std::move(*role));
}

sdk::Handler bind_handler(const std::shared_ptr<Engine>& engine, EngineHandler handler) {
  return sdk::bind_engine_handler(engine, std::move(handler));
}

}  // namespace leasefs::engines::ssh
