// A small JSON text writer for audit entries (see json_text.h).
#include "backend/audit/json_text.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace leasefs::backend::audit {
namespace {

constexpr int kMaxDepth = 128;
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100;
  };
  auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    unsigned c = at(k);
    return c >= lo && c <= hi;
  };
  const unsigned c = at(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

bool is_plain(std::string_view key, std::span<const std::string> plain_keys) {
  return std::any_of(plain_keys.begin(), plain_keys.end(),
                     [&](const std::string& k) { return k == key; });
}

// Whether any of the 8 bytes in `w` needs more than copying: a control character, a
// quote, a backslash or a byte >= 0x80 (SWAR: the high bit of each byte says so).
bool needs_care(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  auto zero_byte = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const std::uint64_t control = (w - kOnes * 0x20) & ~w & kHigh;  // < 0x20 (or >= 0x80)
  return ((control | w) & kHigh) != 0 || zero_byte(w ^ (kOnes * '"')) != 0 ||
         zero_byte(w ^ (kOnes * '\\')) != 0;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, sizeof w);
      if ((w & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i >= s.size()) break;
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t run = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    // Plain ASCII, the common case, eight bytes at a time.
    while (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, sizeof w);
      if (needs_care(w)) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(s.substr(run, i - run));
    if (c < 0x80) {
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default:
          out.append("\\u00");
          out.push_back(kHexDigits[c >> 4]);
          out.push_back(kHexDigits[c & 0xf]);
      }
      ++i;
    } else if (std::size_t n = utf8_length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append(kReplacement);
      ++i;
    }
    run = i;
  }
  out.append(s.substr(run));
  out.push_back('"');
}

void JsonText::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!filled_.empty()) {
    if (filled_.back()) out_.push_back(',');
    filled_.back() = true;
  }
}

void JsonText::members(std::string_view text) {
  out_.append(text);
  if (!filled_.empty()) filled_.back() = true;
}

void JsonText::begin_object() {
  separate();
  out_.push_back('{');
  filled_.push_back(false);
}

void JsonText::end_object() {
  out_.push_back('}');
  filled_.pop_back();
}

void JsonText::begin_array() {
  separate();
  out_.push_back('[');
  filled_.push_back(false);
}

void JsonText::end_array() {
  out_.push_back(']');
  filled_.pop_back();
}

void JsonText::key(std::string_view k) {
  separate();
  append_json_string(out_, k);
  out_.push_back(':');
  after_key_ = true;
}

void JsonText::string(std::string_view s) {
  separate();
  append_json_string(out_, s);
}

void JsonText::integer(std::int64_t v) {
  separate();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, end);
}

void JsonText::boolean(bool v) {
  separate();
  out_.append(v ? "true" : "false");
}

void JsonText::hmac(Hasher::Session& session, std::string_view input) {
  separate();
  out_.push_back('"');
  session.append_hmac(input, out_);  // "hmac-sha256:" + hex: nothing to escape
  out_.push_back('"');
}

void JsonText::secret(Hasher::Session* session, std::string_view input) {
  if (session != nullptr) {
    hmac(*session, input);
  } else {
    string(input);
  }
}

void JsonText::opt_list(std::string_view k, const std::vector<std::string>& v) {
  if (v.empty()) return;
  key(k);
  begin_array();
  for (const auto& s : v) string(s);
  end_array();
}

void JsonText::value(const nlohmann::json& v, Hasher::Session* session,
                     std::span<const std::string> plain_keys, std::string_view key) {
  walk(v, session, plain_keys, key, 0);
}

void JsonText::walk(const nlohmann::json& v, Hasher::Session* session,
                    std::span<const std::string> plain_keys, std::string_view k, int depth) {
  using nlohmann::json;
  switch (v.type()) {
    case json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (session != nullptr && !is_plain(k, plain_keys)) {
        hmac(*session, s);
      } else {
        string(s);
      }
      return;
    }
    case json::value_t::object:
    case json::value_t::array: {
      if (depth >= kMaxDepth) {
        const std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
        if (session != nullptr) {
          hmac(*session, text);
        } else {
          separate();
          out_.append(text);
        }
        return;
      }
      if (v.is_object()) {
        begin_object();
        for (const auto& [name, item] : v.items()) {
          key(name);
          walk(item, session, plain_keys, name, depth + 1);
        }
        end_object();
      } else {
        begin_array();
        for (const auto& item : v) walk(item, session, plain_keys, k, depth + 1);
        end_array();
      }
      return;
    }
    case json::value_t::number_integer:
      integer(v.get<std::int64_t>());
      return;
    case json::value_t::boolean:
      boolean(v.get<bool>());
      return;
    case json::value_t::null:
    case json::value_t::discarded:
      separate();
      out_.append("null");
      return;
    default:  // unsigned, float (NaN and infinities become null), binary
      separate();
      out_.append(v.dump(-1, ' ', false, json::error_handler_t::replace));
      return;
  }
}

}  // namespace leasefs::backend::audit
