// Percent-decoding and target splitting, following what Go's net/url does for Vault:
// the path is decoded without turning "+" into a space, the query with it.
#include "backend/http/request_target.h"

namespace leasefs::backend::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

sdk::Result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      int hi = -1;
      int lo = -1;
      if (i + 2 < text.size()) {
        hi = hex_value(text[i + 1]);
        lo = hex_value(text[i + 2]);
      }
      if (hi < 0 || lo < 0) return sdk::invalid_argument("invalid percent-encoding in URL");
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return sdk::invalid_argument("URL contains an encoded NUL byte");
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out.push_back(c);
  }
  return out;
}

sdk::Result<DecodedTarget> decode_target(std::string_view target) {
  DecodedTarget decoded;
  if (target == "*") {
    decoded.path = "*";
    return decoded;
  }
  std::string rooted;  // backs `target` when an absolute-form target has no path
  if (target.starts_with("http://") || target.starts_with("https://")) {
    std::size_t authority = target.find("//") + 2;
    std::size_t rest = target.find_first_of("/?#", authority);
    if (rest == std::string_view::npos) {
      target = "/";
    } else if (target[rest] == '/') {
      target = target.substr(rest);
    } else {
      rooted = "/" + std::string(target.substr(rest));
      target = rooted;
    }
  }
  if (target.empty() || target.front() != '/') {
    return sdk::invalid_argument("request target must be an absolute path");
  }
  if (std::size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  std::size_t question = target.find('?');
  auto path = percent_decode(target.substr(0, question), /*plus_is_space=*/false);
  if (!path) return std::unexpected(path.error());
  decoded.path = std::move(*path);
  if (question == std::string_view::npos) return decoded;

  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), /*plus_is_space=*/true);
    if (!name) return std::unexpected(name.error());
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = percent_decode(pair.substr(eq + 1), /*plus_is_space=*/true);
      if (!v) return std::unexpected(v.error());
      value = std::move(*v);
    }
    decoded.query.emplace_back(std::move(*name), std::move(value));
  }
  return decoded;
}

}  // namespace leasefs::backend::http
