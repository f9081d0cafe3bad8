// Docker's VolumeDriver endpoints over leasefs mounts; see volume_driver.h.
#include "fs/volume/volume_driver.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "backend/sdk/log.h"
#include "fs/config.h"
#include "fs/files.h"

namespace leasefs::fs::volume {
namespace {

using nlohmann::json;

constexpr std::string_view kLog = "volume-plugin";
constexpr std::string_view kStateFile = "volumes.json";

PluginReply ok(json body = json::object()) {
  body["Err"] = "";
  return PluginReply{.status = 200, .body = std::move(body)};
}

PluginReply err(std::string message) {
  return PluginReply{.status = 200, .body = {{"Err", std::move(message)}}};
}

// Docker's own rule for volume names; it also keeps a name usable as a directory name.
bool valid_name(std::string_view name) {
  auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  };
  return !name.empty() && name.size() <= 200 && std::isalnum(static_cast<unsigned char>(name[0])) &&
         std::ranges::all_of(name, allowed);
}

// Docker's mount ID: one per container using the volume ("" from old clients).
std::string request_id(const json& request) {
  auto it = request.find("ID");
  return it != request.end() && it->is_string() ? it->get<std::string>() : std::string();
}

sdk::Result<std::string> request_name(const json& request) {
  auto it = request.find("Name");
  if (it == request.end() || !it->is_string() || it->get<std::string>().empty()) {
    return sdk::invalid_argument("\"Name\" is required");
  }
  std::string name = it->get<std::string>();
  if (!valid_name(name)) {
    return sdk::invalid_argument("invalid volume name \"" + name +
                                 "\": use letters, digits, _ . - and start with a letter or digit");
  }
  return name;
}

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string describe_options(const json& options) {
  std::string out = options.contains("config")
                        ? "config=" + options["config"].get<std::string>()
                        : "config_file=" + options.value("config_file", std::string());
  return options.contains("files") ? out + " with files" : out;
}

}  // namespace

sdk::Result<std::unique_ptr<VolumeDriver>> VolumeDriver::open(DriverOptions options) {
  std::error_code ec;
  for (const std::string& dir : {options.state_dir, options.state_dir + "/configs",
                                 options.state_dir + "/logs", options.mount_root}) {
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return sdk::error(sdk::Code::kUnavailable, "cannot create " + dir + ": " + ec.message());
  }
  // Mountpoints are compared with /proc/self/mountinfo, which shows real paths.
  options.mount_root = std::filesystem::canonical(options.mount_root, ec).string();
  if (ec)
    return sdk::error(sdk::Code::kUnavailable, "cannot resolve the mount root: " + ec.message());
  if (options.leasefs_binary.empty()) {
    options.leasefs_binary = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) return sdk::internal_error("cannot read /proc/self/exe: " + ec.message());
  }
  std::unique_ptr<VolumeDriver> driver(new VolumeDriver(std::move(options)));
  if (auto status = driver->load_state(); !status.ok()) return sdk::error(std::move(status));
  for (const auto& [name, volume] : driver->volumes_) {
    std::string mountpoint = driver->mountpoint_of(name);
    if (!is_leasefs_mount(mountpoint)) continue;
    auto status = detach_mount(mountpoint);
    sdk::log_warn(kLog, "volume " + name + ": detached a mount left by an earlier plugin" +
                            (status.ok() ? "" : ": " + status.message()));
  }
  return driver;
}

VolumeDriver::~VolumeDriver() {
  shutdown();
}

std::string VolumeDriver::mountpoint_of(const std::string& name) const {
  return options_.mount_root + "/" + name;
}

sdk::Status VolumeDriver::load_state() {
  std::string file = options_.state_dir + "/" + std::string(kStateFile);
  if (!std::filesystem::exists(file)) return {};
  bool readable = false;
  std::string text = read_file(file, readable);
  if (!readable) return sdk::Status(sdk::Code::kUnavailable, file + ": cannot be read");
  json state = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](std::string_view why) {
    return sdk::Status(sdk::Code::kInvalidArgument, file + ": " + std::string(why));
  };
  if (state.is_discarded() || !state.is_object()) return bad("is not a JSON object");
  auto volumes = state.find("volumes");
  if (volumes == state.end() || !volumes->is_object()) return bad("\"volumes\" must be an object");
  for (const auto& [name, entry] : volumes->items()) {
    if (!valid_name(name) || !entry.is_object() || !entry.contains("config_file") ||
        !entry["config_file"].is_string() || !entry.value("options", json()).is_object()) {
      return bad("volume \"" + name + "\" is malformed");
    }
    Volume volume;
    volume.options = entry["options"];
    volume.config_file = entry["config_file"].get<std::string>();
    volume.generated_config = entry.value("generated_config", false);
    volumes_.emplace(name, std::move(volume));
  }
  return {};
}

sdk::Status VolumeDriver::save_state() const {
  json volumes = json::object();
  for (const auto& [name, volume] : volumes_) {
    volumes[name] = {{"options", volume.options},
                     {"config_file", volume.config_file},
                     {"generated_config", volume.generated_config}};
  }
  json state = {{"version", 1}, {"volumes", std::move(volumes)}};
  return write_file_atomically(options_.state_dir + "/" + std::string(kStateFile),
                               state.dump(2) + "\n");
}

sdk::Result<VolumeDriver::Volume> VolumeDriver::volume_from_options(const std::string& name,
                                                                    const json& opts) {
  if (!opts.is_null() && !opts.is_object())
    return sdk::invalid_argument("\"Opts\" must be an object");
  std::string unknown;
  json options = json::object();
  const json none = json::object();
  for (const auto& [key, value] : (opts.is_object() ? opts : none).items()) {
    if (key != "config" && key != "config_file" && key != "files") {
      unknown += (unknown.empty() ? "\"" : ", \"") + key + "\"";
      continue;
    }
    if (!value.is_string() && !(key == "files" && value.is_array())) {
      return sdk::invalid_argument("option " + key + " must be a string");
    }
    options[key] = value;
  }
  if (!unknown.empty()) {
    return sdk::invalid_argument("unknown option " + unknown +
                                 " (known: config, config_file, files)");
  }
  if (options.contains("config") == options.contains("config_file")) {
    return sdk::invalid_argument("give exactly one of the options config=NAME or config_file=PATH");
  }
  Volume volume;
  if (options.contains("config")) {
    std::string config = options["config"].get<std::string>();
    if (!valid_name(config)) {
      return sdk::invalid_argument("invalid config name \"" + config + "\": a file name in " +
                                   options_.config_dir + " without .json (letters, digits, _ . -)");
    }
    volume.config_file = options_.config_dir + "/" + config + ".json";
  } else {
    volume.config_file = options["config_file"].get<std::string>();
    if (!std::filesystem::path(volume.config_file).is_absolute()) {
      return sdk::invalid_argument("config_file must be an absolute path");
    }
  }
  if (!options.contains("files")) {
    LEASEFS_TRY(load_mount_config(volume.config_file));
    volume.options = std::move(options);
    return volume;
  }
  // files=: the base configuration's server and mount settings with these files,
  // written to the state directory for the mount daemon.
  json files = options["files"];
  if (files.is_string()) files = json::parse(files.get<std::string>(), nullptr, false);
  if (files.is_discarded() || !files.is_array()) {
    return sdk::invalid_argument("option files must be a JSON array of file entries");
  }
  bool readable = false;
  std::string text = read_file(volume.config_file, readable);
  if (!readable) return sdk::invalid_argument(volume.config_file + ": cannot be read");
  json base = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (base.is_discarded() || !base.is_object()) {
    return sdk::invalid_argument(volume.config_file + ": is not a JSON object");
  }
  base["files"] = std::move(files);
  if (auto parsed = parse_mount_config(base); !parsed) {
    return sdk::error(parsed.error().with_context(volume.config_file + " with the files option"));
  }
  std::string generated = options_.state_dir + "/configs/" + name + ".json";
  LEASEFS_TRY([&]() -> sdk::Result<void> {
    auto status = write_file_atomically(generated, base.dump(2) + "\n");
    if (!status.ok()) return sdk::error(std::move(status));
    return {};
  }());
  volume.config_file = generated;
  volume.generated_config = true;
  volume.options = std::move(options);
  return volume;
}

bool VolumeDriver::mounted(const std::string& name, Volume& volume) {
  if (!volume.child) return false;
  if (volume.child->running() && is_leasefs_mount(volume.child->mountpoint())) return true;
  std::string how = volume.child->stop(options_.stop_timeout);
  sdk::log_warn(kLog, "volume " + name + ": its mount daemon went away (" + how + "); see " +
                          options_.state_dir + "/logs/" + name + ".log");
  volume.child.reset();
  volume.users.clear();
  return false;
}

void VolumeDriver::unmount(const std::string& name, Volume& volume, std::string_view why) {
  if (!volume.child) return;
  std::string how = volume.child->stop(options_.stop_timeout);
  volume.child.reset();
  volume.users.clear();
  std::error_code ec;
  std::filesystem::remove(mountpoint_of(name), ec);  // an empty directory only
  sdk::log_info(kLog,
                "volume " + name + " unmounted (" + std::string(why) + "); mount daemon " + how);
}

PluginReply VolumeDriver::handle(std::string_view endpoint, std::string_view body) {
  static constexpr std::string_view kEndpoints[] = {
      "/Plugin.Activate",    "/VolumeDriver.Create",  "/VolumeDriver.Remove",
      "/VolumeDriver.Mount", "/VolumeDriver.Unmount", "/VolumeDriver.Path",
      "/VolumeDriver.Get",   "/VolumeDriver.List",    "/VolumeDriver.Capabilities"};
  if (std::ranges::find(kEndpoints, endpoint) == std::end(kEndpoints)) {
    return PluginReply{.status = 404,
                       .body = {{"Err", "unknown endpoint " + std::string(endpoint)}}};
  }
  json request = body.find_first_not_of(" \t\r\n") == std::string_view::npos
                     ? json::object()
                     : json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) return err("malformed JSON body");
  if (request.is_null()) request = json::object();
  if (!request.is_object()) return err("the request body must be a JSON object");

  if (endpoint == "/Plugin.Activate") {
    return PluginReply{.status = 200, .body = {{"Implements", {"VolumeDriver"}}}};
  }
  if (endpoint == "/VolumeDriver.Capabilities") {
    return PluginReply{.status = 200, .body = {{"Capabilities", {{"Scope", "local"}}}}};
  }
  std::lock_guard lock(mutex_);
  if (endpoint == "/VolumeDriver.List") return list();
  auto name = request_name(request);
  if (!name) return err(name.error().message());
  if (endpoint == "/VolumeDriver.Create") return create(*name, request);
  auto it = volumes_.find(*name);
  if (it == volumes_.end()) return err("no such volume: " + *name);
  if (endpoint == "/VolumeDriver.Remove") return remove(*name, it->second);
  if (endpoint == "/VolumeDriver.Mount") return mount(*name, it->second, request_id(request));
  if (endpoint == "/VolumeDriver.Unmount") {
    return unmount_request(*name, it->second, request_id(request));
  }
  if (endpoint == "/VolumeDriver.Path") return path(*name, it->second);
  return get(*name, it->second);
}

PluginReply VolumeDriver::create(const std::string& name, const json& request) {
  auto it = volumes_.find(name);
  auto opts = request.value("Opts", json());
  if (it != volumes_.end()) {
    // Docker may repeat a Create; the same options again are not an error.
    if (opts.is_object() && opts == it->second.options) return ok();
    return err("volume " + name + " exists with other options; remove it first");
  }
  auto volume = volume_from_options(name, opts);
  if (!volume) return err("volume " + name + ": " + volume.error().message());
  std::string described = describe_options(volume->options);
  auto [inserted, _] = volumes_.emplace(name, std::move(*volume));
  if (auto status = save_state(); !status.ok()) {
    if (inserted->second.generated_config) std::filesystem::remove(inserted->second.config_file);
    volumes_.erase(inserted);
    return err("volume " + name + ": " + status.message());
  }
  sdk::log_info(kLog, "volume " + name + " created (" + described + ")");
  return ok();
}

PluginReply VolumeDriver::remove(const std::string& name, Volume& existing) {
  if (mounted(name, existing)) {
    return err("volume " + name + " is mounted (" + std::to_string(existing.users.size()) +
               " users); unmount it first");
  }
  Volume volume = std::move(existing);
  volumes_.erase(name);
  if (auto status = save_state(); !status.ok()) {
    volumes_.emplace(name, std::move(volume));
    return err("volume " + name + ": " + status.message());
  }
  std::error_code ec;
  if (volume.generated_config) std::filesystem::remove(volume.config_file, ec);
  std::filesystem::remove(options_.state_dir + "/logs/" + name + ".log", ec);
  std::filesystem::remove(mountpoint_of(name), ec);
  sdk::log_info(kLog, "volume " + name + " removed");
  return ok();
}

PluginReply VolumeDriver::mount(const std::string& name, Volume& volume, const std::string& id) {
  std::string mountpoint = mountpoint_of(name);
  if (!mounted(name, volume)) {
    std::error_code ec;
    std::filesystem::create_directories(mountpoint, ec);
    if (ec) return err("volume " + name + ": cannot create " + mountpoint + ": " + ec.message());
    auto child =
        MountChild::start(MountChildSpec{.binary = options_.leasefs_binary,
                                         .mountpoint = mountpoint,
                                         .config_file = volume.config_file,
                                         .log_file = options_.state_dir + "/logs/" + name + ".log",
                                         .mount_timeout = options_.mount_timeout});
    if (!child) {
      std::filesystem::remove(mountpoint, ec);
      sdk::log_error(kLog, "volume " + name + ": mount failed: " + child.error().message());
      return err("volume " + name + ": " + child.error().message());
    }
    volume.child = std::move(*child);
    sdk::log_info(kLog, "volume " + name + " mounted on " + mountpoint + " (pid " +
                            std::to_string(volume.child->pid()) + ")");
  }
  ++volume.users[id];
  return ok({{"Mountpoint", mountpoint}});
}

PluginReply VolumeDriver::unmount_request(const std::string& name, Volume& volume,
                                          const std::string& id) {
  // Not mounted (e.g. after a plugin restart): nothing to undo.
  if (!mounted(name, volume)) return ok();
  auto user = volume.users.find(id);
  if (user == volume.users.end()) {
    return err("volume " + name + " is not mounted for ID \"" + id + "\"");
  }
  if (--user->second == 0) volume.users.erase(user);
  if (volume.users.empty()) unmount(name, volume, "its last user unmounted it");
  return ok();
}

PluginReply VolumeDriver::path(const std::string& name, Volume& volume) {
  return ok({{"Mountpoint", mounted(name, volume) ? mountpoint_of(name) : ""}});
}

PluginReply VolumeDriver::get(const std::string& name, Volume& volume) {
  bool is_mounted = mounted(name, volume);
  json status = {{"config_file", volume.config_file},
                 {"options", volume.options},
                 {"mounted", is_mounted},
                 {"users", volume.users.size()}};
  if (is_mounted) status["pid"] = volume.child->pid();
  return ok({{"Volume",
              {{"Name", name},
               {"Mountpoint", is_mounted ? mountpoint_of(name) : ""},
               {"Status", std::move(status)}}}});
}

PluginReply VolumeDriver::list() {
  json volumes = json::array();
  for (auto& [name, volume] : volumes_) {
    volumes.push_back(
        {{"Name", name}, {"Mountpoint", mounted(name, volume) ? mountpoint_of(name) : ""}});
  }
  return ok({{"Volumes", std::move(volumes)}});
}

void VolumeDriver::shutdown() {
  std::lock_guard lock(mutex_);
  for (auto& [name, volume] : volumes_) {
    if (volume.child) unmount(name, volume, "the plugin is stopping");
  }
}

}  // namespace leasefs::fs::volume
