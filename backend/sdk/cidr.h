// IPv4 and IPv6 addresses and CIDR blocks, for source-address bindings
// (secret_id_bound_cidrs, cidr_list, token_bound_cidrs). Small on purpose: parse with
// inet_pton, compare prefixes bit by bit. IPv4-mapped IPv6 addresses count as IPv4, as
// in Go's net package, so "::ffff:10.0.0.1" is inside "10.0.0.0/8".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leasefs::backend::sdk {

struct IpAddress {
  int family = 0;                        // 4 or 6
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

  int bits() const { return family == 4 ? 32 : 128; }
};

struct CidrBlock {
  IpAddress network{};  // host bits cleared
  int prefix = 0;
};

// A bare address ("10.0.0.1", "::1", "fe80::1%eth0"); nullopt when it is not one.
std::optional<IpAddress> parse_ip(std::string_view text);
// "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128 block). Host bits
// are cleared, as Go does. nullopt when malformed.
std::optional<CidrBlock> parse_cidr(std::string_view text);
// A connection's remote address as the HTTP layer gives it: "ip", "ip:port",
// "[ipv6]:port" or a bare IPv6 address. nullopt when it holds no address.
std::optional<IpAddress> parse_remote_address(std::string_view text);

bool block_contains(const CidrBlock& block, const IpAddress& address);
// True when `inner` lies wholly inside `outer`.
bool block_contains(const CidrBlock& outer, const CidrBlock& inner);

// True when every entry parses as a CIDR block or address.
bool valid_cidr_list(const std::vector<std::string>& blocks);
// True when `address` is inside one of `blocks` (entries that do not parse match
// nothing).
bool address_in_blocks(const IpAddress& address, const std::vector<std::string>& blocks);
// Vault's subset rule: true when `outer` is empty or every block of `inner` lies inside
// some block of `outer`.
bool cidr_subset(const std::vector<std::string>& outer, const std::vector<std::string>& inner);

}  // namespace leasefs::backend::sdk
