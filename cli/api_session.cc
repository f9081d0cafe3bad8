// Building the client from flags and environment, and Vault's rules for reading replies.
#include "cli/api_session.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/sdk/duration.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;
using nlohmann::json;

namespace {

// The first of the variables that is set and not empty, or "".
std::string env_first(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return {};
}

// The name of the first of the variables that is set and not empty, or "".
std::string env_first_name(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return name;
  }
  return {};
}

// Go's strconv.ParseBool, which Vault uses for VAULT_SKIP_VERIFY.
sdk::Result<bool> parse_bool(const std::string& text, const std::string& name) {
  for (const char* yes : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (text == yes) return true;
  }
  for (const char* no : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (text == no) return false;
  }
  return sdk::invalid_argument(name + ": want true or false, not \"" + text + "\"");
}

std::string trim(std::string s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string read_token_helper() {
  std::string path = token_helper_path();
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return trim(ss.str());
}

bool unreserved(unsigned char c, bool keep_slash) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~' ||
         (keep_slash && c == '/');
}

std::string percent_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (unreserved(c, keep_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

bool success(int status) {
  return status >= 200 && status < 300;
}

}  // namespace

void add_connection_flags(CLI::App& cmd, ConnectionFlags& flags) {
  cmd.add_option("--address", flags.address,
                 "Server address (default: $LEASEFS_ADDR, $VAULT_ADDR, " +
                     std::string(kDefaultAddress) + ")")
      ->group("HTTP Options");
  cmd.add_option("--ca-cert", flags.ca_cert,
                 "PEM file of CA certificates to verify the server with (default: "
                 "$LEASEFS_CACERT, $VAULT_CACERT)")
      ->group("HTTP Options");
  cmd.add_flag("--tls-skip-verify", flags.tls_skip_verify,
               "Do not verify the server's certificate (default: $LEASEFS_SKIP_VERIFY, "
               "$VAULT_SKIP_VERIFY); for tests only")
      ->group("HTTP Options");
  cmd.add_option("--client-timeout", flags.client_timeout,
                 "Bound on each request, e.g. 10s (default: $LEASEFS_CLIENT_TIMEOUT, "
                 "$VAULT_CLIENT_TIMEOUT, 60s)")
      ->group("HTTP Options");
}

sdk::Result<std::unique_ptr<ApiSession>> ApiSession::open(const ConnectionFlags& flags) {
  backend::api::ClientOptions options;
  options.address = flags.address;
  if (options.address.empty()) options.address = env_first({"LEASEFS_ADDR", "VAULT_ADDR"});
  if (options.address.empty()) options.address = std::string(kDefaultAddress);

  options.ca_file = flags.ca_cert;
  if (options.ca_file.empty()) options.ca_file = env_first({"LEASEFS_CACERT", "VAULT_CACERT"});

  options.tls_skip_verify = flags.tls_skip_verify;
  if (!options.tls_skip_verify) {
    std::string name = env_first_name({"LEASEFS_SKIP_VERIFY", "VAULT_SKIP_VERIFY"});
    if (!name.empty()) {
      auto skip = parse_bool(std::getenv(name.c_str()), name);
      if (!skip) return sdk::error(skip.error());
      options.tls_skip_verify = *skip;
    }
  }

  std::string timeout_text = flags.client_timeout;
  std::string timeout_source = "-client-timeout";
  if (timeout_text.empty()) {
    timeout_source = env_first_name({"LEASEFS_CLIENT_TIMEOUT", "VAULT_CLIENT_TIMEOUT"});
    if (!timeout_source.empty()) timeout_text = std::getenv(timeout_source.c_str());
  }
  options.timeout = kDefaultClientTimeout;
  if (!timeout_text.empty()) {
    auto timeout = sdk::parse_duration(timeout_text);
    if (!timeout) return sdk::error(timeout.error().with_context(timeout_source));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*timeout);
    if (ms.count() <= 0) return sdk::invalid_argument(timeout_source + ": must be positive");
    options.timeout = ms;
  }
  // Idle connections are not reused across commands; one is plenty.
  options.max_idle_connections = 1;

  auto client = backend::api::Client::create(std::move(options));
  if (!client) return sdk::error(client.error());
  std::unique_ptr<ApiSession> session(new ApiSession());
  session->client_ = std::move(*client);
  session->token_ = env_first({"LEASEFS_TOKEN", "VAULT_TOKEN"});
  if (session->token_.empty()) session->token_ = read_token_helper();
  return session;
}

sdk::Result<ApiReply> ApiSession::send(std::string_view method, std::string_view path,
                                       const json& body, const Query& query, bool with_token) {
  std::string target = "/v1/" + percent_encode(path, /*keep_slash=*/true);
  char separator = '?';
  for (const auto& [key, value] : query) {
    target += separator;
    target += percent_encode(key, false) + "=" + percent_encode(value, false);
    separator = '&';
  }
  std::string payload;
  if (!body.is_null()) payload = body.dump(-1, ' ', false, json::error_handler_t::replace);
  auto response = client_->request(method, target, payload, with_token ? token_ : "");
  if (!response) return sdk::error(response.error());
  ApiReply reply{.status = response->status, .body = nullptr};
  if (response->body.find_first_not_of(" \t\r\n") == std::string::npos) return reply;
  reply.body = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (reply.body.is_discarded()) {
    if (!success(reply.status)) {
      // A proxy's HTML error page, say: keep the first line as the error text.
      std::string first = response->body.substr(0, response->body.find('\n'));
      if (first.size() > 200) first.resize(200);
      reply.body = {{"errors", json::array({trim(first)})}};
      return reply;
    }
    return sdk::error(sdk::Code::kInternal,
                      "the response from " + client_->address() + " is not JSON");
  }
  return reply;
}

sdk::Result<json> ApiSession::read(std::string_view path, const Query& query) {
  auto reply = send("GET", path, nullptr, query);
  if (!reply) return sdk::error(reply.error());
  if (reply->status == 404 && !has_payload(reply->body)) return json(nullptr);
  if (reply->status == 404) return std::move(reply->body);
  if (!success(reply->status)) return sdk::error(response_error(*reply));
  return std::move(reply->body);
}

sdk::Result<json> ApiSession::list(std::string_view path) {
  auto reply = send("GET", path, nullptr, {{"list", "true"}});
  if (!reply) return sdk::error(reply.error());
  if (reply->status == 404 && !has_payload(reply->body)) return json(nullptr);
  if (reply->status == 404) return std::move(reply->body);
  if (!success(reply->status)) return sdk::error(response_error(*reply));
  return std::move(reply->body);
}

sdk::Result<json> ApiSession::write(std::string_view path, const json& body,
                                    std::string_view method) {
  auto reply = send(method, path, body.is_null() ? json::object() : body);
  if (!reply) return sdk::error(reply.error());
  if (!success(reply->status)) return sdk::error(response_error(*reply));
  return std::move(reply->body);
}

sdk::Result<json> ApiSession::remove(std::string_view path, const Query& query) {
  auto reply = send("DELETE", path, nullptr, query);
  if (!reply) return sdk::error(reply.error());
  if (!success(reply->status)) return sdk::error(response_error(*reply));
  return std::move(reply->body);
}

bool has_payload(const json& body) {
  if (!body.is_object()) return false;
  auto data = body.find("data");
  if (data != body.end() && !data->is_null() && !(data->is_object() && data->empty())) {
    return true;
  }
  auto warnings = body.find("warnings");
  return warnings != body.end() && warnings->is_array() && !warnings->empty();
}

sdk::Status response_error(const ApiReply& reply) {
  std::string errors;
  if (reply.body.is_object()) {
    auto it = reply.body.find("errors");
    if (it != reply.body.end() && it->is_array()) {
      for (const auto& e : *it) {
        std::string text = e.is_string() ? e.get<std::string>()
                                         : e.dump(-1, ' ', false, json::error_handler_t::replace);
        // One line, whatever the server sent.
        for (char& c : text) {
          if (c == '\n' || c == '\r') c = ' ';
        }
        if (!errors.empty()) errors += "; ";
        errors += text;
      }
    }
  }
  std::string message = "Code: " + std::to_string(reply.status) + ".";
  message += errors.empty() ? " No error message." : " Errors: " + errors;
  return {backend::api::code_for_http_status(reply.status), message};
}

std::string token_helper_path() {
  const char* home = std::getenv("HOME");
  std::string dir = home != nullptr ? home : "";
  if (dir.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
      dir = pw->pw_dir;
    }
  }
  if (dir.empty()) return {};
  return dir + "/" + std::string(kTokenHelperFile);
}

sdk::Result<void> store_token(const std::string& token) {
  std::string path = token_helper_path();
  if (path.empty()) return sdk::invalid_argument("no home directory to store the token in");
  std::string temp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return sdk::error(sdk::Code::kUnavailable,
                      "cannot write " + temp + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < token.size()) {
    ssize_t n = ::write(fd, token.data() + done, token.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  bool ok = done == token.size() && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp.c_str());
    return sdk::error(sdk::Code::kUnavailable,
                      "cannot write " + path + ": " + std::strerror(saved));
  }
  return {};
}

}  // namespace leasefs::cli
