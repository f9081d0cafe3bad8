// OpenSSH wire formats, keys, signatures and certificates (see openssh.h).
#include "engines/ssh/openssh.h"

#include <algorithm>
#include <cctype>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "backend/sdk/encoding.h"

namespace leasefs::engines::ssh {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

struct Curve {
  KeyKind kind;
  const char* ssh_type;   // "ecdsa-sha2-nistp256"
  const char* ssh_curve;  // "nistp256"
  const char* group;      // OpenSSL's name
  int bits;
  const EVP_MD* (*md)();
};

const Curve kCurves[] = {
    {KeyKind::kEcdsaP256, "ecdsa-sha2-nistp256", "nistp256", "prime256v1", 256, EVP_sha256},
    {KeyKind::kEcdsaP384, "ecdsa-sha2-nistp384", "nistp384", "secp384r1", 384, EVP_sha384},
    {KeyKind::kEcdsaP521, "ecdsa-sha2-nistp521", "nistp521", "secp521r1", 521, EVP_sha512},
};

const Curve* curve_by_kind(KeyKind kind) {
  for (const auto& c : kCurves) {
    if (c.kind == kind) return &c;
  }
  return nullptr;
}

std::string bn_bytes(const BIGNUM* bn) {
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string_view strip_zeros(std::string_view magnitude) {
  while (!magnitude.empty() && magnitude.front() == '\0') magnitude.remove_prefix(1);
  return magnitude;
}

int magnitude_bits(std::string_view magnitude) {
  magnitude = strip_zeros(magnitude);
  if (magnitude.empty()) return 0;
  int bits = static_cast<int>(magnitude.size() - 1) * 8;
  for (unsigned top = static_cast<unsigned char>(magnitude.front()); top != 0; top >>= 1) ++bits;
  return bits;
}

// An EC public key from its curve and point; invalid_argument when the point is not on it.
sdk::Result<PkeyPtr> ec_public_key(const Curve& curve, std::string_view point) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(curve.group),
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<char*>(point.data()),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return sdk::invalid_argument("the ECDSA public key is not a point on its curve");
  }
  PkeyPtr key(raw);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return sdk::invalid_argument("the ECDSA public key is not a point on its curve");
  }
  return key;
}

sdk::Result<std::string> digest_sign(EVP_PKEY* key, const EVP_MD* md, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    return sdk::internal_error("ssh: cannot start signing");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size()) != 1) {
    return sdk::internal_error("ssh: signing failed");
  }
  sig.resize(len);
  return sig;
}

}  // namespace

void WireWriter::u32(std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<char>(v >> shift));
}

void WireWriter::u64(std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<char>(v >> shift));
}

void WireWriter::raw(std::string_view bytes) {
  out_.append(bytes);
}

void WireWriter::string(std::string_view bytes) {
  u32(static_cast<std::uint32_t>(bytes.size()));
  out_.append(bytes);
}

void WireWriter::mpint(std::string_view magnitude) {
  magnitude = strip_zeros(magnitude);
  if (!magnitude.empty() && (static_cast<unsigned char>(magnitude.front()) & 0x80) != 0) {
    u32(static_cast<std::uint32_t>(magnitude.size() + 1));
    out_.push_back('\0');
    out_.append(magnitude);
  } else {
    string(magnitude);
  }
}

bool WireReader::u32(std::uint32_t& v) {
  if (in_.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in_[i]);
  in_.remove_prefix(4);
  return true;
}

bool WireReader::string(std::string_view& v) {
  std::uint32_t len = 0;
  if (!u32(len) || in_.size() < len) return false;
  v = in_.substr(0, len);
  in_.remove_prefix(len);
  return true;
}

sdk::Result<PublicKey> parse_public_key(std::string_view line) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!line.empty() && space(line.front())) line.remove_prefix(1);
  while (!line.empty() && space(line.back())) line.remove_suffix(1);
  if (line.empty()) return sdk::invalid_argument("missing public_key");
  const auto first_space = std::find_if(line.begin(), line.end(), space);
  const std::string_view type =
      line.substr(0, static_cast<std::size_t>(first_space - line.begin()));
  std::string_view rest = line.substr(type.size());
  while (!rest.empty() && space(rest.front())) rest.remove_prefix(1);
  const auto end = std::find_if(rest.begin(), rest.end(), space);
  const std::string_view b64 = rest.substr(0, static_cast<std::size_t>(end - rest.begin()));
  if (b64.empty()) {
    return sdk::invalid_argument("failed to parse public_key as SSH key: expected \"type base64\"");
  }
  if (type.find("-cert-v01@openssh.com") != std::string_view::npos) {
    return sdk::invalid_argument("public_key is a certificate; send the plain public key");
  }
  auto decoded = sdk::base64_decode(b64);
  if (!decoded) {
    return sdk::invalid_argument("failed to parse public_key as SSH key: bad base64");
  }
  const std::string blob(decoded->view());
  WireReader r(blob);
  std::string_view inner;
  if (!r.string(inner) || inner != type) {
    return sdk::invalid_argument("failed to parse public_key as SSH key: the key type \"" +
                                 std::string(type) + "\" does not match its data");
  }
  PublicKey key;
  key.type_name = std::string(type);
  key.blob = blob;
  if (type == "ssh-ed25519") {
    std::string_view pk;
    if (!r.string(pk) || pk.size() != 32 || !r.done()) {
      return sdk::invalid_argument("failed to parse public_key: malformed ssh-ed25519 key");
    }
    key.kind = KeyKind::kEd25519;
    key.bits = 256;
    return key;
  }
  if (type == "ssh-rsa") {
    std::string_view e, n;
    if (!r.string(e) || !r.string(n) || !r.done() || magnitude_bits(e) < 2 ||
        (static_cast<unsigned char>(e.back()) & 1) == 0) {
      return sdk::invalid_argument("failed to parse public_key: malformed ssh-rsa key");
    }
    key.kind = KeyKind::kRsa;
    key.bits = magnitude_bits(n);
    if (key.bits < 1024) {
      return sdk::invalid_argument("public_key: RSA keys must have at least 1024 bits");
    }
    return key;
  }
  for (const auto& curve : kCurves) {
    if (type != curve.ssh_type) continue;
    std::string_view name, point;
    if (!r.string(name) || name != curve.ssh_curve || !r.string(point) || !r.done()) {
      return sdk::invalid_argument("failed to parse public_key: malformed " + std::string(type) +
                                   " key");
    }
    auto checked = ec_public_key(curve, point);
    if (!checked) return sdk::error(checked.error());
    key.kind = curve.kind;
    key.bits = curve.bits;
    return key;
  }
  return sdk::invalid_argument("public_key type \"" + std::string(type) +
                               "\" is not supported (ssh-ed25519, ecdsa-sha2-nistp256/384/521, "
                               "ssh-rsa)");
}

std::string public_key_line(const PublicKey& key) {
  return key.type_name + " " + sdk::base64_encode(key.blob);
}

std::string public_key_sha256_hex(const PublicKey& key) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(key.blob.data(), key.blob.size(), md, &len, EVP_sha256(), nullptr);
  return sdk::hex_encode(std::span<const std::uint8_t>(md, len));
}

sdk::Result<PkeyPtr> generate_ca_key(std::string_view type, int bits) {
  EVP_PKEY* key = nullptr;
  if (type == "ed25519") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  } else if (type == "ec") {
    const char* group = bits == 0 || bits == 256 ? "P-256"
                        : bits == 384            ? "P-384"
                        : bits == 521            ? "P-521"
                                                 : nullptr;
    if (group == nullptr) return sdk::invalid_argument("ec key_bits must be 256, 384 or 521");
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group);
  } else if (type == "rsa") {
    if (bits == 0) bits = 4096;
    if (bits < 2048 || bits > 8192) {
      return sdk::invalid_argument("rsa key_bits must be between 2048 and 8192");
    }
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits));
  } else {
    return sdk::invalid_argument("unknown key_type \"" + std::string(type) +
                                 "\" (ssh-rsa, ec, ed25519)");
  }
  if (key == nullptr) return sdk::internal_error("ssh: key generation failed");
  return PkeyPtr(key);
}

sdk::Result<PkeyPtr> parse_private_key_pem(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr) {
    return sdk::invalid_argument(
        "private_key could not be parsed: give a PEM key (PKCS#8, PKCS#1 or SEC 1; convert an "
        "OpenSSH key with ssh-keygen -p -m PEM)");
  }
  PkeyPtr out(key);
  auto pub = public_key_of(key);
  if (!pub) return sdk::invalid_argument("private_key: " + pub.error().message());
  return out;
}

sdk::Result<sdk::SecureBuffer> private_key_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return sdk::internal_error("ssh: cannot encode the private key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return sdk::SecureBuffer::copy_of(std::string_view(data, static_cast<std::size_t>(len)));
}

sdk::Result<PublicKey> public_key_of(EVP_PKEY* key) {
  WireWriter w;
  PublicKey out;
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_ED25519) {
    unsigned char raw[32];
    std::size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != 32) {
      return sdk::internal_error("ssh: cannot read the Ed25519 public key");
    }
    out.kind = KeyKind::kEd25519;
    out.type_name = "ssh-ed25519";
    out.bits = 256;
    w.string(out.type_name);
    w.string(std::string_view(reinterpret_cast<char*>(raw), len));
  } else if (id == EVP_PKEY_EC) {
    char group[64];
    std::size_t glen = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen) != 1) {
      return sdk::internal_error("ssh: cannot read the EC curve");
    }
    const Curve* curve = nullptr;
    for (const auto& c : kCurves) {
      if (std::string_view(group, glen) == c.group) curve = &c;
    }
    if (curve == nullptr) {
      return sdk::invalid_argument("EC keys must be on P-256, P-384 or P-521");
    }
    unsigned char point[200];
    std::size_t plen = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                        sizeof point, &plen) != 1) {
      return sdk::internal_error("ssh: cannot read the EC public key");
    }
    out.kind = curve->kind;
    out.type_name = curve->ssh_type;
    out.bits = curve->bits;
    w.string(out.type_name);
    w.string(curve->ssh_curve);
    w.string(std::string_view(reinterpret_cast<char*>(point), plen));
  } else if (id == EVP_PKEY_RSA) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
      BN_free(n);
      return sdk::internal_error("ssh: cannot read the RSA public key");
    }
    BnPtr np(n), ep(e);
    out.kind = KeyKind::kRsa;
    out.type_name = "ssh-rsa";
    out.bits = BN_num_bits(n);
    w.string(out.type_name);
    w.mpint(bn_bytes(e));
    w.mpint(bn_bytes(n));
  } else {
    return sdk::invalid_argument("the key must be Ed25519, ECDSA or RSA");
  }
  out.blob = w.take();
  return out;
}

sdk::Result<std::string> sign(EVP_PKEY* key, const PublicKey& key_public, std::string_view data,
                              RsaHash rsa_hash) {
  WireWriter w;
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_ED25519) {
    auto sig = digest_sign(key, nullptr, data);
    if (!sig) return sdk::error(sig.error());
    w.string("ssh-ed25519");
    w.string(*sig);
  } else if (id == EVP_PKEY_RSA) {
    const bool sha512 = rsa_hash == RsaHash::kSha512;
    auto sig = digest_sign(key, sha512 ? EVP_sha512() : EVP_sha256(), data);
    if (!sig) return sdk::error(sig.error());
    w.string(sha512 ? "rsa-sha2-512" : "rsa-sha2-256");
    w.string(*sig);
  } else if (id == EVP_PKEY_EC) {
    const Curve* curve = curve_by_kind(key_public.kind);
    if (curve == nullptr) return sdk::internal_error("ssh: the key is not an ECDSA key");
    auto der = digest_sign(key, curve->md(), data);
    if (!der) return sdk::error(der.error());
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    std::unique_ptr<ECDSA_SIG, SigFree> sig(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der->size())));
    if (!sig) return sdk::internal_error("ssh: malformed ECDSA signature");
    WireWriter rs;
    rs.mpint(bn_bytes(ECDSA_SIG_get0_r(sig.get())));
    rs.mpint(bn_bytes(ECDSA_SIG_get0_s(sig.get())));
    w.string(curve->ssh_type);
    w.string(rs.bytes());
  } else {
    return sdk::internal_error("ssh: unsupported CA key");
  }
  return w.take();
}

sdk::Result<std::string> sign_certificate(const CertificateFields& f, EVP_PKEY* ca_key,
                                          const PublicKey& ca_public, RsaHash rsa_hash,
                                          sdk::Random& random) {
  // The key's own fields follow its type name in the plain blob.
  WireReader key_reader(f.key.blob);
  std::string_view key_type;
  if (!key_reader.string(key_type)) return sdk::internal_error("ssh: malformed key blob");
  const std::string_view key_fields = std::string_view(f.key.blob).substr(4 + key_type.size());
  const std::string cert_type = f.key.type_name + "-cert-v01@openssh.com";

  std::uint8_t nonce[32];
  LEASEFS_TRY(random.fill(nonce));
  auto pack = [](const std::map<std::string, std::string>& options) {
    WireWriter list;
    for (const auto& [name, value] : options) {
      list.string(name);
      if (value.empty()) {
        list.string("");
      } else {
        WireWriter data;
        data.string(value);
        list.string(data.bytes());
      }
    }
    return list.take();
  };
  WireWriter principals;
  for (const auto& p : f.principals) principals.string(p);

  WireWriter w;
  w.string(cert_type);
  w.string(std::string_view(reinterpret_cast<const char*>(nonce), sizeof nonce));
  std::string tbs = w.take();
  tbs.append(key_fields);
  WireWriter rest;
  rest.u64(f.serial);
  rest.u32(static_cast<std::uint32_t>(f.type));
  rest.string(f.key_id);
  rest.string(principals.bytes());
  rest.u64(f.valid_after);
  rest.u64(f.valid_before);
  rest.string(pack(f.critical_options));
  rest.string(pack(f.extensions));
  rest.string("");  // reserved
  rest.string(ca_public.blob);
  tbs += rest.bytes();

  auto signature = sign(ca_key, ca_public, tbs, rsa_hash);
  if (!signature) return sdk::error(signature.error());
  WireWriter sig_field;
  sig_field.string(*signature);
  tbs += sig_field.bytes();
  return cert_type + " " + sdk::base64_encode(tbs) + "\n";
}

sdk::Result<sdk::SecureBuffer> openssh_private_key(EVP_PKEY* key, std::string_view comment) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    return sdk::invalid_argument("only Ed25519 keys are written in OpenSSH's format");
  }
  auto pub = public_key_of(key);
  if (!pub) return sdk::error(pub.error());
  // The 64-byte private field is the 32-byte seed followed by the public key.
  sdk::SecureBuffer raw(64);
  std::size_t seed_len = 32;
  std::size_t pub_len = 32;
  std::uint32_t check = 0;
  if (EVP_PKEY_get_raw_private_key(key, raw.data(), &seed_len) != 1 || seed_len != 32 ||
      EVP_PKEY_get_raw_public_key(key, raw.data() + 32, &pub_len) != 1 || pub_len != 32 ||
      RAND_bytes(reinterpret_cast<unsigned char*>(&check), sizeof check) != 1) {
    return sdk::internal_error("ssh: cannot read the Ed25519 key");
  }
  // Every intermediate copy of the private half is wiped before it is freed.
  struct Wiped {
    std::string s;
    ~Wiped() { sdk::wipe(s.data(), s.size()); }
  };
  WireWriter secret;
  secret.reserve(256 + comment.size());
  secret.u32(check);
  secret.u32(check);
  secret.string("ssh-ed25519");
  secret.string(raw.view().substr(32));
  secret.string(raw.view());
  secret.string(comment);
  for (char pad = 1; secret.bytes().size() % 8 != 0; ++pad) secret.raw(std::string_view(&pad, 1));
  Wiped section{secret.take()};

  WireWriter file;
  file.reserve(512 + section.s.size());
  file.raw(std::string_view("openssh-key-v1\0", 15));
  file.string("none");  // cipher
  file.string("none");  // kdf
  file.string("");      // kdf options
  file.u32(1);          // one key
  file.string(pub->blob);
  file.string(section.s);
  Wiped blob{file.take()};
  Wiped b64{sdk::base64_encode(blob.s)};

  constexpr std::string_view kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
  constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----\n";
  constexpr std::size_t kWidth = 70;
  const std::size_t lines = (b64.s.size() + kWidth - 1) / kWidth;
  sdk::SecureBuffer out(kBegin.size() + b64.s.size() + lines + kEnd.size());
  std::size_t at = 0;
  auto put = [&](std::string_view part) {
    std::copy(part.begin(), part.end(), out.data() + at);
    at += part.size();
  };
  put(kBegin);
  for (std::size_t i = 0; i < b64.s.size(); i += kWidth) {
    put(std::string_view(b64.s).substr(i, kWidth));
    put("\n");
  }
  put(kEnd);
  return out;
}

}  // namespace leasefs::engines::ssh
