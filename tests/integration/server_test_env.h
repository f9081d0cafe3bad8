// Shared setup of the server_* integration tests: the storage/TLS modes every suite runs
// in, and bring_up(), which starts a server through tests/support/server_fixture.h and
// makes it ready the way an operator would (dev mode as it starts; otherwise init and
// unseal through the API), with kv v2 at secret/ and kv v1 at kv1/.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <expected>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/server_fixture.h"

namespace leasefs::testing {

struct Mode {
  StorageKind storage = StorageKind::kDev;
  bool tls = false;
};

// Memory (dev and a config with "inmem") and SQLite, each over HTTP and, where the
// server can do it (not dev mode), over HTTPS.
inline std::vector<Mode> all_modes() {
  return {{.storage = StorageKind::kDev, .tls = false},
          {.storage = StorageKind::kInmem, .tls = false},
          {.storage = StorageKind::kInmem, .tls = true},
          {.storage = StorageKind::kSqlite, .tls = false},
          {.storage = StorageKind::kSqlite, .tls = true}};
}

// The modes that start uninitialized (a configuration file, not dev mode).
inline std::vector<Mode> config_modes() {
  std::vector<Mode> out;
  for (const Mode& m : all_modes()) {
    if (m.storage != StorageKind::kDev) out.push_back(m);
  }
  return out;
}

inline std::string describe(const Mode& mode) {
  return std::string(storage_name(mode.storage)) + (mode.tls ? "_tls" : "_plain");
}

inline std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
  return describe(info.param);
}

// How gtest prints a Mode (instead of its bytes).
inline void PrintTo(const Mode& mode, std::ostream* os) { *os << describe(mode); }

struct LiveServer {
  std::unique_ptr<ServerProcess> process{};
  std::unique_ptr<ApiCaller> api{};
  std::string root_token{};
  std::vector<std::string> unseal_keys{};  // dev: the one key it printed
  std::size_t threshold = 1;

  // Unseals with the first `threshold` keys.
  std::expected<void, std::string> unseal() { return unseal_server(*api, unseal_keys, threshold); }
};

// The dev server prints its unseal key on stdout after the address line; the fixture's
// reader may not have it yet, so wait for it with a deadline.
inline std::expected<std::string, std::string> dev_unseal_key(const ServerProcess& server) {
  constexpr std::string_view kMarker = "Unseal Key: ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (true) {
    std::string out = server.output();
    auto at = out.find(kMarker);
    if (at != std::string::npos) {
      auto eol = out.find('\n', at);
      if (eol != std::string::npos) return out.substr(at + kMarker.size(), eol - at - kMarker.size());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::unexpected("the dev server printed no unseal key");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Mounts kv v1 at kv1/ (and, unless the server is in dev mode and has it, kv v2 at
// secret/).
inline std::expected<void, std::string> mount_kv(LiveServer& s, bool dev) {
  if (!dev) {
    Reply r = s.api->call("POST", "sys/mounts/secret",
                          {{"type", "kv"}, {"options", {{"version", "2"}}}}, s.root_token);
    if (r.status != 204) return std::unexpected("mount secret/: " + r.describe());
  }
  Reply r = s.api->call("POST", "sys/mounts/kv1", {{"type", "kv"}}, s.root_token);
  if (r.status != 204) return std::unexpected("mount kv1/: " + r.describe());
  return {};
}

// Starts the server and makes it ready: initialized with 3 shares and threshold 2
// (non-dev), unsealed, kv mounts in place. `init` false stops after the start.
inline std::expected<LiveServer, std::string> bring_up(ServerSpec spec, bool init = true) {
  LiveServer s;
  const bool dev = spec.storage == StorageKind::kDev;
  auto started = ServerProcess::start(std::move(spec));
  if (!started) return std::unexpected(started.error());
  s.process = std::move(*started);
  s.api = std::make_unique<ApiCaller>(*s.process);
  if (!init) return s;
  if (dev) {
    s.root_token = s.process->spec().dev_root_token;
    auto key = dev_unseal_key(*s.process);
    if (!key) return std::unexpected(key.error());
    s.unseal_keys = {*key};
    s.threshold = 1;
  } else {
    auto keys = init_server(*s.api, 3, 2);
    if (!keys) return std::unexpected(keys.error());
    s.root_token = keys->root_token;
    s.unseal_keys = keys->keys;
    s.threshold = 2;
    if (auto u = s.unseal(); !u) return std::unexpected(u.error());
  }
  if (auto m = mount_kv(s, dev); !m) return std::unexpected(m.error());
  return s;
}

}  // namespace leasefs::testing
