// The volume plugin's process: driver + socket + signals; see volume_plugin.h.
#include "fs/volume/volume_plugin.h"

#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "backend/sdk/log.h"
#include "fs/volume/unix_http_server.h"

namespace leasefs::fs::volume {
namespace {

constexpr std::string_view kLog = "volume-plugin";

}  // namespace

int run_volume_plugin(const PluginOptions& options) {
  // Signals are taken synchronously below; the server thread inherits the mask, and
  // mount daemons get a cleared one (mount_child.cc).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto driver = VolumeDriver::open(options.driver);
  if (!driver) {
    sdk::log_error(kLog, driver.error().message());
    return kPluginError;
  }
  VolumeDriver& handler = **driver;
  auto server = UnixHttpServer::start(
      UnixHttpOptions{.socket_path = options.socket_path,
                      .error_content_type = std::string(kPluginContentType)},
      [&handler](const UnixHttpRequest& request) {
        std::string_view target = request.target;
        target = target.substr(0, target.find('?'));
        if (request.method != "POST") {
          return UnixHttpResponse{.status = 405,
                                  .content_type = std::string(kPluginContentType),
                                  .body = R"({"Err":"plugin endpoints take POST"})"};
        }
        PluginReply reply = handler.handle(target, request.body);
        return UnixHttpResponse{
            .status = reply.status,
            .content_type = std::string(kPluginContentType),
            // An endpoint echoed in an Err may hold any bytes.
            .body = reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
      });
  if (!server) {
    sdk::log_error(kLog, server.error().message());
    return kPluginSocket;
  }
  sdk::log_info(kLog, "serving Docker's VolumeDriver protocol on " + options.socket_path +
                          " (volumes in " + options.driver.state_dir + ", mounted under " +
                          options.driver.mount_root + ")");
  sd_notify(0, "READY=1\nSTATUS=serving");

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0 || sig == SIGHUP) continue;
    sdk::log_info(kLog, std::string("stopping on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    break;
  }
  sd_notify(0, "STOPPING=1");
  (*server)->stop();
  handler.shutdown();
  sdk::log_info(kLog, "stopped");
  return kPluginOk;
}

}  // namespace leasefs::fs::volume
