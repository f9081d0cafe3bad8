// Wiring of storage, core and listener, and the signal loop.
#include "backend/server/run.h"

#include <malloc.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <cstdio>
#include <memory>

#include "backend/core/core.h"
#include "backend/http/server.h"
#include "backend/sdk/encoding.h"
#include "backend/sdk/log.h"
#include "backend/sdk/secure_buffer.h"
#include "backend/server/api_handler.h"
#include "backend/storage/inmem_storage.h"
#include "backend/storage/sqlite_storage.h"
#include "engines/registry.h"

namespace leasefs::backend::server {

namespace {

constexpr auto kShutdownGrace = std::chrono::seconds(10);

int fail(const std::string& message) {
  std::fprintf(stderr, "leasefs: %s\n", message.c_str());
  return 1;
}

}  // namespace

int run_server(const ServerConfig& config, const std::string& version) {
  sdk::set_log_level(config.log_level);
  // A batch of access events (up to 1000) allocates and frees a few hundred KiB to a
  // few MiB at once. glibc's defaults give that back to the kernel after each batch
  // (heap trimming, mmap for the larger blocks) and fault every page in again for the
  // next: a sixth of the server's time per event. Keeping it costs a few MiB of RSS.
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  if (!config.allow_core_dumps && !sdk::disable_core_dumps()) {
    sdk::log_warn("server", "could not disable core dumps; keys could leak into a crash dump");
  }
  if (sdk::configure_secure_memory(std::size_t{1} << 21) == 0) {
    sdk::log_warn("server",
                  "could not lock memory for keys (RLIMIT_MEMLOCK too small?); keys are kept "
                  "in ordinary memory and wiped after use");
  }

  // Signals are taken synchronously by this thread; every thread started below
  // inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<sdk::Storage> physical;
  std::string storage_desc;
  if (config.dev || config.storage_type == "inmem") {
    physical = std::make_unique<storage::InmemStorage>();
    storage_desc = "inmem";
  } else {
    auto opened = storage::SqliteStorage::open(config.storage_path);
    if (!opened) return fail(opened.error().message());
    physical = std::move(*opened);
    storage_desc = "sqlite (" + config.storage_path + ")";
  }

  core::CoreOptions options;
  options.physical = physical.get();
  options.clock = &sdk::SystemClock::instance();
  options.random = &sdk::SystemRandom::instance();
  options.system_limits = {.default_lease_ttl = config.default_lease_ttl,
                           .max_lease_ttl = config.max_lease_ttl};
  options.storage_type = config.dev || config.storage_type == "inmem" ? "inmem" : "sqlite";
  options.cluster_name = config.cluster_name;
  options.secrets_engines = &engines::secrets_engines();
  options.auth_methods = &engines::auth_methods();
  auto core = std::make_unique<core::Core>(options);

  std::string unseal_key, root_token;
  if (config.dev) {
    auto init = core->initialize(1, 1, config.dev_root_token);
    if (!init) return fail("dev mode init failed: " + init.error().message());
    unseal_key = sdk::base64_encode(init->keys[0].span());
    root_token = init->root_token;
    auto unsealed = core->submit_unseal_key(unseal_key);
    if (!unsealed) return fail("dev mode unseal failed: " + unsealed.error().message());
    core::MountEntry kv;
    kv.path = "secret/";
    kv.type = "kv";
    kv.description = "key/value secret storage";
    kv.options = {{"version", "2"}};
    if (auto mounted = core->enable_mount(kv); !mounted) {
      return fail("dev mode could not mount secret/: " + mounted.error().message());
    }
  }

  ApiHandler handler(*core, version);
  http::ServerOptions http_options;
  http_options.listen = config.listen_address;
  if (!config.tls_cert_file.empty()) {
    http_options.tls = http::TlsOptions{.cert_file = config.tls_cert_file,
                                        .key_file = config.tls_key_file,
                                        .min_version = config.tls_min_version};
  }
  http_options.run_inline = [&handler](const http::HttpRequest& r) { return handler.runs_inline(r); };
  // Writes wait for a group commit; more workers in flight make bigger groups.
  http_options.workers = 32;
  auto server = http::Server::start(http_options, [&handler](http::HttpRequest& r) {
    return handler.handle(r);
  });
  if (!server) return fail(server.error().message());

  std::printf("==> leasefs server configuration:\n\n");
  std::printf("             Api Address: %s\n", (*server)->address().c_str());
  std::printf("                 Storage: %s\n", storage_desc.c_str());
  std::printf("                 Version: leasefs v%s\n\n", version.c_str());
  std::printf("==> leasefs server started! Log data will stream in below:\n\n");
  if (config.dev) {
    std::printf(
        "WARNING! dev mode is enabled! In this mode, leasefs runs entirely in memory\n"
        "and starts unsealed with a single unseal key.\n\n"
        "You may need to set the following environment variable:\n\n"
        "    $ export LEASEFS_ADDR='%s'\n\n"
        "The unseal key and root token are displayed below in case you want to\n"
        "seal/unseal the server or re-authenticate.\n\n"
        "Unseal Key: %s\nRoot Token: %s\n\n"
        "Development mode should NOT be used in production installations!\n\n",
        (*server)->address().c_str(), unseal_key.c_str(), root_token.c_str());
    sdk::wipe(unseal_key.data(), unseal_key.size());
    sdk::wipe(root_token.data(), root_token.size());
  }
  std::fflush(stdout);
  // Under systemd (Type=notify) the unit counts as started only now that the listener
  // answers: sealed or not, sys/seal-status and sys/unseal work. A no-op elsewhere.
  sd_notify(0, "READY=1\nSTATUS=listening");

  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // Log rotation: audit files are reopened by path (a rotated log continues in a
      // new file whose first entry links to the old one's last).
      if (core->sealed()) {
        sdk::log_info("server", "SIGHUP received while sealed; audit devices open at unseal");
      } else if (auto reopened = core->audit().reopen(); !reopened) {
        sdk::log_error("server", "SIGHUP: reopening audit devices: " + reopened.error().message());
      } else {
        sdk::log_info("server", "SIGHUP: audit devices reopened");
      }
      continue;
    }
    sdk::log_info("server", std::string("shutting down on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    break;
  }
  sd_notify(0, "STOPPING=1");
  (*server)->shutdown(std::chrono::duration_cast<std::chrono::milliseconds>(kShutdownGrace));
  core->seal();
  core.reset();
  physical.reset();
  sdk::log_info("server", "stopped");
  return 0;
}

}  // namespace leasefs::backend::server
