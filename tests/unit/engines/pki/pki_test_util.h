// Shared fixture of the PKI engine tests: an engine over an in-memory store, a manual
// clock that starts at the real time (so the openssl CLI, which checks validity
// against the real clock, accepts what the engine issues), the system RNG, requests
// sent the way the core sends them, and helpers that run the openssl CLI with a
// deadline on files in a temporary directory.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/storage/inmem_storage.h"
#include "engines/pki/pki.h"
#include "tests/support/process.h"

namespace leasefs::engines::pki {

using nlohmann::json;
using sdk::Code;
using sdk::Operation;
using namespace std::chrono_literals;

inline constexpr const char* kOpenssl = "/usr/bin/openssl";

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sdk::BackendConfig config{.mount_path = "pki/",
                              .type = "pki",
                              .options = {},
                              .storage = &storage_,
                              .clock = &clock_,
                              .random = &sdk::SystemRandom::instance()};
    auto made = make_pki(config);
    ASSERT_TRUE(made) << made.error().message();
    engine_ = std::move(*made);
  }

  sdk::Request request(Operation op, std::string path, json data = json::object()) {
    sdk::Request r;
    r.operation = op;
    r.path = std::move(path);
    r.mount_point = "pki/";
    r.data = std::move(data);
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
  // POST/PUT as the core sends it: the existence check picks create or update.
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

  // Writes, expecting success; returns the data.
  json ok(sdk::Result<sdk::Response> r) {
    EXPECT_TRUE(r) << r.error().message();
    return r ? r->data : json();
  }
  // Expects an invalid_argument whose message contains `text`.
  void expect_invalid(const sdk::Result<sdk::Response>& r, const std::string& text) {
    ASSERT_FALSE(r) << "expected an error containing: " << text;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << r.error().message();
    EXPECT_NE(r.error().message().find(text), std::string::npos)
        << "message: " << r.error().message() << "\nwanted: " << text;
  }

  json generate_root(json data = json{{"common_name", "Leasefs Test Root"}, {"ttl", "87600h"}},
                     const std::string& kind = "internal") {
    // Roots outlive what they issue only with a long TTL (Vault's own advice).
    if (!data.contains("ttl")) data["ttl"] = "87600h";
    auto r = write("root/generate/" + kind, std::move(data));
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return json();
    ca_pem_ = r->data.value("certificate", "");
    return r->data;
  }

  void create_role(const std::string& name, json data) {
    auto r = write("roles/" + name, std::move(data));
    ASSERT_TRUE(r) << r.error().message();
  }

  std::string file(const std::string& name, const std::string& content) {
    std::string path = tmp_ / name;
    std::ofstream out(path, std::ios::binary);
    out << content;
    if (!content.empty() && content.back() != '\n') out << '\n';
    return path;
  }

  leasefs::testing::ProcessResult openssl(std::vector<std::string> args,
                                          const std::string& input = "") {
    args.insert(args.begin(), kOpenssl);
    return leasefs::testing::run_process(args, input, std::chrono::seconds(60));
  }

  // `openssl x509 -noout -text` of a PEM certificate.
  std::string x509_text(const std::string& pem) {
    auto r = openssl({"x509", "-noout", "-text", "-in", file("text.pem", pem)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // `openssl verify -CAfile ca.pem cert.pem` succeeds.
  void expect_verifies(const std::string& cert_pem, const std::string& purpose = "") {
    std::vector<std::string> args = {"verify", "-CAfile", file("ca.pem", ca_pem_)};
    if (!purpose.empty()) {
      args.push_back("-purpose");
      args.push_back(purpose);
    }
    args.push_back(file("leaf.pem", cert_pem));
    auto r = openssl(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(": OK"), std::string::npos) << r.out << r.err;
  }

  leasefs::testing::TempDir tmp_;
  backend::storage::InmemStorage storage_;
  sdk::ManualClock clock_{std::chrono::system_clock::now()};
  // A mount tuned as Vault's PKI guide tunes it: a long max, so that a root can outlive
  // the certificates it issues with the default TTL.
  sdk::MountLimits limits_{.default_lease_ttl = std::chrono::hours(768),
                           .max_lease_ttl = std::chrono::hours(87600)};
  std::unique_ptr<sdk::Backend> engine_;
  std::string ca_pem_;
};

}  // namespace leasefs::engines::pki
