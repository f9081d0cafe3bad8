// Shared fixture of the KV engine tests: an engine mounted on a storage view of an
// in-memory store, a manual clock, and requests sent the way the core sends them
// (POST/PUT asks the existence check whether it is a create or an update).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/sdk/storage_view.h"
#include "backend/storage/inmem_storage.h"
#include "engines/kv/kv.h"
#include "tests/support/storage_dump.h"

namespace leasefs::engines::kv {

using nlohmann::json;
using sdk::Code;
using sdk::Operation;

// Forwards to another Storage, counts calls, and fails apply() on demand.
class RecordingStorage final : public sdk::Storage {
 public:
  explicit RecordingStorage(sdk::Storage& inner) : inner_(&inner) {}

  std::atomic<int> puts{0};
  std::atomic<int> removes{0};
  std::atomic<int> applies{0};
  std::atomic<bool> fail_apply{false};

  sdk::Result<std::optional<std::string>> get(std::string_view key) override {
    return inner_->get(key);
  }
  sdk::Result<void> put(std::string_view key, std::string_view value) override {
    ++puts;
    return inner_->put(key, value);
  }
  sdk::Result<void> remove(std::string_view key) override {
    ++removes;
    return inner_->remove(key);
  }
  sdk::Result<std::vector<std::string>> list(std::string_view prefix) override {
    return inner_->list(prefix);
  }
  sdk::Result<std::vector<std::string>> list_page(std::string_view prefix, std::string_view after,
                                                  std::size_t limit) override {
    return inner_->list_page(prefix, after, limit);
  }
  sdk::Result<void> apply(std::span<const sdk::StorageOp> ops) override {
    ++applies;
    if (fail_apply) return sdk::error(Code::kUnavailable, "storage is down");
    return inner_->apply(ops);
  }

 private:
  sdk::Storage* inner_;
};

class KvTestBase : public ::testing::Test {
 protected:
  static constexpr const char* kViewPrefix = "logical/6f1c0d2e/";

  // Mounts a fresh engine with the given "version" option ("" = no option).
  void mount(const std::string& version) {
    sdk::BackendConfig config{.mount_path = "secret/",
                              .type = "kv",
                              .options = {},
                              .storage = &recording_,
                              .clock = &clock_,
                              .random = &random_};
    if (!version.empty()) config.options["version"] = version;
    auto engine = make_kv(config);
    ASSERT_TRUE(engine) << engine.error().message();
    engine_ = std::move(*engine);
  }

  sdk::Request request(Operation op, const std::string& path, json data) {
    sdk::Request r;
    r.id = "req-1";
    r.operation = op;
    r.path = path;
    r.mount_point = "secret/";
    r.data = std::move(data);
    r.storage = &recording_;
    r.clock = &clock_;
    r.random = &random_;
    return r;
  }

  sdk::Result<sdk::Response> call(Operation op, const std::string& path,
                                  json data = json::object()) {
    auto r = request(op, path, std::move(data));
    return engine_->handle(r);
  }
  // POST/PUT as the core does it.
  sdk::Result<sdk::Response> write(const std::string& path, json data) {
    auto r = request(Operation::kUpdate, path, std::move(data));
    auto exists = engine_->exists(r);
    if (!exists) return sdk::error(exists.error());
    if (exists->has_value() && !**exists) r.operation = Operation::kCreate;
    return engine_->handle(r);
  }
  sdk::Result<sdk::Response> read(const std::string& path, json query = json::object()) {
    return call(Operation::kRead, path, std::move(query));
  }
  std::optional<bool> exists(const std::string& path) {
    auto r = request(Operation::kUpdate, path, json::object());
    auto e = engine_->exists(r);
    EXPECT_TRUE(e) << e.error().message();
    return e ? *e : std::nullopt;
  }

  // Everything in the underlying store, keys relative to the mount's view.
  std::map<std::string, std::string> raw() {
    std::map<std::string, std::string> out;
    for (auto& [k, v] : leasefs::testing::dump(inmem_)) {
      EXPECT_TRUE(k.starts_with(kViewPrefix)) << k;
      out[k.substr(std::string_view(kViewPrefix).size())] = v;
    }
    return out;
  }

  backend::storage::InmemStorage inmem_;
  sdk::StorageView view_{inmem_, kViewPrefix};
  RecordingStorage recording_{view_};
  sdk::ManualClock clock_;
  sdk::SeededRandom random_{7};
  std::unique_ptr<sdk::Backend> engine_;
};

// Asserts that a Result holds a value, printing the error otherwise.
#define KV_ASSERT_OK(result) ASSERT_TRUE(result) << (result).error().message()

// Asserts that a Result failed with `code`.
#define KV_EXPECT_ERROR(result, error_code)                                   \
  do {                                                                        \
    auto&& kv_r_ = (result);                                                  \
    ASSERT_FALSE(kv_r_) << "expected an error, got data " << kv_r_->data;     \
    EXPECT_EQ(kv_r_.error().code(), (error_code)) << kv_r_.error().message(); \
  } while (false)

}  // namespace leasefs::engines::kv
