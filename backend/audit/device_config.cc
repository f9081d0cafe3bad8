// Option parsing for audit devices (see device_config.h).
#include "backend/audit/device_config.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "backend/sdk/duration.h"

namespace leasefs::backend::audit {
namespace {

// Go's strconv.ParseBool, which Vault uses for these options.
sdk::Result<bool> parse_bool(const std::string& key, const std::string& value) {
  static const std::set<std::string> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
  static const std::set<std::string> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
  if (kTrue.contains(value)) return true;
  if (kFalse.contains(value)) return false;
  return sdk::invalid_argument("option " + key + ": \"" + value + "\" is not a boolean");
}

bool valid_tcp_address(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = address.substr(0, colon);
  std::string_view port = address.substr(colon + 1);
  if (host.front() == '[' && host.back() != ']') return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value > 0 && value < 65536;
}

}  // namespace

sdk::Result<DeviceConfig> parse_device_config(std::string_view type,
                                              const std::map<std::string, std::string>& options) {
  DeviceConfig config;
  config.type = std::string(type);
  std::set<std::string> allowed = {"hmac_accessor", "log_raw", "elide_list_responses",
                                   "prefix",        "format",  "write_timeout"};
  if (type == "file") {
    config.sink = SinkKind::kFile;
    allowed.insert({"file_path", "path", "mode", "fsync"});
  } else if (type == "socket") {
    config.sink = SinkKind::kSocket;
    allowed.insert({"address", "socket_type"});
  } else if (type == "stdout") {
    config.sink = SinkKind::kStdout;
  } else if (type == "syslog") {
    return sdk::error(sdk::Code::kUnimplemented, "the syslog audit device is not supported");
  } else {
    return sdk::invalid_argument("unknown audit device type \"" + std::string(type) + "\"");
  }
  for (const auto& [key, value] : options) {
    if (!allowed.contains(key)) {
      return sdk::invalid_argument("option " + key + " is not known to " + std::string(type) +
                                   " audit devices");
    }
  }
  auto get = [&](const char* key) -> const std::string* {
    auto it = options.find(key);
    return it == options.end() ? nullptr : &it->second;
  };

  if (const auto* v = get("hmac_accessor")) {
    auto b = parse_bool("hmac_accessor", *v);
    if (!b) return sdk::error(b.error());
    config.hmac_accessor = *b;
  }
  if (const auto* v = get("log_raw")) {
    auto b = parse_bool("log_raw", *v);
    if (!b) return sdk::error(b.error());
    config.log_raw = *b;
  }
  if (const auto* v = get("elide_list_responses")) {
    auto b = parse_bool("elide_list_responses", *v);
    if (!b) return sdk::error(b.error());
    config.elide_list_responses = *b;
  }
  if (const auto* v = get("prefix")) {
    if (v->find_first_of("\r\n") != std::string::npos || v->size() > 1024) {
      return sdk::invalid_argument("option prefix: no line breaks, at most 1024 bytes");
    }
    config.prefix = *v;
  }
  if (const auto* v = get("format"); v != nullptr && *v != "json") {
    if (*v == "jsonx") {
      return sdk::error(sdk::Code::kUnimplemented, "the jsonx audit format is not supported");
    }
    return sdk::invalid_argument("option format: unknown format \"" + *v + "\"");
  }
  if (const auto* v = get("write_timeout")) {
    auto d = sdk::parse_duration(*v);
    if (!d) return sdk::error(d.error().with_context("option write_timeout"));
    if (*d < std::chrono::milliseconds(1) || *d > std::chrono::minutes(1)) {
      return sdk::invalid_argument("option write_timeout: must be between 1ms and 1m");
    }
    config.write_timeout = *d;
  }

  if (config.sink == SinkKind::kFile) {
    const std::string* path = get("file_path");
    if (path == nullptr) path = get("path");
    if (path == nullptr || path->empty()) return sdk::invalid_argument("file_path is required");
    if (*path == "stdout") {
      config.sink = SinkKind::kStdout;
    } else if (*path == "discard") {
      config.sink = SinkKind::kDiscard;
    } else if (path->front() != '/' || path->find('\0') != std::string::npos) {
      return sdk::invalid_argument("option file_path: must be an absolute path");
    }
    config.file_path = *path;
    if (const auto* v = get("mode")) {
      unsigned mode = 0;
      auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), mode, 8);
      if (v->empty() || ec != std::errc() || end != v->data() + v->size() || mode > 0777) {
        return sdk::invalid_argument("option mode: \"" + *v + "\" is not an octal file mode");
      }
      config.mode = mode;
      config.set_mode = mode != 0;
    }
    if (const auto* v = get("fsync")) {
      if (*v == "interval") {
        config.fsync = FsyncPolicy::kInterval;
      } else if (*v == "always") {
        config.fsync = FsyncPolicy::kAlways;
      } else if (*v == "never") {
        config.fsync = FsyncPolicy::kNever;
      } else {
        return sdk::invalid_argument("option fsync: expected interval, always or never");
      }
    }
  }
  if (config.sink == SinkKind::kSocket) {
    if (const auto* v = get("socket_type")) config.socket_type = *v;
    const std::string* address = get("address");
    if (address == nullptr || address->empty()) return sdk::invalid_argument("address is required");
    config.address = *address;
    if (config.socket_type == "tcp") {
      if (!valid_tcp_address(config.address)) {
        return sdk::invalid_argument("option address: expected host:port for a tcp socket");
      }
    } else if (config.socket_type == "unix") {
      if (config.address.size() >= 108) {
        return sdk::invalid_argument("option address: unix socket path too long");
      }
    } else {
      return sdk::invalid_argument("option socket_type: expected tcp or unix");
    }
  }
  return config;
}

sdk::Result<std::map<std::string, std::string>> options_from_json(const nlohmann::json& options) {
  std::map<std::string, std::string> out;
  if (options.is_null()) return out;
  if (!options.is_object()) return sdk::invalid_argument("options must be an object");
  for (const auto& [key, value] : options.items()) {
    if (value.is_string()) {
      out[key] = value.get<std::string>();
    } else if (value.is_boolean()) {
      out[key] = value.get<bool>() ? "true" : "false";
    } else if (value.is_number_integer() || value.is_number_unsigned()) {
      out[key] = value.dump();
    } else {
      return sdk::invalid_argument("option " + key + ": expected a string");
    }
  }
  return out;
}

sdk::Result<std::string> normalize_device_path(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return sdk::invalid_argument("missing audit device path");
  if (path.size() > 256) return sdk::invalid_argument("audit device path too long");
  std::string_view rest = path;
  while (true) {
    auto slash = rest.find('/');
    auto seg = rest.substr(0, slash);
    if (seg.empty() || seg == "." || seg == "..") {
      return sdk::invalid_argument("invalid audit device path \"" + std::string(path) + "\"");
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (std::any_of(path.begin(), path.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return sdk::invalid_argument("invalid audit device path");
  }
  return std::string(path) + "/";
}

}  // namespace leasefs::backend::audit
