// The mount's Vault API client; see vault_client.h.
#include "fs/vault_client.h"

#include <fstream>
#include <sstream>

#include "backend/sdk/log.h"

namespace leasefs::fs {

using nlohmann::json;
namespace api = backend::api;

namespace {

constexpr std::string_view kLog = "mount.client";

// "server answered 403: permission denied" from Vault's {"errors":[...]}.
sdk::Status http_error(int status, const std::string& body) {
  std::string text;
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("errors") && parsed["errors"].is_array()) {
    for (const auto& e : parsed["errors"]) {
      if (!e.is_string()) continue;
      if (!text.empty()) text += "; ";
      text += e.get<std::string>().substr(0, 300);
    }
  }
  return {api::code_for_http_status(status),
          "server answered " + std::to_string(status) + (text.empty() ? "" : ": " + text)};
}

sdk::Result<std::string> read_trimmed(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return sdk::invalid_argument(file + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  auto last = s.find_last_not_of(" \t\r\n");
  s.erase(last == std::string::npos ? 0 : last + 1);
  auto first = s.find_first_not_of(" \t\r\n");
  s.erase(0, first == std::string::npos ? s.size() : first);
  if (s.empty()) return sdk::invalid_argument(file + ": is empty");
  return s;
}

std::chrono::seconds seconds_of(const json& v) {
  if (v.is_number_integer())
    return std::chrono::seconds(std::max<std::int64_t>(0, v.get<std::int64_t>()));
  if (v.is_number()) return std::chrono::seconds(static_cast<std::int64_t>(v.get<double>()));
  return std::chrono::seconds(0);
}

}  // namespace

sdk::Result<std::unique_ptr<VaultClient>> VaultClient::create(const ServerSpec& spec) {
  api::ClientOptions options;
  options.address = spec.address;
  options.ca_file = spec.ca_file;
  options.timeout = spec.timeout;
  options.max_retries = 1;
  options.max_idle_connections = 8;
  auto client = api::Client::create(std::move(options));
  if (!client) return sdk::error(client.error().with_context("server"));
  std::unique_ptr<VaultClient> c(new VaultClient());
  c->spec_ = spec;
  c->timeout_ = spec.timeout;
  c->client_ = std::move(*client);
  return c;
}

VaultClient::~VaultClient() {
  stop();
  sdk::wipe(token_.data(), token_.size());
}

std::string VaultClient::token() const {
  std::lock_guard lock(mu_);
  return token_;
}

sdk::Result<api::ApiResponse> VaultClient::call(std::string_view method, const std::string& path,
                                                const json& body, const Headers& headers) {
  std::string payload;
  if (!body.is_null()) payload = body.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string tok = token();
  auto r = client_->request(method, "/v1/" + path, payload, tok, headers);
  sdk::wipe(tok.data(), tok.size());
  sdk::wipe(payload.data(), payload.size());
  if (!r) {
    reachable_ = false;
    std::lock_guard lock(error_mu_);
    last_error_ = r.error().message();
    return sdk::error(r.error());
  }
  reachable_ = true;
  if (r->status == 403) {
    std::lock_guard lock(mu_);
    reauth_needed_ = true;
    cv_.notify_all();
  }
  return r;
}

sdk::Result<json> VaultClient::call_json(std::string_view method, const std::string& path,
                                         const json& body, const Headers& headers) {
  auto r = call(method, path, body, headers);
  if (!r) return sdk::error(r.error());
  if (r->status < 200 || r->status >= 300) {
    auto status = http_error(r->status, r->body);
    sdk::wipe(r->body.data(), r->body.size());
    return sdk::error(status.with_context(path));
  }
  json parsed = json::object();
  if (r->body.find_first_not_of(" \t\r\n") != std::string::npos) {
    parsed = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  }
  sdk::wipe(r->body.data(), r->body.size());
  if (parsed.is_discarded()) return sdk::internal_error(path + ": the server's answer is not JSON");
  return parsed;
}

sdk::Result<void> VaultClient::authenticate() {
  if (!spec_.token_file.empty()) {
    auto tok = read_trimmed(spec_.token_file);
    if (!tok) return sdk::error(tok.error().with_context("token_file"));
    {
      std::lock_guard lock(mu_);
      sdk::wipe(token_.data(), token_.size());
      token_ = std::move(*tok);
    }
    auto info = call_json("GET", "auth/token/lookup-self", nullptr);
    if (!info) return sdk::error(info.error());
    const json& d = (*info)["data"];
    auto ttl = d.is_object() ? seconds_of(d.value("ttl", json(0))) : std::chrono::seconds(0);
    std::lock_guard lock(mu_);
    token_known_ = true;
    token_renewable_ = d.is_object() && d.value("renewable", false);
    token_expires_ = ttl.count() > 0 ? std::chrono::steady_clock::now() + ttl
                                     : std::chrono::steady_clock::time_point{};
    reauth_needed_ = false;
    return {};
  }
  auto role_id = read_trimmed(spec_.approle->role_id_file);
  if (!role_id) return sdk::error(role_id.error().with_context("approle"));
  auto secret_id = read_trimmed(spec_.approle->secret_id_file);
  if (!secret_id) return sdk::error(secret_id.error().with_context("approle"));
  json body = {{"role_id", *role_id}, {"secret_id", *secret_id}};
  sdk::wipe(secret_id->data(), secret_id->size());
  auto r =
      client_->request("POST", "/v1/auth/" + spec_.approle_mount + "/login", body.dump(), "", {});
  body["secret_id"] = "";
  if (!r) {
    reachable_ = false;
    return sdk::error(r.error());
  }
  reachable_ = true;
  if (r->status != 200)
    return sdk::error(http_error(r->status, r->body).with_context("approle login"));
  json parsed = json::parse(r->body, nullptr, false);
  sdk::wipe(r->body.data(), r->body.size());
  if (!parsed.is_object() || !parsed["auth"].is_object() ||
      !parsed["auth"]["client_token"].is_string()) {
    return sdk::internal_error("approle login: the answer has no auth.client_token");
  }
  auto ttl = seconds_of(parsed["auth"].value("lease_duration", json(0)));
  std::lock_guard lock(mu_);
  sdk::wipe(token_.data(), token_.size());
  token_ = parsed["auth"]["client_token"].get<std::string>();
  auto& stored = parsed["auth"]["client_token"].get_ref<std::string&>();
  sdk::wipe(stored.data(), stored.size());
  token_known_ = true;
  token_renewable_ = parsed["auth"].value("renewable", false);
  token_expires_ = ttl.count() > 0 ? std::chrono::steady_clock::now() + ttl
                                   : std::chrono::steady_clock::time_point{};
  reauth_needed_ = false;
  return {};
}

sdk::Result<void> VaultClient::start() {
  // Files must be readable now; the server may be down, which the loop retries.
  if (!spec_.token_file.empty()) {
    auto tok = read_trimmed(spec_.token_file);
    if (!tok) return sdk::error(tok.error().with_context("token_file"));
    std::lock_guard lock(mu_);
    token_ = std::move(*tok);
  } else {
    LEASEFS_TRY(read_trimmed(spec_.approle->role_id_file));
    auto s = read_trimmed(spec_.approle->secret_id_file);
    if (!s) return sdk::error(s.error());
    sdk::wipe(s->data(), s->size());
  }
  token_thread_ = std::thread([this] { token_loop(); });
  return {};
}

void VaultClient::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (token_thread_.joinable()) token_thread_.join();
}

void VaultClient::token_loop() {
  using namespace std::chrono;
  auto retry = seconds(1);
  bool need_auth = true;
  while (true) {
    if (need_auth) {
      auto r = authenticate();
      if (!r) {
        backend::sdk::log_warn(kLog, "authentication failed: " + r.error().message());
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, retry, [this] { return stopping_; });
        if (stopping_) return;
        retry = std::min<seconds>(retry * 2, seconds(30));
        continue;
      }
      retry = seconds(1);
      need_auth = false;
    }
    std::unique_lock lock(mu_);
    auto now = steady_clock::now();
    steady_clock::time_point wake = now + hours(1);
    if (token_expires_ != steady_clock::time_point{} && token_renewable_) {
      // Renew at about 2/3 of what is left.
      wake = now + (token_expires_ - now) * 2 / 3;
    }
    cv_.wait_until(lock, wake, [this] { return stopping_ || reauth_needed_; });
    if (stopping_) return;
    if (reauth_needed_) {
      // A 403 may be a policy's answer, not a dead token: only a token that fails
      // lookup-self is replaced, and at most one check a second.
      reauth_needed_ = false;
      lock.unlock();
      auto self = call_json("GET", "auth/token/lookup-self", nullptr);
      if (!self && self.error().code() == sdk::Code::kPermissionDenied) need_auth = true;
      std::unique_lock pause(mu_);
      cv_.wait_for(pause, seconds(1), [this] { return stopping_; });
      if (stopping_) return;
      reauth_needed_ = false;
      continue;
    }
    if (steady_clock::now() < wake || !token_renewable_) continue;
    lock.unlock();
    auto renewed = call_json("PUT", "auth/token/renew-self", json::object());
    if (!renewed) {
      backend::sdk::log_warn(kLog, "token renewal failed: " + renewed.error().message());
      if (renewed.error().code() == sdk::Code::kPermissionDenied ||
          renewed.error().code() == sdk::Code::kInvalidArgument) {
        need_auth = true;
      } else {
        std::unique_lock wait(mu_);
        cv_.wait_for(wait, seconds(2), [this] { return stopping_; });
        if (stopping_) return;
      }
      continue;
    }
    auto ttl = seconds_of((*renewed)["auth"].value("lease_duration", json(0)));
    if (auto& t = (*renewed)["auth"]["client_token"]; t.is_string()) {
      auto& s = t.get_ref<std::string&>();
      sdk::wipe(s.data(), s.size());
    }
    std::lock_guard relock(mu_);
    token_renewable_ = (*renewed)["auth"].value("renewable", false);
    token_expires_ = ttl.count() > 0 ? steady_clock::now() + ttl : steady_clock::time_point{};
  }
}

sdk::Result<Fetched> VaultClient::fetch(const std::string& method, const std::string& path,
                                        const json& args, const Headers& headers) {
  auto envelope = call_json(method, path, method == "GET" ? json(nullptr) : args, headers);
  if (!envelope) return sdk::error(envelope.error());
  Fetched f;
  f.envelope = std::move(*envelope);
  const json& e = f.envelope;
  if (auto it = e.find("lease_id"); it != e.end() && it->is_string()) f.lease_id = *it;
  if (auto it = e.find("lease_duration"); it != e.end()) f.ttl = seconds_of(*it);
  if (auto it = e.find("renewable"); it != e.end() && it->is_boolean()) f.renewable = *it;
  if (auto auth = e.find("auth"); auth != e.end() && auth->is_object()) {
    if (auto t = auth->find("client_token"); t != auth->end() && t->is_string()) {
      f.auth_token = sdk::SecureBuffer::copy_of(std::string_view(t->get_ref<const std::string&>()));
    }
    f.accessor = auth->value("accessor", "");
    f.ttl = seconds_of(auth->value("lease_duration", json(0)));
    f.renewable = auth->value("renewable", false);
  }
  return f;
}

sdk::Result<Renewed> VaultClient::renew_lease(const std::string& lease_id,
                                              std::chrono::seconds increment) {
  auto r = call_json("PUT", "sys/leases/renew",
                     {{"lease_id", lease_id}, {"increment", increment.count()}});
  if (!r) return sdk::error(r.error());
  return Renewed{.ttl = seconds_of(r->value("lease_duration", json(0))),
                 .renewable = r->value("renewable", false)};
}

sdk::Result<void> VaultClient::revoke_lease(const std::string& lease_id) {
  auto r = call_json("PUT", "sys/leases/revoke", {{"lease_id", lease_id}});
  if (!r) return sdk::error(r.error());
  return {};
}

sdk::Result<Renewed> VaultClient::renew_token(const sdk::SecureBuffer& token,
                                              std::chrono::seconds increment) {
  json body = {{"token", std::string(token.view())}, {"increment", increment.count()}};
  auto r = call_json("PUT", "auth/token/renew", body);
  auto& s = body["token"].get_ref<std::string&>();
  sdk::wipe(s.data(), s.size());
  if (!r) return sdk::error(r.error());
  const json& auth = (*r)["auth"];
  if (!auth.is_object()) return sdk::internal_error("auth/token/renew: no auth in the answer");
  if (auto t = (*r)["auth"].find("client_token"); t != (*r)["auth"].end() && t->is_string()) {
    auto& ts = t->get_ref<std::string&>();
    sdk::wipe(ts.data(), ts.size());
  }
  return Renewed{.ttl = seconds_of(auth.value("lease_duration", json(0))),
                 .renewable = auth.value("renewable", false)};
}

sdk::Result<void> VaultClient::revoke_token(const sdk::SecureBuffer& token) {
  json body = {{"token", std::string(token.view())}};
  auto r = call_json("PUT", "auth/token/revoke", body);
  auto& s = body["token"].get_ref<std::string&>();
  sdk::wipe(s.data(), s.size());
  if (!r) return sdk::error(r.error());
  return {};
}

sdk::Result<bool> VaultClient::lease_alive(const std::string& lease_id,
                                           const std::string& accessor) {
  auto r = lease_id.empty() ? call("PUT", "auth/token/lookup-accessor", {{"accessor", accessor}})
                            : call("PUT", "sys/leases/lookup", {{"lease_id", lease_id}});
  if (!r) return sdk::error(r.error());
  sdk::wipe(r->body.data(), r->body.size());
  if (r->status == 200) return true;
  if (r->status == 400 || r->status == 404) return false;
  return sdk::error(api::code_for_http_status(r->status),
                    "lease lookup answered " + std::to_string(r->status));
}

sdk::Result<int> VaultClient::post_access_events(std::string_view body) {
  // Access events carry no secrets: sent as they are, without the wiping call() does.
  std::string tok = token();
  auto r = client_->request("POST", "/v1/sys/access-events", body, tok, {});
  sdk::wipe(tok.data(), tok.size());
  if (!r) {
    reachable_ = false;
    std::lock_guard lock(error_mu_);
    last_error_ = r.error().message();
    return sdk::error(r.error());
  }
  reachable_ = true;
  return r->status;
}

ClientHealth VaultClient::health() const {
  ClientHealth h;
  h.reachable = reachable_.load();
  {
    std::lock_guard lock(error_mu_);
    h.last_error = last_error_;
  }
  std::lock_guard lock(mu_);
  h.token_renewable = token_renewable_;
  if (!token_known_) {
    h.token_ttl = -1;
  } else if (token_expires_ == std::chrono::steady_clock::time_point{}) {
    h.token_ttl = 0;
  } else {
    h.token_ttl = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(
                                                token_expires_ - std::chrono::steady_clock::now())
                                                .count());
  }
  return h;
}

}  // namespace leasefs::fs
