// A PKI role: which names a client may put into a certificate, and what the
// certificate looks like (key type and size, key usages, subject fields, lifetime,
// lease and storage). This file holds the role's data, its storage codec, Vault's
// name checks (validateNames) and key type rules, so that the path handlers only
// apply them. Internal to engines/pki.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/clock.h"
#include "backend/sdk/status.h"
#include "engines/pki/cert_util.h"

namespace leasefs::engines::pki {

// A role as stored. The defaults are Vault's for a role written without that field.
struct Role {
  sdk::Duration ttl{0};
  sdk::Duration max_ttl{0};
  bool allow_localhost = true;
  std::vector<std::string> allowed_domains{};
  bool allow_bare_domains = false;
  bool allow_subdomains = false;
  bool allow_glob_domains = false;
  bool allow_any_name = false;
  bool enforce_hostnames = true;
  bool allow_ip_sans = true;
  std::vector<std::string> allowed_uri_sans{};
  std::vector<std::string> allowed_serial_numbers{};
  bool server_flag = true;
  bool client_flag = true;
  bool code_signing_flag = false;
  bool email_protection_flag = false;
  std::string key_type = "rsa";  // rsa, ec, ed25519 or any (sign only)
  int key_bits = 2048;           // after defaulting: 2048 (rsa), 256 (ec), 0 (ed25519)
  std::vector<std::string> key_usage{"DigitalSignature", "KeyAgreement", "KeyEncipherment"};
  std::vector<std::string> ext_key_usage{};
  std::vector<std::string> ext_key_usage_oids{};
  bool use_csr_common_name = true;
  bool use_csr_sans = true;
  std::vector<std::string> ou{};
  std::vector<std::string> organization{};
  std::vector<std::string> country{};
  std::vector<std::string> locality{};
  std::vector<std::string> province{};
  std::vector<std::string> street_address{};
  std::vector<std::string> postal_code{};
  bool generate_lease = false;
  bool no_store = false;
  bool require_cn = true;
  bool basic_constraints_valid_for_non_ca = false;
  sdk::Duration not_before_duration{std::chrono::seconds(30)};
};

// JSON codec of the stored role; decoding never throws (kDataLoss naming the key).
std::string encode_role(const Role& role);
sdk::Result<Role> decode_role(std::string_view key, std::string_view value);
// Vault's answer to GET roles/<name>.
nlohmann::json role_response_data(const Role& role);

// Role names as Vault's route regex allows them: [A-Za-z0-9_] at both ends, and
// [A-Za-z0-9_.-] between.
bool valid_role_name(std::string_view name);

// Vault's key type rules (certutil.ValidateDefaultOrValueKeyTypeSignatureLength):
// a key_bits of 0 becomes the type's default (rsa 2048, ec 256); RSA takes 2048, 3072,
// 4096 or 8192 bits; EC 224, 256, 384 or 521; ed25519 ignores key_bits (returns 0);
// "any" is kept as given when `allow_any`. Returns the bits to use, or invalid_argument
// with Vault's text ("unknown key type foo", "unsupported bit length for EC key: 300",
// "RSA keys < 2048 bits are unsafe and not supported: got 1024").
sdk::Result<int> validate_key_type_length(std::string_view key_type, std::int64_t key_bits,
                                          bool allow_any);
std::optional<KeyType> parse_key_type(std::string_view key_type);

// Vault's hostname test (hostnameRegex after IDNA with strict domain names and DNS
// length checks): LDH labels of 1..63 characters, not starting or ending with '-',
// at most 253 characters, an optional leading "*." wildcard. ASCII only: leasefs does
// not convert internationalized names.
bool is_hostname(std::string_view name);

// Go's github.com/ryanuber/go-glob: '*' matches any run of characters, nothing else
// is special.
bool glob_match(std::string_view pattern, std::string_view subject);

// Vault's validateNames: the first of `names` (DNS names, e-mail addresses, or a
// common name) that the role does not allow, or "" when all pass. Checks
// enforce_hostnames, allow_any_name, allow_localhost, allowed_domains with
// allow_bare_domains, allow_subdomains and allow_glob_domains, wildcards and e-mail
// domains exactly as Vault does.
std::string first_disallowed_name(const Role& role, const std::vector<std::string>& names);

// The role's key_usage names as KeyUsageBit flags (case-insensitive; unknown names are
// ignored, as Vault ignores them).
unsigned key_usage_bits(const std::vector<std::string>& names);
// The extended key usage OIDs of a role, in Go's order: the flags and ext_key_usage
// names first, then ext_key_usage_oids.
std::vector<std::string> ext_key_usage_oids(const Role& role);

// JSON text that never throws: bytes that are not UTF-8 become U+FFFD.
std::string json_text(const nlohmann::json& value);

// Order-keeping de-duplication (Vault dedups subject fields).
std::vector<std::string> dedup(const std::vector<std::string>& values);
// Go's %s of a []string, as Vault's messages print lists: "[a b]".
std::string go_list(const std::vector<std::string>& values);

}  // namespace leasefs::engines::pki
