// The SSH engine's shared state and storage codecs: the CA (loaded and parsed once,
// cached until it changes), roles, and the declarations of each path group. Internal
// to engines/ssh; the public surface is ssh.h.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/sdk/engine_paths.h"
#include "engines/ssh/openssh.h"

namespace leasefs::engines::ssh {

inline constexpr std::string_view kCaPrivateKeyKey = "config/ca_private_key";
inline constexpr std::string_view kCaPublicKeyKey = "config/ca_public_key";
inline constexpr std::string_view kRolePrefix = "roles/";
inline constexpr std::string_view kCertSecretType = "ssh_certificate";

struct SshRole {
  std::string key_type{"ca"};
  bool allow_user_certificates = false;
  bool allow_host_certificates = false;
  std::string allowed_users{};  // "*" or "a,b"; empty: nobody (but default_user)
  std::string default_user{};
  std::string allowed_domains{};  // host certificates
  bool allow_bare_domains = false;
  bool allow_subdomains = false;
  std::string allowed_extensions{};  // "*" or "a,b"; empty: none from the request
  std::map<std::string, std::string> default_extensions{};
  std::string allowed_critical_options{};  // empty: any
  std::map<std::string, std::string> default_critical_options{};
  sdk::Duration ttl{0};
  sdk::Duration max_ttl{0};
  std::string key_id_format{};
  std::string algorithm_signer{"default"};
  sdk::Duration not_before_duration{std::chrono::seconds(30)};
  std::map<std::string, int> allowed_user_key_lengths{};  // type -> minimum bits
  bool allow_user_key_ids = false;
};

std::string encode_role(const SshRole& role);
sdk::Result<SshRole> decode_role(std::string_view key, std::string_view text);
nlohmann::json role_response(const SshRole& role);
bool valid_role_name(std::string_view name);

// The mount's CA, parsed.
struct Ca {
  PkeyPtr key{};
  PublicKey public_key{};
  std::string public_key_line{};
};

class Engine {
 public:
  explicit Engine(const sdk::BackendConfig& config);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  sdk::Result<void> fill_context(sdk::Request& request) const;

  // The CA, parsed once and cached; nullptr when none is configured. Callers hold
  // ca_mutex() shared while they use it.
  sdk::Result<std::shared_ptr<const Ca>> ca(sdk::Storage& storage);
  // Forgets the cached CA (after config/ca changes it). Needs ca_mutex() exclusive.
  void forget_ca() { ca_.reset(); }

  sdk::Result<std::optional<SshRole>> read_role(sdk::Storage& storage, std::string_view name);

  std::shared_mutex& ca_mutex() { return ca_mu_; }

 private:
  sdk::Storage* storage_;
  const sdk::Clock* clock_;
  sdk::Random* random_;
  std::shared_mutex ca_mu_;
  std::mutex cache_mu_;
  std::shared_ptr<const Ca> ca_;
};

using EngineHandler = sdk::EngineHandler<Engine>;
sdk::Handler bind_handler(const std::shared_ptr<Engine>& engine, EngineHandler handler);

std::vector<sdk::PathSpec> ca_paths(const std::shared_ptr<Engine>& engine);    // path_ca.cc
std::vector<sdk::PathSpec> role_paths(const std::shared_ptr<Engine>& engine);  // path_roles.cc
std::vector<sdk::PathSpec> sign_paths(const std::shared_ptr<Engine>& engine);  // path_sign.cc

}  // namespace leasefs::engines::ssh
