// Revocation and the CRL (see crl.h). A revocation and the CRL that lists it are
// written in one storage batch, so the CRL never misses a stored revocation.
#include "engines/pki/crl.h"

#include <shared_mutex>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "backend/sdk/encoding.h"
#include "backend/sdk/log.h"

namespace leasefs::engines::pki {
namespace {

using nlohmann::json;

struct CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
struct RevokedFree {
  void operator()(X509_REVOKED* p) const { X509_REVOKED_free(p); }
};
struct AsnIntegerFree {
  void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
};
struct AsnTimeFree {
  void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct AkidFree {
  void operator()(AUTHORITY_KEYID* p) const { AUTHORITY_KEYID_free(p); }
};
using AsnIntegerPtr = std::unique_ptr<ASN1_INTEGER, AsnIntegerFree>;
using AsnTimePtr = std::unique_ptr<ASN1_TIME, AsnTimeFree>;

std::unexpected<sdk::Status> ossl_failure(std::string_view what) {
  return sdk::internal_error("pki: " + std::string(what) + " failed: " + openssl_error());
}

std::int64_t unix_of(sdk::WallTime t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::int64_t nanos_of(sdk::WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

sdk::Result<AsnIntegerPtr> serial_integer(const std::vector<std::uint8_t>& bytes) {
  std::unique_ptr<BIGNUM, BnFree> bn(
      BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn) return ossl_failure("BN_bin2bn");
  AsnIntegerPtr out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return ossl_failure("BN_to_ASN1_INTEGER");
  return out;
}

sdk::Result<AsnTimePtr> asn1_time(sdk::WallTime t) {
  AsnTimePtr out(ASN1_TIME_set(nullptr, unix_of(t)));
  if (!out) return ossl_failure("ASN1_TIME_set");
  return out;
}

std::string encode_revocation(const Revocation& r) {
  return json_text(json{{"certificate_bytes", sdk::base64_encode(r.certificate_der)},
                        {"revocation_time", unix_of(r.revocation_time)},
                        {"revocation_time_ns", nanos_of(r.revocation_time)},
                        {"revocation_time_utc", go_rfc3339_nano(r.revocation_time)}});
}

sdk::Result<Revocation> decode_revocation(std::string_view key,
                                          const std::vector<std::uint8_t>& serial,
                                          std::string_view value) {
  auto j = json::parse(value, nullptr, false);
  auto bad = [&] {
    return sdk::error(sdk::Code::kDataLoss,
                      "pki: stored revocation at \"" + std::string(key) + "\" is not valid");
  };
  if (j.is_discarded() || !j.is_object()) return bad();
  Revocation r;
  r.serial = serial;
  if (auto it = j.find("revocation_time_ns"); it != j.end() && it->is_number_integer()) {
    r.revocation_time = sdk::WallTime(std::chrono::duration_cast<sdk::WallTime::duration>(
        std::chrono::nanoseconds(it->get<std::int64_t>())));
  } else if (auto secs = j.find("revocation_time"); secs != j.end() && secs->is_number_integer()) {
    r.revocation_time = sdk::WallTime(std::chrono::seconds(secs->get<std::int64_t>()));
  } else {
    return bad();
  }
  if (auto it = j.find("certificate_bytes"); it != j.end() && it->is_string()) {
    auto der = sdk::base64_decode(it->get<std::string>());
    if (!der) return bad();
    r.certificate_der = std::string(der->view());
  }
  return r;
}

sdk::Response revocation_response(const Revocation& r) {
  return sdk::Response::with_data(
      json{{"revocation_time", unix_of(r.revocation_time)},
           {"revocation_time_rfc3339", go_rfc3339_nano(r.revocation_time)}});
}

}  // namespace

sdk::Result<std::optional<Revocation>> read_revocation(sdk::Storage& storage,
                                                       const std::vector<std::uint8_t>& serial) {
  const std::string key = revoked_key(serial);
  auto value = storage.get(key);
  if (!value) return sdk::error(value.error());
  if (!value->has_value()) return std::optional<Revocation>();
  auto r = decode_revocation(key, serial, **value);
  if (!r) return sdk::error(r.error());
  return std::optional<Revocation>(std::move(*r));
}

sdk::Result<std::string> build_crl(const CaBundle& ca, std::span<const Revocation> revoked,
                                   sdk::WallTime now, const CrlConfig& config,
                                   std::int64_t crl_number) {
  if (!ca.certificate || !ca.private_key) return sdk::internal_error("pki: CRL without a CA key");
  std::unique_ptr<X509_CRL, CrlFree> crl(X509_CRL_new());
  if (!crl) return ossl_failure("X509_CRL_new");
  if (X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.certificate.get())) != 1) {
    return ossl_failure("setting the CRL issuer");
  }
  auto this_update = asn1_time(now);
  if (!this_update) return sdk::error(this_update.error());
  auto next_update = asn1_time(now + config.expiry);
  if (!next_update) return sdk::error(next_update.error());
  if (X509_CRL_set1_lastUpdate(crl.get(), this_update->get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update->get()) != 1) {
    return ossl_failure("setting the CRL times");
  }

  if (!config.disable) {
    for (const auto& r : revoked) {
      std::unique_ptr<X509_REVOKED, RevokedFree> entry(X509_REVOKED_new());
      if (!entry) return ossl_failure("X509_REVOKED_new");
      auto serial = serial_integer(r.serial);
      if (!serial) return sdk::error(serial.error());
      auto when = asn1_time(r.revocation_time);
      if (!when) return sdk::error(when.error());
      if (X509_REVOKED_set_serialNumber(entry.get(), serial->get()) != 1 ||
          X509_REVOKED_set_revocationDate(entry.get(), when->get()) != 1 ||
          X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
        return ossl_failure("adding a revoked certificate");
      }
      entry.release();  // owned by the CRL now
    }
    if (X509_CRL_sort(crl.get()) != 1) return ossl_failure("X509_CRL_sort");
  }

  if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca.certificate.get())) {
    std::unique_ptr<AUTHORITY_KEYID, AkidFree> akid(AUTHORITY_KEYID_new());
    if (!akid) return ossl_failure("AUTHORITY_KEYID_new");
    akid->keyid = ASN1_OCTET_STRING_dup(ski);
    if (akid->keyid == nullptr || X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier,
                                                        akid.get(), 0, X509V3_ADD_DEFAULT) != 1) {
      return ossl_failure("adding the CRL authority key id");
    }
  }
  AsnIntegerPtr number(ASN1_INTEGER_new());
  if (!number || ASN1_INTEGER_set_int64(number.get(), crl_number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return ossl_failure("adding the CRL number");
  }

  EVP_PKEY* key = ca.private_key.get();
  if (X509_CRL_sign(crl.get(), key, signing_digest(key)) <= 0) return ossl_failure("X509_CRL_sign");
  int len = i2d_X509_CRL(crl.get(), nullptr);
  if (len <= 0) return ossl_failure("i2d_X509_CRL");
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509_CRL(crl.get(), &p) != len) return ossl_failure("i2d_X509_CRL");
  return der;
}

sdk::Result<std::vector<sdk::StorageOp>> rebuild_crl_ops(
    sdk::Request& request, const CaBundle& ca, std::span<const Revocation> extra,
    const std::optional<CrlConfig>& config_override) {
  sdk::Storage& storage = *request.storage;
  auto config =
      config_override ? sdk::Result<CrlConfig>(*config_override) : load_crl_config(storage);
  if (!config) return sdk::error(config.error());

  std::vector<Revocation> revoked;
  auto names = storage.list(kRevokedPrefix);
  if (!names) return sdk::error(names.error());
  for (const auto& name : *names) {
    if (name.ends_with('/')) continue;
    auto serial = parse_serial(name);
    if (!serial) continue;  // not a key this engine writes
    auto r = read_revocation(storage, *serial);
    if (!r) return sdk::error(r.error());
    if (r->has_value()) revoked.push_back(std::move(**r));
  }
  for (const auto& r : extra) revoked.push_back(r);

  std::int64_t number = 1;
  auto state = storage.get(kCrlStateKey);
  if (!state) return sdk::error(state.error());
  if (state->has_value()) {
    auto j = json::parse(**state, nullptr, false);
    if (j.is_object() && j.contains("next_crl_number") &&
        j["next_crl_number"].is_number_integer()) {
      number = j["next_crl_number"].get<std::int64_t>();
    }
  }

  auto der = build_crl(ca, revoked, request.clock->now(), *config, number);
  if (!der) return sdk::error(der.error());
  std::vector<sdk::StorageOp> ops;
  ops.push_back(sdk::StorageOp::put(std::string(kCrlKey), std::move(*der)));
  ops.push_back(sdk::StorageOp::put(std::string(kCrlStateKey),
                                    json_text(json{{"next_crl_number", number + 1}})));
  return ops;
}

sdk::Result<sdk::Response> revoke_certificate(Engine& engine, sdk::Request& request,
                                              std::string_view serial, bool from_lease) {
  std::shared_lock ca_lock(engine.ca_mutex());
  std::lock_guard crl_lock(engine.crl_mutex());
  sdk::Storage& storage = *request.storage;
  const std::string shown(serial);

  auto ca = load_ca(storage, true);
  if (!ca) return sdk::error(ca.error());
  if (!ca->has_value()) {
    if (from_lease) {
      // Nothing can be revoked without the CA, and a retry will not bring it back.
      sdk::log_warn("pki",
                    "certificate revoke skipped: the mount has no CA (serial " + shown + ")");
      return sdk::Response::empty();
    }
    return sdk::invalid_argument("could not fetch the CA certificate: " + std::string(kNoCa));
  }
  auto not_found = [&]() -> sdk::Result<sdk::Response> {
    if (from_lease) {
      sdk::log_warn("pki",
                    "expired certificate revoke failed because not found in storage, "
                    "treating as success (serial " +
                        shown + ")");
      return sdk::Response::empty();
    }
    return sdk::invalid_argument("certificate with serial " + shown + " not found");
  };
  auto bytes = parse_serial(serial);
  if (!bytes) return not_found();
  if (*bytes == (*ca)->serial) return sdk::invalid_argument("adding CA to CRL is not allowed");

  auto existing = read_revocation(storage, *bytes);
  if (!existing) return sdk::error(existing.error());
  if (existing->has_value()) return revocation_response(**existing);

  auto der = storage.get(cert_key(*bytes));
  if (!der) return sdk::error(der.error());
  if (!der->has_value()) return not_found();
  auto cert = parse_certificate_der(**der);
  if (!cert) return sdk::error(cert.error());

  const sdk::WallTime now = request.clock->now();
  // Leases are kept with second granularity: a little slack, as Vault allows.
  if (not_after(cert->get()) < now + std::chrono::seconds(2)) {
    sdk::Response r;
    r.warnings.push_back("certificate with serial " + shown +
                         " already expired; refusing to add to CRL");
    return r;
  }
  if (from_lease && is_ca_certificate(cert->get())) return sdk::Response::empty();

  Revocation revocation{
      .serial = *bytes, .certificate_der = std::move(**der), .revocation_time = now};
  auto ops = rebuild_crl_ops(request, **ca, std::span<const Revocation>(&revocation, 1));
  if (!ops) return sdk::error(ops.error());
  ops->push_back(sdk::StorageOp::put(revoked_key(*bytes), encode_revocation(revocation)));
  LEASEFS_TRY(storage.apply(*ops));
  return revocation_response(revocation);
}

}  // namespace leasefs::engines::pki
