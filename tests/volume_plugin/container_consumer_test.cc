// A container-like consumer of a leasefs mount: in a private mount namespace
// (`unshare -m --propagation private`) the mount is bind-mounted read-only elsewhere, as
// `docker run -v /run/secrets:/secrets:ro` does, and read there by an unprivileged uid.
// Reading works and returns the secret; writing fails; the bind mount never shows
// outside the namespace.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/fuse/mount_fixture.h"
#include "tests/support/server_fixture.h"
#include "tests/volume_plugin/mount_table.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;

class ContainerConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = fuse_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    if (::access("/usr/bin/unshare", X_OK) != 0 || ::access("/usr/bin/setpriv", X_OK) != 0) {
      GTEST_SKIP() << "unshare and setpriv (util-linux) are needed";
    }
    ::chmod(dir_.path().c_str(), 0755);  // uid 65534 walks to the bind mount
    auto server = ServerProcess::start(ServerSpec{});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    ApiCaller api(*server_);
    ASSERT_EQ(api.call("POST", "secret/data/app", {{"data", {{"api_key", "k-123"}}}},
                       server_->spec().dev_root_token)
                  .status,
              200);
    std::ofstream(dir_ / "token") << server_->spec().dev_root_token << "\n";
  }

  void TearDown() override {
    if (mount_) {
      auto exit = mount_->stop();
      EXPECT_EQ(exit.exit_code, 0) << mount_->log();
      mount_.reset();
    }
    EXPECT_TRUE(mounts_under(dir_.path()).empty());
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<MountProcess> mount_;
};

TEST_F(ContainerConsumerTest, ReadOnlyBindMountInAPrivateNamespaceReadByAnotherUid) {
  json config = {{"server",
                  {{"address", server_->address()},
                   {"timeout", "2s"},
                   {"auth", {{"token_file", dir_ / "token"}}}}},
                 {"mount", {{"allow_other", true}, {"spool_file", dir_ / "spool.jsonl"}}},
                 {"files", json::parse(R"([
        {"path": "app/api_key", "secret": "secret/data/app", "field": "api_key", "mode": "0444"}
      ])")}};
  auto m = MountProcess::start(config, dir_.path());
  ASSERT_TRUE(m) << m.error();
  mount_ = std::move(*m);
  std::string target = dir_ / "container";
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);

  // Each step prints a marker so one run of the shell answers every question.
  const std::string as_nobody = "setpriv --reuid 65534 --regid 65534 --clear-groups ";
  std::string script =
      "set -e\n"
      "mount --bind " +
      mount_->mountpoint() + " " + target +
      "\n"
      "mount -o remount,bind,ro " +
      target +
      "\n"
      "echo \"uid=$(" +
      as_nobody +
      "id -u)\"\n"
      "echo \"read=$(" +
      as_nobody + "cat " + target +
      "/app/api_key)\"\n"
      "if " +
      as_nobody + "sh -c 'echo x > " + target +
      "/app/api_key' 2>&1; then echo write=ok;"
      " else echo write=refused; fi\n"
      "if sh -c 'echo x > " +
      target +
      "/app/api_key' 2>&1; then echo rootwrite=ok;"
      " else echo rootwrite=refused; fi\n"
      "if touch " +
      target +
      "/new 2>&1; then echo create=ok; else echo create=refused; fi\n"
      "grep ' " +
      target + " ' /proc/self/mountinfo\n";
  auto r = run({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("uid=65534\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("read=k-123\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("write=refused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rootwrite=refused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("create=refused"), std::string::npos) << r.out;
  // The refusals are the ones a read-only mount gives (EROFS), or EACCES from the mode.
  EXPECT_TRUE(r.out.find("Read-only file system") != std::string::npos ||
              r.out.find("Permission denied") != std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;  // root's try
  // The bind mount was read-only and lived only in the namespace.
  EXPECT_NE(r.out.find(" ro,"), std::string::npos) << r.out;
  EXPECT_TRUE(mounts_under(target).empty());
  // The daemon saw an unprivileged reader through the bind mount.
  std::ifstream status(mount_->path(".leasefs/status"));
  std::stringstream ss;
  ss << status.rdbuf();
  json s = json::parse(ss.str(), nullptr, false);
  ASSERT_FALSE(s.is_discarded()) << ss.str();
  EXPECT_EQ(s["opens"]["allowed"], 1) << ss.str();
}

}  // namespace
}  // namespace leasefs::testing
