// `leasefs kv ...`: key/value secrets as Vault's `vault kv` handles them. The command
// asks the server which mount a path is under and whether it is KV version 1 or 2
// (GET sys/internal/ui/mounts/<path>, as Vault's kv_helpers does), then inserts data/,
// metadata/, delete/, undelete/ or destroy/ after the mount for version 2, so
// `kv get secret/app` and `kv get -mount=secret app` both read secret/data/app.
#include <algorithm>
#include <cctype>
#include <iostream>

#include "cli/cli.h"
#include "cli/kv_args.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;
using nlohmann::json;

namespace {

struct KvFlags {
  CommonFlags common{};
  std::string mount{};
  std::string path{};
  std::vector<std::string> data{};
  std::vector<std::string> versions{};
  int version = 0;
  int cas = -1;
  // metadata put / patch
  int max_versions = -1;
  bool cas_required = false;
  CLI::Option* cas_required_flag = nullptr;
  std::string delete_version_after{};
  std::vector<std::string> custom_metadata{};
  std::vector<std::string> remove_custom_metadata{};
};

// Where a kv command's path points: the mount, its KV version and the path to which
// the API prefix is added.
struct KvTarget {
  std::string mount{};  // as the server names it, "secret/"; "" when unknown
  bool v2 = false;
  std::string partial{};  // "secret/app"
  bool mount_flag = false;

  // The API path for `api_prefix` ("data", "metadata", ...); version 1 has no prefixes.
  std::string full(std::string_view api_prefix) const {
    if (!v2) return mount_flag ? join_path({mount, partial}) : partial;
    std::string m = sanitize_path(mount);
    if (partial == m) return join_path({m, api_prefix});
    std::string rest = partial;
    if (rest.starts_with(m + "/")) rest = rest.substr(m.size() + 1);
    return join_path({m, api_prefix, rest});
  }
};

// Vault's kvPreflightVersionRequest: the mount path and whether it is KV version 2.
// A server without the endpoint (404) means version 1.
sdk::Result<std::pair<std::string, bool>> kv_version(ApiSession& session, const std::string& path) {
  const std::string endpoint = "sys/internal/ui/mounts/" + path;
  auto reply = session.send("GET", endpoint);
  if (!reply) return sdk::error(reply.error());
  if (reply->status == 404) return std::pair<std::string, bool>{"", false};
  if (reply->status < 200 || reply->status >= 300) {
    return sdk::error(response_error(*reply).with_context("cannot tell the KV version of " + path +
                                                          " (GET " + endpoint + ")"));
  }
  const json data = json_member(reply->body, "data");
  std::string mount;
  bool v2 = false;
  if (data.is_object()) {
    if (data.contains("path") && data["path"].is_string()) mount = data["path"].get<std::string>();
    const json options = json_member(data, "options");
    v2 = options.is_object() && options.contains("version") && options["version"] == "2";
  }
  return std::pair<std::string, bool>{mount, v2};
}

sdk::Result<KvTarget> resolve(ApiSession& session, const KvFlags& f) {
  KvTarget t;
  t.mount_flag = !f.mount.empty();
  t.partial = sanitize_path(f.path);
  auto version = kv_version(session, t.mount_flag ? sanitize_path(f.mount) : t.partial);
  if (!version) return sdk::error(version.error());
  t.mount = version->first;
  t.v2 = version->second;
  if (t.mount_flag) {
    if (t.mount.empty()) t.mount = sanitize_path(f.mount);
    if (t.v2) t.partial = join_path({t.mount, t.partial});
  }
  return t;
}

// Opens the session and resolves the target, or prints why not.
struct Prepared {
  std::unique_ptr<ApiSession> session{};
  KvTarget target{};
};
sdk::Result<Prepared> prepare(const KvFlags& f) {
  auto session = ApiSession::open(f.common.connection);
  if (!session) return sdk::error(session.error());
  auto target = resolve(**session, f);
  if (!target) return sdk::error(target.error());
  return Prepared{.session = std::move(*session), .target = std::move(*target)};
}

json versions_json(const std::vector<std::string>& flags) {
  // Vault splits each -versions value on commas.
  json out = json::array();
  for (const auto& v : flags) {
    std::size_t start = 0;
    while (start <= v.size()) {
      auto comma = v.find(',', start);
      std::string item = sanitize_path(
          v.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (!item.empty()) out.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

// The "== Secret Path ==" block and the metadata table after a v2 write.
int print_written(const std::string& full, const json& secret, const KvFlags& f) {
  if (!f.common.field.empty()) return print_field(secret, f.common.field, f.common.format);
  if (f.common.format == Format::kJson) return output_secret(secret, f.common.format);
  print_warnings(secret);
  const json data = json_member(secret, "data");
  std::printf("%s\n%s\n\n", section_header("Secret Path", full.size()).c_str(), full.c_str());
  std::printf("%s\n", section_header_for("Metadata", data).c_str());
  print_map_table(data);
  return kExitOk;
}

int success_written(const std::string& full, const KvFlags& f) {
  if (f.common.format == Format::kTable)
    std::printf("Success! Data written to: %s\n", full.c_str());
  return kExitOk;
}

int run_put(const KvFlags& f, bool patch) {
  if (f.data.empty()) return usage_error("Must supply data");
  auto data = parse_kv_args(f.data, std::cin);
  if (!data) return fail("Failed to parse K=V data", data.error());
  auto p = prepare(f);
  if (!p) return fail(p.error());
  const KvTarget& t = p->target;
  if (patch && !t.v2) return fail("K/V engine mount must be version 2 for patch support");
  std::string full = t.full("data");
  json body = *data;
  if (t.v2) {
    body = {{"data", *data}, {"options", json::object()}};
    if (f.cas > -1) body["options"]["cas"] = f.cas;
  }
  auto secret = p->session->write(full, body, patch ? "PATCH" : "PUT");
  if (!secret) return fail("Error writing data to " + full, secret.error());
  if (secret->is_null()) return success_written(full, f);
  return print_written(full, *secret, f);
}

int run_get(const KvFlags& f) {
  auto p = prepare(f);
  if (!p) return fail(p.error());
  const KvTarget& t = p->target;
  std::string full = t.full("data");
  Query query;
  if (t.v2 && f.version > 0) query.emplace_back("version", std::to_string(f.version));
  auto secret = p->session->read(full, query);
  if (!secret) return fail("Error reading " + full, secret.error());
  if (secret->is_null()) return no_value("No value found at " + full);
  const json data = json_member(*secret, "data");

  if (!f.common.field.empty()) {
    if (!t.v2) return print_field(*secret, f.common.field, f.common.format);
    const json inner = json_member(data, "data");
    if (inner.is_null()) return no_value("No data found at " + full);
    // "-field=data" means the secret's own "data" key if it has one.
    if (f.common.field == "data" && !(inner.is_object() && inner.contains("data"))) {
      return print_field(*secret, f.common.field, f.common.format);
    }
    return print_field(inner, f.common.field, f.common.format, /*is_envelope=*/false);
  }
  if (f.common.format == Format::kJson) return output_secret(*secret, f.common.format);

  print_warnings(*secret);
  if (t.v2)
    std::printf("%s\n%s\n\n", section_header("Secret Path", full.size()).c_str(), full.c_str());
  const json metadata = json_member(data, "metadata");
  if (!metadata.is_null()) {
    std::printf("%s\n", section_header_for("Metadata", metadata).c_str());
    print_map_table(metadata);
    std::printf("\n");
  }
  const json shown = t.v2 ? json_member(data, "data") : data;
  if (!shown.is_null()) {
    std::printf("%s\n", section_header_for("Data", shown).c_str());
    print_map_table(shown);
  }
  return kExitOk;
}

int run_list(const KvFlags& f) {
  auto p = prepare(f);
  if (!p) return fail(p.error());
  std::string full = p->target.full("metadata");
  auto secret = p->session->list(full + "/");
  if (!secret) return fail("Error listing " + full, secret.error());
  return output_list(*secret, full, f.common.format);
}

int run_delete(const KvFlags& f) {
  auto p = prepare(f);
  if (!p) return fail(p.error());
  const KvTarget& t = p->target;
  std::string full = t.full("data");
  sdk::Result<json> secret;
  if (t.v2 && !f.versions.empty()) {
    secret = p->session->write(t.full("delete"), {{"versions", versions_json(f.versions)}});
  } else {
    secret = p->session->remove(full);
  }
  if (!secret) return fail("Error deleting " + full, secret.error());
  if (f.common.format == Format::kTable) {
    std::printf("Success! Data deleted (if it existed) at: %s\n", full.c_str());
  }
  return kExitOk;
}

// undelete and destroy: versions are required, KV v2 only.
int run_versions(const KvFlags& f, const char* action, const char* verb) {
  if (f.versions.empty()) {
    return usage_error(
        std::string("No versions provided, use the \"-versions\" flag to specify the "
                    "version to ") +
        action);
  }
  auto p = prepare(f);
  if (!p) return fail(p.error());
  if (!p->target.v2) {
    std::string name = action;
    name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    return fail(name + " not supported on KV Version 1");
  }
  std::string full = p->target.full(action);
  auto secret = p->session->write(full, {{"versions", versions_json(f.versions)}});
  if (!secret) return fail(std::string("Error ") + verb + " " + full, secret.error());
  if (secret->is_null()) return success_written(full, f);
  return output_secret(*secret, f.common.format);
}

int run_metadata_get(const KvFlags& f) {
  auto p = prepare(f);
  if (!p) return fail(p.error());
  if (!p->target.v2) return fail("Metadata not supported on KV Version 1");
  std::string full = p->target.full("metadata");
  auto secret = p->session->read(full);
  if (!secret) return fail("Error reading " + full, secret.error());
  if (secret->is_null()) return no_value("No value found at " + full);
  if (!f.common.field.empty()) return print_field(*secret, f.common.field, f.common.format);
  if (f.common.format == Format::kJson) return output_secret(*secret, f.common.format);

  json shown = *secret;
  json& data = shown["data"];
  if (!data.is_object() || !data.contains("versions") || !data["versions"].is_object()) {
    return no_value("No value found at " + full);
  }
  json versions = std::move(data["versions"]);
  data.erase("versions");
  std::printf("%s\n%s\n\n", section_header("Metadata Path", full.size()).c_str(), full.c_str());
  std::printf("%s\n", section_header_for("Metadata", data).c_str());
  print_secret_table(shown);
  std::vector<std::pair<long long, std::string>> numbers;
  for (const auto& [k, v] : versions.items()) {
    try {
      numbers.emplace_back(std::stoll(k), k);
    } catch (const std::exception&) {
      numbers.emplace_back(0, k);
    }
  }
  std::sort(numbers.begin(), numbers.end());
  for (const auto& [n, key] : numbers) {
    std::printf("\n%s\n", section_header_for("Version " + key, versions[key]).c_str());
    print_map_table(versions[key]);
  }
  return kExitOk;
}

int run_metadata_write(const KvFlags& f, bool patch) {
  auto custom = parse_kv_flags(f.custom_metadata, "custom-metadata");
  if (!custom) return usage_error(custom.error().message());
  auto p = prepare(f);
  if (!p) return fail(p.error());
  if (!p->target.v2) return fail("Metadata not supported on KV Version 1");
  std::string full = p->target.full("metadata");
  json body = json::object();
  if (f.max_versions >= 0) body["max_versions"] = f.max_versions;
  if (f.cas_required_flag != nullptr && f.cas_required_flag->count() > 0) {
    body["cas_required"] = f.cas_required;
  }
  if (!f.delete_version_after.empty()) body["delete_version_after"] = f.delete_version_after;
  if (!custom->empty() || !f.remove_custom_metadata.empty()) {
    json meta = json::object();
    for (const auto& [k, v] : *custom) meta[k] = v;
    for (const auto& k : f.remove_custom_metadata) meta[k] = nullptr;
    body["custom_metadata"] = meta;
  }
  auto secret = p->session->write(full, body, patch ? "PATCH" : "PUT");
  if (!secret) return fail("Error writing data to " + full, secret.error());
  if (secret->is_null()) return success_written(full, f);
  return output_secret(*secret, f.common.format);
}

int run_metadata_delete(const KvFlags& f) {
  auto p = prepare(f);
  if (!p) return fail(p.error());
  if (!p->target.v2) return fail("Metadata not supported on KV Version 1");
  std::string full = p->target.full("metadata");
  auto secret = p->session->remove(full);
  if (!secret) return fail("Error deleting " + full, secret.error());
  if (f.common.format == Format::kTable) {
    std::printf("Success! Data deleted (if it existed) at: %s\n", full.c_str());
  }
  return kExitOk;
}

// A kv subcommand with the shared flags, -mount and the secret path.
std::pair<CLI::App*, std::shared_ptr<KvFlags>> add_kv(CLI::App& parent, const char* name,
                                                      const char* description, bool with_field) {
  auto f = std::make_shared<KvFlags>();
  auto* cmd = parent.add_subcommand(name, description);
  add_common_flags(*cmd, f->common, with_field);
  cmd->add_option("--mount", f->mount,
                  "The KV mount; the path argument is then the secret's path inside it");
  cmd->add_option("path", f->path, "Secret path: mount/path, or path with -mount")->required();
  return {cmd, f};
}

void add_versions_flag(CLI::App& cmd, KvFlags& f, const char* what) {
  cmd.add_option("--versions", f.versions, what)->allow_extra_args(false);
}

void add_metadata_write_flags(CLI::App& cmd, KvFlags& f, bool patch) {
  cmd.add_option("--max-versions", f.max_versions, "Versions to keep (0 = the mount's setting)");
  f.cas_required_flag =
      cmd.add_flag("--cas-required", f.cas_required, "Require check-and-set on every write");
  cmd.add_option("--delete-version-after", f.delete_version_after,
                 "Delete versions this long after they are written (e.g. 3h25m19s; 0s = never)");
  cmd.add_option("--custom-metadata", f.custom_metadata, "key=value; may be repeated")
      ->allow_extra_args(false);
  if (patch) {
    cmd.add_option("--remove-custom-metadata", f.remove_custom_metadata,
                   "A custom metadata key to remove; may be repeated")
        ->allow_extra_args(false);
  }
}

}  // namespace

void register_kv_commands(CLI::App& app, int& exit_code) {
  auto* kv = app.add_subcommand("kv", "Key/value secrets (KV version 1 and 2)");
  kv->require_subcommand(1);

  auto [put, put_f] = add_kv(*kv, "put", "Write a secret (a new version on KV v2)", true);
  put->add_option("data", put_f->data, "key=value pairs, key=@file, key=-, or - for JSON");
  put->add_option("--cas", put_f->cas,
                  "Check-and-set: write only if the current version is this (0 = only if "
                  "absent; KV v2)");
  put->callback([f = put_f, &exit_code] { exit_code = run_put(*f, false); });

  auto [patch, patch_f] =
      add_kv(*kv, "patch", "Merge new fields into the latest version of a secret (KV v2)", true);
  patch->add_option("data", patch_f->data, "key=value pairs, key=@file, key=-, or -");
  patch->add_option("--cas", patch_f->cas, "Check-and-set version");
  patch->callback([f = patch_f, &exit_code] { exit_code = run_put(*f, true); });

  auto [get, get_f] = add_kv(*kv, "get", "Read a secret (exit 2 when there is none)", true);
  get->add_option("--version", get_f->version, "Read this version (KV v2)");
  get->callback([f = get_f, &exit_code] { exit_code = run_get(*f); });

  auto [list, list_f] = add_kv(*kv, "list", "List the secrets under a path", false);
  list->callback([f = list_f, &exit_code] { exit_code = run_list(*f); });

  auto [del, del_f] =
      add_kv(*kv, "delete", "Delete a secret (KV v2: soft-delete the latest or the given versions)",
             false);
  add_versions_flag(*del, *del_f, "Versions to soft-delete, e.g. 1,2 (KV v2)");
  del->callback([f = del_f, &exit_code] { exit_code = run_delete(*f); });

  auto [undelete, undelete_f] =
      add_kv(*kv, "undelete", "Restore soft-deleted versions (KV v2)", false);
  add_versions_flag(*undelete, *undelete_f, "Versions to restore, e.g. 1,2 (required)");
  undelete->callback(
      [f = undelete_f, &exit_code] { exit_code = run_versions(*f, "undelete", "undeleting"); });

  auto [destroy, destroy_f] =
      add_kv(*kv, "destroy", "Destroy versions for good; their data is removed (KV v2)", false);
  add_versions_flag(*destroy, *destroy_f, "Versions to destroy, e.g. 1,2 (required)");
  destroy->callback(
      [f = destroy_f, &exit_code] { exit_code = run_versions(*f, "destroy", "destroying"); });

  auto* metadata = kv->add_subcommand("metadata", "Read and write a secret's metadata (KV v2)");
  metadata->require_subcommand(1);
  auto [mget, mget_f] = add_kv(*metadata, "get", "Show a secret's metadata and versions", true);
  mget->callback([f = mget_f, &exit_code] { exit_code = run_metadata_get(*f); });
  auto [mput, mput_f] = add_kv(*metadata, "put", "Set a secret's metadata", false);
  add_metadata_write_flags(*mput, *mput_f, false);
  mput->callback([f = mput_f, &exit_code] { exit_code = run_metadata_write(*f, false); });
  auto [mpatch, mpatch_f] = add_kv(*metadata, "patch", "Change some of a secret's metadata", false);
  add_metadata_write_flags(*mpatch, *mpatch_f, true);
  mpatch->callback([f = mpatch_f, &exit_code] { exit_code = run_metadata_write(*f, true); });
  auto [mdel, mdel_f] =
      add_kv(*metadata, "delete", "Delete a secret with all its versions and metadata", false);
  mdel->callback([f = mdel_f, &exit_code] { exit_code = run_metadata_delete(*f); });
}

}  // namespace leasefs::cli
