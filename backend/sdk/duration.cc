// Parsing and formatting of durations the way Vault's API and CLI write them.
#include "backend/sdk/duration.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

namespace leasefs::backend::sdk {
namespace {

constexpr std::int64_t kNs = 1;
constexpr std::int64_t kUs = 1'000;
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;
constexpr std::int64_t kMin = 60 * kS;
constexpr std::int64_t kHour = 60 * kMin;
constexpr std::int64_t kDay = 24 * kHour;

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::unexpected<Status> bad(std::string_view text) {
  std::string shown(text.substr(0, 64));
  return invalid_argument("invalid duration \"" + shown +
                          "\": want seconds or a value like 30s, 5m, 1h30m, 7d");
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  if (all_digits(text)) {
    std::int64_t secs = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), secs);
    if (ec != std::errc() || secs > std::numeric_limits<std::int64_t>::max() / kS) {
      return bad(text);
    }
    return Duration(secs * kS);
  }
  if (text.empty()) return bad(text);
  // Each number is digits with an optional fraction (".5", "5.", "1.5") and takes a
  // unit. Integer arithmetic throughout, so the result is exact to the nanosecond (a
  // fraction finer than that is cut off, as Go's time.ParseDuration does); the total
  // must fit in 64-bit nanoseconds.
  __extension__ typedef unsigned __int128 Wide;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  constexpr std::uint64_t kMaxFractionScale = 1'000'000'000'000'000'000u;  // 18 digits
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::string_view rest = text;
  std::uint64_t total = 0;
  while (!rest.empty()) {
    std::size_t i = 0;
    std::uint64_t whole = 0;
    bool too_big = false;
    for (; i < rest.size() && digit(rest[i]); ++i) {
      const auto d = static_cast<std::uint64_t>(rest[i] - '0');
      too_big = too_big || whole > (kMax - d) / 10;
      if (!too_big) whole = whole * 10 + d;
    }
    const std::size_t whole_digits = i;
    std::uint64_t fraction = 0;
    std::uint64_t fraction_scale = 1;
    std::size_t fraction_digits = 0;
    if (i < rest.size() && rest[i] == '.') {
      for (++i; i < rest.size() && digit(rest[i]); ++i, ++fraction_digits) {
        if (fraction_scale < kMaxFractionScale) {  // later digits are below a nanosecond
          fraction = fraction * 10 + static_cast<std::uint64_t>(rest[i] - '0');
          fraction_scale *= 10;
        }
      }
    }
    if (whole_digits == 0 && fraction_digits == 0) return bad(text);
    rest.remove_prefix(i);
    std::size_t j = 0;
    while (j < rest.size() && !digit(rest[j]) && rest[j] != '.') ++j;
    std::string_view unit = rest.substr(0, j);
    rest.remove_prefix(j);
    std::uint64_t scale = 0;
    if (unit == "ns") scale = kNs;
    else if (unit == "us" || unit == "\xC2\xB5s") scale = kUs;
    else if (unit == "ms") scale = kMs;
    else if (unit == "s") scale = kS;
    else if (unit == "m") scale = kMin;
    else if (unit == "h") scale = kHour;
    else if (unit == "d") scale = kDay;
    else return bad(text);
    const Wide part = Wide{whole} * scale + Wide{fraction} * scale / fraction_scale;
    if (too_big || part > kMax - total) return bad(text);
    total += static_cast<std::uint64_t>(part);
  }
  return Duration(static_cast<std::int64_t>(total));
}

Result<Duration> duration_from_json(const nlohmann::json& value) {
  if (value.is_number_unsigned() || value.is_number_integer()) {
    auto secs = value.get<std::int64_t>();
    if (secs < 0 || secs > std::numeric_limits<std::int64_t>::max() / kS) {
      return invalid_argument("invalid duration " + value.dump() + ": out of range");
    }
    return Duration(secs * kS);
  }
  if (value.is_number_float()) {
    double secs = value.get<double>();
    if (!(secs >= 0) || secs > 9.2e9) {
      return invalid_argument("invalid duration " + value.dump() + ": out of range");
    }
    return Duration(static_cast<std::int64_t>(secs * static_cast<double>(kS)));
  }
  if (value.is_string()) return parse_duration(value.get_ref<const std::string&>());
  return invalid_argument("invalid duration: want a number of seconds or a string like \"1h\"");
}

std::string format_duration(Duration d) {
  if (d.count() == 0) return "0s";
  // The magnitude as unsigned, so the most negative duration has one too.
  const std::string sign = d.count() < 0 ? "-" : "";
  const std::uint64_t ns = d.count() < 0 ? 0 - static_cast<std::uint64_t>(d.count())
                                         : static_cast<std::uint64_t>(d.count());
  auto frac = [](std::uint64_t value, std::uint64_t unit) {
    std::string s = std::to_string(value / unit);
    std::uint64_t rem = value % unit;
    if (rem != 0) {
      std::string digits = std::to_string(rem + unit).substr(1);  // zero-padded
      while (!digits.empty() && digits.back() == '0') digits.pop_back();
      s += "." + digits;
    }
    return s;
  };
  if (ns < kUs) return sign + std::to_string(ns) + "ns";
  if (ns < kMs) return sign + frac(ns, kUs) + "\xC2\xB5s";
  if (ns < kS) return sign + frac(ns, kMs) + "ms";
  std::string out = sign;
  const std::uint64_t hours = ns / kHour;
  const std::uint64_t minutes = (ns % kHour) / kMin;
  const std::uint64_t seconds_ns = ns % kMin;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += frac(seconds_ns, kS) + "s";
  return out;
}

}  // namespace leasefs::backend::sdk
