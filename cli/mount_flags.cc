// Mount configuration flags, request bodies, mount tables, and the enable, disable,
// list and tune commands of both mount tables.
#include "cli/mount_flags.h"

#include "cli/kv_args.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;
using nlohmann::json;

void add_mount_config_flags(CLI::App& cmd, MountFlags& f, bool enable) {
  f.description_flag =
      cmd.add_option("--description", f.description, "A human-friendly description");
  cmd.add_option("--default-lease-ttl", f.default_lease_ttl,
                 "Default TTL of leases and tokens issued here (e.g. 1h; \"system\" = the "
                 "server's)");
  cmd.add_option("--max-lease-ttl", f.max_lease_ttl, "Maximum TTL here (e.g. 24h)");
  cmd.add_option("--listing-visibility", f.listing_visibility,
                 "\"unauth\" to list the mount for anyone, \"hidden\" otherwise");
  cmd.add_option("--audit-non-hmac-request-keys", f.audit_non_hmac_request_keys,
                 "A request key the audit log keeps in clear; may be repeated")
      ->allow_extra_args(false);
  cmd.add_option("--audit-non-hmac-response-keys", f.audit_non_hmac_response_keys,
                 "A response key the audit log keeps in clear; may be repeated")
      ->allow_extra_args(false);
  cmd.add_option("--passthrough-request-headers", f.passthrough_request_headers,
                 "A request header passed to the engine; may be repeated")
      ->allow_extra_args(false);
  cmd.add_option("--allowed-response-headers", f.allowed_response_headers,
                 "A response header the engine may set; may be repeated")
      ->allow_extra_args(false);
  cmd.add_option("--options", f.options, "key=value engine option; may be repeated")
      ->allow_extra_args(false);
  if (enable) {
    cmd.add_flag("--force-no-cache", f.force_no_cache, "Disable caching for this mount");
    cmd.add_flag("--local", f.local, "Do not replicate this mount");
    cmd.add_flag("--seal-wrap", f.seal_wrap, "Seal-wrap this mount's data");
  }
}

sdk::Result<json> mount_options(const MountFlags& f) {
  auto options = parse_kv_flags(f.options, "options");
  if (!options) return sdk::error(options.error());
  json out = json::object();
  for (const auto& [k, v] : *options) out[k] = v;
  if (f.version > 0) out["version"] = std::to_string(f.version);
  return out;
}

sdk::Result<json> mount_config_body(const MountFlags& f) {
  json config = json::object();
  if (!f.default_lease_ttl.empty()) config["default_lease_ttl"] = f.default_lease_ttl;
  if (!f.max_lease_ttl.empty()) config["max_lease_ttl"] = f.max_lease_ttl;
  if (f.force_no_cache) config["force_no_cache"] = true;
  if (!f.listing_visibility.empty()) config["listing_visibility"] = f.listing_visibility;
  if (!f.audit_non_hmac_request_keys.empty()) {
    config["audit_non_hmac_request_keys"] = f.audit_non_hmac_request_keys;
  }
  if (!f.audit_non_hmac_response_keys.empty()) {
    config["audit_non_hmac_response_keys"] = f.audit_non_hmac_response_keys;
  }
  if (!f.passthrough_request_headers.empty()) {
    config["passthrough_request_headers"] = f.passthrough_request_headers;
  }
  if (!f.allowed_response_headers.empty()) {
    config["allowed_response_headers"] = f.allowed_response_headers;
  }
  return config;
}

void print_mounts(const json& mounts, bool auth, bool detailed) {
  if (!mounts.is_object()) return;
  std::vector<std::vector<std::string>> rows;
  if (detailed) {
    rows.push_back({"Path", "Plugin", "Accessor", "Default TTL", "Max TTL",
                    auth ? "Token Type" : "Force No Cache", "Replication", "Seal Wrap",
                    "External Entropy Access", "Options", "Description", "UUID",
                    "Running Version"});
  } else if (auth) {
    rows.push_back({"Path", "Type", "Accessor", "Description", "Version"});
  } else {
    rows.push_back({"Path", "Type", "Accessor", "Description"});
  }
  auto text = [](const json& m, const char* key) { return json_string(m, key); };
  for (const auto& [path, m] : mounts.items()) {
    if (!m.is_object()) continue;
    if (!detailed) {
      std::vector<std::string> row = {path, text(m, "type"), text(m, "accessor"),
                                      text(m, "description")};
      if (auth) row.push_back(text(m, "plugin_version"));
      rows.push_back(std::move(row));
      continue;
    }
    const json config = json_member(m, "config");
    auto ttl = [&config](const char* key) {
      std::int64_t v = json_int(config, key);
      return v == 0 ? std::string("system") : std::to_string(v);
    };
    std::string middle = json_string(config, "token_type");
    if (auth && middle.empty()) middle = "default-service";
    if (!auth) middle = json_bool(config, "force_no_cache") ? "true" : "false";
    const json options = json_member(m, "options");
    rows.push_back({path, text(m, "type"), text(m, "accessor"), ttl("default_lease_ttl"),
                    ttl("max_lease_ttl"), middle, json_bool(m, "local") ? "local" : "replicated",
                    json_bool(m, "seal_wrap") ? "true" : "false",
                    json_bool(m, "external_entropy_access") ? "true" : "false",
                    options.is_null() ? "" : format_value(options), text(m, "description"),
                    text(m, "uuid"), text(m, "running_plugin_version")});
  }
  print_columns(rows);
}

namespace {

std::string noun(bool auth) {
  return auth ? "auth method" : "secrets engine";
}
std::string table(bool auth) {
  return auth ? "sys/auth/" : "sys/mounts/";
}

}  // namespace

int run_mount_enable(const MountFlags& f, bool auth) {
  auto config = mount_config_body(f);
  if (!config) return usage_error(config.error().message());
  auto options = mount_options(f);
  if (!options) return usage_error(options.error().message());
  std::string path = sanitize_path(f.path.empty() ? f.type : f.path);
  json body = {{"type", f.type},
               {"description", f.description},
               {"config", *config},
               {"local", f.local},
               {"seal_wrap", f.seal_wrap}};
  if (!options->empty()) body["options"] = *options;
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto done = (*session)->write(table(auth) + path, body, "POST");
  if (!done)
    return fail(auth ? "Error enabling " + f.type + " auth" : "Error enabling", done.error());
  if (f.common.format == Format::kTable) {
    if (auth) {
      std::printf("Success! Enabled %s auth method at: %s/\n", f.type.c_str(), path.c_str());
    } else {
      std::printf("Success! Enabled the %s secrets engine at: %s/\n", f.type.c_str(), path.c_str());
    }
  }
  return kExitOk;
}

int run_mount_disable(const MountFlags& f, bool auth) {
  std::string path = sanitize_path(f.path);
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto done = (*session)->remove(table(auth) + path);
  if (!done) return fail("Error disabling " + noun(auth) + " at " + path + "/", done.error());
  if (f.common.format == Format::kTable) {
    std::printf("Success! Disabled the %s (if it existed) at: %s/\n", noun(auth).c_str(),
                path.c_str());
  }
  return kExitOk;
}

int run_mount_list(const MountFlags& f, bool auth) {
  const std::string what =
      auth ? "Error listing enabled authentications" : "Error listing secrets engines";
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->read(auth ? "sys/auth" : "sys/mounts");
  if (!secret) return fail(what, secret.error());
  json mounts = json_member(*secret, "data");
  if (!mounts.is_object()) return fail(what + ": the server sent none");
  if (f.common.format == Format::kJson) {
    print_json(mounts);
    return kExitOk;
  }
  print_mounts(mounts, auth, f.detailed);
  return kExitOk;
}

int run_mount_tune(const MountFlags& f, bool auth) {
  auto body = mount_config_body(f);
  if (!body) return usage_error(body.error().message());
  auto options = mount_options(f);
  if (!options) return usage_error(options.error().message());
  if (!options->empty()) (*body)["options"] = *options;
  if (f.description_flag != nullptr && f.description_flag->count() > 0) {
    (*body)["description"] = f.description;
  }
  std::string path = sanitize_path(f.path);
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto done = (*session)->write(table(auth) + path + "/tune", *body, "POST");
  if (!done) return fail("Error tuning " + noun(auth) + " " + path, done.error());
  if (f.common.format == Format::kTable) {
    std::printf("Success! Tuned the %s at: %s/\n", noun(auth).c_str(), path.c_str());
  }
  return kExitOk;
}

}  // namespace leasefs::cli
