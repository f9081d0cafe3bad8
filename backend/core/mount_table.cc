// Mount entries: views, storage form, path and config validation.
#include "backend/core/mount_table.h"

#include "backend/sdk/duration.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::core {

using nlohmann::json;

namespace {

std::int64_t secs(sdk::Duration d) { return sdk::whole_seconds(d); }

json config_storage(const MountConfig& c) {
  return {{"default_lease_ttl", secs(c.default_lease_ttl)},
          {"max_lease_ttl", secs(c.max_lease_ttl)},
          {"force_no_cache", c.force_no_cache},
          {"listing_visibility", c.listing_visibility},
          {"audit_non_hmac_request_keys", c.audit_non_hmac_request_keys},
          {"audit_non_hmac_response_keys", c.audit_non_hmac_response_keys},
          {"passthrough_request_headers", c.passthrough_request_headers},
          {"allowed_response_headers", c.allowed_response_headers}};
}

}  // namespace

json mount_config_view(const MountConfig& c) {
  json view = {{"default_lease_ttl", secs(c.default_lease_ttl)},
               {"max_lease_ttl", secs(c.max_lease_ttl)},
               {"force_no_cache", c.force_no_cache}};
  if (!c.listing_visibility.empty()) view["listing_visibility"] = c.listing_visibility;
  if (!c.audit_non_hmac_request_keys.empty()) {
    view["audit_non_hmac_request_keys"] = c.audit_non_hmac_request_keys;
  }
  if (!c.audit_non_hmac_response_keys.empty()) {
    view["audit_non_hmac_response_keys"] = c.audit_non_hmac_response_keys;
  }
  if (!c.passthrough_request_headers.empty()) {
    view["passthrough_request_headers"] = c.passthrough_request_headers;
  }
  if (!c.allowed_response_headers.empty()) {
    view["allowed_response_headers"] = c.allowed_response_headers;
  }
  return view;
}

json mount_entry_view(const MountEntry& e) {
  return {{"accessor", e.accessor},
          {"config", mount_config_view(e.config)},
          {"description", e.description},
          {"external_entropy_access", false},
          {"local", e.local},
          {"options", e.options.empty() ? json(nullptr) : json(e.options)},
          {"plugin_version", ""},
          {"running_plugin_version", e.builtin ? "v0.1.0+builtin.leasefs" : "v0.1.0+builtin"},
          {"running_sha256", ""},
          {"seal_wrap", e.seal_wrap},
          {"type", e.type},
          {"uuid", e.uuid}};
}

std::string serialize_table(const std::vector<MountEntry>& entries) {
  json out = {{"version", 1}, {"entries", json::array()}};
  for (const auto& e : entries) {
    out["entries"].push_back({{"path", e.path},
                              {"type", e.type},
                              {"description", e.description},
                              {"uuid", e.uuid},
                              {"accessor", e.accessor},
                              {"config", config_storage(e.config)},
                              {"options", e.options},
                              {"local", e.local},
                              {"seal_wrap", e.seal_wrap},
                              {"builtin", e.builtin}});
  }
  return out.dump();
}

sdk::Result<std::vector<MountEntry>> parse_table(MountTable table, std::string_view text) {
  auto doc = json::parse(text, nullptr, false);
  auto bad = [] { return sdk::error(sdk::Code::kDataLoss, "stored mount table is malformed"); };
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("entries") ||
      !doc["entries"].is_array()) {
    return bad();
  }
  std::vector<MountEntry> out;
  try {
    for (const auto& j : doc["entries"]) {
      MountEntry e;
      e.table = table;
      e.path = j.at("path").get<std::string>();
      e.type = j.at("type").get<std::string>();
      e.description = j.at("description").get<std::string>();
      e.uuid = j.at("uuid").get<std::string>();
      e.accessor = j.at("accessor").get<std::string>();
      const auto& c = j.at("config");
      e.config.default_lease_ttl = std::chrono::seconds(c.at("default_lease_ttl").get<std::int64_t>());
      e.config.max_lease_ttl = std::chrono::seconds(c.at("max_lease_ttl").get<std::int64_t>());
      e.config.force_no_cache = c.at("force_no_cache").get<bool>();
      e.config.listing_visibility = c.value("listing_visibility", "");
      e.config.audit_non_hmac_request_keys =
          c.value("audit_non_hmac_request_keys", std::vector<std::string>{});
      e.config.audit_non_hmac_response_keys =
          c.value("audit_non_hmac_response_keys", std::vector<std::string>{});
      e.config.passthrough_request_headers =
          c.value("passthrough_request_headers", std::vector<std::string>{});
      e.config.allowed_response_headers =
          c.value("allowed_response_headers", std::vector<std::string>{});
      e.options = j.at("options").get<std::map<std::string, std::string>>();
      e.local = j.at("local").get<bool>();
      e.seal_wrap = j.at("seal_wrap").get<bool>();
      e.builtin = j.at("builtin").get<bool>();
      if (e.path.empty() || e.path.back() != '/' || e.uuid.empty()) return bad();
      out.push_back(std::move(e));
    }
  } catch (const json::exception&) {
    return bad();
  }
  return out;
}

sdk::Result<std::string> normalize_mount_path(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return sdk::invalid_argument("missing mount path");
  if (path.size() > 512) return sdk::invalid_argument("mount path is too long");
  std::string out(path);
  out.push_back('/');
  if (auto valid = sdk::validate_key(out, /*is_prefix=*/true); !valid) {
    return sdk::invalid_argument("invalid mount path \"" + std::string(path) + "\"");
  }
  for (char c : out) {
    if (c == '*' || c == '+' || c == '?' || c == '\\') {
      return sdk::invalid_argument("invalid mount path \"" + std::string(path) + "\"");
    }
  }
  return out;
}

sdk::Result<MountConfig> parse_mount_config(const json& config, MountConfig base) {
  if (config.is_null()) return base;
  if (!config.is_object()) return sdk::invalid_argument("config must be a JSON object");
  auto duration = [](const json& v, const char* name) -> sdk::Result<sdk::Duration> {
    if (v.is_string() && (v.get<std::string>() == "system" || v.get<std::string>().empty())) {
      return sdk::Duration(0);
    }
    auto d = sdk::duration_from_json(v);
    if (!d) return sdk::error(d.error().with_context(name));
    return *d;
  };
  auto strings = [](const json& v, const char* name) -> sdk::Result<std::vector<std::string>> {
    std::vector<std::string> out;
    if (v.is_string()) {
      std::string s = v.get<std::string>();
      std::size_t start = 0;
      while (start <= s.size()) {
        auto comma = s.find(',', start);
        std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) out.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      return out;
    }
    if (!v.is_array()) return sdk::invalid_argument(std::string(name) + ": want a list of strings");
    for (const auto& item : v) {
      if (!item.is_string()) {
        return sdk::invalid_argument(std::string(name) + ": want a list of strings");
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  };
  for (const auto& [key, value] : config.items()) {
    if (key == "default_lease_ttl") {
      auto d = duration(value, "default_lease_ttl");
      if (!d) return sdk::error(d.error());
      base.default_lease_ttl = *d;
    } else if (key == "max_lease_ttl") {
      auto d = duration(value, "max_lease_ttl");
      if (!d) return sdk::error(d.error());
      base.max_lease_ttl = *d;
    } else if (key == "force_no_cache") {
      if (!value.is_boolean()) return sdk::invalid_argument("force_no_cache: want true or false");
      base.force_no_cache = value.get<bool>();
    } else if (key == "listing_visibility") {
      if (!value.is_string()) return sdk::invalid_argument("listing_visibility: want a string");
      std::string v = value.get<std::string>();
      if (v != "" && v != "hidden" && v != "unauth") {
        return sdk::invalid_argument("listing_visibility must be \"hidden\" or \"unauth\"");
      }
      base.listing_visibility = v;
    } else if (key == "audit_non_hmac_request_keys" || key == "audit_non_hmac_response_keys" ||
               key == "passthrough_request_headers" || key == "allowed_response_headers") {
      auto list = strings(value, key.c_str());
      if (!list) return sdk::error(list.error());
      if (key == "audit_non_hmac_request_keys") base.audit_non_hmac_request_keys = *list;
      if (key == "audit_non_hmac_response_keys") base.audit_non_hmac_response_keys = *list;
      if (key == "passthrough_request_headers") base.passthrough_request_headers = *list;
      if (key == "allowed_response_headers") base.allowed_response_headers = *list;
    } else if (key == "description" || key == "options" || key == "plugin_name" ||
               key == "token_type" || key == "plugin_version" || key == "user_lockout_config") {
      // Accepted by Vault in the same object; not configuration we keep here.
    } else {
      return sdk::invalid_argument("unknown mount config key \"" + key + "\"");
    }
  }
  if (base.max_lease_ttl.count() > 0 && base.default_lease_ttl > base.max_lease_ttl) {
    return sdk::invalid_argument("the mount's default_lease_ttl cannot exceed its max_lease_ttl");
  }
  return base;
}

}  // namespace leasefs::backend::core
