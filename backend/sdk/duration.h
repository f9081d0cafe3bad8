// Durations in Vault's forms: a number of seconds (JSON number or "300"), or Go-style
// unit strings ("30s", "5m", "1h30m", "1.5h", "250ms"), plus "d" for days ("7d").
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "backend/sdk/clock.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::sdk {

// Parses a non-negative duration; the error names the text that was wrong.
Result<Duration> parse_duration(std::string_view text);
// Accepts a JSON number (seconds) or a string as above.
Result<Duration> duration_from_json(const nlohmann::json& value);

// Go's time.Duration format, which Vault's messages use: "768h0m0s", "1m30s", "0s",
// "1.5s", "250ms".
std::string format_duration(Duration d);

// Whole seconds, rounded down.
inline std::int64_t whole_seconds(Duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

}  // namespace leasefs::backend::sdk
