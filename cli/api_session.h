// Talking to a server from a command. Every command that uses the HTTP API takes the
// same connection flags, resolves them against the environment the way Vault's CLI does
// (LEASEFS_* first, then VAULT_*, then defaults), finds the token (environment, then the
// token helper file ~/.leasefs-token), and reads responses with the rules of Vault's
// api.Logical(): a 404 with no data is "nothing there", an error status becomes a
// one-line "Code: 403. Errors: permission denied".
#pragma once

#include <utility>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "backend/api/client.h"
#include "backend/sdk/status.h"

namespace leasefs::cli {

// Used when neither -address nor LEASEFS_ADDR nor VAULT_ADDR is given. Vault's CLI
// defaults to https; leasefs's dev server listens on plain http, so this does too.
inline constexpr std::string_view kDefaultAddress = "http://127.0.0.1:8200";
inline constexpr std::chrono::seconds kDefaultClientTimeout{60};
// The token helper file, under $HOME. Vault's ~/.vault-token is never read or written.
inline constexpr std::string_view kTokenHelperFile = ".leasefs-token";

// The connection flags of every server command; empty means "not given".
struct ConnectionFlags {
  std::string address{};
  std::string ca_cert{};
  bool tls_skip_verify = false;
  std::string client_timeout{};
};

// Adds -address, -ca-cert, -tls-skip-verify and -client-timeout to `cmd`.
void add_connection_flags(CLI::App& cmd, ConnectionFlags& flags);

using Query = std::vector<std::pair<std::string, std::string>>;

// One HTTP answer. `body` is null when the server sent no body (204).
struct ApiReply {
  int status = 0;
  nlohmann::json body{};
};

class ApiSession {
 public:
  // Builds the client from flags and environment and finds the token. Errors
  // (invalid_argument): a malformed address or timeout, an unreadable CA file.
  // Nothing is sent yet.
  static backend::sdk::Result<std::unique_ptr<ApiSession>> open(const ConnectionFlags& flags);

  // Sends one request to /v1/<path> with the session's token (none when `with_token`
  // is false). `path` is percent-encoded here; `body` is sent as JSON unless null.
  // Fails only when no usable HTTP response came back: connection refused, timeout
  // (both naming the address), or a body that is not JSON.
  backend::sdk::Result<ApiReply> send(std::string_view method, std::string_view path,
                                      const nlohmann::json& body = nullptr, const Query& query = {},
                                      bool with_token = true);

  // Vault's Logical() calls. Each returns the response envelope, or null for "nothing
  // there" (read and list: a 404 whose body carries no data and no warnings; write and
  // delete: an empty 204). Any other status outside 2xx is an error whose message is
  // response_error()'s line.
  backend::sdk::Result<nlohmann::json> read(std::string_view path, const Query& query = {});
  backend::sdk::Result<nlohmann::json> list(std::string_view path);
  backend::sdk::Result<nlohmann::json> write(std::string_view path, const nlohmann::json& body,
                                             std::string_view method = "PUT");
  backend::sdk::Result<nlohmann::json> remove(std::string_view path, const Query& query = {});

  const std::string& token() const { return token_; }
  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& address() const { return client_->address(); }

 private:
  ApiSession() = default;

  std::unique_ptr<backend::api::Client> client_;
  std::string token_;
};

// "Code: 403. Errors: permission denied" (several errors joined by "; "), as a Status
// whose code follows the HTTP status. Never includes the request's token.
backend::sdk::Status response_error(const ApiReply& reply);

// True when a 404 body carries something worth showing (data or warnings), as Vault's
// client decides whether a 404 read is "no value".
bool has_payload(const nlohmann::json& body);

// $HOME/.leasefs-token, or "" when there is no home directory.
std::string token_helper_path();
// Writes the token helper file (mode 0600, replaced atomically). Errors name the file.
backend::sdk::Result<void> store_token(const std::string& token);

}  // namespace leasefs::cli
