// CIDR parsing and matching for AppRole's address bindings.
#include "backend/sdk/cidr.h"

#include <charconv>
#include <cstring>

#include <arpa/inet.h>

namespace leasefs::backend::sdk {
namespace {

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the IPv4 address.
IpAddress unmap(const IpAddress& a) {
  if (a.family != 6) return a;
  static constexpr std::array<std::uint8_t, 12> kMapped = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), kMapped.data(), kMapped.size()) != 0) return a;
  IpAddress v4;
  v4.family = 4;
  std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
  return v4;
}

// True when the first `prefix` bits of `a` and `b` are equal.
bool same_prefix(const IpAddress& a, const IpAddress& b, int prefix) {
  int full = prefix / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), static_cast<std::size_t>(full)) != 0) {
    return false;
  }
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[static_cast<std::size_t>(full)] & mask) ==
         (b.bytes[static_cast<std::size_t>(full)] & mask);
}

void clear_host_bits(IpAddress& a, int prefix) {
  for (int bit = prefix; bit < a.bits(); ++bit) {
    a.bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
}

// inet_pton without the mapping to IPv4.
std::optional<IpAddress> parse_raw(std::string_view text) {
  // inet_pton reads a C string: a NUL would end the address early and let whatever
  // follows it through unread.
  if (text.empty() || text.size() > 64 || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string s(text);
  if (auto pct = s.find('%'); pct != std::string::npos) {
    // A zone ("fe80::1%eth0") belongs to an IPv6 address and names an interface: not
    // empty, and no '/' (which would start a prefix length) or spaces.
    if (pct + 1 == s.size() || s.find(':') == std::string::npos ||
        s.find_first_of("/ \t\r\n", pct) != std::string::npos) {
      return std::nullopt;
    }
    s.resize(pct);
  }
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.family = 4;
  } else {
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.family = 6;
  }
  return a;
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
  auto a = parse_raw(text);
  if (!a) return std::nullopt;
  return unmap(*a);
}

std::optional<CidrBlock> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  auto address = parse_raw(text.substr(0, slash));
  if (!address) return std::nullopt;
  int prefix = address->bits();
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    int n = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || n < 0 ||
        n > address->bits()) {
      return std::nullopt;
    }
    prefix = n;
  }
  // A mapped block (::ffff:10.0.0.0/104) is the IPv4 block it maps.
  IpAddress mapped = unmap(*address);
  if (mapped.family == 4 && address->family == 6) {
    if (prefix < 96) {
      IpAddress wide = *address;
      clear_host_bits(wide, prefix);
      return CidrBlock{wide, prefix};
    }
    prefix -= 96;
  }
  clear_host_bits(mapped, prefix);
  return CidrBlock{mapped, prefix};
}

std::optional<IpAddress> parse_remote_address(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return parse_ip(text.substr(1, close - 1));
  }
  auto colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    return parse_ip(text.substr(0, colon));  // "a.b.c.d:port"
  }
  return parse_ip(text);
}

bool block_contains(const CidrBlock& block, const IpAddress& address) {
  IpAddress a = unmap(address);
  if (a.family != block.network.family) return false;
  return same_prefix(block.network, a, block.prefix);
}

bool block_contains(const CidrBlock& outer, const CidrBlock& inner) {
  if (outer.network.family != inner.network.family) return false;
  if (inner.prefix < outer.prefix) return false;
  return same_prefix(outer.network, inner.network, outer.prefix);
}

bool valid_cidr_list(const std::vector<std::string>& blocks) {
  for (const auto& b : blocks) {
    if (!parse_cidr(b)) return false;
  }
  return true;
}

bool address_in_blocks(const IpAddress& address, const std::vector<std::string>& blocks) {
  for (const auto& b : blocks) {
    auto block = parse_cidr(b);
    if (block && block_contains(*block, address)) return true;
  }
  return false;
}

bool cidr_subset(const std::vector<std::string>& outer, const std::vector<std::string>& inner) {
  if (outer.empty()) return true;
  for (const auto& i : inner) {
    auto in = parse_cidr(i);
    if (!in) return false;
    bool inside = false;
    for (const auto& o : outer) {
      auto out = parse_cidr(o);
      if (out && block_contains(*out, *in)) {
        inside = true;
        break;
      }
    }
    if (!inside) return false;
  }
  return true;
}

}  // namespace leasefs::backend::sdk
