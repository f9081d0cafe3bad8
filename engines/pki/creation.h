// Vault's generateCreationBundle: from a role, the request's fields and (for sign/) a
// CSR, decide what goes into a certificate — common name, SANs, subject, lifetime,
// usages — refusing, with Vault's messages, every name the role does not allow. Used
// by issue/, sign/ and root generation (with a permissive role). Internal to
// engines/pki.
#pragma once

#include <string>
#include <vector>

#include "backend/sdk/backend.h"
#include "engines/pki/cert_util.h"
#include "engines/pki/engine.h"
#include "engines/pki/role.h"

namespace leasefs::engines::pki {

// The template for one certificate. `fields` must declare common_name, alt_names,
// ip_sans, uri_sans, ttl, exclude_cn_from_sans and serial_number. `csr` is the parsed
// CSR of sign/ (else null); `ca` is the signer (null for a self-signed root, which
// skips the CA-lifetime check). Lifetime: the request's ttl, else the role's, else the
// mount default, capped by the role's max_ttl and the mount max (sdk::calculate_ttl,
// whose warnings are appended to `warnings`); a notAfter past the CA's is refused with
// Vault's message. Fills a fresh serial from request.random. invalid_argument for
// everything the client can fix.
// The request fields every certificate-making path declares (Vault's common fields):
// common_name, alt_names, ip_sans, uri_sans, other name parts, ttl, format,
// private_key_format, exclude_cn_from_sans, serial_number.
std::vector<sdk::FieldSpec> certificate_fields();

// Vault's output formats of issue/, sign/ and root/generate/.
enum class OutputFormat { kPem, kDer, kPemBundle };
// The "format" field; invalid_argument with Vault's text when it is not one of them.
sdk::Result<OutputFormat> output_format(const sdk::FieldData& fields);
// The "private_key_format" field: "", "der" and "pem" keep the key's own format,
// "pkcs8" converts it; anything else is invalid_argument naming the field.
sdk::Result<KeyFormat> private_key_format(const sdk::FieldData& fields);
// A certificate (or key) in the chosen format: PEM text, or base64 of the DER for der.
std::string encode_for(OutputFormat format, std::string_view type, std::string_view der);

sdk::Result<CertTemplate> creation_template(sdk::Request& request, const Role& role,
                                            const sdk::FieldData& fields, const ParsedCsr* csr,
                                            const CaBundle* ca, std::vector<std::string>& warnings);

}  // namespace leasefs::engines::pki
