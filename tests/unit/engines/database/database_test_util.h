// Shared fixture of the database engine tests: an engine over an in-memory store, a
// manual clock that starts at the real time (PostgreSQL checks VALID UNTIL against the
// real clock), the system RNG, and requests sent the way the core sends them.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/storage/inmem_storage.h"
#include "engines/database/database.h"

namespace leasefs::engines::database {

using nlohmann::json;
using sdk::Code;
using sdk::Operation;
using namespace std::chrono_literals;

// The core's password policies as an engine sees them: none exist here.
class NoPasswordPolicies final : public sdk::PasswordPolicies {
 public:
  sdk::Result<std::string> generate(std::string_view name, sdk::Random&) override {
    return sdk::not_found("password policy \"" + std::string(name) + "\" does not exist");
  }
};

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sdk::BackendConfig config{.mount_path = "database/",
                              .type = "database",
                              .options = {},
                              .storage = &storage_,
                              .clock = &clock_,
                              .random = &sdk::SystemRandom::instance()};
    auto made = make_database(config);
    ASSERT_TRUE(made) << made.error().message();
    engine_ = std::move(*made);
  }

  sdk::Request request(Operation op, std::string path, json data = json::object()) {
    sdk::Request r;
    r.operation = op;
    r.path = std::move(path);
    r.mount_point = "database/";
    r.data = std::move(data);
    r.caller.display_name = display_name_;
    r.limits = limits_;
    r.storage = &storage_;
    r.clock = &clock_;
    r.random = &sdk::SystemRandom::instance();
    r.passwords = &passwords_;
    return r;
  }

  NoPasswordPolicies passwords_;

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

  // The LeaseInfo the core would hand back for a response's secret.
  sdk::LeaseInfo lease_of(const sdk::Response& r, sdk::Duration increment = {}) {
    sdk::LeaseInfo lease;
    lease.lease_id = "database/creds/test/id";
    lease.secret_type = r.secret ? r.secret->type : "";
    lease.internal = r.secret ? r.secret->internal : json::object();
    lease.issue_time = issued_;
    lease.expire_time = issued_ + (r.secret ? r.secret->ttl : sdk::Duration{});
    lease.increment = increment;
    return lease;
  }
  sdk::Result<void> revoke(const sdk::LeaseInfo& lease) {
    auto r = request(Operation::kUpdate, "sys/leases/revoke");
    return engine_->revoke_secret(r, lease);
  }
  sdk::Result<sdk::Response> renew(const sdk::LeaseInfo& lease) {
    auto r = request(Operation::kUpdate, "sys/leases/renew");
    return engine_->renew_secret(r, lease);
  }

  void expect_code(const sdk::Result<sdk::Response>& r, Code code, const std::string& text = "") {
    ASSERT_FALSE(r) << "expected an error containing: " << text;
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    EXPECT_NE(r.error().message().find(text), std::string::npos)
        << "message: " << r.error().message() << "\nwanted: " << text;
  }

  backend::storage::InmemStorage storage_;
  sdk::ManualClock clock_{std::chrono::system_clock::now()};
  sdk::WallTime issued_{clock_.now()};
  sdk::MountLimits limits_{};
  std::string display_name_ = "token";
  std::unique_ptr<sdk::Backend> engine_;
};

}  // namespace leasefs::engines::database
