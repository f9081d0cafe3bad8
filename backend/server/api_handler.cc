// HTTP <-> core translation for the Vault API.
#include "backend/server/api_handler.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>

#include "backend/audit/entry.h"
#include "backend/sdk/encoding.h"
#include "backend/server/status_http.h"

namespace leasefs::backend::server {

using nlohmann::json;
using http::HttpRequest;
using http::HttpResponse;

namespace {

constexpr std::string_view kApiPrefix = "/v1/";

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump(body);
  return r;
}

HttpResponse no_content() {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

// Vault's legacy routes that also copy "data" keys to the top level of the envelope.
bool inject_data_at_top(std::string_view path) {
  static constexpr std::string_view kExact[] = {
      "sys/audit",        "sys/auth",          "sys/config/cors", "sys/capabilities",
      "sys/capabilities-accessor", "sys/capabilities-self", "sys/ha-status",
      "sys/key-status",   "sys/mounts",        "sys/policy",      "sys/remount",
      "sys/rotate",       "sys/wrapping/wrap", "sys/config/auditing/request-headers"};
  static constexpr std::string_view kPrefix[] = {"sys/audit/", "sys/audit-hash/", "sys/auth/",
                                                 "sys/mounts/", "sys/policy/",
                                                 "sys/config/auditing/request-headers/"};
  for (auto p : kExact) {
    if (path == p) return true;
  }
  for (auto p : kPrefix) {
    if (path.starts_with(p)) return true;
  }
  return false;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string client_token(const HttpRequest& req) {
  std::string token = req.header("x-vault-token");
  if (!token.empty()) return token;
  std::string auth = req.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() > kBearer.size() &&
      std::equal(kBearer.begin(), kBearer.end(), auth.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return auth.substr(kBearer.size());
  }
  return {};
}

constexpr int kMaxJsonDepth = 128;

// True when no array or object in `text` nests deeper than `limit`. The JSON parser
// recurses once per level, so a body of 30 million '[' would otherwise exhaust the
// stack; this linear scan (strings skipped) refuses such a body first.
bool json_depth_within(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// Parses the body as a JSON object; an empty body is {}.
sdk::Result<json> parse_body(const std::string& body) {
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return json::object();
  if (!json_depth_within(body, kMaxJsonDepth)) {
    return sdk::invalid_argument("failed to parse JSON input: nested deeper than " +
                                 std::to_string(kMaxJsonDepth) + " levels");
  }
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    // Re-parse only to get the parser's explanation; the input is already bounded.
    std::string why = "syntax error";
    try {
      json unused = json::parse(body);
      (void)unused;
    } catch (const json::parse_error& e) {
      why = e.what();
      if (auto at = why.find("] "); at != std::string::npos) why = why.substr(at + 2);
    }
    return sdk::invalid_argument("failed to parse JSON input: " + why);
  }
  if (!parsed.is_object()) {
    return sdk::invalid_argument("failed to parse JSON input: the body must be a JSON object");
  }
  return parsed;
}

std::string path_class_of(core::Core& core, const std::string& path) {
  if (auto mount = core.route(path)) {
    std::string api = mount->entry.api_path();
    if (!api.empty()) api.pop_back();
    return api;
  }
  return "unrouted";
}

bool truthy(const std::optional<std::string>& v) {
  return v && (*v == "true" || *v == "1" || *v == "True" || *v == "TRUE" || v->empty());
}

}  // namespace

HttpResponse error_response(int status, std::string_view message) {
  json body = {{"errors", json::array()}};
  if (!message.empty()) body["errors"].push_back(std::string(message));
  return json_response(status, body);
}

HttpResponse error_response(const sdk::Status& status) {
  return error_response(http_status(status.code()), status.message());
}

ApiHandler::ApiHandler(core::Core& core, std::string version)
    : core_(core), ids_(core.random()), version_(std::move(version)) {
  auto id = sdk::random_uuid(core_.random());
  cluster_id_ = id ? *id : "";
}

HttpResponse ApiHandler::handle(HttpRequest& request) {
  auto start = std::chrono::steady_clock::now();
  std::string path_class = "unrouted";
  HttpResponse response;
  try {
    response = dispatch(request, path_class);
  } catch (const std::exception&) {
    // Nothing below throws by design; this is the last line against a library surprise.
    response = error_response(500, "internal error");
  }
  core_.metrics().observe(path_class, upper(request.method), response.status,
                          std::chrono::steady_clock::now() - start);
  return response;
}

bool ApiHandler::runs_inline(const HttpRequest& req) const {
  if (req.method != "GET" && req.method != "HEAD") return false;
  if (!req.path.starts_with(kApiPrefix)) return true;  // an immediate 404
  std::string_view path = std::string_view(req.path).substr(kApiPrefix.size());
  if (path == "sys/health" || path == "sys/seal-status" || path == "sys/init") return true;
  auto mount = core_.route(path);
  return mount && mount->entry.type == "kv";
}

HttpResponse ApiHandler::dispatch(HttpRequest& req, std::string& path_class) {
  if (!req.path.starts_with(kApiPrefix)) return error_response(404, "");
  std::string path = req.path.substr(kApiPrefix.size());
  const std::string method = upper(req.method);

  // The raw endpoints: no envelope, no token, usable while sealed.
  if (path == "sys/init" || path == "sys/unseal" || path == "sys/seal-status" ||
      path == "sys/health" || path == "sys/leader") {
    path_class = "sys";
    if (path == "sys/init") {
      if (method == "GET") return json_response(200, {{"initialized", core_.initialized()}});
      if (method == "PUT" || method == "POST") return sys_init(req);
    } else if (path == "sys/unseal") {
      if (method == "PUT" || method == "POST") return sys_unseal(req);
    } else if (path == "sys/seal-status") {
      if (method == "GET") return sys_seal_status();
    } else if (path == "sys/health") {
      if (method == "GET" || method == "HEAD") return sys_health(req);
    } else if (path == "sys/leader") {
      if (method == "GET") return sys_leader();
    }
    return error_response(405, "");
  }

  // Vault features leasefs does not have are refused, never silently skipped: a client
  // asking for a wrapped response must not get the secret in the clear instead.
  if (!req.header("x-vault-wrap-ttl").empty()) {
    return error_response(400, "response wrapping (X-Vault-Wrap-TTL) is not supported by leasefs");
  }
  if (auto ns = req.header("x-vault-namespace"); !ns.empty() && ns != "root" && ns != "root/") {
    return error_response(400, "namespaces (X-Vault-Namespace) are not supported by leasefs");
  }

  core::CoreRequest creq;
  auto id = sdk::random_uuid(ids_);
  if (!id) return error_response(id.error());
  creq.id = std::move(*id);
  creq.method = method;
  creq.path = path;
  creq.client_token = client_token(req);
  for (const auto& [name, value] : req.headers) {
    // A mount's caller identity (fs/), recorded in the request's audit entry.
    if (name.starts_with("x-leasefs-") && creq.audit_headers.size() < 16 && value.size() <= 4096) {
      creq.audit_headers[name].push_back(value);
    }
  }
  creq.remote_address = req.remote_address;

  if (method == "GET" || method == "LIST" || method == "HEAD") {
    bool list = method == "LIST";
    json data = json::object();
    for (const auto& [k, v] : req.query) {
      if (k == "list") {
        list = list || truthy(std::optional<std::string>(v));
        continue;
      }
      if (data.contains(k)) {
        if (!data[k].is_array()) data[k] = json::array({data[k]});
        data[k].push_back(v);
      } else {
        data[k] = v;
      }
    }
    creq.operation = list ? sdk::Operation::kList : sdk::Operation::kRead;
    creq.data = std::move(data);
  } else if (method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE") {
    if ((method == "POST" || method == "PUT") && path == "sys/access-events") {
      // A mount's batch of up to 1000 events goes straight into events: its JSON tree
      // cost more than a third of the request. Any other shape takes parse_body, whose
      // checks and errors stay as they are.
      if (auto events = audit::try_parse_access_events(req.body, core_.clock().now())) {
        auto batch = std::make_shared<core::AccessEventBatch>();
        batch->events = std::move(*events);
        batch->body = std::move(req.body);
        creq.access_events = std::move(batch);
      }
    }
    if (!creq.access_events) {
      auto body = parse_body(req.body);
      if (!body) return error_response(body.error());
      creq.data = std::move(*body);
    }
    if (method == "PATCH") {
      creq.operation = sdk::Operation::kPatch;
    } else if (method == "DELETE") {
      creq.operation = sdk::Operation::kDelete;
      // Query parameters count for deletes too (kv metadata, versions).
      for (const auto& [k, v] : req.query) {
        if (!creq.data.contains(k)) creq.data[k] = v;
      }
    } else {
      creq.operation = sdk::Operation::kUpdate;
      creq.create_or_update = true;
    }
  } else {
    return error_response(405, "");
  }

  path_class = path_class_of(core_, path);
  auto result = core_.handle(creq);
  if (!result) {
    const sdk::Status& s = result.error();
    return error_response(s);
  }
  core::CoreResponse& out = *result;
  if (out.raw) {
    HttpResponse r;
    r.status = out.raw->status;
    r.content_type = out.raw->content_type;
    r.body = std::move(out.raw->body);
    return r;
  }
  const bool empty = out.data.is_null() && out.auth.is_null() && out.warnings.empty() &&
                     out.lease_duration == 0 && out.lease_id.empty();
  if (empty && out.status == 0) return no_content();

  json envelope = {{"request_id", creq.id},
                   {"lease_id", out.lease_id},
                   {"renewable", out.renewable},
                   {"lease_duration", out.lease_duration},
                   {"data", out.data},
                   {"wrap_info", nullptr},
                   {"warnings", out.warnings.empty() ? json(nullptr) : json(out.warnings)},
                   {"auth", out.auth},
                   {"mount_type", out.mount_type}};
  if (out.data.is_object() && inject_data_at_top(path)) {
    for (const auto& [k, v] : out.data.items()) {
      if (!envelope.contains(k)) envelope[k] = v;
    }
  }
  return json_response(out.status == 0 ? 200 : out.status, envelope);
}

json ApiHandler::seal_status_json(const barrier::SealStatus& s) {
  json out = {{"type", "shamir"},
              {"initialized", s.initialized},
              {"sealed", s.sealed},
              {"t", s.threshold},
              {"n", s.shares},
              {"progress", s.progress},
              {"nonce", s.nonce},
              {"version", version_},
              {"build_date", ""},
              {"migration", false},
              {"recovery_seal", false},
              {"storage_type", core_.options().storage_type}};
  if (!s.sealed) {
    out["cluster_name"] = core_.options().cluster_name;
    out["cluster_id"] = cluster_id_;
  }
  return out;
}

HttpResponse ApiHandler::sys_init(HttpRequest& req) {
  auto body = parse_body(req.body);
  if (!body) return error_response(body.error());
  auto get_int = [&](const char* key, int fallback) -> sdk::Result<int> {
    if (!body->contains(key) || (*body)[key].is_null()) return fallback;
    const json& v = (*body)[key];
    if (!v.is_number_integer()) {
      return sdk::invalid_argument(std::string("field \"") + key + "\": want an integer");
    }
    auto n = v.get<std::int64_t>();
    if (n < 0 || n > 1000) return sdk::invalid_argument(std::string(key) + " is out of range");
    return static_cast<int>(n);
  };
  auto shares = get_int("secret_shares", 0);
  if (!shares) return error_response(shares.error());
  auto threshold = get_int("secret_threshold", 0);
  if (!threshold) return error_response(threshold.error());
  for (const char* unsupported : {"pgp_keys", "root_token_pgp_key"}) {
    if (body->contains(unsupported) && !(*body)[unsupported].is_null() &&
        !((*body)[unsupported].is_array() && (*body)[unsupported].empty()) &&
        !((*body)[unsupported].is_string() && (*body)[unsupported].get<std::string>().empty())) {
      return error_response(400, std::string(unsupported) + " is not supported by leasefs");
    }
  }
  if (*shares == 0 || *threshold == 0) {
    return error_response(400, "secret_shares and secret_threshold are required");
  }
  auto init = core_.initialize(*shares, *threshold);
  if (!init) return error_response(init.error());
  json keys = json::array(), keys_b64 = json::array();
  for (const auto& k : init->keys) {
    keys.push_back(sdk::hex_encode(k.span()));
    keys_b64.push_back(sdk::base64_encode(k.span()));
  }
  return json_response(200, {{"keys", keys}, {"keys_base64", keys_b64}, {"root_token", init->root_token}});
}

HttpResponse ApiHandler::sys_unseal(HttpRequest& req) {
  auto body = parse_body(req.body);
  if (!body) return error_response(body.error());
  bool reset = body->contains("reset") && (*body)["reset"].is_boolean() && (*body)["reset"].get<bool>();
  if (reset) {
    auto s = core_.reset_unseal();
    if (!s) return error_response(s.error());
    return json_response(200, seal_status_json(*s));
  }
  if (!body->contains("key") || !(*body)["key"].is_string()) {
    return error_response(400, "'key' must be specified in request body as JSON, or 'reset' set to true");
  }
  auto s = core_.submit_unseal_key((*body)["key"].get<std::string>());
  if (!s) return error_response(s.error());
  return json_response(200, seal_status_json(*s));
}

HttpResponse ApiHandler::sys_seal_status() {
  auto s = core_.seal_status();
  if (!s) return error_response(s.error());
  return json_response(200, seal_status_json(*s));
}

HttpResponse ApiHandler::sys_health(HttpRequest& req) {
  auto s = core_.seal_status();
  auto code_from = [&](const char* name, int fallback) {
    auto v = req.query_value(name);
    if (!v) return fallback;
    try {
      int n = std::stoi(*v);
      return (n >= 100 && n <= 599) ? n : fallback;
    } catch (const std::exception&) {
      return fallback;
    }
  };
  int status = 200;
  bool initialized = s && s->initialized;
  bool sealed = !s || s->sealed;
  if (!initialized) {
    status = code_from("uninitcode", 501);
  } else if (sealed) {
    status = code_from("sealedcode", 503);
  } else {
    status = code_from("activecode", 200);
  }
  json body = {{"initialized", initialized},
               {"sealed", sealed},
               {"standby", false},
               {"performance_standby", false},
               {"replication_performance_mode", "disabled"},
               {"replication_dr_mode", "disabled"},
               {"server_time_utc", sdk::unix_seconds(core_.clock().now())},
               {"version", version_},
               {"cluster_name", core_.options().cluster_name},
               {"cluster_id", cluster_id_}};
  HttpResponse r = json_response(status, body);
  if (upper(req.method) == "HEAD") r.body.clear();
  return r;
}

HttpResponse ApiHandler::sys_leader() {
  if (core_.sealed()) return error_response(503, "Vault is sealed");
  return json_response(200, {{"ha_enabled", false},
                             {"is_self", false},
                             {"active_time", "0001-01-01T00:00:00Z"},
                             {"leader_address", ""},
                             {"leader_cluster_address", ""},
                             {"performance_standby", false},
                             {"performance_standby_last_remote_wal", 0}});
}

}  // namespace leasefs::backend::server
