// Fuzzes the whole decoding path of the Vault API: request-target decoding, method
// mapping, query and JSON body parsing, token extraction, routing, field conversion,
// engine handlers and the envelope, on a live core (memory storage, unsealed, kv v2 at
// secret/, kv v1 at kv1/, approle at auth/approle/, pki at pki/, ssh at ssh/; a
// discarding audit device, so every request's audit entries are built). The input is
//   METHOD "\n" TARGET "\n" (HEADER-NAME ":" VALUE "\n")* "\n" BODY
// Whatever the bytes, the handler must answer with a complete HTTP response and never
// crash, hang or trip a sanitizer.
#include <cstdint>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "backend/http/request_target.h"
#include "backend/sdk/encoding.h"
#include "backend/server/api_handler.h"
#include "backend/storage/inmem_storage.h"
#include "engines/registry.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

namespace lf = leasefs::backend;

struct World {
  lf::storage::InmemStorage storage;
  std::unique_ptr<lf::core::Core> core;
  std::unique_ptr<lf::server::ApiHandler> handler;
};

World* world() {
  static World* w = [] {
    auto* made = new World();
    lf::core::CoreOptions options;
    options.physical = &made->storage;
    options.clock = &lf::sdk::SystemClock::instance();
    options.random = &lf::sdk::SystemRandom::instance();
    options.secrets_engines = &leasefs::engines::secrets_engines();
    options.auth_methods = &leasefs::engines::auth_methods();
    made->core = std::make_unique<lf::core::Core>(options);
    auto init = made->core->initialize(1, 1, "root");
    if (!init) std::abort();
    if (!made->core->submit_unseal_key(lf::sdk::hex_encode(init->keys[0].span()))) std::abort();
    lf::core::MountEntry kv2{.path = "secret/", .type = "kv", .options = {{"version", "2"}}};
    lf::core::MountEntry kv1{.path = "kv1/", .type = "kv"};
    lf::core::MountEntry approle{.table = lf::core::MountTable::kAuth, .path = "approle/", .type = "approle"};
    // The engines that parse the most client input (keys, CSRs, names, TTLs). Not the
    // database engine: its config write connects to whatever address the input names.
    lf::core::MountEntry pki{.path = "pki/", .type = "pki"};
    lf::core::MountEntry ssh{.path = "ssh/", .type = "ssh"};
    if (!made->core->enable_mount(kv2) || !made->core->enable_mount(kv1) ||
        !made->core->enable_mount(approle) || !made->core->enable_mount(pki) ||
        !made->core->enable_mount(ssh)) {
      std::abort();
    }
    // Every request is audited, so each input's request and response entries are built
    // too (formatted, HMAC'd and chained, then discarded).
    lf::audit::DeviceSpec audit{
        .path = "fuzz", .type = "file", .options = {{"file_path", "discard"}}};
    if (!made->core->audit().enable(audit)) std::abort();
    made->handler = std::make_unique<lf::server::ApiHandler>(*made->core, "fuzz");
    // Torn down at exit, before the statics it uses (the system clock, registered
    // earlier): the expiration manager's thread, woken for a lease a pki/issue left,
    // must not call a clock that is already destroyed.
    std::atexit([] { delete world(); });
    return made;
  }();
  return w;
}

std::string_view next_line(std::string_view& rest) {
  auto nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World* w = world();
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  lf::http::HttpRequest req;
  req.method = std::string(next_line(rest));
  req.target = std::string(next_line(rest));
  auto decoded = lf::http::decode_target(req.target);
  if (!decoded) return 0;  // the HTTP layer answers 400 before the handler
  req.path = std::move(decoded->path);
  req.query = std::move(decoded->query);
  while (!rest.empty()) {
    std::string_view line = next_line(rest);
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    req.headers.emplace_back(std::move(name), std::string(value));
  }
  req.body = std::string(rest);
  req.remote_address = "127.0.0.1:1";
  auto response = w->handler->handle(req);
  if (response.status < 100 || response.status > 599) std::abort();
  return 0;
}
