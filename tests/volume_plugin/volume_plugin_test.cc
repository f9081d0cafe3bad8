// `leasefs volume-plugin` driven the way Docker drives it: HTTP POSTs with JSON bodies
// over its unix socket, sent here with `curl --unix-socket`. Every endpoint, a volume
// mounted and read with cat, the error answers Docker shows to users, persistence across
// a plugin restart, and nothing left mounted at the end. Against a real
// `leasefs server -dev` on port 0; everything lives in one temporary directory.
#include <cstring>
#include <expected>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/volume/mount_child.h"
#include "tests/fuse/mount_fixture.h"
#include "tests/support/server_fixture.h"
#include "tests/volume_plugin/mount_table.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::string_view kContentType = "application/vnd.docker.plugins.v1.2+json";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool accepts(const std::string& socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// A `leasefs volume-plugin` child with its log in a file; killed with the test
// process (PR_SET_PDEATHSIG) and on every path that does not stop it.
class PluginProcess {
 public:
  PluginProcess(std::vector<std::string> args, std::string log_file)
      : args_(std::move(args)), log_file_(std::move(log_file)) {}
  ~PluginProcess() { stop(5s); }

  // Starts the plugin and waits up to 15 s for `socket` to accept connections.
  std::expected<void, std::string> start(const std::string& socket) {
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return std::unexpected("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    exit_status_.reset();
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (!accepts(socket)) {
      if (!running()) return std::unexpected("the plugin exited early:\n" + log());
      if (std::chrono::steady_clock::now() > deadline) {
        return std::unexpected("the plugin's socket did not appear in time:\n" + log());
      }
      std::this_thread::sleep_for(20ms);
    }
    return {};
  }

  bool running() {
    if (pid_ <= 0 || exit_status_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == 0) return true;
    exit_status_ = status;
    return false;
  }

  // SIGTERM, then up to `timeout` for the exit (SIGKILL past it). The exit code, or -1
  // when it was killed.
  int stop(std::chrono::milliseconds timeout = 30s) {
    if (running()) {
      ::kill(pid_, SIGTERM);
      auto deadline = std::chrono::steady_clock::now() + timeout;
      while (running() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
      }
      if (running()) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        exit_status_ = status;
        return -1;
      }
    }
    if (!exit_status_) return -1;
    return WIFEXITED(*exit_status_) ? WEXITSTATUS(*exit_status_) : -1;
  }

  std::string log() const { return slurp(log_file_); }

 private:
  std::vector<std::string> args_;
  std::string log_file_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_{};
};

struct PluginReply {
  int http_status = 0;
  std::string content_type{};
  json body{};  // discarded when not JSON
  std::string raw{};
  std::string describe() const { return std::to_string(http_status) + " " + raw; }
  std::string err() const {
    return body.is_object() && body.contains("Err") && body["Err"].is_string()
               ? body["Err"].get<std::string>()
               : "<no Err: " + raw + ">";
  }
};

class VolumePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = fuse_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_EQ(::access("/usr/bin/curl", X_OK), 0) << "curl is needed (packaging/install-deps.sh)";
    ::chmod(dir_.path().c_str(), 0755);
    auto server = ServerProcess::start(ServerSpec{});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    ApiCaller api(*server_);
    ASSERT_EQ(
        api.call("POST", "secret/data/app", {{"data", {{"api_key", "k-123"}, {"user", "alice"}}}},
                 server_->spec().dev_root_token)
            .status,
        200);
    std::ofstream(dir_ / "token") << server_->spec().dev_root_token << "\n";
    ::mkdir((dir_ / "configs").c_str(), 0755);
    write_config("web", json::parse(R"([
      {"path": "app/api_key", "secret": "secret/data/app", "field": "api_key", "mode": "0444"}
    ])"));
    start_plugin();
  }

  void TearDown() override {
    if (plugin_) {
      int code = plugin_->stop();
      EXPECT_EQ(code, 0) << plugin_->log();
      plugin_.reset();
    }
    // What the plugin should have unmounted; detached here so no test leaves a mount.
    auto left = mounts_under(dir_.path());
    EXPECT_TRUE(left.empty()) << "left mounted: " << left.front();
    for (const auto& point : left) {
      run({"/usr/bin/fusermount3", "-uz", point});
      run({"/usr/bin/umount", "-l", point});
    }
    EXPECT_FALSE(std::filesystem::exists(socket_)) << "the socket outlived the plugin";
  }

  json config(json files, std::string token_file = {}) {
    return {{"server",
             {{"address", server_->address()},
              {"timeout", "2s"},
              {"auth", {{"token_file", token_file.empty() ? dir_ / "token" : token_file}}}}},
            {"mount", {{"allow_other", true}}},
            {"files", std::move(files)}};
  }

  void write_config(const std::string& name, json files, std::string token_file = {}) {
    std::ofstream(dir_ / ("configs/" + name + ".json"))
        << config(std::move(files), token_file).dump(2);
  }

  void start_plugin() {
    plugin_ = std::make_unique<PluginProcess>(
        std::vector<std::string>{leasefs_binary(), "volume-plugin", "--socket", socket_,
                                 "--config-dir", dir_ / "configs", "--state-dir", dir_ / "state",
                                 "--mount-root", dir_ / "volumes", "--mount-timeout", "10s"},
        dir_ / "plugin.log");
    auto started = plugin_->start(socket_);
    ASSERT_TRUE(started) << started.error();
  }

  // POSTs `body` to /ENDPOINT through curl --unix-socket, as Docker's plugin client does.
  PluginReply post(const std::string& endpoint, const std::string& body = "{}") {
    auto r = run({"/usr/bin/curl", "-sS", "--max-time", "20", "--unix-socket", socket_, "-X",
                  "POST", "-H", "Content-Type: application/json", "--data-binary", body, "-w",
                  "\n%{http_code}\n%{content_type}", "http://plugin/" + endpoint},
                 30s);
    PluginReply reply;
    if (r.exit_code != 0) {
      reply.raw = "curl failed: " + r.err;
      return reply;
    }
    std::size_t type_at = r.out.rfind('\n');
    std::size_t code_at = r.out.rfind('\n', type_at - 1);
    reply.content_type = r.out.substr(type_at + 1);
    reply.http_status = std::stoi(r.out.substr(code_at + 1, type_at - code_at - 1));
    reply.raw = r.out.substr(0, code_at);
    reply.body = json::parse(reply.raw, nullptr, false);
    return reply;
  }

  // Asserts an answer Docker takes as success: 200, the plugin content type, "Err":"".
  static void expect_ok(const PluginReply& r) {
    EXPECT_EQ(r.http_status, 200) << r.describe();
    EXPECT_EQ(r.content_type, kContentType);
    EXPECT_EQ(r.err(), "") << r.describe();
  }

  // An error answer: 200 (Docker reads only "Err") with an Err containing `words`.
  static void expect_err(const PluginReply& r, std::string_view words, int http_status = 200) {
    EXPECT_EQ(r.http_status, http_status) << r.describe();
    EXPECT_EQ(r.content_type, kContentType);
    EXPECT_NE(r.err().find(words), std::string::npos) << r.describe();
  }

  std::string cat(const std::string& file) { return run({"/usr/bin/cat", file}).out; }

  TempDir dir_;
  std::string socket_ = dir_ / "plugins/leasefs.sock";
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<PluginProcess> plugin_;
};

TEST_F(VolumePluginTest, EveryEndpointAVolumeMountedReadAndRemoved) {
  auto activate = post("Plugin.Activate", "");
  EXPECT_EQ(activate.http_status, 200);
  EXPECT_EQ(activate.content_type, kContentType);
  EXPECT_EQ(activate.body, json::parse(R"({"Implements":["VolumeDriver"]})"));
  auto caps = post("VolumeDriver.Capabilities", "");
  EXPECT_EQ(caps.body, json::parse(R"({"Capabilities":{"Scope":"local"}})")) << caps.describe();

  expect_ok(post("VolumeDriver.Create", R"({"Name":"web-secrets","Opts":{"config":"web"}})"));
  // Docker may send a Create again: the same options are fine.
  expect_ok(post("VolumeDriver.Create", R"({"Name":"web-secrets","Opts":{"config":"web"}})"));
  auto list = post("VolumeDriver.List", "");
  expect_ok(list);
  EXPECT_EQ(list.body["Volumes"], json::parse(R"([{"Name":"web-secrets","Mountpoint":""}])"));
  auto path = post("VolumeDriver.Path", R"({"Name":"web-secrets"})");
  expect_ok(path);
  EXPECT_EQ(path.body["Mountpoint"], "");

  std::string mountpoint = dir_ / "volumes/web-secrets";
  auto mounted = post("VolumeDriver.Mount", R"({"Name":"web-secrets","ID":"c1"})");
  expect_ok(mounted);
  EXPECT_EQ(mounted.body["Mountpoint"], mountpoint);
  EXPECT_TRUE(is_leasefs_mount(mountpoint)) << plugin_->log();
  EXPECT_EQ(cat(mountpoint + "/app/api_key"), "k-123");
  // A second container: same mount, counted.
  auto second = post("VolumeDriver.Mount", R"({"Name":"web-secrets","ID":"c2"})");
  expect_ok(second);
  EXPECT_EQ(second.body["Mountpoint"], mountpoint);
  EXPECT_EQ(mounts_under(dir_.path()).size(), 1u);

  auto get = post("VolumeDriver.Get", R"({"Name":"web-secrets"})");
  expect_ok(get);
  EXPECT_EQ(get.body["Volume"]["Name"], "web-secrets");
  EXPECT_EQ(get.body["Volume"]["Mountpoint"], mountpoint);
  EXPECT_EQ(get.body["Volume"]["Status"]["mounted"], true);
  EXPECT_EQ(get.body["Volume"]["Status"]["users"], 2);
  EXPECT_EQ(post("VolumeDriver.Path", R"({"Name":"web-secrets"})").body["Mountpoint"], mountpoint);
  EXPECT_EQ(post("VolumeDriver.List", "").body["Volumes"][0]["Mountpoint"], mountpoint);

  // Removing a volume in use is refused; it stays mounted until the last ID goes.
  expect_err(post("VolumeDriver.Remove", R"({"Name":"web-secrets"})"), "is mounted");
  expect_ok(post("VolumeDriver.Unmount", R"({"Name":"web-secrets","ID":"c1"})"));
  EXPECT_TRUE(is_leasefs_mount(mountpoint));
  EXPECT_EQ(cat(mountpoint + "/app/api_key"), "k-123");
  expect_ok(post("VolumeDriver.Unmount", R"({"Name":"web-secrets","ID":"c2"})"));
  EXPECT_FALSE(is_leasefs_mount(mountpoint));
  EXPECT_TRUE(mounts_under(dir_.path()).empty());
  EXPECT_EQ(post("VolumeDriver.Path", R"({"Name":"web-secrets"})").body["Mountpoint"], "");
  EXPECT_EQ(
      post("VolumeDriver.Get", R"({"Name":"web-secrets"})").body["Volume"]["Status"]["mounted"],
      false);

  expect_ok(post("VolumeDriver.Remove", R"({"Name":"web-secrets"})"));
  EXPECT_EQ(post("VolumeDriver.List", "").body["Volumes"], json::array());
  expect_err(post("VolumeDriver.Get", R"({"Name":"web-secrets"})"), "no such volume");
  EXPECT_TRUE(mounts_under(dir_.path()).empty());
  // The plugin logs names and events, never secret values.
  EXPECT_EQ(plugin_->log().find("k-123"), std::string::npos);
}

TEST_F(VolumePluginTest, ErrorsAreErrStringsNamingTheProblem) {
  expect_err(post("VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"web","colour":"red"}})"),
             "unknown option \"colour\"");
  expect_err(post("VolumeDriver.Create", R"({"Name":"v"})"), "config=NAME or config_file=PATH");
  expect_err(post("VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"../configs/web"}})"),
             "invalid config name");
  expect_err(post("VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"missing"}})"),
             "missing.json: cannot be read");
  expect_err(
      post("VolumeDriver.Create", R"({"Name":"v","Opts":{"config_file":"configs/web.json"}})"),
      "absolute");
  expect_err(post("VolumeDriver.Create", R"({"Name":"../x","Opts":{"config":"web"}})"),
             "invalid volume name");
  // A bad configuration fails at Create, with the mount's own message.
  write_config("bad", json::parse(R"([{"path": "a", "secret": "secret/data/app", "feild": "x"}])"));
  expect_err(post("VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"bad"}})"), "feild");
  expect_err(post("VolumeDriver.Mount", R"({"Name":"nope","ID":"c1"})"), "no such volume: nope");
  expect_err(post("VolumeDriver.Remove", R"({"Name":"nope"})"), "no such volume");
  expect_err(post("VolumeDriver.Path", R"({})"), "\"Name\" is required");
  expect_err(post("VolumeDriver.Get", R"({"Name":)"), "malformed JSON");
  expect_err(post("VolumeDriver.Create", R"(["Name"])"), "must be a JSON object");
  expect_err(post("VolumeDriver.Explode", "{}"), "unknown endpoint /VolumeDriver.Explode", 404);
  EXPECT_EQ(post("VolumeDriver.List", "").body["Volumes"], json::array());

  expect_ok(post("VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"web"}})"));
  expect_err(post("VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"bad"}})"),
             "exists with other options");
  ASSERT_EQ(post("VolumeDriver.Mount", R"({"Name":"v","ID":"c1"})").err(), "");
  expect_err(post("VolumeDriver.Unmount", R"({"Name":"v","ID":"stranger"})"), "not mounted for ID");
  expect_err(post("VolumeDriver.Remove", R"({"Name":"v"})"), "unmount it first");
  expect_ok(post("VolumeDriver.Unmount", R"({"Name":"v","ID":"c1"})"));
  // Unmounting what is not mounted (Docker after a plugin restart) is not an error.
  expect_ok(post("VolumeDriver.Unmount", R"({"Name":"v","ID":"c1"})"));
  expect_ok(post("VolumeDriver.Remove", R"({"Name":"v"})"));
  EXPECT_TRUE(plugin_->running());
}

TEST_F(VolumePluginTest, AMountThatFailsAnswersWithTheDaemonsExitCode) {
  // Valid configuration, but its token file is missing: the daemon exits 5 at mount.
  write_config("notoken",
               json::parse(R"([{"path": "k", "secret": "secret/data/app", "field": "api_key"}])"),
               dir_ / "no-such-token");
  expect_ok(post("VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"notoken"}})"));
  auto r = post("VolumeDriver.Mount", R"({"Name":"v","ID":"c1"})");
  expect_err(r, "exited with code 5");
  EXPECT_EQ(post("VolumeDriver.Path", R"({"Name":"v"})").body["Mountpoint"], "");
  EXPECT_TRUE(mounts_under(dir_.path()).empty());
  expect_ok(post("VolumeDriver.Remove", R"({"Name":"v"})"));
}

// A mount daemon that dies after mounting (here: SIGKILL, as the OOM killer would) leaves
// a dead mount behind; MountChild::start reports the exit and detaches that mount, so
// the directory is usable again instead of failing with ENOTCONN.
TEST_F(VolumePluginTest, AMountDaemonThatDiesAfterMountingLeavesNoDeadMount) {
  const std::string mountpoint = dir_ / "dies";
  ASSERT_EQ(::mkdir(mountpoint.c_str(), 0755), 0);
  // Stands in for `leasefs`: runs the real mount, kills it once it is mounted, exits 5
  // (7 if it never mounted, which fails the test: the dead mount must really happen).
  const std::string wrapper = dir_ / "dying-leasefs";
  std::ofstream(wrapper) << "#!/bin/bash\n"
                         << "'" << leasefs_binary() << "' \"$@\" &\n"
                         << "daemon=$!\n"
                         << "mounted() { grep -q ' " << mountpoint << " ' /proc/self/mountinfo; }\n"
                         << "for _ in $(seq 400); do mounted && break; sleep 0.025; done\n"
                         << "mounted || exit 7\n"
                         << "kill -KILL $daemon; wait $daemon\n"
                         << "exit 5\n";
  ASSERT_EQ(::chmod(wrapper.c_str(), 0755), 0);
  auto child = leasefs::fs::volume::MountChild::start(
      leasefs::fs::volume::MountChildSpec{.binary = wrapper,
                                          .mountpoint = mountpoint,
                                          .config_file = dir_ / "configs/web.json",
                                          .log_file = dir_ / "dies.log",
                                          .mount_timeout = 20s});
  ASSERT_FALSE(child.has_value()) << "the wrapper's mount daemon was killed";
  EXPECT_NE(child.error().message().find("exited with code 5"), std::string::npos)
      << child.error().message();
  EXPECT_TRUE(mounts_under(dir_.path()).empty()) << "a dead mount was left at " << mountpoint;
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_directory(mountpoint, ec)) << ec.message();
}

TEST_F(VolumePluginTest, FilesOptionReplacesTheConfigsFiles) {
  json files = json::parse(
      R"([{"path": "user", "secret": "secret/data/app", "field": "user", "mode": "0444"}])");
  json request = {{"Name", "custom"}, {"Opts", {{"config", "web"}, {"files", files.dump()}}}};
  expect_ok(post("VolumeDriver.Create", request.dump()));
  json bad = {{"Name", "x"}, {"Opts", {{"config", "web"}, {"files", "[{\"path\": 1}"}}}};
  expect_err(post("VolumeDriver.Create", bad.dump()), "files must be a JSON array");
  auto mounted = post("VolumeDriver.Mount", R"({"Name":"custom","ID":"c1"})");
  expect_ok(mounted);
  std::string mountpoint = mounted.body["Mountpoint"];
  EXPECT_EQ(cat(mountpoint + "/user"), "alice");
  EXPECT_FALSE(std::filesystem::exists(mountpoint + "/app/api_key"));
  expect_ok(post("VolumeDriver.Unmount", R"({"Name":"custom","ID":"c1"})"));
  expect_ok(post("VolumeDriver.Remove", R"({"Name":"custom"})"));
}

TEST_F(VolumePluginTest, VolumesSurviveARestartAndSigtermUnmountsEverything) {
  expect_ok(post("VolumeDriver.Create", R"({"Name":"a","Opts":{"config":"web"}})"));
  expect_ok(
      post("VolumeDriver.Create",
           json{{"Name", "b"}, {"Opts", {{"config_file", dir_ / "configs/web.json"}}}}.dump()));
  expect_ok(post("VolumeDriver.Mount", R"({"Name":"a","ID":"c1"})"));
  expect_ok(post("VolumeDriver.Mount", R"({"Name":"b","ID":"c1"})"));
  EXPECT_EQ(mounts_under(dir_.path()).size(), 2u);

  // SIGTERM: every volume unmounted, the socket removed, exit 0.
  EXPECT_EQ(plugin_->stop(), 0) << plugin_->log();
  EXPECT_TRUE(mounts_under(dir_.path()).empty());
  EXPECT_FALSE(std::filesystem::exists(socket_));

  start_plugin();
  auto list = post("VolumeDriver.List", "");
  expect_ok(list);
  EXPECT_EQ(list.body["Volumes"],
            json::parse(R"([{"Name":"a","Mountpoint":""},{"Name":"b","Mountpoint":""}])"));
  auto mounted = post("VolumeDriver.Mount", R"({"Name":"b","ID":"c2"})");
  expect_ok(mounted);
  EXPECT_EQ(cat(mounted.body["Mountpoint"].get<std::string>() + "/app/api_key"), "k-123");
  expect_ok(post("VolumeDriver.Unmount", R"({"Name":"b","ID":"c2"})"));
  expect_ok(post("VolumeDriver.Remove", R"({"Name":"a"})"));
  expect_ok(post("VolumeDriver.Remove", R"({"Name":"b"})"));
  EXPECT_EQ(post("VolumeDriver.List", "").body["Volumes"], json::array());
}

TEST_F(VolumePluginTest, TheSocketSpeaksBoundedKeepAliveHttp) {
  auto get = run({"/usr/bin/curl", "-sS", "--max-time", "20", "--unix-socket", socket_, "-w",
                  "\n%{http_code}", "http://plugin/VolumeDriver.List"});
  EXPECT_NE(get.out.find("plugin endpoints take POST"), std::string::npos) << get.out;
  EXPECT_TRUE(get.out.ends_with("\n405")) << get.out;
  // A body over the 1 MiB limit is refused without reading it all.
  std::ofstream(dir_ / "big.json") << std::string(2 * 1024 * 1024, ' ');
  auto big = run({"/usr/bin/curl", "-sS", "--max-time", "20", "--unix-socket", socket_, "-X",
                  "POST", "--data-binary", "@" + dir_ / "big.json", "-w", "\n%{http_code}",
                  "http://plugin/VolumeDriver.List"});
  EXPECT_NE(big.out.find("request body over"), std::string::npos) << big.out << big.err;
  EXPECT_TRUE(big.out.ends_with("\n413")) << big.out;
  // Docker's client keeps its connection: two requests, one connection.
  auto two = run({"/usr/bin/curl", "-sS", "-v", "--max-time", "20", "--unix-socket", socket_, "-X",
                  "POST", "-d", "{}", "http://plugin/VolumeDriver.List",
                  "http://plugin/VolumeDriver.Capabilities"});
  EXPECT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(two.out, R"({"Err":"","Volumes":[]}{"Capabilities":{"Scope":"local"}})");
  EXPECT_NE(two.err.find("Re-using existing connection"), std::string::npos) << two.err;
  // An odd endpoint still gets a JSON answer.
  auto odd = post("VolumeDriver.%FF", "{}");
  EXPECT_EQ(odd.http_status, 404) << odd.describe();
  EXPECT_TRUE(odd.body.is_object()) << odd.describe();
  EXPECT_TRUE(plugin_->running());
}

TEST_F(VolumePluginTest, ASecondPluginOnTheSameSocketIsRefused) {
  PluginProcess second({leasefs_binary(), "volume-plugin", "--socket", socket_, "--state-dir",
                        dir_ / "state2", "--mount-root", dir_ / "volumes2"},
                       dir_ / "plugin2.log");
  auto started = second.start(dir_ / "never.sock");
  EXPECT_FALSE(started);
  EXPECT_EQ(second.stop(), 4) << second.log();
  EXPECT_NE(second.log().find("another process serves"), std::string::npos) << second.log();
  EXPECT_TRUE(post("VolumeDriver.List", "").body.is_object());
}

}  // namespace
}  // namespace leasefs::testing
