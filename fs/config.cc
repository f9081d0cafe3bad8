// Strict parsing of the mount configuration; see config.h.
#include "fs/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "backend/sdk/duration.h"

namespace leasefs::fs {

using nlohmann::json;

namespace {

std::string json_quote(std::string_view s) {
  return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

sdk::Result<void> check_keys(const json& object, std::initializer_list<std::string_view> allowed,
                             const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return sdk::invalid_argument(where + ": unknown key " + json_quote(key));
    }
  }
  return {};
}

sdk::Result<const json*> member(const json& object, std::string_view key, json::value_t type,
                                const std::string& where, bool required) {
  auto it = object.find(std::string(key));
  if (it == object.end() || it->is_null()) {
    if (required) return sdk::invalid_argument(where + ": " + json_quote(key) + " is required");
    return nullptr;
  }
  bool ok = it->type() == type || (type == json::value_t::number_unsigned &&
                                   it->is_number_integer() && it->get<std::int64_t>() >= 0);
  if (!ok) {
    const char* want = "a value of another type";
    switch (type) {
      case json::value_t::string:
        want = "a string";
        break;
      case json::value_t::boolean:
        want = "true or false";
        break;
      case json::value_t::object:
        want = "an object";
        break;
      case json::value_t::array:
        want = "an array";
        break;
      case json::value_t::number_unsigned:
        want = "a non-negative integer";
        break;
      default:
        break;
    }
    return sdk::invalid_argument(where + ": " + json_quote(key) + " must be " + want);
  }
  return &*it;
}

sdk::Result<std::string> string_member(const json& o, std::string_view key,
                                       const std::string& where, bool required) {
  auto m = member(o, key, json::value_t::string, where, required);
  if (!m) return sdk::error(m.error());
  if (*m == nullptr) return std::string();
  std::string s = (*m)->get<std::string>();
  if (required && s.empty()) {
    return sdk::invalid_argument(where + ": " + json_quote(key) + " must not be empty");
  }
  return s;
}

sdk::Result<std::optional<std::uint32_t>> id_member(const json& o, std::string_view key,
                                                    const std::string& where) {
  auto m = member(o, key, json::value_t::number_unsigned, where, false);
  if (!m) return sdk::error(m.error());
  if (*m == nullptr) return std::nullopt;
  auto v = (*m)->get<std::uint64_t>();
  if (v > 0xFFFFFFFEu)
    return sdk::invalid_argument(where + ": " + json_quote(key) + " is out of range");
  return static_cast<std::uint32_t>(v);
}

sdk::Result<bool> bool_member(const json& o, std::string_view key, const std::string& where,
                              bool fallback) {
  auto m = member(o, key, json::value_t::boolean, where, false);
  if (!m) return sdk::error(m.error());
  return *m == nullptr ? fallback : (*m)->get<bool>();
}

sdk::Result<std::uint32_t> parse_mode(const json& value, const std::string& where) {
  if (!value.is_string()) {
    return sdk::invalid_argument(where + ": \"mode\" must be an octal string such as \"0440\"");
  }
  std::string s = value.get<std::string>();
  bool ok = !s.empty() && s.size() <= 4 &&
            std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '7'; });
  if (!ok) {
    return sdk::invalid_argument(where + ": \"mode\" " + json_quote(s) +
                                 " is not an octal mode such as \"0440\"");
  }
  std::uint32_t mode = static_cast<std::uint32_t>(std::stoul(s, nullptr, 8));
  if ((mode & 07000) != 0) {
    return sdk::invalid_argument(where + ": \"mode\" " + json_quote(s) +
                                 ": setuid, setgid and sticky bits are not allowed");
  }
  if ((mode & 0222) != 0) {
    return sdk::invalid_argument(where + ": \"mode\" " + json_quote(s) +
                                 ": secret files are read-only (no write bits)");
  }
  return mode;
}

sdk::Result<AllowRules> parse_allow(const json& o, const std::string& where_in) {
  std::string where = where_in + ": \"allow\"";
  if (!o.is_object()) return sdk::invalid_argument(where + " must be an object");
  LEASEFS_TRY(check_keys(o, {"uids", "gids", "exe", "cgroups"}, where));
  AllowRules rules;
  for (auto key : {"uids", "gids"}) {
    auto m = member(o, key, json::value_t::array, where, false);
    if (!m) return sdk::error(m.error());
    if (*m == nullptr) continue;
    for (const auto& v : **m) {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
          v.get<std::int64_t>() > 0xFFFFFFFEll) {
        return sdk::invalid_argument(where + ": " + json_quote(key) +
                                     " must hold non-negative integers");
      }
      (std::string_view(key) == "uids" ? rules.uids : rules.gids)
          .push_back(static_cast<std::uint32_t>(v.get<std::int64_t>()));
    }
  }
  for (auto key : {"exe", "cgroups"}) {
    auto m = member(o, key, json::value_t::array, where, false);
    if (!m) return sdk::error(m.error());
    if (*m == nullptr) continue;
    for (const auto& v : **m) {
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>()[0] != '/') {
        return sdk::invalid_argument(where + ": " + json_quote(key) + " must hold absolute paths");
      }
      std::string s = v.get<std::string>();
      if (std::string_view(key) == "cgroups") {
        while (s.size() > 1 && s.back() == '/') s.pop_back();
        rules.cgroups.push_back(s);
      } else {
        rules.exe.push_back(s);
      }
    }
  }
  return rules;
}

sdk::Result<FileSpec> parse_file(const json& o, std::size_t index, const MountOptions& mount) {
  std::string where = "files[" + std::to_string(index) + "]";
  if (!o.is_object()) return sdk::invalid_argument(where + ": must be an object");
  if (auto p = o.find("path"); p != o.end() && p->is_string()) {
    where += " (" + json_quote(p->get<std::string>()) + ")";
  }
  LEASEFS_TRY(check_keys(o,
                         {"path", "secret", "field", "format", "template", "mode", "uid", "gid",
                          "method", "args", "share", "allow", "generate_key"},
                         where));
  FileSpec f;
  auto path = string_member(o, "path", where, true);
  if (!path) return sdk::error(path.error());
  auto normalized = normalize_mount_path(*path);
  if (!normalized) return sdk::error(normalized.error().with_context(where + ": \"path\""));
  f.path = *normalized;

  auto secret = string_member(o, "secret", where, true);
  if (!secret) return sdk::error(secret.error());
  f.secret = *secret;
  while (!f.secret.empty() && f.secret.front() == '/') f.secret.erase(0, 1);
  if (f.secret.rfind("v1/", 0) == 0) f.secret.erase(0, 3);
  if (f.secret.empty() || f.secret.find("..") != std::string::npos ||
      f.secret.find_first_of("?#") != std::string::npos) {
    return sdk::invalid_argument(where + ": \"secret\" " + json_quote(*secret) +
                                 " is not a backend path such as \"secret/data/app\"");
  }

  auto method = string_member(o, "method", where, false);
  if (!method) return sdk::error(method.error());
  f.method = method->empty() ? "GET" : *method;
  std::transform(f.method.begin(), f.method.end(), f.method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (f.method != "GET" && f.method != "POST" && f.method != "PUT") {
    return sdk::invalid_argument(where + ": \"method\" must be GET, POST or PUT, not " +
                                 json_quote(*method));
  }
  if (auto a = o.find("args"); a != o.end() && !a->is_null()) {
    if (!a->is_object()) return sdk::invalid_argument(where + ": \"args\" must be an object");
    if (f.method == "GET" && !a->empty()) {
      return sdk::invalid_argument(where + ": \"args\" need \"method\": \"POST\" or \"PUT\"");
    }
    f.args = *a;
  }
  auto generate = string_member(o, "generate_key", where, false);
  if (!generate) return sdk::error(generate.error());
  if (!generate->empty()) {
    if (*generate != "ed25519") {
      return sdk::invalid_argument(where + ": \"generate_key\" must be \"ed25519\", not " +
                                   json_quote(*generate));
    }
    if (f.method == "GET") {
      return sdk::invalid_argument(where +
                                   ": \"generate_key\" needs \"method\": \"POST\" or \"PUT\"");
    }
    if (f.args.contains("public_key")) {
      return sdk::invalid_argument(
          where + ": \"args\" must not hold \"public_key\" with \"generate_key\" (the daemon "
                  "sends the public half of the key it generates)");
    }
    f.generate_key = *generate;
  }

  auto field = string_member(o, "field", where, false);
  if (!field) return sdk::error(field.error());
  auto format = string_member(o, "format", where, false);
  if (!format) return sdk::error(format.error());
  auto tmpl = string_member(o, "template", where, false);
  if (!tmpl) return sdk::error(tmpl.error());
  if (!field->empty() && !format->empty()) {
    return sdk::invalid_argument(where + ": give either \"field\" or \"format\", not both");
  }
  if (!field->empty()) {
    f.format = Format::kField;
    f.field = *field;
  } else if (*format == "json") {
    f.format = Format::kJson;
  } else if (*format == "env") {
    f.format = Format::kEnv;
  } else if (*format == "template") {
    f.format = Format::kTemplate;
    if (tmpl->empty()) {
      return sdk::invalid_argument(where +
                                   ": \"template\" is required with \"format\": \"template\"");
    }
    f.tmpl = *tmpl;
    for (std::size_t open = f.tmpl.find("{{"); open != std::string::npos;
         open = f.tmpl.find("{{", open + 2)) {
      std::size_t close = f.tmpl.find("}}", open + 2);
      if (close == std::string::npos) {
        return sdk::invalid_argument(where + ": \"template\" has \"{{\" without \"}}\"");
      }
      open = close;
    }
  } else if (format->empty()) {
    return sdk::invalid_argument(where + ": one of \"field\" or \"format\" is required");
  } else {
    return sdk::invalid_argument(where + ": \"format\" must be json, env or template, not " +
                                 json_quote(*format));
  }
  if (!tmpl->empty() && f.format != Format::kTemplate) {
    return sdk::invalid_argument(where + ": \"template\" needs \"format\": \"template\"");
  }

  if (auto m = o.find("mode"); m != o.end() && !m->is_null()) {
    auto mode = parse_mode(*m, where);
    if (!mode) return sdk::error(mode.error());
    f.mode = *mode;
  }
  auto uid = id_member(o, "uid", where);
  if (!uid) return sdk::error(uid.error());
  f.uid = uid->value_or(mount.uid);
  auto gid = id_member(o, "gid", where);
  if (!gid) return sdk::error(gid.error());
  f.gid = gid->value_or(mount.gid);

  auto share = string_member(o, "share", where, false);
  if (!share) return sdk::error(share.error());
  if (share->empty() || *share == "shared") {
    f.share = Share::kShared;
  } else if (*share == "per-open") {
    f.share = Share::kPerOpen;
  } else {
    return sdk::invalid_argument(where + ": \"share\" must be \"shared\" or \"per-open\", not " +
                                 json_quote(*share));
  }
  if (auto a = o.find("allow"); a != o.end() && !a->is_null()) {
    auto rules = parse_allow(*a, where);
    if (!rules) return sdk::error(rules.error());
    f.allow = std::move(*rules);
  }
  return f;
}

}  // namespace

std::string FileSpec::source_key() const {
  return method + " " + secret + " " + args.dump() + " " + generate_key;
}

sdk::Result<std::string> normalize_mount_path(std::string_view path) {
  if (path.empty()) return sdk::invalid_argument("is empty");
  if (path.front() == '/') return sdk::invalid_argument("must be relative to the mount");
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") return sdk::invalid_argument("escapes the mount (\"..\")");
    if (part == ".") return sdk::invalid_argument("must not contain \".\" components");
    if (part.size() > 255) return sdk::invalid_argument("has a name longer than 255 bytes");
    if (part.find('\0') != std::string_view::npos) return sdk::invalid_argument("contains NUL");
    if (!part.empty()) {
      if (!out.empty()) out += '/';
      out += part;
    }
    start = end + 1;
  }
  if (out.empty()) return sdk::invalid_argument("names the mount itself");
  if (out == ".leasefs" || out.rfind(".leasefs/", 0) == 0) {
    return sdk::invalid_argument("is under the control directory .leasefs");
  }
  return out;
}

sdk::Result<MountConfig> parse_mount_config(const json& config) {
  if (!config.is_object()) return sdk::invalid_argument("the configuration must be a JSON object");
  LEASEFS_TRY(check_keys(config, {"server", "mount", "files"}, "configuration"));
  MountConfig out;

  // server
  auto server = member(config, "server", json::value_t::object, "configuration", true);
  if (!server) return sdk::error(server.error());
  const json& s = **server;
  LEASEFS_TRY(check_keys(s, {"address", "ca_file", "timeout", "auth"}, "server"));
  auto address = string_member(s, "address", "server", true);
  if (!address) return sdk::error(address.error());
  if (address->rfind("http://", 0) != 0 && address->rfind("https://", 0) != 0) {
    return sdk::invalid_argument("server: \"address\" " + json_quote(*address) +
                                 " must start with http:// or https://");
  }
  out.server.address = *address;
  auto ca = string_member(s, "ca_file", "server", false);
  if (!ca) return sdk::error(ca.error());
  out.server.ca_file = *ca;
  if (auto t = s.find("timeout"); t != s.end() && !t->is_null()) {
    auto d = sdk::duration_from_json(*t);
    if (!d) return sdk::error(d.error().with_context("server: \"timeout\""));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    if (ms.count() <= 0) return sdk::invalid_argument("server: \"timeout\" must be positive");
    out.server.timeout = ms;
  }
  auto auth = member(s, "auth", json::value_t::object, "server", true);
  if (!auth) return sdk::error(auth.error());
  const json& a = **auth;
  LEASEFS_TRY(check_keys(a, {"token_file", "approle"}, "server.auth"));
  auto token_file = string_member(a, "token_file", "server.auth", false);
  if (!token_file) return sdk::error(token_file.error());
  out.server.token_file = *token_file;
  auto approle = member(a, "approle", json::value_t::object, "server.auth", false);
  if (!approle) return sdk::error(approle.error());
  if (*approle != nullptr) {
    const json& r = **approle;
    LEASEFS_TRY(check_keys(r, {"role_id_file", "secret_id_file", "mount"}, "server.auth.approle"));
    AppRoleAuth ar;
    auto role = string_member(r, "role_id_file", "server.auth.approle", true);
    if (!role) return sdk::error(role.error());
    auto secret_id = string_member(r, "secret_id_file", "server.auth.approle", true);
    if (!secret_id) return sdk::error(secret_id.error());
    auto mount = string_member(r, "mount", "server.auth.approle", false);
    if (!mount) return sdk::error(mount.error());
    ar.role_id_file = *role;
    ar.secret_id_file = *secret_id;
    if (!mount->empty()) out.server.approle_mount = *mount;
    out.server.approle = ar;
  }
  if (out.server.token_file.empty() == !out.server.approle.has_value()) {
    return sdk::invalid_argument("server.auth: give exactly one of \"token_file\" or \"approle\"");
  }

  // mount
  auto mount = member(config, "mount", json::value_t::object, "configuration", false);
  if (!mount) return sdk::error(mount.error());
  if (*mount != nullptr) {
    const json& m = **mount;
    LEASEFS_TRY(check_keys(m,
                           {"allow_other", "uid", "gid", "revoke_on_exit", "spool_file",
                            "static_ttl", "revocation_check", "passthrough"},
                           "mount"));
    auto allow_other = bool_member(m, "allow_other", "mount", false);
    if (!allow_other) return sdk::error(allow_other.error());
    out.mount.allow_other = *allow_other;
    auto revoke = bool_member(m, "revoke_on_exit", "mount", false);
    if (!revoke) return sdk::error(revoke.error());
    out.mount.revoke_on_exit = *revoke;
    auto passthrough = bool_member(m, "passthrough", "mount", true);
    if (!passthrough) return sdk::error(passthrough.error());
    out.mount.passthrough = *passthrough;
    auto uid = id_member(m, "uid", "mount");
    if (!uid) return sdk::error(uid.error());
    out.mount.uid = uid->value_or(0);
    auto gid = id_member(m, "gid", "mount");
    if (!gid) return sdk::error(gid.error());
    out.mount.gid = gid->value_or(0);
    auto spool = string_member(m, "spool_file", "mount", false);
    if (!spool) return sdk::error(spool.error());
    out.mount.spool_file = *spool;
    if (auto t = m.find("static_ttl"); t != m.end() && !t->is_null()) {
      auto d = sdk::duration_from_json(*t);
      if (!d) return sdk::error(d.error().with_context("mount: \"static_ttl\""));
      out.mount.static_ttl = std::chrono::duration_cast<std::chrono::seconds>(*d);
    }
    if (auto t = m.find("revocation_check"); t != m.end() && !t->is_null()) {
      auto d = sdk::duration_from_json(*t);
      if (!d) return sdk::error(d.error().with_context("mount: \"revocation_check\""));
      out.mount.revocation_check = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    }
  }

  // files
  auto files = member(config, "files", json::value_t::array, "configuration", true);
  if (!files) return sdk::error(files.error());
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < (*files)->size(); ++i) {
    auto f = parse_file((**files)[i], i, out.mount);
    if (!f) return sdk::error(f.error());
    if (auto it = seen.find(f->path); it != seen.end()) {
      return sdk::invalid_argument("files[" + std::to_string(i) + "] (" + json_quote(f->path) +
                                   "): the same path as files[" + std::to_string(it->second) + "]");
    }
    seen.emplace(f->path, i);
    out.files.push_back(std::move(*f));
  }
  // A file may not also be a directory of another file ("app" and "app/key").
  for (const auto& [path, index] : seen) {
    auto it = seen.lower_bound(path + "/");
    if (it != seen.end() && it->first.rfind(path + "/", 0) == 0) {
      return sdk::invalid_argument("files[" + std::to_string(it->second) + "] (" +
                                   json_quote(it->first) + "): its directory " + json_quote(path) +
                                   " is the file of files[" + std::to_string(index) + "]");
    }
  }
  return out;
}

sdk::Result<MountConfig> load_mount_config(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return sdk::invalid_argument(file + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  json parsed = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return sdk::invalid_argument(file + ": is not valid JSON");
  auto config = parse_mount_config(parsed);
  if (!config) return sdk::error(config.error().with_context(file));
  // The daemon changes to / when it detaches: file names are made absolute now
  // (relative to the working directory, as the command line's are).
  auto absolute = [](std::string& path) {
    std::error_code ec;
    if (!path.empty()) path = std::filesystem::absolute(path, ec).lexically_normal().string();
  };
  absolute(config->server.ca_file);
  absolute(config->server.token_file);
  if (config->server.approle) {
    absolute(config->server.approle->role_id_file);
    absolute(config->server.approle->secret_id_file);
  }
  absolute(config->mount.spool_file);
  return config;
}

}  // namespace leasefs::fs
