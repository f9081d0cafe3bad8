// X.509 building and parsing with OpenSSL 3 (see cert_util.h). Extensions are built as
// ASN.1 structures rather than from OpenSSL's config-string syntax, so a client's name
// can never be read as configuration.
#include "engines/pki/cert_util.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <ctime>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "backend/sdk/encoding.h"

namespace leasefs::engines::pki {
namespace {

template <class T, void (*Free)(T*)>
struct FreeWith {
  void operator()(T* p) const { Free(p); }
};

using BioPtr = std::unique_ptr<BIO, FreeWith<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, FreeWith<BIGNUM, BN_free>>;
using AsnIntegerPtr = std::unique_ptr<ASN1_INTEGER, FreeWith<ASN1_INTEGER, ASN1_INTEGER_free>>;
using OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, FreeWith<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using BitStringPtr =
    std::unique_ptr<ASN1_BIT_STRING, FreeWith<ASN1_BIT_STRING, ASN1_BIT_STRING_free>>;
using NamePtr = std::unique_ptr<X509_NAME, FreeWith<X509_NAME, X509_NAME_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, FreeWith<X509_REQ, X509_REQ_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, FreeWith<GENERAL_NAMES, GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, FreeWith<GENERAL_NAME, GENERAL_NAME_free>>;
using BasicConstraintsPtr =
    std::unique_ptr<BASIC_CONSTRAINTS, FreeWith<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>>;
using AkidPtr = std::unique_ptr<AUTHORITY_KEYID, FreeWith<AUTHORITY_KEYID, AUTHORITY_KEYID_free>>;
using EkuPtr =
    std::unique_ptr<EXTENDED_KEY_USAGE, FreeWith<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>>;
using AiaPtr = std::unique_ptr<AUTHORITY_INFO_ACCESS,
                               FreeWith<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>>;
using AccessDescriptionPtr =
    std::unique_ptr<ACCESS_DESCRIPTION, FreeWith<ACCESS_DESCRIPTION, ACCESS_DESCRIPTION_free>>;
using CrlDpPtr = std::unique_ptr<CRL_DIST_POINTS, FreeWith<CRL_DIST_POINTS, CRL_DIST_POINTS_free>>;
using DistPointPtr = std::unique_ptr<DIST_POINT, FreeWith<DIST_POINT, DIST_POINT_free>>;
using ExtensionsPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), void (*)(STACK_OF(X509_EXTENSION)*)>;

// OpenSSL's buffers (i2d, ASN1_STRING_to_UTF8) are freed with OPENSSL_free, a macro.
struct OpensslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
struct OpensslCharFree {
  void operator()(char* p) const { OPENSSL_free(p); }
};

std::unexpected<sdk::Status> ossl_failure(std::string_view what) {
  return sdk::internal_error("pki: " + std::string(what) + " failed: " + openssl_error());
}

std::int64_t unix_of(sdk::WallTime t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

sdk::WallTime wall_of(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return sdk::WallTime{};
  return sdk::WallTime(std::chrono::seconds(timegm(&tm)));
}

// The bytes written to a memory BIO, copied into locked memory with the trailing
// newline that PEM writers add removed.
sdk::SecureBuffer take_secure(BIO* bio, bool trim_newline) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  if (mem == nullptr) return {};
  std::size_t n = mem->length;
  while (trim_newline && n > 0 && (mem->data[n - 1] == '\n' || mem->data[n - 1] == '\r')) --n;
  return sdk::SecureBuffer::copy_of(std::string_view(mem->data, n));
}

int no_password(char*, int, int, void*) {
  return 0;
}

bool is_ia5(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

sdk::Result<void> add_name_entries(X509_NAME* name, int nid, const std::vector<std::string>& values,
                                   std::string_view field) {
  for (const auto& v : values) {
    if (v.empty()) continue;
    if (v.size() > INT_MAX ||
        X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(v.data()),
                                   static_cast<int>(v.size()), -1, 0) != 1) {
      return sdk::invalid_argument("invalid " + std::string(field) + " \"" + v +
                                   "\": " + openssl_error());
    }
  }
  return {};
}

sdk::Result<NamePtr> build_name(const Subject& s) {
  NamePtr name(X509_NAME_new());
  if (!name) return ossl_failure("X509_NAME_new");
  LEASEFS_TRY(add_name_entries(name.get(), NID_countryName, s.country, "country"));
  LEASEFS_TRY(add_name_entries(name.get(), NID_stateOrProvinceName, s.province, "province"));
  LEASEFS_TRY(add_name_entries(name.get(), NID_localityName, s.locality, "locality"));
  LEASEFS_TRY(add_name_entries(name.get(), NID_streetAddress, s.street_address, "street_address"));
  LEASEFS_TRY(add_name_entries(name.get(), NID_postalCode, s.postal_code, "postal_code"));
  LEASEFS_TRY(add_name_entries(name.get(), NID_organizationName, s.organization, "organization"));
  LEASEFS_TRY(add_name_entries(name.get(), NID_organizationalUnitName, s.ou, "ou"));
  LEASEFS_TRY(add_name_entries(name.get(), NID_commonName, {s.common_name}, "common_name"));
  LEASEFS_TRY(add_name_entries(name.get(), NID_serialNumber, {s.serial_number}, "serial_number"));
  return name;
}

sdk::Result<AsnIntegerPtr> asn1_integer(const std::vector<std::uint8_t>& bytes) {
  BnPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn) return ossl_failure("BN_bin2bn");
  AsnIntegerPtr out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return ossl_failure("BN_to_ASN1_INTEGER");
  return out;
}

sdk::Result<OctetStringPtr> octet_string(const unsigned char* data, std::size_t len) {
  OctetStringPtr s(ASN1_OCTET_STRING_new());
  if (!s || ASN1_OCTET_STRING_set(s.get(), data, static_cast<int>(len)) != 1) {
    return ossl_failure("ASN1_OCTET_STRING_set");
  }
  return s;
}

// One GeneralName of type GEN_DNS, GEN_EMAIL, GEN_URI (IA5String) or GEN_IPADD.
sdk::Result<GeneralNamePtr> general_name(int type, std::string_view value) {
  if (type != GEN_IPADD && !is_ia5(value)) {
    return sdk::invalid_argument("x509: \"" + std::string(value) +
                                 "\" cannot be encoded as an IA5String");
  }
  GeneralNamePtr gn(GENERAL_NAME_new());
  ASN1_STRING* s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
  if (!gn || s == nullptr ||
      ASN1_STRING_set(s, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_STRING_free(s);
    return ossl_failure("GENERAL_NAME");
  }
  GENERAL_NAME_set0_value(gn.get(), type, s);
  return gn;
}

sdk::Result<void> push_general_name(GENERAL_NAMES* names, int type, std::string_view value) {
  auto gn = general_name(type, value);
  if (!gn) return sdk::error(gn.error());
  if (sk_GENERAL_NAME_push(names, gn->get()) == 0) return ossl_failure("sk_GENERAL_NAME_push");
  gn->release();
  return {};
}

sdk::Result<void> add_ext(X509* x, int nid, void* value, bool critical) {
  if (X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1) {
    return ossl_failure(std::string("adding extension ") + OBJ_nid2sn(nid));
  }
  return {};
}

sdk::Result<void> add_key_usage(X509* x, unsigned bits) {
  if (bits == 0) return {};
  BitStringPtr ku(ASN1_BIT_STRING_new());
  if (!ku) return ossl_failure("ASN1_BIT_STRING_new");
  for (int n = 0; n < 9; ++n) {
    if ((bits & (1u << n)) != 0 && ASN1_BIT_STRING_set_bit(ku.get(), n, 1) != 1) {
      return ossl_failure("ASN1_BIT_STRING_set_bit");
    }
  }
  return add_ext(x, NID_key_usage, ku.get(), true);
}

sdk::Result<void> add_ext_key_usage(X509* x, const std::vector<std::string>& oids) {
  if (oids.empty()) return {};
  EkuPtr eku(sk_ASN1_OBJECT_new_null());
  if (!eku) return ossl_failure("sk_ASN1_OBJECT_new_null");
  for (const auto& oid : oids) {
    ASN1_OBJECT* obj = OBJ_txt2obj(oid.c_str(), 1);
    if (obj == nullptr) return sdk::invalid_argument("\"" + oid + "\" is not a valid OID");
    if (sk_ASN1_OBJECT_push(eku.get(), obj) == 0) {
      ASN1_OBJECT_free(obj);
      return ossl_failure("sk_ASN1_OBJECT_push");
    }
  }
  return add_ext(x, NID_ext_key_usage, eku.get(), false);
}

sdk::Result<void> add_basic_constraints(X509* x, const CertTemplate& t) {
  if (!t.is_ca && !t.basic_constraints_for_non_ca) return {};
  BasicConstraintsPtr bc(BASIC_CONSTRAINTS_new());
  if (!bc) return ossl_failure("BASIC_CONSTRAINTS_new");
  bc->ca = t.is_ca ? 0xFF : 0;
  if (t.is_ca && t.max_path_length >= 0) {
    bc->pathlen = ASN1_INTEGER_new();
    if (bc->pathlen == nullptr || ASN1_INTEGER_set(bc->pathlen, t.max_path_length) != 1) {
      return ossl_failure("ASN1_INTEGER_set");
    }
  }
  return add_ext(x, NID_basic_constraints, bc.get(), true);
}

sdk::Result<void> add_key_ids(X509* x, X509* issuer) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_pubkey_digest(x, EVP_sha1(), md, &len) != 1) return ossl_failure("X509_pubkey_digest");
  auto ski = octet_string(md, len);
  if (!ski) return sdk::error(ski.error());
  LEASEFS_TRY(add_ext(x, NID_subject_key_identifier, ski->get(), false));

  const ASN1_OCTET_STRING* issuer_ski =
      issuer == nullptr ? ski->get() : X509_get0_subject_key_id(issuer);
  if (issuer_ski == nullptr) return {};
  AkidPtr akid(AUTHORITY_KEYID_new());
  if (!akid) return ossl_failure("AUTHORITY_KEYID_new");
  akid->keyid = ASN1_OCTET_STRING_dup(issuer_ski);
  if (akid->keyid == nullptr) return ossl_failure("ASN1_OCTET_STRING_dup");
  return add_ext(x, NID_authority_key_identifier, akid.get(), false);
}

sdk::Result<void> add_access_descriptions(AUTHORITY_INFO_ACCESS* aia, int method,
                                          const std::vector<std::string>& urls) {
  for (const auto& url : urls) {
    AccessDescriptionPtr ad(ACCESS_DESCRIPTION_new());
    if (!ad) return ossl_failure("ACCESS_DESCRIPTION_new");
    ad->method = OBJ_nid2obj(method);
    auto gn = general_name(GEN_URI, url);
    if (!gn) return sdk::error(gn.error());
    GENERAL_NAME_free(ad->location);
    ad->location = gn->release();
    if (sk_ACCESS_DESCRIPTION_push(aia, ad.get()) == 0) {
      return ossl_failure("sk_ACCESS_DESCRIPTION_push");
    }
    ad.release();
  }
  return {};
}

sdk::Result<void> add_urls(X509* x, const Urls& urls) {
  if (!urls.issuing_certificates.empty() || !urls.ocsp_servers.empty()) {
    AiaPtr aia(sk_ACCESS_DESCRIPTION_new_null());
    if (!aia) return ossl_failure("sk_ACCESS_DESCRIPTION_new_null");
    LEASEFS_TRY(add_access_descriptions(aia.get(), NID_ad_OCSP, urls.ocsp_servers));
    LEASEFS_TRY(add_access_descriptions(aia.get(), NID_ad_ca_issuers, urls.issuing_certificates));
    LEASEFS_TRY(add_ext(x, NID_info_access, aia.get(), false));
  }
  if (!urls.crl_distribution_points.empty()) {
    CrlDpPtr points(sk_DIST_POINT_new_null());
    if (!points) return ossl_failure("sk_DIST_POINT_new_null");
    for (const auto& url : urls.crl_distribution_points) {
      DistPointPtr dp(DIST_POINT_new());
      if (!dp) return ossl_failure("DIST_POINT_new");
      dp->distpoint = DIST_POINT_NAME_new();
      if (dp->distpoint == nullptr) return ossl_failure("DIST_POINT_NAME_new");
      dp->distpoint->type = 0;  // fullName
      dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
      if (dp->distpoint->name.fullname == nullptr) return ossl_failure("sk_GENERAL_NAME_new_null");
      LEASEFS_TRY(push_general_name(dp->distpoint->name.fullname, GEN_URI, url));
      if (sk_DIST_POINT_push(points.get(), dp.get()) == 0)
        return ossl_failure("sk_DIST_POINT_push");
      dp.release();
    }
    LEASEFS_TRY(add_ext(x, NID_crl_distribution_points, points.get(), false));
  }
  return {};
}

sdk::Result<void> add_sans(X509* x, const CertTemplate& t) {
  if (t.dns_names.empty() && t.email_addresses.empty() && t.ip_addresses.empty() &&
      t.uris.empty()) {
    return {};
  }
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return ossl_failure("sk_GENERAL_NAME_new_null");
  for (const auto& n : t.dns_names) LEASEFS_TRY(push_general_name(names.get(), GEN_DNS, n));
  for (const auto& n : t.email_addresses) LEASEFS_TRY(push_general_name(names.get(), GEN_EMAIL, n));
  for (const auto& ip : t.ip_addresses) {
    LEASEFS_TRY(
        push_general_name(names.get(), GEN_IPADD,
                          std::string_view(reinterpret_cast<const char*>(ip.data()), ip.size())));
  }
  for (const auto& n : t.uris) LEASEFS_TRY(push_general_name(names.get(), GEN_URI, n));
  // RFC 5280: the SAN extension is critical when the subject is empty.
  return add_ext(x, NID_subject_alt_name, names.get(), t.subject.empty());
}

std::string utf8_of(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return {};
  std::unique_ptr<unsigned char, OpensslFree> owned(out);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

std::string last_entry(const X509_NAME* name, int nid) {
  std::string value;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    value = utf8_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  }
  return value;
}

void read_general_names(const GENERAL_NAMES* names, ParsedCsr& out) {
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    int type = 0;
    const void* value = GENERAL_NAME_get0_value(gn, &type);
    const auto* s = static_cast<const ASN1_STRING*>(value);
    if (s == nullptr) continue;
    std::string bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<std::size_t>(ASN1_STRING_length(s)));
    switch (type) {
      case GEN_DNS:
        out.dns_names.push_back(std::move(bytes));
        break;
      case GEN_EMAIL:
        out.email_addresses.push_back(std::move(bytes));
        break;
      case GEN_URI:
        out.uris.push_back(std::move(bytes));
        break;
      case GEN_IPADD:
        if (bytes.size() == 4 || bytes.size() == 16) {
          out.ip_addresses.emplace_back(bytes.begin(), bytes.end());
        }
        break;
      default:
        break;  // other names: not used by Vault's checks
    }
  }
}

std::unexpected<sdk::Status> csr_parse_error(std::string_view why) {
  return sdk::invalid_argument("certificate request could not be parsed: " + std::string(why));
}

}  // namespace

std::string_view key_type_name(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "rsa";
    case KeyType::kEc:
      return "ec";
    case KeyType::kEd25519:
      return "ed25519";
  }
  return "rsa";
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "error code " + std::to_string(e);
}

sdk::Result<PkeyPtr> generate_key(KeyType type, int bits) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kRsa:
      if (bits < 2048 || bits > 8192) return sdk::internal_error("pki: bad RSA key size");
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits));
      break;
    case KeyType::kEc: {
      const char* curve = bits == 224   ? "P-224"
                          : bits == 256 ? "P-256"
                          : bits == 384 ? "P-384"
                          : bits == 521 ? "P-521"
                                        : nullptr;
      if (curve == nullptr) return sdk::internal_error("pki: bad EC curve size");
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
      break;
    }
    case KeyType::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (key == nullptr) return ossl_failure("key generation");
  return PkeyPtr(key);
}

sdk::Result<KeyInfo> key_info(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return KeyInfo{.type = KeyType::kRsa, .bits = EVP_PKEY_get_bits(key)};
    case EVP_PKEY_ED25519:
      return KeyInfo{.type = KeyType::kEd25519, .bits = 0};
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         &len) != 1) {
        ERR_clear_error();
        return sdk::invalid_argument("x509: unsupported elliptic curve");
      }
      int nid = OBJ_sn2nid(group);
      if (nid == NID_undef) nid = EC_curve_nist2nid(group);
      switch (nid) {
        case NID_secp224r1:
          return KeyInfo{.type = KeyType::kEc, .bits = 224};
        case NID_X9_62_prime256v1:
          return KeyInfo{.type = KeyType::kEc, .bits = 256};
        case NID_secp384r1:
          return KeyInfo{.type = KeyType::kEc, .bits = 384};
        case NID_secp521r1:
          return KeyInfo{.type = KeyType::kEc, .bits = 521};
        default:
          return sdk::invalid_argument("x509: unsupported elliptic curve");
      }
    }
    default:
      return sdk::invalid_argument("x509: unsupported public key algorithm");
  }
}

sdk::Result<sdk::SecureBuffer> private_key_pem(EVP_PKEY* key, KeyFormat format) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) return ossl_failure("BIO_new");
  const bool pkcs8 = format == KeyFormat::kPkcs8 || EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
  int ok =
      pkcs8 ? PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
            : PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                   nullptr);
  if (ok != 1) return ossl_failure("writing a private key");
  return take_secure(bio.get(), true);
}

sdk::Result<sdk::SecureBuffer> private_key_der(EVP_PKEY* key, KeyFormat format) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) return ossl_failure("BIO_new");
  int ok = format == KeyFormat::kPkcs8
               ? i2d_PKCS8PrivateKey_bio(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
               : i2d_PrivateKey_bio(bio.get(), key);
  if (ok != 1) return ossl_failure("writing a private key");
  return take_secure(bio.get(), false);
}

sdk::Result<PkeyPtr> parse_private_key_pem(std::string_view pem) {
  if (pem.size() > INT_MAX) return sdk::error(sdk::Code::kDataLoss, "pki: stored key is too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return ossl_failure("BIO_new_mem_buf");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr);
  if (key == nullptr) {
    return sdk::error(sdk::Code::kDataLoss,
                      "pki: stored private key cannot be read: " + openssl_error());
  }
  return PkeyPtr(key);
}

bool Subject::empty() const {
  auto blank = [](const std::vector<std::string>& v) {
    return std::all_of(v.begin(), v.end(), [](const std::string& s) { return s.empty(); });
  };
  return common_name.empty() && serial_number.empty() && blank(country) && blank(province) &&
         blank(locality) && blank(street_address) && blank(postal_code) && blank(organization) &&
         blank(ou);
}

const EVP_MD* signing_digest(const EVP_PKEY* signer) {
  switch (EVP_PKEY_get_base_id(signer)) {
    case EVP_PKEY_ED25519:
      return nullptr;
    case EVP_PKEY_EC: {
      int bits = EVP_PKEY_get_bits(signer);
      if (bits > 384) return EVP_sha512();
      if (bits > 256) return EVP_sha384();
      return EVP_sha256();
    }
    default:
      return EVP_sha256();
  }
}

sdk::Result<std::string> build_certificate(const CertTemplate& t, EVP_PKEY* subject_key,
                                           EVP_PKEY* issuer_key, X509* issuer) {
  if (subject_key == nullptr || (issuer != nullptr && issuer_key == nullptr)) {
    return sdk::internal_error("pki: build_certificate needs its keys");
  }
  if (t.serial.empty() || t.serial.size() > 20) return sdk::internal_error("pki: bad serial");
  X509Ptr x(X509_new());
  if (!x) return ossl_failure("X509_new");
  if (X509_set_version(x.get(), X509_VERSION_3) != 1) return ossl_failure("X509_set_version");

  auto serial = asn1_integer(t.serial);
  if (!serial) return sdk::error(serial.error());
  if (X509_set_serialNumber(x.get(), serial->get()) != 1) {
    return ossl_failure("X509_set_serialNumber");
  }

  auto name = build_name(t.subject);
  if (!name) return sdk::error(name.error());
  if (X509_set_subject_name(x.get(), name->get()) != 1 ||
      X509_set_issuer_name(x.get(),
                           issuer != nullptr ? X509_get_subject_name(issuer) : name->get()) != 1) {
    return ossl_failure("setting the names");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(x.get()), unix_of(t.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()), unix_of(t.not_after)) == nullptr) {
    return ossl_failure("setting the validity");
  }
  if (X509_set_pubkey(x.get(), subject_key) != 1) return ossl_failure("X509_set_pubkey");

  // Go's order of extensions, which Vault's certificates have.
  LEASEFS_TRY(add_key_usage(x.get(), t.key_usage));
  LEASEFS_TRY(add_ext_key_usage(x.get(), t.ext_key_usage_oids));
  LEASEFS_TRY(add_basic_constraints(x.get(), t));
  LEASEFS_TRY(add_key_ids(x.get(), issuer));
  LEASEFS_TRY(add_urls(x.get(), t.urls));
  LEASEFS_TRY(add_sans(x.get(), t));

  EVP_PKEY* signer = issuer != nullptr ? issuer_key : subject_key;
  if (X509_sign(x.get(), signer, signing_digest(signer)) <= 0) return ossl_failure("X509_sign");

  int len = i2d_X509(x.get(), nullptr);
  if (len <= 0) return ossl_failure("i2d_X509");
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509(x.get(), &p) != len) return ossl_failure("i2d_X509");
  return der;
}

sdk::Result<X509Ptr> parse_certificate_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (x == nullptr) {
    return sdk::error(sdk::Code::kDataLoss,
                      "pki: stored certificate cannot be read: " + openssl_error());
  }
  return X509Ptr(x);
}

sdk::Result<std::string> certificate_der_from_pem(std::string_view pem) {
  if (pem.size() > INT_MAX) return sdk::invalid_argument("certificate is too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return ossl_failure("BIO_new_mem_buf");
  X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr));
  if (!x) return sdk::invalid_argument("no certificate found in PEM: " + openssl_error());
  int len = i2d_X509(x.get(), nullptr);
  if (len <= 0) return ossl_failure("i2d_X509");
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(x.get(), &p);
  return der;
}

std::string pem_encode(std::string_view type, std::string_view der) {
  std::string b64 = sdk::base64_encode(der);
  std::string out = "-----BEGIN " + std::string(type) + "-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64);
    out += '\n';
  }
  out += "-----END " + std::string(type) + "-----";
  return out;
}

sdk::WallTime not_after(const X509* cert) {
  return wall_of(X509_get0_notAfter(cert));
}
sdk::WallTime not_before(const X509* cert) {
  return wall_of(X509_get0_notBefore(cert));
}

std::vector<std::uint8_t> serial_bytes(const X509* cert) {
  BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return {};
  std::vector<std::uint8_t> out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

bool is_ca_certificate(X509* cert) {
  return (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
}

sdk::Result<ParsedCsr> parse_csr(std::string_view pem) {
  if (pem.empty()) return sdk::invalid_argument("\"csr\" is empty");
  if (pem.find("-----BEGIN ") == std::string_view::npos || pem.size() > INT_MAX) {
    return sdk::invalid_argument("csr contains no data");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return ossl_failure("BIO_new_mem_buf");
  // Like Go's pem.Decode: the first block, whatever its type, is taken as the CSR.
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    ERR_clear_error();
    return sdk::invalid_argument("csr contains no data");
  }
  std::unique_ptr<char, OpensslCharFree> owned_name(name);
  std::unique_ptr<char, OpensslCharFree> owned_header(header);
  std::unique_ptr<unsigned char, OpensslFree> owned_data(data);

  const unsigned char* p = data;
  ReqPtr req(d2i_X509_REQ(nullptr, &p, len));
  if (!req || p != data + len) return csr_parse_error("asn1: structure error: " + openssl_error());

  ParsedCsr out;
  out.public_key.reset(X509_REQ_get_pubkey(req.get()));
  if (!out.public_key)
    return csr_parse_error("x509: cannot parse the public key: " + openssl_error());
  auto info = key_info(out.public_key.get());
  if (!info) return csr_parse_error(info.error().message());
  out.key = *info;
  if (X509_REQ_verify(req.get(), out.public_key.get()) != 1) {
    ERR_clear_error();
    return sdk::invalid_argument("request signature invalid");
  }

  const X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  out.common_name = last_entry(subject, NID_commonName);
  out.serial_number = last_entry(subject, NID_serialNumber);

  ExtensionsPtr exts(X509_REQ_get_extensions(req.get()), [](STACK_OF(X509_EXTENSION) * s) {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
  });
  if (exts) {
    int critical = 0;
    GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(
        X509V3_get_d2i(exts.get(), NID_subject_alt_name, &critical, nullptr)));
    if (sans) {
      read_general_names(sans.get(), out);
    } else if (critical == -2) {
      return csr_parse_error("x509: more than one subjectAltName extension");
    }
  }
  ERR_clear_error();
  return out;
}

std::string colon_hex(const std::vector<std::uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out += ':';
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0x0f];
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> parse_serial(std::string_view text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (i + 2 > text.size()) return std::nullopt;
    int hi = nibble(text[i]);
    int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
    i += 2;
    if (i == text.size()) break;
    if (text[i] != ':' && text[i] != '-') return std::nullopt;
    if (++i == text.size()) return std::nullopt;  // a trailing separator
  }
  if (out.empty() || out.size() > 64) return std::nullopt;
  return out;
}

std::string go_rfc3339_nano(sdk::WallTime t) {
  using namespace std::chrono;
  auto secs = floor<seconds>(t.time_since_epoch());
  auto frac = duration_cast<nanoseconds>(t.time_since_epoch() - secs).count();
  std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (frac > 0) {
    char f[32];
    std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  return out + "Z";
}

}  // namespace leasefs::engines::pki
