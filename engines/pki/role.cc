// Roles: codec, key type rules and Vault's name checks (see role.h).
#include "engines/pki/role.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "backend/sdk/stored_json.h"

namespace leasefs::engines::pki {
namespace {

using nlohmann::json;
using sdk::get_bool;
using sdk::get_strings;

std::int64_t seconds_of(sdk::Duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

sdk::Duration get_seconds(const json& j, const char* key, sdk::Duration fallback) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return fallback;
  return std::chrono::seconds(it->get<std::int64_t>());
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

}  // namespace

std::string encode_role(const Role& r) {
  json j = {
      {"ttl", seconds_of(r.ttl)},
      {"max_ttl", seconds_of(r.max_ttl)},
      {"allow_localhost", r.allow_localhost},
      {"allowed_domains", r.allowed_domains},
      {"allow_bare_domains", r.allow_bare_domains},
      {"allow_subdomains", r.allow_subdomains},
      {"allow_glob_domains", r.allow_glob_domains},
      {"allow_any_name", r.allow_any_name},
      {"enforce_hostnames", r.enforce_hostnames},
      {"allow_ip_sans", r.allow_ip_sans},
      {"allowed_uri_sans", r.allowed_uri_sans},
      {"allowed_serial_numbers", r.allowed_serial_numbers},
      {"server_flag", r.server_flag},
      {"client_flag", r.client_flag},
      {"code_signing_flag", r.code_signing_flag},
      {"email_protection_flag", r.email_protection_flag},
      {"key_type", r.key_type},
      {"key_bits", r.key_bits},
      {"key_usage", r.key_usage},
      {"ext_key_usage", r.ext_key_usage},
      {"ext_key_usage_oids", r.ext_key_usage_oids},
      {"use_csr_common_name", r.use_csr_common_name},
      {"use_csr_sans", r.use_csr_sans},
      {"ou", r.ou},
      {"organization", r.organization},
      {"country", r.country},
      {"locality", r.locality},
      {"province", r.province},
      {"street_address", r.street_address},
      {"postal_code", r.postal_code},
      {"generate_lease", r.generate_lease},
      {"no_store", r.no_store},
      {"require_cn", r.require_cn},
      {"basic_constraints_valid_for_non_ca", r.basic_constraints_valid_for_non_ca},
      {"not_before_duration", seconds_of(r.not_before_duration)},
  };
  return json_text(j);
}

sdk::Result<Role> decode_role(std::string_view key, std::string_view value) {
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return sdk::error(sdk::Code::kDataLoss,
                      "pki: stored role at \"" + std::string(key) + "\" is not valid");
  }
  const Role d;  // defaults
  Role r;
  r.ttl = get_seconds(j, "ttl", d.ttl);
  r.max_ttl = get_seconds(j, "max_ttl", d.max_ttl);
  r.allow_localhost = get_bool(j, "allow_localhost", d.allow_localhost);
  r.allowed_domains = get_strings(j, "allowed_domains", d.allowed_domains);
  r.allow_bare_domains = get_bool(j, "allow_bare_domains", d.allow_bare_domains);
  r.allow_subdomains = get_bool(j, "allow_subdomains", d.allow_subdomains);
  r.allow_glob_domains = get_bool(j, "allow_glob_domains", d.allow_glob_domains);
  r.allow_any_name = get_bool(j, "allow_any_name", d.allow_any_name);
  r.enforce_hostnames = get_bool(j, "enforce_hostnames", d.enforce_hostnames);
  r.allow_ip_sans = get_bool(j, "allow_ip_sans", d.allow_ip_sans);
  r.allowed_uri_sans = get_strings(j, "allowed_uri_sans", d.allowed_uri_sans);
  r.allowed_serial_numbers = get_strings(j, "allowed_serial_numbers", d.allowed_serial_numbers);
  r.server_flag = get_bool(j, "server_flag", d.server_flag);
  r.client_flag = get_bool(j, "client_flag", d.client_flag);
  r.code_signing_flag = get_bool(j, "code_signing_flag", d.code_signing_flag);
  r.email_protection_flag = get_bool(j, "email_protection_flag", d.email_protection_flag);
  if (auto it = j.find("key_type"); it != j.end() && it->is_string()) r.key_type = *it;
  if (auto it = j.find("key_bits"); it != j.end() && it->is_number_integer()) {
    r.key_bits = it->get<int>();
  }
  r.key_usage = get_strings(j, "key_usage", d.key_usage);
  r.ext_key_usage = get_strings(j, "ext_key_usage", d.ext_key_usage);
  r.ext_key_usage_oids = get_strings(j, "ext_key_usage_oids", d.ext_key_usage_oids);
  r.use_csr_common_name = get_bool(j, "use_csr_common_name", d.use_csr_common_name);
  r.use_csr_sans = get_bool(j, "use_csr_sans", d.use_csr_sans);
  r.ou = get_strings(j, "ou", d.ou);
  r.organization = get_strings(j, "organization", d.organization);
  r.country = get_strings(j, "country", d.country);
  r.locality = get_strings(j, "locality", d.locality);
  r.province = get_strings(j, "province", d.province);
  r.street_address = get_strings(j, "street_address", d.street_address);
  r.postal_code = get_strings(j, "postal_code", d.postal_code);
  r.generate_lease = get_bool(j, "generate_lease", d.generate_lease);
  r.no_store = get_bool(j, "no_store", d.no_store);
  r.require_cn = get_bool(j, "require_cn", d.require_cn);
  r.basic_constraints_valid_for_non_ca =
      get_bool(j, "basic_constraints_valid_for_non_ca", d.basic_constraints_valid_for_non_ca);
  r.not_before_duration = get_seconds(j, "not_before_duration", d.not_before_duration);
  return r;
}

nlohmann::json role_response_data(const Role& r) {
  // The stored form uses Vault's response names and units (seconds).
  return json::parse(encode_role(r));
}

bool valid_role_name(std::string_view name) {
  if (name.empty() || name.size() > 4096) return false;
  if (!is_word(name.front()) || !is_word(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_word(c) || c == '-' || c == '.'; });
}

std::optional<KeyType> parse_key_type(std::string_view key_type) {
  if (key_type == "rsa") return KeyType::kRsa;
  if (key_type == "ec") return KeyType::kEc;
  if (key_type == "ed25519") return KeyType::kEd25519;
  return std::nullopt;
}

sdk::Result<int> validate_key_type_length(std::string_view key_type, std::int64_t key_bits,
                                          bool allow_any) {
  if (key_type == "rsa") {
    if (key_bits == 0) key_bits = 2048;
    if (key_bits < 2048) {
      return sdk::invalid_argument("RSA keys < 2048 bits are unsafe and not supported: got " +
                                   std::to_string(key_bits));
    }
    if (key_bits != 2048 && key_bits != 3072 && key_bits != 4096 && key_bits != 8192) {
      return sdk::invalid_argument("unsupported bit length for RSA key: " +
                                   std::to_string(key_bits));
    }
    return static_cast<int>(key_bits);
  }
  if (key_type == "ec") {
    if (key_bits == 0) key_bits = 256;
    if (key_bits != 224 && key_bits != 256 && key_bits != 384 && key_bits != 521) {
      return sdk::invalid_argument("unsupported bit length for EC key: " +
                                   std::to_string(key_bits));
    }
    return static_cast<int>(key_bits);
  }
  if (key_type == "ed25519") return 0;
  if (key_type == "any" && allow_any) {
    if (key_bits < 0 || key_bits > 16384) {
      return sdk::invalid_argument("unsupported bit length: " + std::to_string(key_bits));
    }
    return static_cast<int>(key_bits);
  }
  return sdk::invalid_argument("unknown key type " + std::string(key_type));
}

bool is_hostname(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (!is_alnum(label.front()) || !is_alnum(label.back())) return false;
    for (char c : label) {
      if (!is_alnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool glob_match(std::string_view pattern, std::string_view subject) {
  // Iterative wildcard matching: remember the last '*' and retry from one character
  // further on a mismatch.
  std::size_t p = 0;
  std::size_t s = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (s < subject.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = s;
    } else if (p < pattern.size() && pattern[p] == subject[s]) {
      ++p;
      ++s;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string first_disallowed_name(const Role& role, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    std::string_view sanitized = name;
    std::string_view email_domain = name;
    bool is_email = false;
    bool is_wildcard = false;

    if (auto at = name.find('@'); at != std::string::npos) {
      if (name.find('@', at + 1) != std::string::npos) return name;
      sanitized = email_domain = std::string_view(name).substr(at + 1);
      is_email = true;
    }
    if (sanitized.starts_with("*.")) {
      sanitized.remove_prefix(2);
      is_wildcard = true;
    }
    if (is_email && is_wildcard) return name;

    // enforce_hostnames applies even with allow_any_name.
    if (role.enforce_hostnames && !is_hostname(sanitized)) return name;
    if (role.allow_any_name) continue;

    if (role.allow_localhost) {
      if (name == "localhost" || name == "localdomain" ||
          (is_email && (email_domain == "localhost" || email_domain == "localdomain"))) {
        continue;
      }
      if (role.allow_subdomains) {
        if (sanitized.ends_with(".localhost") || (is_wildcard && sanitized == "localhost") ||
            sanitized.ends_with(".localdomain") || (is_wildcard && sanitized == "localdomain")) {
          continue;
        }
      }
    }

    bool valid = false;
    for (const auto& domain : role.allowed_domains) {
      if (domain.empty()) continue;
      if (role.allow_bare_domains && (name == domain || (is_email && email_domain == domain))) {
        valid = true;
        break;
      }
      if (role.allow_subdomains &&
          (sanitized.ends_with("." + domain) || (is_wildcard && sanitized == domain))) {
        valid = true;
        break;
      }
      if (role.allow_glob_domains && domain.find('*') != std::string::npos &&
          glob_match(domain, name)) {
        valid = true;
        break;
      }
    }
    if (valid) continue;
    return name;
  }
  return "";
}

unsigned key_usage_bits(const std::vector<std::string>& names) {
  unsigned bits = 0;
  for (const auto& raw : names) {
    const std::string k = lower(trim(raw));
    if (k == "digitalsignature")
      bits |= kDigitalSignature;
    else if (k == "contentcommitment")
      bits |= kContentCommitment;
    else if (k == "keyencipherment")
      bits |= kKeyEncipherment;
    else if (k == "dataencipherment")
      bits |= kDataEncipherment;
    else if (k == "keyagreement")
      bits |= kKeyAgreement;
    else if (k == "certsign")
      bits |= kCertSign;
    else if (k == "crlsign")
      bits |= kCrlSign;
    else if (k == "encipheronly")
      bits |= kEncipherOnly;
    else if (k == "decipheronly")
      bits |= kDecipherOnly;
  }
  return bits;
}

std::vector<std::string> ext_key_usage_oids(const Role& role) {
  // Go's fixed order of extended key usages; the name Vault accepts, then the OID.
  struct Usage {
    const char* name;
    const char* oid;
  };
  static constexpr Usage kUsages[] = {
      {"any", "2.5.29.37.0"},
      {"serverauth", "1.3.6.1.5.5.7.3.1"},
      {"clientauth", "1.3.6.1.5.5.7.3.2"},
      {"codesigning", "1.3.6.1.5.5.7.3.3"},
      {"emailprotection", "1.3.6.1.5.5.7.3.4"},
      {"ipsecendsystem", "1.3.6.1.5.5.7.3.5"},
      {"ipsectunnel", "1.3.6.1.5.5.7.3.6"},
      {"ipsecuser", "1.3.6.1.5.5.7.3.7"},
      {"timestamping", "1.3.6.1.5.5.7.3.8"},
      {"ocspsigning", "1.3.6.1.5.5.7.3.9"},
      {"microsoftservergatedcrypto", "1.3.6.1.4.1.311.10.3.3"},
      {"netscapeservergatedcrypto", "2.16.840.1.113730.4.1"},
  };
  std::set<std::string> wanted;
  if (role.server_flag) wanted.insert("serverauth");
  if (role.client_flag) wanted.insert("clientauth");
  if (role.code_signing_flag) wanted.insert("codesigning");
  if (role.email_protection_flag) wanted.insert("emailprotection");
  for (const auto& k : role.ext_key_usage) wanted.insert(lower(trim(k)));

  std::vector<std::string> out;
  for (const auto& u : kUsages) {
    if (wanted.contains(u.name)) out.emplace_back(u.oid);
  }
  for (const auto& oid : role.ext_key_usage_oids) out.push_back(oid);
  return out;
}

std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<std::string> dedup(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& v : values) {
    if (seen.insert(v).second) out.push_back(v);
  }
  return out;
}

std::string go_list(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ' ';
    out += values[i];
  }
  return out + "]";
}

}  // namespace leasefs::engines::pki
