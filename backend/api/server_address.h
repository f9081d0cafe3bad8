// Parsing of the server address a client is given (LEASEFS_ADDR / VAULT_ADDR), kept
// free of Asio so its rules are tested on their own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "backend/sdk/status.h"

namespace leasefs::backend::api {

struct ServerAddress {
  bool tls = false;    // https
  std::string host{};  // "127.0.0.1", "::1", "vault.example.com" (no brackets)
  std::uint16_t port = 0;
  std::string authority{};  // for the Host header: "127.0.0.1:8200", "[::1]:8200"
  std::string url{};        // normalized: "https://[::1]:8200"
};

// Parses "http[s]://host[:port][/]". Errors: invalid_argument naming the address, for
// another scheme, an empty host, a bad port, or a path, query or user part.
sdk::Result<ServerAddress> parse_server_address(std::string_view address);

}  // namespace leasefs::backend::api
