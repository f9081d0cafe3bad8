// Vault's generateCreationBundle (see creation.h). The order of the checks, and so
// which error a client sees first, follows Vault's.
#include "engines/pki/creation.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "backend/sdk/cidr.h"
#include "backend/sdk/encoding.h"
#include "backend/sdk/ttl.h"

namespace leasefs::engines::pki {
namespace {

constexpr std::string_view kRequireCn =
    "the common_name field is required, or must be provided in a CSR with "
    "\"use_csr_common_name\" set to true, unless \"require_cn\" is set to false";

// Vault's strutil.ParseDedupLowercaseAndSortStrings for alt_names.
std::vector<std::string> lower_dedup_sort(const std::vector<std::string>& in) {
  std::set<std::string> out;
  for (auto s : in) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!s.empty()) out.insert(std::move(s));
  }
  return {out.begin(), out.end()};
}

std::optional<std::vector<std::uint8_t>> parse_ip_bytes(std::string_view text) {
  if (text.find('%') != std::string_view::npos) return std::nullopt;  // Go refuses zones
  auto ip = sdk::parse_ip(text);
  if (!ip) return std::nullopt;
  const std::size_t n = ip->family == 4 ? 4 : 16;
  return std::vector<std::uint8_t>(ip->bytes.begin(), ip->bytes.begin() + static_cast<long>(n));
}

bool valid_uri(std::string_view uri) {
  return !uri.empty() && std::none_of(uri.begin(), uri.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
}

bool uri_allowed(const Role& role, const std::string& uri) {
  return std::any_of(role.allowed_uri_sans.begin(), role.allowed_uri_sans.end(),
                     [&](const std::string& allowed) { return glob_match(allowed, uri); });
}

bool serial_number_allowed(const Role& role, const std::string& serial) {
  return std::any_of(role.allowed_serial_numbers.begin(), role.allowed_serial_numbers.end(),
                     [&](const std::string& allowed) {
                       if (allowed.empty()) return false;
                       return allowed == serial || (allowed.find('*') != std::string::npos &&
                                                    glob_match(allowed, serial));
                     });
}

}  // namespace

std::vector<sdk::FieldSpec> certificate_fields() {
  using sdk::FieldType;
  return {
      {.name = "common_name",
       .type = FieldType::kString,
       .description = "The requested common name."},
      {.name = "alt_names",
       .type = FieldType::kCommaStringList,
       .description = "Requested Subject Alternative Names (DNS names or e-mail addresses)."},
      {.name = "ip_sans",
       .type = FieldType::kCommaStringList,
       .description = "Requested IP Subject Alternative Names."},
      {.name = "uri_sans",
       .type = FieldType::kCommaStringList,
       .description = "Requested URI Subject Alternative Names."},
      {.name = "ttl",
       .type = FieldType::kDuration,
       .description = "Requested lifetime; capped by the role's and the mount's max."},
      {.name = "format",
       .type = FieldType::kString,
       .description = "\"pem\", \"der\" or \"pem_bundle\".",
       .default_value = "pem"},
      {.name = "private_key_format",
       .type = FieldType::kString,
       .description = "\"der\" (the key's own form, default) or \"pkcs8\".",
       .default_value = "der"},
      {.name = "exclude_cn_from_sans",
       .type = FieldType::kBool,
       .description = "Keep the common name out of the DNS/e-mail SANs.",
       .default_value = false},
      {.name = "serial_number",
       .type = FieldType::kString,
       .description = "The subject's serialNumber attribute (not the certificate serial)."},
  };
}

sdk::Result<OutputFormat> output_format(const sdk::FieldData& fields) {
  const std::string format = fields.string("format");
  if (format == "pem") return OutputFormat::kPem;
  if (format == "der") return OutputFormat::kDer;
  if (format == "pem_bundle") return OutputFormat::kPemBundle;
  return sdk::invalid_argument(
      "the \"format\" path parameter must be \"pem\", \"der\", or \"pem_bundle\"");
}

sdk::Result<KeyFormat> private_key_format(const sdk::FieldData& fields) {
  const std::string format = fields.string("private_key_format");
  if (format.empty() || format == "der" || format == "pem") return KeyFormat::kTraditional;
  if (format == "pkcs8") return KeyFormat::kPkcs8;
  return sdk::invalid_argument("invalid private_key_format \"" + format +
                               "\": must be \"der\", \"pem\" or \"pkcs8\"");
}

std::string encode_for(OutputFormat format, std::string_view type, std::string_view der) {
  return format == OutputFormat::kDer ? sdk::base64_encode(der) : pem_encode(type, der);
}

sdk::Result<CertTemplate> creation_template(sdk::Request& request, const Role& role,
                                            const sdk::FieldData& fields, const ParsedCsr* csr,
                                            const CaBundle* ca,
                                            std::vector<std::string>& warnings) {
  CertTemplate t;

  // Names: common name, DNS names and e-mail addresses.
  std::string cn;
  if (csr != nullptr && role.use_csr_common_name) cn = csr->common_name;
  if (cn.empty()) {
    cn = fields.string("common_name");
    if (cn.empty() && role.require_cn) return sdk::invalid_argument(std::string(kRequireCn));
  }
  std::string serial_number = fields.string("serial_number");
  if (serial_number.empty() && csr != nullptr) serial_number = csr->serial_number;

  const bool sans_from_csr = csr != nullptr && role.use_csr_sans;
  std::vector<std::string> dns_names;
  std::vector<std::string> emails;
  if (sans_from_csr) {
    dns_names = csr->dns_names;
    emails = csr->email_addresses;
  }
  // Vault adds a name to the DNS SANs only when it is a host name; other names (with
  // spaces, underscores...) stay in the subject only.
  auto add_san = [&](const std::string& name) {
    if (name.find('@') != std::string::npos) {
      emails.push_back(name);
    } else if (is_hostname(name)) {
      dns_names.push_back(name);
    }
  };
  if (!cn.empty() && !fields.boolean("exclude_cn_from_sans")) add_san(cn);
  if (!sans_from_csr && fields.has("alt_names")) {
    for (const auto& name : lower_dedup_sort(fields.strings("alt_names"))) add_san(name);
  }
  dns_names = dedup(dns_names);
  emails = dedup(emails);

  // The CN is checked even when it is kept out of the SANs.
  if (!cn.empty()) {
    if (auto bad = first_disallowed_name(role, {cn}); !bad.empty()) {
      return sdk::invalid_argument("common name " + bad + " not allowed by this role");
    }
  }
  if (!serial_number.empty() && !serial_number_allowed(role, serial_number)) {
    return sdk::invalid_argument("serial_number " + serial_number + " not allowed by this role");
  }
  if (auto bad = first_disallowed_name(role, dns_names); !bad.empty()) {
    return sdk::invalid_argument("subject alternate name " + bad + " not allowed by this role");
  }
  if (auto bad = first_disallowed_name(role, emails); !bad.empty()) {
    return sdk::invalid_argument("email address " + bad + " not allowed by this role");
  }

  // IP SANs.
  if (sans_from_csr) {
    if (!csr->ip_addresses.empty()) {
      if (!role.allow_ip_sans) {
        return sdk::invalid_argument(
            "IP Subject Alternative Names are not allowed in this role, but was provided some "
            "via CSR");
      }
      t.ip_addresses = csr->ip_addresses;
    }
  } else {
    const auto ips = fields.strings("ip_sans");
    if (!ips.empty()) {
      if (!role.allow_ip_sans) {
        return sdk::invalid_argument(
            "IP Subject Alternative Names are not allowed in this role, but was provided " +
            go_list(ips));
      }
      for (const auto& ip : ips) {
        auto bytes = parse_ip_bytes(ip);
        if (!bytes) {
          return sdk::invalid_argument("the value '" + ip + "' is not a valid IP address");
        }
        t.ip_addresses.push_back(std::move(*bytes));
      }
    }
  }

  // URI SANs, globbed against allowed_uri_sans. (Vault's message for a refused URI
  // says "via CSR" on both paths; kept as it is.)
  const std::vector<std::string> uris = sans_from_csr ? csr->uris : fields.strings("uri_sans");
  if (!uris.empty()) {
    if (role.allowed_uri_sans.empty()) {
      return sdk::invalid_argument(
          std::string("URI Subject Alternative Names are not allowed in this role, but were "
                      "provided via ") +
          (sans_from_csr ? "CSR" : "the API"));
    }
    for (const auto& uri : uris) {
      if (!uri_allowed(role, uri)) {
        return sdk::invalid_argument(
            "URI Subject Alternative Names were provided via CSR which are not valid for this "
            "role");
      }
      if (!valid_uri(uri)) {
        return sdk::invalid_argument("the provided URI Subject Alternative Name '" + uri +
                                     "' is not a valid URI");
      }
    }
    t.uris = uris;
  }
  t.dns_names = std::move(dns_names);
  t.email_addresses = std::move(emails);

  t.subject = Subject{.common_name = cn,
                      .serial_number = serial_number,
                      .country = dedup(role.country),
                      .province = dedup(role.province),
                      .locality = dedup(role.locality),
                      .street_address = dedup(role.street_address),
                      .postal_code = dedup(role.postal_code),
                      .organization = dedup(role.organization),
                      .ou = dedup(role.ou)};

  // Lifetime.
  const sdk::WallTime now = request.clock->now();
  sdk::TtlInput ttl_in;
  ttl_in.ttl = fields.duration("ttl").count() > 0 ? fields.duration("ttl") : role.ttl;
  ttl_in.role_max_ttl = role.max_ttl;
  ttl_in.start = now;
  auto ttl = sdk::calculate_ttl(request.limits, ttl_in, now);
  if (!ttl) return sdk::error(ttl.error());
  for (auto& w : ttl->warnings) warnings.push_back(std::move(w));
  t.not_after = now + std::chrono::duration_cast<sdk::WallTime::duration>(ttl->ttl);
  if (ca != nullptr) {
    const sdk::WallTime ca_not_after = not_after(ca->certificate.get());
    if (t.not_after > ca_not_after) {
      return sdk::invalid_argument("cannot satisfy request, as TTL would result in notAfter " +
                                   go_rfc3339_nano(t.not_after) +
                                   " that is beyond the expiration of the CA certificate at " +
                                   go_rfc3339_nano(ca_not_after));
    }
  }
  const sdk::Duration back =
      role.not_before_duration.count() > 0 ? role.not_before_duration : std::chrono::seconds(30);
  t.not_before = now - std::chrono::duration_cast<sdk::WallTime::duration>(back);

  t.key_usage = key_usage_bits(role.key_usage);
  t.ext_key_usage_oids = ext_key_usage_oids(role);
  t.basic_constraints_for_non_ca = role.basic_constraints_valid_for_non_ca;
  auto urls = load_urls(*request.storage);
  if (!urls) return sdk::error(urls.error());
  t.urls = std::move(*urls);

  auto serial = new_serial(*request.random);
  if (!serial) return sdk::error(serial.error());
  t.serial = std::move(*serial);
  return t;
}

}  // namespace leasefs::engines::pki
