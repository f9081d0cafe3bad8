// Server configuration parsing and validation.
#include "backend/server/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend/sdk/duration.h"

namespace leasefs::backend::server {

using nlohmann::json;

namespace {

sdk::Result<std::string> string_at(const json& j, const std::string& where) {
  if (!j.is_string()) return sdk::invalid_argument(where + ": want a string");
  return j.get<std::string>();
}

}  // namespace

sdk::Result<ServerConfig> parse_server_config(std::string_view text) {
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return sdk::invalid_argument("configuration is not valid JSON");
  if (!doc.is_object()) return sdk::invalid_argument("configuration must be a JSON object");
  ServerConfig c;
  for (const auto& [key, value] : doc.items()) {
    if (key == "listener") {
      if (!value.is_object()) return sdk::invalid_argument("listener: want an object");
      for (const auto& [k, v] : value.items()) {
        std::string where = "listener." + k;
        auto s = string_at(v, where);
        if (!s) return sdk::error(s.error());
        if (k == "address") {
          c.listen_address = *s;
        } else if (k == "tls_cert_file") {
          c.tls_cert_file = *s;
        } else if (k == "tls_key_file") {
          c.tls_key_file = *s;
        } else if (k == "tls_min_version") {
          std::string version = *s;
          if (version.starts_with("tls")) version = version.substr(3, 1) + "." + version.substr(4);
          if (version != "1.2" && version != "1.3") {
            return sdk::invalid_argument(where + ": want \"1.2\" or \"1.3\"");
          }
          c.tls_min_version = version;
        } else {
          return sdk::invalid_argument(where + ": unknown key");
        }
      }
    } else if (key == "storage") {
      if (!value.is_object()) return sdk::invalid_argument("storage: want an object");
      for (const auto& [k, v] : value.items()) {
        std::string where = "storage." + k;
        auto s = string_at(v, where);
        if (!s) return sdk::error(s.error());
        if (k == "type") {
          if (*s != "sqlite" && *s != "inmem") {
            return sdk::invalid_argument(where + ": want \"sqlite\" or \"inmem\"");
          }
          c.storage_type = *s;
        } else if (k == "path") {
          c.storage_path = *s;
        } else {
          return sdk::invalid_argument(where + ": unknown key");
        }
      }
    } else if (key == "default_lease_ttl" || key == "max_lease_ttl") {
      auto d = sdk::duration_from_json(value);
      if (!d) return sdk::error(d.error().with_context(key));
      if (d->count() <= 0) return sdk::invalid_argument(key + ": must be positive");
      (key == "default_lease_ttl" ? c.default_lease_ttl : c.max_lease_ttl) = *d;
    } else if (key == "log_level") {
      auto s = string_at(value, key);
      if (!s) return sdk::error(s.error());
      if (!sdk::parse_log_level(*s, c.log_level)) {
        return sdk::invalid_argument("log_level: want trace, debug, info, warn, error or off");
      }
    } else if (key == "cluster_name") {
      auto s = string_at(value, key);
      if (!s) return sdk::error(s.error());
      c.cluster_name = *s;
    } else if (key == "allow_core_dumps") {
      if (!value.is_boolean()) return sdk::invalid_argument(key + ": want true or false");
      c.allow_core_dumps = value.get<bool>();
    } else {
      return sdk::invalid_argument(key + ": unknown key");
    }
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return sdk::invalid_argument("listener: tls_cert_file and tls_key_file go together");
  }
  if (c.storage_type == "sqlite" && c.storage_path.empty()) {
    return sdk::invalid_argument("storage.path: required for sqlite storage");
  }
  if (c.default_lease_ttl > c.max_lease_ttl) {
    return sdk::invalid_argument("default_lease_ttl cannot exceed max_lease_ttl");
  }
  return c;
}

sdk::Result<ServerConfig> load_server_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return sdk::error(sdk::Code::kNotFound, "cannot read configuration file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > (1 << 20)) {
    return sdk::invalid_argument("configuration file " + path + " is larger than 1 MiB");
  }
  auto c = parse_server_config(text);
  if (!c) return sdk::error(c.error().with_context(path));
  return c;
}

}  // namespace leasefs::backend::server
