// The PKI engine's shared state and storage codecs, used by every path file: the
// locks, the CA bundle (certificate, key, ids), config/urls and config/crl, stored
// certificates by serial, and the declarations of each path group. Internal to
// engines/pki; the public surface is pki.h.
//
// Lock order: ca_mutex() (shared to use the CA, exclusive to replace or delete it)
// before crl_mutex() (held while the revoked list and the CRL change).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/sdk/engine_paths.h"
#include "engines/pki/cert_util.h"
#include "engines/pki/role.h"

namespace leasefs::engines::pki {

// Storage keys, relative to the mount's view (the layout is documented in pki.h).
inline constexpr std::string_view kCaCertificateKey = "ca/certificate";
inline constexpr std::string_view kCaPrivateKeyKey = "ca/private_key";
inline constexpr std::string_view kCaInfoKey = "ca/info";
inline constexpr std::string_view kCrlKey = "crl";
inline constexpr std::string_view kCrlStateKey = "crl_state";
inline constexpr std::string_view kUrlsKey = "config/urls";
inline constexpr std::string_view kCrlConfigKey = "config/crl";
inline constexpr std::string_view kCertsPrefix = "certs/";
inline constexpr std::string_view kRevokedPrefix = "revoked/";
inline constexpr std::string_view kRolePrefix = "role/";

// The secret type of leased certificates (generate_lease).
inline constexpr std::string_view kCertSecretType = "cert";

// Vault's text when the mount has no CA yet.
inline constexpr std::string_view kNoCa = "backend must be configured with a CA certificate/key";

// "certs/<aa-bb-..>" and "revoked/<aa-bb-..>": Vault's hyphenated serials.
std::string cert_key(const std::vector<std::uint8_t>& serial);
std::string revoked_key(const std::vector<std::uint8_t>& serial);
// The serial of a storage name ("aa-bb-.."), in Vault's colon form.
std::string denormalize_serial(std::string_view name);

// The mount's CA.
struct CaBundle {
  std::string certificate_der{};
  X509Ptr certificate{};
  PkeyPtr private_key{};   // null when loaded without it
  std::string key_type{};  // rsa, ec, ed25519
  std::string issuer_id{};
  std::string issuer_name{};
  std::string key_id{};
  std::string key_name{};
  std::vector<std::uint8_t> serial{};

  std::string certificate_pem() const { return pem_encode("CERTIFICATE", certificate_der); }
};

// The CA, or nullopt when none was generated. `with_key` also reads and parses the
// private key (which goes through a SecureBuffer and is never logged).
sdk::Result<std::optional<CaBundle>> load_ca(sdk::Storage& storage, bool with_key);
// The CA, or Vault's 400 "could not fetch the CA certificate (was one set?): backend
// must be configured with a CA certificate/key".
sdk::Result<CaBundle> require_ca(sdk::Storage& storage, bool with_key);
// The writes that store a new CA (certificate, key PEM, ids).
sdk::Result<std::vector<sdk::StorageOp>> store_ca_ops(const CaBundle& ca);

// config/urls; empty lists when never written.
sdk::Result<Urls> load_urls(sdk::Storage& storage);
nlohmann::json urls_json(const Urls& urls);

// config/crl.
struct CrlConfig {
  sdk::Duration expiry{std::chrono::hours(72)};
  std::string expiry_text{"72h"};  // as the operator wrote it; config/crl shows it back
  bool disable = false;
};
sdk::Result<CrlConfig> load_crl_config(sdk::Storage& storage);
std::string encode_crl_config(const CrlConfig& config);

// The role named `name`, or nullopt.
sdk::Result<std::optional<Role>> read_role(sdk::Storage& storage, std::string_view name);

// A fresh serial: 20 random bytes with the top bit cleared (positive) and a non-zero
// first byte (so it keeps all 20 bytes).
sdk::Result<std::vector<std::uint8_t>> new_serial(sdk::Random& random);

// Shared state of one mounted PKI engine. Thread-safe.
class Engine {
 public:
  explicit Engine(const sdk::BackendConfig& config);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Fills the request's storage, clock and random from the mount's config where the
  // router left them null; kInternal when neither has one.
  sdk::Result<void> fill_context(sdk::Request& request) const;
  // The mount path for messages ("pki/"): the request's, else the config's.
  std::string mount_point(const sdk::Request& request) const;

  std::shared_mutex& ca_mutex() { return ca_mu_; }
  std::mutex& crl_mutex() { return crl_mu_; }

 private:
  std::string mount_path_;
  sdk::Storage* storage_;
  const sdk::Clock* clock_;
  sdk::Random* random_;
  std::shared_mutex ca_mu_;
  std::mutex crl_mu_;
};

using EngineHandler = sdk::EngineHandler<Engine>;
// Wraps a handler so that it runs with the request's context filled in.
sdk::Handler bind_handler(const std::shared_ptr<Engine>& engine, EngineHandler handler);

// The path groups, one function per path_*.cc file.
std::vector<sdk::PathSpec> root_paths(const std::shared_ptr<Engine>& engine);    // path_root.cc
std::vector<sdk::PathSpec> role_paths(const std::shared_ptr<Engine>& engine);    // path_roles.cc
std::vector<sdk::PathSpec> issue_paths(const std::shared_ptr<Engine>& engine);   // path_issue.cc
std::vector<sdk::PathSpec> fetch_paths(const std::shared_ptr<Engine>& engine);   // path_fetch.cc
std::vector<sdk::PathSpec> revoke_paths(const std::shared_ptr<Engine>& engine);  // path_revoke.cc
std::vector<sdk::PathSpec> config_paths(const std::shared_ptr<Engine>& engine);  // path_config.cc
// The "cert" secret type: revoking the lease revokes the certificate (path_revoke.cc).
sdk::SecretType cert_secret_type(const std::shared_ptr<Engine>& engine);

// Vault's 404 without a message ({"errors":[]}): a missing role, certificate, empty LIST.
inline std::unexpected<sdk::Status> plain_not_found() {
  return sdk::not_found("");
}

// A LIST answer: {"keys": [...]}, or the plain 404 when there are none.
sdk::Result<sdk::Response> list_response(std::vector<std::string> keys);

}  // namespace leasefs::engines::pki
