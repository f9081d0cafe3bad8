// Salted HMACs for audit entries, as Vault writes them: a value v becomes
// "hmac-sha256:" + hex(HMAC-SHA256(key = the device's salt, v)). Which values are
// hashed is decided where entries are written (entry.h, json_text.h). Each device has its
// own salt (a random UUID's 36-character text, kept in locked memory and persisted by
// the broker behind the barrier), so the same secret hashes differently per device and
// sys/audit-hash can recompute any value for one device.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <openssl/sha.h>

#include "backend/sdk/random.h"
#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::audit {

inline constexpr std::string_view kHmacPrefix = "hmac-sha256:";

// A fresh salt: a version-4 UUID in its text form, in locked memory.
sdk::Result<sdk::SecureBuffer> new_salt(sdk::Random& random);

class Hasher {
 public:
  // Keys an HMAC-SHA256 with `salt` (non-empty). Fails only if OpenSSL does.
  static sdk::Result<std::shared_ptr<Hasher>> create(sdk::SecureBuffer salt);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  const sdk::SecureBuffer& salt() const { return salt_; }

  // Hashes one entry's worth of strings. Not thread-safe itself; one per thread at a
  // time (the Hasher it reads is not changed after create()).
  class Session {
   public:
    explicit Session(const Hasher& hasher);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    // "hmac-sha256:<64 hex>" of `input`.
    std::string hmac(std::string_view input);
    // Appends the same to `out`.
    void append_hmac(std::string_view input, std::string& out);

   private:
    const Hasher& hasher_;
    SHA256_CTX work_{};  // a copy of a keyed state, wiped when the session ends
  };

  // "hmac-sha256:<64 hex>" of `input`. Thread-safe.
  std::string hmac(std::string_view input) const;

 private:
  explicit Hasher(sdk::SecureBuffer salt) : salt_(std::move(salt)) {}

  sdk::SecureBuffer salt_;
  // The SHA-256 states after absorbing key^ipad and key^opad (RFC 2104), inner then
  // outer: every HMAC starts from copies of these, so keying costs nothing per value.
  // They are as good as the salt, so they live in locked memory too, wiped when freed.
  sdk::SecureBuffer states_{2 * sizeof(SHA256_CTX)};
};

}  // namespace leasefs::backend::audit
