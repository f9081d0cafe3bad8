// Keyring terms and their binary serialization.
//
// Format (all integers big-endian), version 1:
//   "LFKR" | u8 version | u16 root key length | root key | u32 active term |
//   u32 term count | count x { u32 term | i64 install time (unix ns) |
//   u64 encryptions | u16 key length | key }
#include "backend/barrier/keyring.h"

#include <cstring>

namespace leasefs::backend::barrier {

namespace sdk = leasefs::backend::sdk;

namespace {

constexpr std::uint8_t kFormatVersion = 1;
constexpr char kMagic[4] = {'L', 'F', 'K', 'R'};

class Writer {
 public:
  explicit Writer(std::size_t size) : buf_(size) {}
  void bytes(const void* p, std::size_t n) {
    std::memcpy(buf_.data() + pos_, p, n);
    pos_ += n;
  }
  template <class T>
  void integer(T v) {
    for (int i = sizeof(T) - 1; i >= 0; --i) {
      buf_.data()[pos_++] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i));
    }
  }
  sdk::SecureBuffer done() { return std::move(buf_); }

 private:
  sdk::SecureBuffer buf_;
  std::size_t pos_ = 0;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  bool bytes(std::size_t n, std::span<const std::uint8_t>& out) {
    if (in_.size() - pos_ < n) return false;
    out = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  template <class T>
  bool integer(T& v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) x = (x << 8) | in_[pos_++];
    v = static_cast<T>(x);
    return true;
  }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

std::unexpected<sdk::Status> malformed(std::string_view what) {
  return sdk::error(sdk::Code::kDataLoss, "keyring is malformed: " + std::string(what));
}

}  // namespace

sdk::Result<Keyring> Keyring::create(sdk::SecureBuffer root_key) {
  if (root_key.size() != kKeySize) return sdk::invalid_argument("root key must be 32 bytes");
  Keyring ring;
  ring.root_key_ = std::move(root_key);
  return ring;
}

sdk::Result<std::uint32_t> Keyring::add_term(sdk::SecureBuffer key, sdk::WallTime install_time,
                                             std::uint64_t encryptions) {
  if (key.size() != kKeySize) return sdk::invalid_argument("term key must be 32 bytes");
  std::uint32_t term = active_term_ + 1;
  if (term == 0) return sdk::error(sdk::Code::kResourceExhausted, "keyring has no terms left");
  auto cipher = AesGcm::create(key.span());
  if (!cipher) return sdk::error(cipher.error());
  auto state = std::make_unique<TermKey>();
  state->term = term;
  state->install_time = install_time;
  state->encryptions = encryptions;
  state->cipher = std::move(*cipher);
  terms_[term] = Entry{std::move(key), std::move(state)};
  active_term_ = term;
  return term;
}

TermKey* Keyring::term(std::uint32_t t) const {
  auto it = terms_.find(t);
  return it == terms_.end() ? nullptr : it->second.state.get();
}

sdk::Result<Keyring> Keyring::clone() const {
  auto parsed = parse(serialize().span());
  if (!parsed) return sdk::internal_error("keyring copy failed");
  return parsed;
}

sdk::SecureBuffer Keyring::serialize() const {
  std::size_t size = 4 + 1 + 2 + root_key_.size() + 4 + 4;
  for (const auto& [term, entry] : terms_) size += 4 + 8 + 8 + 2 + entry.key.size();
  Writer w(size);
  w.bytes(kMagic, 4);
  w.integer<std::uint8_t>(kFormatVersion);
  w.integer<std::uint16_t>(static_cast<std::uint16_t>(root_key_.size()));
  w.bytes(root_key_.data(), root_key_.size());
  w.integer<std::uint32_t>(active_term_);
  w.integer<std::uint32_t>(static_cast<std::uint32_t>(terms_.size()));
  for (const auto& [term, entry] : terms_) {
    w.integer<std::uint32_t>(term);
    w.integer<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                entry.state->install_time.time_since_epoch())
                                .count());
    w.integer<std::uint64_t>(entry.state->encryptions.load());
    w.integer<std::uint16_t>(static_cast<std::uint16_t>(entry.key.size()));
    w.bytes(entry.key.data(), entry.key.size());
  }
  return w.done();
}

sdk::Result<Keyring> Keyring::parse(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  std::span<const std::uint8_t> magic;
  if (!r.bytes(4, magic) || std::memcmp(magic.data(), kMagic, 4) != 0) {
    return malformed("bad magic");
  }
  std::uint8_t version = 0;
  if (!r.integer(version)) return malformed("truncated");
  if (version != kFormatVersion) {
    return malformed("unsupported version " + std::to_string(version));
  }
  std::uint16_t root_len = 0;
  std::span<const std::uint8_t> root;
  if (!r.integer(root_len) || root_len != kKeySize || !r.bytes(root_len, root)) {
    return malformed("bad root key");
  }
  Keyring ring;
  ring.root_key_ = sdk::SecureBuffer::copy_of(root);
  std::uint32_t active = 0;
  std::uint32_t count = 0;
  if (!r.integer(active) || !r.integer(count)) return malformed("truncated");
  if (count == 0 || count > 1'000'000) return malformed("bad term count");
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t term = 0;
    std::int64_t install_ns = 0;
    std::uint64_t encryptions = 0;
    std::uint16_t key_len = 0;
    std::span<const std::uint8_t> key;
    if (!r.integer(term) || !r.integer(install_ns) || !r.integer(encryptions) ||
        !r.integer(key_len) || key_len != kKeySize || !r.bytes(key_len, key)) {
      return malformed("bad term entry");
    }
    if (term == 0 || ring.terms_.contains(term)) return malformed("bad term number");
    auto cipher = AesGcm::create(key);
    if (!cipher) return sdk::error(cipher.error());
    auto state = std::make_unique<TermKey>();
    state->term = term;
    state->install_time = sdk::WallTime(
        std::chrono::duration_cast<sdk::WallTime::duration>(std::chrono::nanoseconds(install_ns)));
    state->encryptions = encryptions;
    state->cipher = std::move(*cipher);
    ring.terms_[term] = Entry{sdk::SecureBuffer::copy_of(key), std::move(state)};
  }
  if (!r.at_end()) return malformed("trailing bytes");
  if (!ring.terms_.contains(active)) return malformed("active term is missing");
  ring.active_term_ = active;
  return ring;
}

}  // namespace leasefs::backend::barrier
