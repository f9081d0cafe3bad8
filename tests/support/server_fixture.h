// Test helper: a live `leasefs server` child on a kernel-chosen port, for integration,
// client and FUSE tests. start() writes the configuration (and, for TLS, a throwaway CA
// and server certificate), waits with a deadline for the "Api Address:" line, and
// returns the address; stop() sends SIGTERM and waits with a deadline for the exit
// status. The child is killed on every path that does not stop it (destructor, failed
// start, and — through PR_SET_PDEATHSIG — the test process dying), so no test leaves a
// server running. ApiCaller talks to it through the project's own client
// (backend/api/client.h), over HTTP or HTTPS with the throwaway CA.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/process.h"

namespace leasefs::backend::api {
class Client;
}

namespace leasefs::testing {

// Where the server keeps its data: `-dev` (memory, initialized and unsealed, kv v2 at
// secret/), a configuration file with "inmem", or one with "sqlite" in a file.
enum class StorageKind { kDev, kInmem, kSqlite };
std::string_view storage_name(StorageKind kind);

// A throwaway CA and a server certificate signed by it for IP 127.0.0.1 and DNS
// localhost (EC P-256, valid one day), as PEM files in `dir`: ca.pem, server.pem,
// server.key. Made with the openssl command line tool. Errors: a message with
// openssl's output.
struct TestPki {
  std::string ca_file{};
  std::string cert_file{};
  std::string key_file{};
};
std::expected<TestPki, std::string> make_test_pki(const std::string& dir);

struct ServerSpec {
  StorageKind storage = StorageKind::kDev;
  bool tls = false;  // not with kDev: dev mode has no TLS (use kInmem)
  // The root token dev mode creates (kDev only).
  std::string dev_root_token = "leasefs-test-root";
  // Where the configuration file, certificates and SQLite file go. Empty: a temporary
  // directory owned by the ServerProcess (gone with it). Give a directory that outlives
  // the process to restart a server on the same data.
  std::string dir{};
  // The SQLite file; empty: <dir>/leasefs.db.
  std::string sqlite_path{};
  // Certificates to serve; empty with `tls`: made in <dir> by make_test_pki().
  TestPki pki{};
  // Bound on the wait for the "Api Address:" line.
  std::chrono::milliseconds start_timeout{15'000};
  // Added to the command line after the generated flags, and to the environment.
  std::vector<std::string> extra_args{};
  std::vector<std::string> env{};
};

// How a stopped server ended.
struct ExitStatus {
  int exit_code = -1;  // -1 when ended by a signal or not reaped
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;  // did not exit within the deadline and was killed (SIGKILL)
  bool clean() const { return exit_code == 0 && signal == 0 && !timed_out; }
  std::string describe() const;
};

class ServerProcess {
 public:
  // Starts `leasefs server` (leasefs_binary()) on 127.0.0.1 port 0 and waits for its
  // address. Errors: a message naming what failed (spawn, config, early exit, deadline)
  // with the server's output so far; the child is killed and reaped before returning.
  // Not thread-safe with respect to the same object; the child is tied to the calling
  // thread's life (PR_SET_PDEATHSIG), so start servers from the test's main thread.
  static std::expected<std::unique_ptr<ServerProcess>, std::string> start(ServerSpec spec);

  // Kills (SIGKILL) and reaps a server that is still running.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return address_; }  // "https://127.0.0.1:41234"
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The spec as used: dir, sqlite_path and pki filled in. Pass it to start() again to
  // restart on the same data with the same certificates.
  const ServerSpec& spec() const { return spec_; }
  const std::string& ca_file() const { return spec_.pki.ca_file; }  // "" without TLS

  // True until the child has exited (reaps it when it has).
  bool running();
  // Sends SIGTERM and waits up to `timeout` for the exit; past it, SIGKILL and
  // timed_out. Returns the status a previous stop() or kill() already collected.
  ExitStatus stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Sends SIGTERM only (the caller then waits with wait_exit()).
  void terminate();
  // Waits up to `timeout` for the exit without signalling; nullopt when still running.
  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout);
  ExitStatus kill();

  // Everything the server wrote to stdout and stderr so far (a copy; thread-safe).
  std::string output() const;

 private:
  ServerProcess() = default;
  void start_drain();
  void stop_drain();
  void record(int status);

  ServerSpec spec_{};
  std::unique_ptr<TempDir> owned_dir_{};
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string address_{};
  std::uint16_t port_ = 0;
  std::optional<ExitStatus> exit_{};
  mutable std::mutex output_mu_{};
  std::string output_{};
  std::atomic<bool> drain_stop_{false};
  std::thread drain_{};
};

// One HTTP answer, body parsed as JSON when it is JSON.
struct Reply {
  int status = 0;            // 0 when the request failed below HTTP
  std::string body{};
  nlohmann::json json{};     // null unless the body parsed as JSON
  std::string content_type{};
  std::string transport_error{};  // set when status is 0
  // "403 {"errors":["permission denied"]}" (body cut at 2000 bytes), for failure text.
  std::string describe() const;
  // The body is exactly Vault's {"errors":[...]} with these messages.
  bool is_error(std::initializer_list<std::string_view> messages) const;
};

// Vault API calls against one server through backend::api::Client. Thread-safe.
class ApiCaller {
 public:
  // `address` as ServerProcess::address(); `ca_file` empty for plain HTTP.
  ApiCaller(std::string address, std::string ca_file,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));
  explicit ApiCaller(const ServerProcess& server,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~ApiCaller();
  ApiCaller(const ApiCaller&) = delete;
  ApiCaller& operator=(const ApiCaller&) = delete;

  // `path` without "/v1/" ("sys/mounts/kv"); `body` null sends no body.
  Reply call(std::string_view method, std::string_view path,
             const nlohmann::json& body = nullptr, std::string_view token = {});
  // Sends `target` verbatim ("/v1/a%2Fb?list=true") with `body` as given.
  Reply raw(std::string_view method, std::string_view target, std::string_view body = {},
            std::string_view token = {},
            std::vector<std::pair<std::string, std::string>> headers = {});

 private:
  std::unique_ptr<backend::api::Client> client_;
  std::string create_error_;
};

// PUT sys/init with `shares`/`threshold`; returns the hex keys and the root token.
struct InitResult {
  std::vector<std::string> keys{};
  std::string root_token{};
};
std::expected<InitResult, std::string> init_server(ApiCaller& api, int shares = 3,
                                                   int threshold = 2);
// PUT sys/unseal with the first `threshold` keys (all of `keys` when 0), checking that
// progress advances and that the last one unseals.
std::expected<void, std::string> unseal_server(ApiCaller& api, const std::vector<std::string>& keys,
                                               std::size_t threshold = 0);

}  // namespace leasefs::testing
