// Shared fixture of the SSH engine tests: an engine over an in-memory store, a manual
// clock that starts at the real time (ssh-keygen and sshd judge validity by the real
// clock), the system RNG, requests sent the way the core sends them, and key pairs made
// with ssh-keygen in a temporary directory.
#pragma once

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/storage/inmem_storage.h"
#include "engines/ssh/ssh.h"
#include "tests/support/process.h"

namespace leasefs::engines::ssh {

using nlohmann::json;
using sdk::Code;
using sdk::Operation;
using namespace std::chrono_literals;

class SshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sdk::BackendConfig config{.mount_path = "ssh/",
                              .type = "ssh",
                              .options = {},
                              .storage = &storage_,
                              .clock = &clock_,
                              .random = &sdk::SystemRandom::instance()};
    auto made = make_ssh(config);
    ASSERT_TRUE(made) << made.error().message();
    engine_ = std::move(*made);
  }

  sdk::Request request(Operation op, std::string path, json data = json::object()) {
    sdk::Request r;
    r.operation = op;
    r.path = std::move(path);
    r.mount_point = "ssh/";
    r.data = std::move(data);
    r.caller.display_name = "token";
    r.limits = limits_;
    r.storage = &storage_;
    r.clock = &clock_;
    r.random = &sdk::SystemRandom::instance();
    return r;
  }
  sdk::Result<sdk::Response> call(Operation op, std::string path, json data = json::object()) {
    auto r = request(op, std::move(path), std::move(data));
    return engine_->handle(r);
  }
  sdk::Result<sdk::Response> write(std::string path, json data = json::object()) {
    auto probe = request(Operation::kUpdate, path, data);
    auto exists = engine_->exists(probe);
    if (!exists) return sdk::error(exists.error());
    const Operation op = exists->has_value() && !**exists ? Operation::kCreate : Operation::kUpdate;
    return call(op, std::move(path), std::move(data));
  }
  sdk::Result<sdk::Response> read(std::string path) {
    return call(Operation::kRead, std::move(path));
  }

  void expect_invalid(const sdk::Result<sdk::Response>& r, const std::string& text) {
    ASSERT_FALSE(r) << "expected an error containing: " << text;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << r.error().message();
    EXPECT_NE(r.error().message().find(text), std::string::npos)
        << "message: " << r.error().message() << "\nwanted: " << text;
  }

  // config/ca with a generated key; returns the CA public key line.
  std::string generate_ca(const std::string& key_type, int bits = 0) {
    auto r = write("config/ca",
                   {{"generate_signing_key", true}, {"key_type", key_type}, {"key_bits", bits}});
    EXPECT_TRUE(r) << r.error().message();
    return r ? r->data.value("public_key", "") : "";
  }

  std::string file(const std::string& name, const std::string& content) {
    std::string path = tmp_ / name;
    std::ofstream out(path, std::ios::binary);
    out << content;
    return path;
  }
  std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // A key pair from ssh-keygen ("ed25519", "ecdsa", "rsa"); returns the private key's
  // path (the public key is path + ".pub").
  std::string user_key(const std::string& type, const std::string& name) {
    const std::string path = tmp_ / name;
    std::vector<std::string> args = {
        "/usr/bin/ssh-keygen", "-q", "-t", type, "-N", "", "-C", "test", "-f", path};
    if (type == "rsa") {
      args.push_back("-b");
      args.push_back("2048");
    }
    auto r = leasefs::testing::run_process(args, "", std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return path;
  }

  // sign/<role>; returns the signed_key (and writes it next to the key as -cert.pub).
  sdk::Result<sdk::Response> sign(const std::string& role, const std::string& key_path,
                                  json extra = json::object()) {
    extra["public_key"] = slurp(key_path + ".pub");
    auto r = write("sign/" + role, extra);
    if (r)
      file(key_path.substr(tmp_.path().size() + 1) + "-cert.pub", r->data.value("signed_key", ""));
    return r;
  }

  // `ssh-keygen -L -f cert`.
  std::string describe(const std::string& cert_path) {
    auto r = leasefs::testing::run_process({"/usr/bin/ssh-keygen", "-L", "-f", cert_path}, "",
                                           std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  leasefs::testing::TempDir tmp_;
  backend::storage::InmemStorage storage_;
  sdk::ManualClock clock_{std::chrono::system_clock::now()};
  sdk::MountLimits limits_{};
  std::unique_ptr<sdk::Backend> engine_;
};

}  // namespace leasefs::engines::ssh
