// Docker's VolumeDriver protocol (plugin API v1.2) over leasefs mounts: each volume
// names a mount configuration, and mounting it runs `leasefs mount` on
// <mount_root>/<name>. This is the request handler only — endpoint name and JSON body
// in, status and JSON body out — so it is tested without a socket; the socket is
// unix_http_server.h and the command cli/volume_plugin_cmd.cc.
//
// Endpoints (all POST, bodies JSON; errors are HTTP 200 with a non-empty "Err", which is
// what Docker reads, except an unknown endpoint, which is 404):
//   /Plugin.Activate            -> {"Implements":["VolumeDriver"]}
//   /VolumeDriver.Create        {"Name","Opts"} -> {"Err":""}
//   /VolumeDriver.Remove        {"Name"}        -> {"Err":""}  (refused while mounted)
//   /VolumeDriver.Mount         {"Name","ID"}   -> {"Mountpoint","Err"}  (mounts on the
//                                                  first ID, counts the others)
//   /VolumeDriver.Unmount       {"Name","ID"}   -> {"Err":""}  (unmounts when the last
//                                                  ID goes)
//   /VolumeDriver.Path          {"Name"}        -> {"Mountpoint","Err"} ("" when unmounted)
//   /VolumeDriver.Get           {"Name"}        -> {"Volume":{"Name","Mountpoint","Status"},"Err"}
//   /VolumeDriver.List                          -> {"Volumes":[{"Name","Mountpoint"}],"Err"}
//   /VolumeDriver.Capabilities                  -> {"Capabilities":{"Scope":"local"}}
// Create options: config=NAME (<config_dir>/NAME.json) or config_file=/abs/path.json,
// and optionally files=<JSON array> replacing that configuration's "files". The
// configuration is checked at Create, so a bad one fails there and not at Mount.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backend/sdk/status.h"
#include "fs/volume/mount_child.h"

namespace leasefs::fs::volume {

// The content type of every plugin response.
inline constexpr std::string_view kPluginContentType = "application/vnd.docker.plugins.v1.2+json";

struct DriverOptions {
  std::string config_dir = "/etc/leasefs/mounts";
  std::string state_dir = "/var/lib/leasefs/volumes";
  std::string mount_root = "/run/leasefs/volumes";
  std::string leasefs_binary{};  // what runs `mount`; empty: this process's /proc/self/exe
  std::chrono::milliseconds mount_timeout{10'000};  // bound on a mount appearing
  std::chrono::milliseconds stop_timeout{10'000};   // bound on a mount daemon's SIGTERM exit
};

struct PluginReply {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
};

class VolumeDriver {
 public:
  // Creates the state and mount-root directories and loads <state_dir>/volumes.json
  // (no file: no volumes). A leasefs mount left on <mount_root>/<name> by a plugin that
  // died is detached. Errors: invalid_argument for a corrupt state file, unavailable
  // when a directory cannot be created.
  static sdk::Result<std::unique_ptr<VolumeDriver>> open(DriverOptions options);

  // shutdown().
  ~VolumeDriver();
  VolumeDriver(const VolumeDriver&) = delete;
  VolumeDriver& operator=(const VolumeDriver&) = delete;

  // Answers one request; `endpoint` is the request target ("/VolumeDriver.Mount").
  // Never throws on any body. Thread-safe: requests are handled one at a time (a Mount
  // may hold the others for up to mount_timeout).
  PluginReply handle(std::string_view endpoint, std::string_view body);

  // Stops every mount daemon and detaches what they leave; each stop is bounded by
  // stop_timeout. The volumes stay defined. Thread-safe; idempotent.
  void shutdown();

 private:
  struct Volume {
    nlohmann::json options = nlohmann::json::object();  // as given at Create
    std::string config_file{};                          // what `leasefs mount --config` reads
    bool generated_config = false;  // written by the driver (files=); removed with it
    std::unique_ptr<MountChild> child{};
    std::map<std::string, int> users{};  // Mount IDs still holding the volume
  };

  explicit VolumeDriver(DriverOptions options) : options_(std::move(options)) {}

  sdk::Status load_state();
  sdk::Status save_state() const;
  std::string mountpoint_of(const std::string& name) const;
  // Reaps a daemon that died on its own and detaches its mount; true while mounted.
  bool mounted(const std::string& name, Volume& volume);
  void unmount(const std::string& name, Volume& volume, std::string_view why);
  sdk::Result<Volume> volume_from_options(const std::string& name, const nlohmann::json& opts);

  // The endpoints, called with mutex_ held and, but for create and list, the volume
  // the request names.
  PluginReply create(const std::string& name, const nlohmann::json& request);
  PluginReply remove(const std::string& name, Volume& volume);
  PluginReply mount(const std::string& name, Volume& volume, const std::string& id);
  PluginReply unmount_request(const std::string& name, Volume& volume, const std::string& id);
  PluginReply path(const std::string& name, Volume& volume);
  PluginReply get(const std::string& name, Volume& volume);
  PluginReply list();

  DriverOptions options_;
  std::mutex mutex_;
  std::map<std::string, Volume> volumes_;  // guarded by mutex_
};

}  // namespace leasefs::fs::volume
