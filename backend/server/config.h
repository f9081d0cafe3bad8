// The server's configuration file (JSON), and the settings `server --dev` implies.
//
//   {
//     "listener": {"address": "127.0.0.1:8200",
//                  "tls_cert_file": "/etc/leasefs/tls/server.pem",   // both or neither
//                  "tls_key_file": "/etc/leasefs/tls/server.key",
//                  "tls_min_version": "1.2"},                        // "1.2" or "1.3"
//     "storage": {"type": "sqlite", "path": "/var/lib/leasefs/leasefs.db"},  // or "inmem"
//     "default_lease_ttl": "768h", "max_lease_ttl": "768h",
//     "log_level": "info", "cluster_name": "leasefs",
//     "allow_core_dumps": false
//   }
//
// Every key is optional except storage.path for sqlite; an unknown key is an error that
// names it, so a typo never silently falls back to a default.
#pragma once

#include <optional>
#include <string>

#include "backend/sdk/clock.h"
#include "backend/sdk/log.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::server {

struct ServerConfig {
  std::string listen_address = "127.0.0.1:8200";
  std::string tls_cert_file{};
  std::string tls_key_file{};
  std::string tls_min_version = "1.2";
  std::string storage_type = "sqlite";  // "sqlite" or "inmem"
  std::string storage_path{};
  sdk::Duration default_lease_ttl{std::chrono::hours(768)};
  sdk::Duration max_lease_ttl{std::chrono::hours(768)};
  sdk::LogLevel log_level = sdk::LogLevel::kInfo;
  std::string cluster_name = "leasefs";
  bool allow_core_dumps = false;

  // Dev mode (not from the file): memory storage, initialized and unsealed at start.
  bool dev = false;
  std::string dev_root_token{};
};

// Parses a configuration file's text. Errors name the key ("listener.address: ...").
sdk::Result<ServerConfig> parse_server_config(std::string_view text);
// Reads and parses a file; errors name the file.
sdk::Result<ServerConfig> load_server_config(const std::string& path);

}  // namespace leasefs::backend::server
