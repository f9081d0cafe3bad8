// sign/<role>: a client's public key in, an OpenSSH certificate out, with the
// principals, lifetime, extensions and critical options the role allows. Everything is
// checked before anything is signed; nothing is stored (a certificate cannot be revoked,
// it expires), and the answer carries a non-renewable lease for its lifetime.
#include <cstdio>
#include <mutex>
#include <shared_mutex>

#include "backend/sdk/duration.h"
#include "engines/ssh/engine.h"

namespace leasefs::engines::ssh {
namespace {

using nlohmann::json;
using sdk::FieldType;

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool listed(const std::vector<std::string>& list, const std::string& item) {
  for (const auto& x : list) {
    if (x == "*" || x == item) return true;
  }
  return false;
}

std::string key_family(KeyKind kind) {
  switch (kind) {
    case KeyKind::kEd25519:
      return "ed25519";
    case KeyKind::kRsa:
      return "rsa";
    default:
      return "ec";
  }
}

sdk::Result<std::map<std::string, std::string>> string_map(const json& j, const char* field) {
  std::map<std::string, std::string> out;
  if (j.is_null()) return out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string())
      return sdk::invalid_argument(std::string(field) + " values must be strings");
    out[k] = v.get<std::string>();
  }
  return out;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

sdk::Result<sdk::Response> sign_key(Engine& engine, sdk::Request& request,
                                    const sdk::FieldData& f) {
  const std::string role_name = f.string("role");
  auto role_read = valid_role_name(role_name) ? engine.read_role(*request.storage, role_name)
                                              : sdk::Result<std::optional<SshRole>>(std::nullopt);
  if (!role_read) return sdk::error(role_read.error());
  if (!role_read->has_value()) return sdk::invalid_argument("Unknown role: " + role_name);
  const SshRole& role = **role_read;

  auto key = parse_public_key(f.string("public_key"));
  if (!key) return sdk::error(key.error());
  if (!role.allowed_user_key_lengths.empty()) {
    auto it = role.allowed_user_key_lengths.find(key_family(key->kind));
    if (it == role.allowed_user_key_lengths.end()) {
      return sdk::invalid_argument("key type of " + key->type_name + " is not allowed");
    }
    if (key->bits < it->second) {
      return sdk::invalid_argument("key is of an invalid size: " + std::to_string(key->bits));
    }
  }

  const std::string cert_type = f.string("cert_type");
  CertificateFields cert;
  if (cert_type == "user") {
    if (!role.allow_user_certificates) {
      return sdk::invalid_argument("cert_type 'user' is not allowed by role");
    }
    cert.type = CertType::kUser;
  } else if (cert_type == "host") {
    if (!role.allow_host_certificates) {
      return sdk::invalid_argument("cert_type 'host' is not allowed by role");
    }
    cert.type = CertType::kHost;
  } else {
    return sdk::invalid_argument("cert_type must be either 'user' or 'host'");
  }

  cert.principals = split_list(f.string("valid_principals"));
  if (cert.type == CertType::kUser) {
    if (cert.principals.empty() && !role.default_user.empty()) {
      cert.principals.push_back(role.default_user);
    }
    if (cert.principals.empty()) {
      return sdk::invalid_argument("empty valid principals not allowed by role");
    }
    std::vector<std::string> allowed = split_list(role.allowed_users);
    if (!role.default_user.empty()) allowed.push_back(role.default_user);
    for (const auto& p : cert.principals) {
      if (!listed(allowed, p)) {
        return sdk::invalid_argument(p + " is not a valid value for valid_principals");
      }
    }
  } else {
    if (cert.principals.empty()) {
      return sdk::invalid_argument("empty valid principals not allowed by role");
    }
    const std::vector<std::string> domains = split_list(role.allowed_domains);
    for (const auto& p : cert.principals) {
      bool ok = false;
      for (const auto& d : domains) {
        if (d == "*" || (role.allow_bare_domains && p == d) ||
            (role.allow_subdomains && p.size() > d.size() + 1 && p.ends_with("." + d))) {
          ok = true;
        }
      }
      if (!ok) return sdk::invalid_argument(p + " is not a valid value for valid_principals");
    }
  }

  // Lifetime: the request's ttl, else the role's, else the mount's; never past the max.
  const sdk::Duration max_ttl =
      role.max_ttl.count() > 0 ? role.max_ttl : request.limits.max_lease_ttl;
  sdk::Duration ttl = role.ttl.count() > 0 ? role.ttl : request.limits.default_lease_ttl;
  if (ttl > max_ttl) ttl = max_ttl;
  if (f.has("ttl")) {
    const sdk::Duration wanted = f.duration("ttl");
    if (wanted > max_ttl) {
      return sdk::invalid_argument("ttl is larger than maximum allowed (" +
                                   std::to_string(sdk::whole_seconds(max_ttl)) + ")");
    }
    if (wanted.count() > 0) ttl = wanted;
  }

  if (f.has("key_id") && !f.string("key_id").empty()) {
    if (!role.allow_user_key_ids) {
      return sdk::invalid_argument("setting key_id is not allowed by role");
    }
    cert.key_id = f.string("key_id");
  } else {
    cert.key_id = role.key_id_format.empty() ? "vault-{{token_display_name}}-{{public_key_hash}}"
                                             : role.key_id_format;
    replace_all(cert.key_id, "{{token_display_name}}", request.caller.display_name);
    replace_all(cert.key_id, "{{role_name}}", role_name);
    replace_all(cert.key_id, "{{public_key_hash}}", public_key_sha256_hex(*key));
  }

  auto options = string_map(f.raw("critical_options"), "critical_options");
  if (!options) return sdk::error(options.error());
  if (!options->empty()) {
    const auto allowed = split_list(role.allowed_critical_options);
    std::string refused;
    for (const auto& [name, value] : *options) {
      if (!allowed.empty() && !listed(allowed, name))
        refused += (refused.empty() ? "" : ", ") + name;
    }
    if (!refused.empty()) {
      return sdk::invalid_argument("critical options not on allowed list: [" + refused + "]");
    }
    cert.critical_options = std::move(*options);
  } else {
    cert.critical_options = role.default_critical_options;
  }

  auto extensions = string_map(f.raw("extensions"), "extensions");
  if (!extensions) return sdk::error(extensions.error());
  if (cert.type == CertType::kUser) {
    if (!extensions->empty()) {
      const auto allowed = split_list(role.allowed_extensions);
      std::string refused;
      for (const auto& [name, value] : *extensions) {
        if (!listed(allowed, name)) refused += (refused.empty() ? "" : ", ") + name;
      }
      if (!refused.empty()) {
        return sdk::invalid_argument("extensions [" + refused + "] are not on allowed list");
      }
      cert.extensions = std::move(*extensions);
    } else {
      cert.extensions = role.default_extensions;
    }
  } else if (!extensions->empty()) {
    return sdk::invalid_argument("extensions are not allowed on host certificates");
  }

  std::shared_lock lock(engine.ca_mutex());
  auto ca = engine.ca(*request.storage);
  if (!ca) return sdk::error(ca.error());
  if (!*ca) return sdk::invalid_argument("keys haven't been configured yet");

  std::uint8_t serial_bytes[8];
  LEASEFS_TRY(request.random->fill(serial_bytes));
  for (std::uint8_t b : serial_bytes) cert.serial = (cert.serial << 8) | b;
  const sdk::WallTime now = request.clock->now();
  const std::int64_t now_s = sdk::unix_seconds(now);
  const std::int64_t after = now_s - sdk::whole_seconds(role.not_before_duration);
  cert.valid_after = static_cast<std::uint64_t>(after < 0 ? 0 : after);
  cert.valid_before = static_cast<std::uint64_t>(now_s + sdk::whole_seconds(ttl));
  cert.key = std::move(*key);

  const RsaHash hash =
      role.algorithm_signer == "rsa-sha2-512" ? RsaHash::kSha512 : RsaHash::kSha256;
  auto signed_key =
      sign_certificate(cert, (*ca)->key.get(), (*ca)->public_key, hash, *request.random);
  if (!signed_key) return sdk::error(signed_key.error());

  char serial_hex[17];
  std::snprintf(serial_hex, sizeof serial_hex, "%016llx",
                static_cast<unsigned long long>(cert.serial));
  sdk::Response response = sdk::Response::with_data(
      json{{"serial_number", serial_hex}, {"signed_key", std::move(*signed_key)}});
  response.secret = sdk::SecretInfo{.type = std::string(kCertSecretType),
                                    .internal = json{{"serial_number", serial_hex}},
                                    .ttl = ttl,
                                    .max_ttl = ttl,
                                    .renewable = false};
  return response;
}

}  // namespace

std::vector<sdk::PathSpec> sign_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back(
      {.pattern = "sign/{role}",
       .fields = {{.name = "role", .type = FieldType::kString, .description = "The role."},
                  {.name = "public_key",
                   .type = FieldType::kString,
                   .description = "The key to sign (authorized_keys form)."},
                  {.name = "valid_principals",
                   .type = FieldType::kString,
                   .description = "Comma-separated principals."},
                  {.name = "cert_type",
                   .type = FieldType::kString,
                   .description = "user or host.",
                   .default_value = "user"},
                  {.name = "ttl", .type = FieldType::kDuration, .description = "Lifetime."},
                  {.name = "key_id", .type = FieldType::kString, .description = "Key ID."},
                  {.name = "critical_options",
                   .type = FieldType::kMap,
                   .description = "Critical options."},
                  {.name = "extensions", .type = FieldType::kMap, .description = "Extensions."}},
       .operations = {{sdk::Operation::kUpdate, bind_handler(engine, sign_key)}},
       .existence = {},
       .synopsis = "Sign a public key into an OpenSSH certificate."});
  return paths;
}

}  // namespace leasefs::engines::ssh
