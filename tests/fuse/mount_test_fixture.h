// The fixture of the mount tests: a real `leasefs server -dev` on port 0 with a secret
// at secret/data/app, a root token file, and one `leasefs mount` per test in its own
// temporary directory, unmounted on every path.
#pragma once

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/fuse/mount_fixture.h"
#include "tests/support/server_fixture.h"

namespace leasefs::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = fuse_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    // Other uids (setpriv) must be able to walk to the mountpoint.
    ::chmod(dir_.path().c_str(), 0755);
    auto server = ServerProcess::start(ServerSpec{});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    api_ = std::make_unique<ApiCaller>(*server_);
    token_file_ = dir_ / "token";
    std::ofstream(token_file_) << root_ << "\n";
    ASSERT_EQ(api_->call("POST", "secret/data/app",
                         {{"data", {{"api_key", "k-123"}, {"user", "alice"}, {"pass", "s3 cret"}}}},
                         root_)
                  .status,
              200);
  }

  void TearDown() override {
    if (mount_) {
      auto exit = mount_->stop();
      EXPECT_FALSE(is_leasefs_mount(mount_->mountpoint()));
      EXPECT_FALSE(exit.timed_out) << mount_->log();
      EXPECT_EQ(exit.exit_code, 0) << mount_->log();
      mount_.reset();
    }
  }

  nlohmann::json config(nlohmann::json files, nlohmann::json mount = nlohmann::json::object()) {
    nlohmann::json m = {{"allow_other", true}, {"uid", 0}, {"gid", 0}, {"spool_file", dir_ / "spool.jsonl"}};
    for (auto& [k, v] : mount.items()) m[k] = v;
    return {{"server",
             {{"address", server_->address()},
              {"timeout", "2s"},
              {"auth", {{"token_file", token_file_}}}}},
            {"mount", m},
            {"files", std::move(files)}};
  }

  void mount(nlohmann::json files, nlohmann::json options = nlohmann::json::object()) {
    auto m = MountProcess::start(config(std::move(files), std::move(options)), dir_.path());
    ASSERT_TRUE(m) << m.error();
    mount_ = std::move(*m);
  }

  // Enables a file audit device named "file" writing to `log`. False when the server
  // has no sys/audit (the test then skips); any other refusal fails the test.
  bool enable_file_audit(const std::string& log) {
    auto enabled = api_->call("PUT", "sys/audit/file",
                              {{"type", "file"}, {"options", {{"file_path", log}}}}, root_);
    if (enabled.status == 404 || enabled.status == 405) return false;
    EXPECT_EQ(enabled.status / 100, 2) << enabled.describe();
    return true;
  }

  ProcessResult cat(const std::string& file) { return run({"/usr/bin/cat", mount_->path(file)}); }

  // `key` "" names a top-level member.
  std::string status_field(const std::string& group, const std::string& key) {
    nlohmann::json s = nlohmann::json::parse(slurp(mount_->path(".leasefs/status")), nullptr, false);
    if (s.is_discarded()) return "(no status)";
    return key.empty() ? s[group].dump() : s[group][key].dump();
  }

  std::string xattr(const std::string& file, const std::string& name) {
    auto r = run(
        {"/usr/bin/getfattr", "--only-values", "-n", "user.leasefs." + name, mount_->path(file)});
    return r.exit_code == 0 ? r.out : "";
  }

  // Polls `pred` every 100 ms until it holds or `timeout` passes.
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
  }

  bool token_valid(const std::string& token) {
    return api_->call("GET", "auth/token/lookup-self", nullptr, token).status == 200;
  }

  TempDir dir_;  // declared first: outlives the mount and the server
  std::string root_ = "leasefs-test-root";
  std::string token_file_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ApiCaller> api_;
  std::unique_ptr<MountProcess> mount_;
};

}  // namespace leasefs::testing
