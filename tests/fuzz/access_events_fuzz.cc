// The two parsers of a sys/access-events body: whatever the bytes,
// try_parse_access_events (straight from the text) declines them or returns exactly the
// events parse_access_events gives for their JSON tree. A disagreement aborts.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "backend/audit/entry.h"
#include "tests/fuzz/fuzz_target.h"

namespace audit = leasefs::backend::audit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto now = leasefs::backend::sdk::WallTime(std::chrono::seconds(1'800'000'000));
  auto fast = audit::try_parse_access_events(body, now);
  if (!fast) return 0;
  nlohmann::json tree = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded()) std::abort();
  auto events = audit::parse_access_events(tree, now);
  if (!events || *events != *fast) std::abort();
  return 0;
}
