// A small leveled logger for operators: one line per event on stderr, in the shape
// Vault's log uses ("2026-11-28T13:24:54.123Z [INFO]  core: vault is unsealed").
// Never pass a secret value, token or key to it; log names and ids only.
#pragma once

#include <string>
#include <string_view>

namespace leasefs::backend::sdk {

enum class LogLevel { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

// Parses "trace", "debug", "info", "warn", "error", "off"; false if unknown.
bool parse_log_level(std::string_view name, LogLevel& out);
// Sets the lowest level that is written (default: info). Thread-safe.
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

// Writes one line with one write(2), so lines from threads never interleave.
void log(LogLevel level, std::string_view component, std::string_view message);

inline void log_info(std::string_view component, std::string_view message) {
  log(LogLevel::kInfo, component, message);
}
inline void log_warn(std::string_view component, std::string_view message) {
  log(LogLevel::kWarn, component, message);
}
inline void log_error(std::string_view component, std::string_view message) {
  log(LogLevel::kError, component, message);
}
inline void log_debug(std::string_view component, std::string_view message) {
  log(LogLevel::kDebug, component, message);
}

}  // namespace leasefs::backend::sdk
