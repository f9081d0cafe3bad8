// A device's options, as sys/audit/<path> takes them (Vault's names and defaults), parsed
// and checked once at enable or load.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backend/sdk/status.h"

namespace leasefs::backend::audit {

enum class SinkKind { kFile, kSocket, kStdout, kDiscard };

// When a file device calls fdatasync (leasefs's option "fsync"; Vault has none).
enum class FsyncPolicy {
  kInterval,  // default: each entry is written (write(2)) before it counts as recorded;
              // fdatasync at most once a second while entries arrive, and at close
  kAlways,    // fdatasync before an entry counts as recorded (entries that arrive
              // together share one fdatasync)
  kNever,     // leave it to the kernel
};

inline constexpr std::chrono::milliseconds kDefaultWriteTimeout{2000};

struct DeviceConfig {
  std::string type{};  // "file", "socket" or "stdout", as enabled
  SinkKind sink = SinkKind::kFile;
  // file
  std::string file_path{};
  unsigned mode = 0600;  // applied to the file at open unless "0000"
  bool set_mode = true;
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  // socket
  std::string address{};
  std::string socket_type = "tcp";  // "tcp" or "unix"
  // every device
  std::chrono::nanoseconds write_timeout = kDefaultWriteTimeout;
  bool hmac_accessor = true;
  bool log_raw = false;  // writes tokens and secret values IN CLEAR; for debugging only
  bool elide_list_responses = false;
  std::string prefix{};
};

// Parses Vault's options for a device type:
//   every type: hmac_accessor (true), log_raw (false), elide_list_responses (false),
//               prefix (""), format ("json" only), write_timeout ("2s"; leasefs also
//               honours it for file and stdout devices)
//   file:       file_path (required; "stdout" and "discard" as in Vault; otherwise an
//               absolute path), mode ("0600"; "0000" leaves the mode alone), fsync
//               ("interval" | "always" | "never")
//   socket:     address (required: "host:port" or a unix socket path), socket_type
//               ("tcp" | "unix")
//   stdout:     nothing more
// Unknown options and malformed values are kInvalidArgument.
sdk::Result<DeviceConfig> parse_device_config(std::string_view type,
                                              const std::map<std::string, std::string>& options);

// Converts a JSON "options" object (values: strings, booleans or numbers, as clients
// send them) into the string map Vault keeps. Null gives an empty map.
sdk::Result<std::map<std::string, std::string>> options_from_json(const nlohmann::json& options);

// Normalizes a device path the way Vault does: surrounding '/' trimmed, one '/' added
// ("file" -> "file/"). Refuses empty paths, "." and ".." segments, control characters.
sdk::Result<std::string> normalize_device_path(std::string_view path);

}  // namespace leasefs::backend::audit
