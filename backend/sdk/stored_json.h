// Readers of the JSON records an engine keeps in its own storage (roles, configs, CAs).
// They are tolerant: a member that is missing or of another type gives the fallback,
// since a record written by an older version lacks the members added since. Only a
// record that is not a JSON object at all is an error (parse_stored_object).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/status.h"

namespace leasefs::backend::sdk {

// The stored value at `key` as a JSON object. kDataLoss, naming `engine` and `key`,
// when it is not one.
Result<nlohmann::json> parse_stored_object(std::string_view engine, std::string_view key,
                                           std::string_view text);

std::string get_string(const nlohmann::json& j, const char* key, std::string fallback = {});
// The string elements of an array member (other elements are skipped).
std::vector<std::string> get_strings(const nlohmann::json& j, const char* key,
                                     std::vector<std::string> fallback = {});
// Any integer member, signed or unsigned (an unsigned one above INT64_MAX wraps).
std::int64_t get_int(const nlohmann::json& j, const char* key, std::int64_t fallback = 0);
bool get_bool(const nlohmann::json& j, const char* key, bool fallback = false);
// The string members of an object member (others are skipped).
std::map<std::string, std::string> get_string_map(const nlohmann::json& j, const char* key);

}  // namespace leasefs::backend::sdk
