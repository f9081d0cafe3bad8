// Fuzz target for the small values every API request carries: durations ("ttl": "1h30m"),
// typed request fields (strings, integers, booleans, lists, maps), CIDR blocks and
// addresses (token_bound_cidrs, secret_id_bound_cidrs), hex and base64 text, UTF-8
// checks, and the TTL arithmetic those durations feed. The first byte picks what the
// rest is:
//   0  a duration as text
//   1  a duration as JSON (a number of seconds or a string)
//   2  a CIDR block, an address or a connection's remote address
//   3  hex and base64 text, and a UTF-8 check
//   4  a request field: the next byte picks the type, the rest is JSON (or a string)
//   5  a TTL calculation from 8-byte integers: limits, asked-for TTLs, start and now
//   6  a duration as an 8-byte integer (any sign), printed
// Whatever the bytes: no crash, no sanitizer report (signed overflow in time arithmetic
// included); refusals are invalid_argument with a message; what is accepted keeps its
// promises (a duration prints as text that parses back to the same duration, a block's
// host bits are clear and it contains its own network, decoding what was encoded gives
// the same bytes, a converted field has its type's shape and converts to itself, a
// granted TTL is not negative and never outlives the max).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backend/sdk/cidr.h"
#include "backend/sdk/duration.h"
#include "backend/sdk/encoding.h"
#include "backend/sdk/fields.h"
#include "backend/sdk/ttl.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/refusal.h"

namespace {

namespace sdk = leasefs::backend::sdk;
using nlohmann::json;

void duration_text(std::string_view text) {
  auto d = sdk::parse_duration(text);
  if (!d) {
    check_refusal(d.error());
    return;
  }
  FUZZ_CHECK(d->count() >= 0);
  const std::string shown = sdk::format_duration(*d);
  auto again = sdk::parse_duration(shown);
  FUZZ_CHECK(again.has_value() && *again == *d);
  auto from_json = sdk::duration_from_json(json(std::string(text)));
  FUZZ_CHECK(from_json.has_value() && *from_json == *d);
}

void duration_printed(std::int64_t ns) {
  const std::string shown = sdk::format_duration(sdk::Duration(ns));
  FUZZ_CHECK(!shown.empty() && shown.back() == 's');
  if (ns >= 0) {
    auto again = sdk::parse_duration(shown);
    FUZZ_CHECK(again.has_value() && again->count() == ns);
  } else {
    FUZZ_CHECK(shown.front() == '-');
    if (ns != std::numeric_limits<std::int64_t>::min()) {
      FUZZ_CHECK(shown.substr(1) == sdk::format_duration(sdk::Duration(-ns)));
    }
  }
}

void duration_json(std::string_view text) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) return;
  auto d = sdk::duration_from_json(value);
  if (!d) {
    check_refusal(d.error());
    return;
  }
  FUZZ_CHECK(d->count() >= 0);
}

bool host_bits_clear(const sdk::CidrBlock& block) {
  for (int bit = block.prefix; bit < block.network.bits(); ++bit) {
    if ((block.network.bytes[bit / 8] >> (7 - bit % 8)) & 1) return false;
  }
  return true;
}

void addresses(std::string_view text) {
  auto block = sdk::parse_cidr(text);
  if (block) {
    FUZZ_CHECK(block->network.family == 4 || block->network.family == 6);
    FUZZ_CHECK(block->prefix >= 0 && block->prefix <= block->network.bits());
    FUZZ_CHECK(host_bits_clear(*block));
    FUZZ_CHECK(sdk::block_contains(*block, block->network));
    FUZZ_CHECK(sdk::block_contains(*block, *block));
    FUZZ_CHECK(sdk::valid_cidr_list({std::string(text)}));
    FUZZ_CHECK(sdk::address_in_blocks(block->network, {std::string(text)}));
    FUZZ_CHECK(sdk::cidr_subset({std::string(text)}, {std::string(text)}));
  }
  auto ip = sdk::parse_ip(text);
  if (ip) {
    FUZZ_CHECK(ip->family == 4 || ip->family == 6);
    FUZZ_CHECK(block.has_value() && block->prefix == block->network.bits());
    FUZZ_CHECK(sdk::block_contains(*block, *ip));
  }
  (void)sdk::parse_remote_address(text);
}

void encodings(std::string_view text) {
  if (auto bytes = sdk::hex_decode(text)) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    FUZZ_CHECK(sdk::hex_encode(bytes->view()) == lower);
  } else {
    check_refusal(bytes.error());
  }
  if (auto bytes = sdk::base64_decode(text)) {
    const std::string encoded = sdk::base64_encode(bytes->view());
    FUZZ_CHECK(encoded.size() == text.size());
    auto again = sdk::base64_decode(encoded);
    FUZZ_CHECK(again.has_value() && again->view() == bytes->view());
  } else {
    check_refusal(bytes.error());
  }
  // nlohmann's writer checks UTF-8 on its own: the two must agree on every string.
  bool dumps = true;
  try {
    (void)json(std::string(text)).dump();
  } catch (const json::type_error&) {
    dumps = false;
  }
  FUZZ_CHECK(sdk::valid_utf8(text) == dumps);
}

bool has_shape(sdk::FieldType type, const json& v) {
  switch (type) {
    case sdk::FieldType::kString:
      return v.is_string();
    case sdk::FieldType::kInt:
      return v.is_number_integer();
    case sdk::FieldType::kBool:
      return v.is_boolean();
    case sdk::FieldType::kDuration:
      return v.is_number_integer() && v.get<std::int64_t>() >= 0;
    case sdk::FieldType::kStringList:
    case sdk::FieldType::kCommaStringList:
      return v.is_array() &&
             std::all_of(v.begin(), v.end(), [](const json& item) { return item.is_string(); });
    case sdk::FieldType::kMap:
      return v.is_object();
    case sdk::FieldType::kStringMap:
      return v.is_object() &&
             std::all_of(v.begin(), v.end(), [](const json& item) { return item.is_string(); });
    case sdk::FieldType::kAny:
      return true;
  }
  return false;
}

void field(std::string_view rest) {
  if (rest.empty()) return;
  static constexpr sdk::FieldType kTypes[] = {
      sdk::FieldType::kString,   sdk::FieldType::kInt,        sdk::FieldType::kBool,
      sdk::FieldType::kDuration, sdk::FieldType::kStringList, sdk::FieldType::kCommaStringList,
      sdk::FieldType::kMap,      sdk::FieldType::kStringMap,  sdk::FieldType::kAny};
  const auto type = kTypes[static_cast<unsigned char>(rest[0]) % std::size(kTypes)];
  const std::string_view text = rest.substr(1);
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) value = json(std::string(text));
  auto converted = sdk::convert_field("f", type, value);
  if (!converted) {
    check_refusal(converted.error());
    FUZZ_CHECK(converted.error().message().find("\"f\"") != std::string::npos);
    return;
  }
  FUZZ_CHECK(has_shape(type, *converted));
  auto again = sdk::convert_field("f", type, *converted);
  FUZZ_CHECK(again.has_value() && *again == *converted);
}

std::int64_t take_int(std::string_view& rest) {
  std::uint64_t v = 0;
  const std::size_t n = std::min<std::size_t>(8, rest.size());
  std::memcpy(&v, rest.data(), n);
  rest.remove_prefix(n);
  return static_cast<std::int64_t>(v);
}

// A duration as a client can ask for one: 0 .. the largest parse_duration accepts.
sdk::Duration take_duration(std::string_view& rest) {
  const std::int64_t v = take_int(rest);
  return sdk::Duration(v == std::numeric_limits<std::int64_t>::min() ? 0 : (v < 0 ? -v : v));
}

void ttl(std::string_view rest) {
  sdk::MountLimits limits;
  limits.default_lease_ttl = take_duration(rest);
  limits.max_lease_ttl = take_duration(rest);
  sdk::TtlInput in;
  in.increment = take_duration(rest);
  in.ttl = take_duration(rest);
  in.period = take_duration(rest);
  in.role_max_ttl = take_duration(rest);
  in.explicit_max_ttl = take_duration(rest);
  // Any instant from the epoch to the wall clock's end; the lease started up to half
  // that range before.
  const sdk::WallTime now{take_duration(rest)};
  in.start = now - sdk::Duration(take_duration(rest).count() / 2);
  auto result = sdk::calculate_ttl(limits, in, now);
  if (!result) {
    check_refusal(result.error());
    return;
  }
  FUZZ_CHECK(result->ttl.count() >= 0);
  sdk::Duration max = limits.max_lease_ttl;
  if (in.role_max_ttl.count() > 0) max = std::min(max, in.role_max_ttl);
  if (in.explicit_max_ttl.count() > 0) max = std::min(max, in.explicit_max_ttl);
  FUZZ_CHECK(result->ttl <= max);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      duration_text(rest);
      break;
    case 1:
      duration_json(rest);
      break;
    case 2:
      addresses(rest);
      break;
    case 3:
      encodings(rest);
      break;
    case 4:
      field(rest);
      break;
    case 5:
      ttl(rest);
      break;
    default: {
      std::string_view bytes = rest;
      duration_printed(take_int(bytes));
      break;
    }
  }
  return 0;
}
