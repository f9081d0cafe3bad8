// VolumeDriver (fs/volume/volume_driver.h) without a socket and without mounting: the
// answers Docker reads for Create, Get, Path, List and Remove, every error path, and the
// state file across a reopen. Mounting for real is volume_plugin_test.cc's job.
#include "fs/volume/volume_driver.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/process.h"

namespace leasefs::fs::volume {
namespace {

using nlohmann::json;
using testing::TempDir;

class VolumeDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "configs");
    write_config("web", R"([{"path": "k", "secret": "secret/data/app", "field": "api_key"}])");
    open_driver();
  }

  void write_config(const std::string& name, const std::string& files) {
    std::ofstream(dir_ / ("configs/" + name + ".json"))
        << R"({"server": {"address": "http://127.0.0.1:1", "auth": {"token_file": "/nonexistent"}},
              "files": )"
        << files << "}";
  }

  void open_driver() {
    driver_.reset();
    auto driver = VolumeDriver::open(DriverOptions{.config_dir = dir_ / "configs",
                                                   .state_dir = dir_ / "state",
                                                   .mount_root = dir_ / "volumes",
                                                   .leasefs_binary = "/bin/false"});
    ASSERT_TRUE(driver) << driver.error().message();
    driver_ = std::move(*driver);
  }

  json call(std::string_view endpoint, std::string_view body) {
    PluginReply reply = driver_->handle(endpoint, body);
    EXPECT_EQ(reply.status, 200) << reply.body.dump();
    return reply.body;
  }

  std::string err(std::string_view endpoint, std::string_view body) {
    json reply = call(endpoint, body);
    return reply.value("Err", std::string("<no Err>"));
  }

  TempDir dir_;
  std::unique_ptr<VolumeDriver> driver_;
};

TEST_F(VolumeDriverTest, ActivateCapabilitiesAndUnknownEndpoints) {
  EXPECT_EQ(call("/Plugin.Activate", ""), json::parse(R"({"Implements":["VolumeDriver"]})"));
  EXPECT_EQ(call("/VolumeDriver.Capabilities", "null"),
            json::parse(R"({"Capabilities":{"Scope":"local"}})"));
  PluginReply unknown = driver_->handle("/VolumeDriver.Nope", "{}");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["Err"], "unknown endpoint /VolumeDriver.Nope");
}

TEST_F(VolumeDriverTest, CreateListGetPathRemove) {
  EXPECT_EQ(err("/VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"web"}})"), "");
  EXPECT_EQ(call("/VolumeDriver.List", "")["Volumes"],
            json::parse(R"([{"Name":"v","Mountpoint":""}])"));
  json get = call("/VolumeDriver.Get", R"({"Name":"v"})");
  EXPECT_EQ(get["Err"], "");
  EXPECT_EQ(get["Volume"]["Name"], "v");
  EXPECT_EQ(get["Volume"]["Mountpoint"], "");
  EXPECT_EQ(get["Volume"]["Status"]["config_file"], dir_ / "configs/web.json");
  EXPECT_EQ(get["Volume"]["Status"]["mounted"], false);
  EXPECT_EQ(call("/VolumeDriver.Path", R"({"Name":"v"})"),
            json::parse(R"({"Mountpoint":"","Err":""})"));
  // Unmount of a volume that is not mounted: nothing to undo.
  EXPECT_EQ(err("/VolumeDriver.Unmount", R"({"Name":"v","ID":"x"})"), "");
  EXPECT_EQ(err("/VolumeDriver.Remove", R"({"Name":"v"})"), "");
  EXPECT_EQ(call("/VolumeDriver.List", "{}")["Volumes"], json::array());
}

TEST_F(VolumeDriverTest, CreateRefusesWhatItCannotMount) {
  EXPECT_EQ(err("/VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"web","a":"1","b":"2"}})"),
            R"(volume v: unknown option "a", "b" (known: config, config_file, files))");
  EXPECT_EQ(err("/VolumeDriver.Create", R"({"Name":"v","Opts":{}})"),
            "volume v: give exactly one of the options config=NAME or config_file=PATH");
  EXPECT_EQ(err("/VolumeDriver.Create",
                R"({"Name":"v","Opts":{"config":"web","config_file":"/etc/x.json"}})"),
            "volume v: give exactly one of the options config=NAME or config_file=PATH");
  EXPECT_NE(err("/VolumeDriver.Create", R"({"Name":"v","Opts":{"config":".."}})")
                .find("invalid config name"),
            std::string::npos);
  EXPECT_NE(err("/VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"a/b"}})")
                .find("invalid config name"),
            std::string::npos);
  EXPECT_NE(err("/VolumeDriver.Create", R"({"Name":"v","Opts":{"config":7}})").find("string"),
            std::string::npos);
  EXPECT_NE(err("/VolumeDriver.Create", R"({"Name":"v","Opts":"config=web"})")
                .find("\"Opts\" must be an object"),
            std::string::npos);
  write_config("dup", R"([{"path": "k", "secret": "a", "field": "x"},
                          {"path": "k", "secret": "b", "field": "y"}])");
  EXPECT_NE(err("/VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"dup"}})").find("files[1]"),
            std::string::npos);
  EXPECT_NE(
      err("/VolumeDriver.Create",
          R"({"Name":"v","Opts":{"config":"web","files":"[{\"path\":\"../x\",\"secret\":\"a\",\"field\":\"f\"}]"}})")
          .find("with the files option"),
      std::string::npos);
  EXPECT_NE(
      err("/VolumeDriver.Create", R"({"Name":"v","Opts":{"files":"[]"}})").find("exactly one"),
      std::string::npos);
  EXPECT_NE(err("/VolumeDriver.Create", R"({"Name":".v","Opts":{"config":"web"}})")
                .find("invalid volume name"),
            std::string::npos);
  EXPECT_EQ(err("/VolumeDriver.Create", R"({"Opts":{"config":"web"}})"), "\"Name\" is required");
  EXPECT_EQ(call("/VolumeDriver.List", "")["Volumes"], json::array());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state/configs/v.json"));
}

TEST_F(VolumeDriverTest, MalformedBodiesAreErrNeverCrashes) {
  for (std::string_view body : {"{", "[1,2]", "\"Name\"", "{\"Name\":", "\xff\xfe", "nul"}) {
    for (std::string_view endpoint : {"/VolumeDriver.Create", "/VolumeDriver.Mount",
                                      "/VolumeDriver.Get", "/VolumeDriver.List"}) {
      PluginReply reply = driver_->handle(endpoint, body);
      EXPECT_EQ(reply.status, 200);
      EXPECT_FALSE(reply.body.value("Err", std::string()).empty()) << endpoint << " " << body;
    }
  }
  EXPECT_EQ(err("/VolumeDriver.Mount", R"({"Name":"ghost","ID":"1"})"), "no such volume: ghost");
  EXPECT_EQ(err("/VolumeDriver.Get", R"({"Name":42})"), "\"Name\" is required");
}

TEST_F(VolumeDriverTest, AFailedMountLeavesTheVolumeUnmounted) {
  // leasefs_binary is /bin/false: the "daemon" exits 1 at once.
  ASSERT_EQ(err("/VolumeDriver.Create", R"({"Name":"v","Opts":{"config":"web"}})"), "");
  EXPECT_EQ(err("/VolumeDriver.Mount", R"({"Name":"v","ID":"1"})"),
            "volume v: leasefs mount exited with code 1");
  EXPECT_EQ(call("/VolumeDriver.Path", R"({"Name":"v"})")["Mountpoint"], "");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "volumes/v"));
  EXPECT_EQ(err("/VolumeDriver.Remove", R"({"Name":"v"})"), "");
}

TEST_F(VolumeDriverTest, VolumesPersistAcrossReopen) {
  ASSERT_EQ(err("/VolumeDriver.Create", R"({"Name":"a","Opts":{"config":"web"}})"), "");
  json files = json::array({{{"path", "f"}, {"secret", "secret/data/x"}, {"field", "y"}}});
  json request = {{"Name", "b"}, {"Opts", {{"config", "web"}, {"files", files.dump()}}}};
  ASSERT_EQ(err("/VolumeDriver.Create", request.dump()), "");
  ASSERT_TRUE(std::filesystem::exists(dir_ / "state/configs/b.json"));
  open_driver();
  EXPECT_EQ(call("/VolumeDriver.List", "")["Volumes"],
            json::parse(R"([{"Name":"a","Mountpoint":""},{"Name":"b","Mountpoint":""}])"));
  EXPECT_EQ(call("/VolumeDriver.Get", R"({"Name":"b"})")["Volume"]["Status"]["config_file"],
            dir_ / "state/configs/b.json");
  // The same Create again is accepted; other options are not.
  EXPECT_EQ(err("/VolumeDriver.Create", request.dump()), "");
  EXPECT_NE(err("/VolumeDriver.Create", R"({"Name":"b","Opts":{"config":"web"}})")
                .find("exists with other options"),
            std::string::npos);
  EXPECT_EQ(err("/VolumeDriver.Remove", R"({"Name":"b"})"), "");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state/configs/b.json"));
  open_driver();
  EXPECT_EQ(call("/VolumeDriver.List", "")["Volumes"],
            json::parse(R"([{"Name":"a","Mountpoint":""}])"));
}

TEST_F(VolumeDriverTest, ACorruptStateFileStopsTheStart) {
  driver_.reset();
  std::ofstream(dir_ / "state/volumes.json") << R"({"volumes": {"a": {"options": 3}}})";
  auto driver = VolumeDriver::open(DriverOptions{
      .config_dir = dir_ / "configs", .state_dir = dir_ / "state", .mount_root = dir_ / "volumes"});
  ASSERT_FALSE(driver);
  EXPECT_NE(driver.error().message().find("volume \"a\" is malformed"), std::string::npos)
      << driver.error().message();
}

}  // namespace
}  // namespace leasefs::fs::volume
