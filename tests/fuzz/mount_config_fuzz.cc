// Fuzz target for the mount's configuration and rendering: whatever JSON arrives,
// parse_mount_config either refuses it with an invalid_argument error or returns a
// configuration that keeps its promises (every path normalized and inside the mount, no
// two files at one path, read-only modes, backend paths that cannot climb out, the
// fields each format needs present), and every file of an accepted configuration
// renders from a fixed payload without crashing. The same text is also taken as a
// server response: secret_payload picks the object a file renders from, and each format
// renders it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fs/config.h"
#include "fs/render.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

namespace fs = leasefs::fs;
namespace sdk = leasefs::backend::sdk;
using nlohmann::json;

// A render may fail (a missing field, a bad environment name) but only with these codes
// and a message.
void check_render(const fs::FileSpec& spec, const json& payload) {
  auto rendered = fs::render_file(spec, payload);
  if (!rendered) {
    const auto code = rendered.error().code();
    FUZZ_CHECK(code == sdk::Code::kNotFound || code == sdk::Code::kInvalidArgument);
    FUZZ_CHECK(!rendered.error().message().empty());
  }
}

void check_config(const fs::MountConfig& config) {
  std::set<std::string> paths;
  for (const auto& file : config.files) {
    auto normalized = fs::normalize_mount_path(file.path);
    FUZZ_CHECK(normalized.has_value());
    FUZZ_CHECK(*normalized == file.path);
    FUZZ_CHECK(paths.insert(file.path).second);
    FUZZ_CHECK((file.mode & 07222) == 0);  // no set-id, sticky or write bits
    FUZZ_CHECK(!file.secret.empty() && file.secret.front() != '/');
    FUZZ_CHECK(file.secret.find("..") == std::string::npos);
    FUZZ_CHECK(file.secret.find_first_of("?#") == std::string::npos);
    FUZZ_CHECK(file.generate_key.empty() || file.method != "GET");
    FUZZ_CHECK(file.method == "GET" || file.method == "POST" || file.method == "PUT");
    if (file.format == fs::Format::kField) FUZZ_CHECK(!file.field.empty());
    if (file.format == fs::Format::kTemplate) FUZZ_CHECK(!file.tmpl.empty());
  }
  const json payload = {{"api_key", "k-123"},
                        {"username", "v-app-ro-x1"},
                        {"password", "p"},
                        {"port", 5432},
                        {"nested", {{"a", json::array({1, "two", nullptr})}}}};
  for (const auto& file : config.files) check_render(file, payload);
}

// The input as a server response: the payload it yields renders in every format.
void check_envelope(const json& envelope) {
  auto payload = fs::secret_payload(envelope);
  if (!payload) {
    FUZZ_CHECK(payload.error().code() == sdk::Code::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(payload->is_object());
  fs::FileSpec spec;
  spec.path = "f";
  spec.secret = "secret/data/f";
  spec.method = "GET";
  for (auto format : {fs::Format::kField, fs::Format::kJson, fs::Format::kEnv}) {
    spec.format = format;
    spec.field = payload->empty() ? "absent" : payload->begin().key();
    check_render(spec, *payload);
  }
  spec.format = fs::Format::kTemplate;
  spec.tmpl = "u={{username}} p={{password}} {{missing}}";
  check_render(spec, *payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;
  auto config = fs::parse_mount_config(doc);
  if (config) {
    check_config(*config);
  } else {
    FUZZ_CHECK(config.error().code() == sdk::Code::kInvalidArgument);
    FUZZ_CHECK(!config.error().message().empty());
  }
  check_envelope(doc);
  return 0;
}
