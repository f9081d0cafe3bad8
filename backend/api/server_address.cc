// "http[s]://host[:port]" -> scheme, host, port.
#include "backend/api/server_address.h"

#include <algorithm>

namespace leasefs::backend::api {

sdk::Result<ServerAddress> parse_server_address(std::string_view address) {
  auto bad = [&](std::string_view why) {
    return sdk::invalid_argument("invalid server address \"" + std::string(address) +
                                 "\": " + std::string(why));
  };
  ServerAddress parsed;
  std::string_view rest = address;
  if (rest.starts_with("https://")) {
    parsed.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return bad("expected http:// or https://");
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return bad("only scheme, host and port are allowed");
  }
  std::string_view host;
  std::string_view port_text;
  if (rest.starts_with('[')) {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unterminated [IPv6 address]");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected :port after ]");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    std::size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
  }
  if (host.empty()) return bad("empty host");
  unsigned port = parsed.tls ? 443 : 80;
  if (!port_text.empty()) {
    if (port_text.size() > 5 ||
        !std::ranges::all_of(port_text, [](char c) { return c >= '0' && c <= '9'; })) {
      return bad("port must be a number");
    }
    port = static_cast<unsigned>(std::stoul(std::string(port_text)));
    if (port == 0 || port > 65535) return bad("port out of range");
  }
  parsed.host = std::string(host);
  parsed.port = static_cast<std::uint16_t>(port);
  bool v6 = parsed.host.find(':') != std::string::npos;
  parsed.authority = (v6 ? "[" + parsed.host + "]" : parsed.host) + ":" + std::to_string(port);
  parsed.url = std::string(parsed.tls ? "https://" : "http://") + parsed.authority;
  return parsed;
}

}  // namespace leasefs::backend::api
