// Typed request fields. A path declares its fields (name, type, default, required);
// FieldData checks and converts the request's JSON body and path captures against that
// schema once, so handlers read typed values and never see malformed input. The
// conversions follow Vault's framework: "5" is an int, "true" a bool, "1h" a duration,
// "a,b" a comma list.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/sdk/clock.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::sdk {

enum class FieldType {
  kString,           // string; numbers and bools are turned into their text
  kInt,              // integer, or a string of one
  kBool,             // bool, or "true"/"false"/"1"/"0"
  kDuration,         // seconds or "1h30m"; stored as whole seconds
  kStringList,       // array of strings, or one string
  kCommaStringList,  // array of strings, or "a,b,c"
  kMap,              // JSON object
  kStringMap,        // object of string values, or ["k=v", ...]
  kAny,              // any JSON, unchecked
};

struct FieldSpec {
  std::string name{};
  FieldType type = FieldType::kString;
  std::string description{};
  nlohmann::json default_value{};  // null = none
  bool required = false;
};

class FieldData {
 public:
  // Checks `body` and `captures` (path segments, which win over the body) against
  // `schema`. Fails with invalid_argument naming the first bad or missing field.
  // Fields not in the schema are kept in unknown() (Vault ignores them with a warning).
  static Result<FieldData> parse(const std::vector<FieldSpec>& schema,
                                 const nlohmann::json& body,
                                 const std::map<std::string, std::string>& captures);

  // True when the client sent the field (or it came from the path).
  bool has(const std::string& name) const { return values_.contains(name); }
  // The converted value, else the default, else null. The name must be in the schema.
  const nlohmann::json& raw(const std::string& name) const;

  std::string string(const std::string& name) const;
  std::int64_t integer(const std::string& name) const;
  bool boolean(const std::string& name) const;
  Duration duration(const std::string& name) const;
  std::vector<std::string> strings(const std::string& name) const;
  nlohmann::json map(const std::string& name) const;
  std::map<std::string, std::string> string_map(const std::string& name) const;

  const std::vector<std::string>& unknown() const { return unknown_; }

 private:
  std::map<std::string, nlohmann::json> values_;
  std::map<std::string, nlohmann::json> defaults_;
  std::vector<std::string> unknown_;
};

// Converts one value to `type`; exposed for tests and for engines that parse nested
// input. `name` is only used in the error message.
Result<nlohmann::json> convert_field(const std::string& name, FieldType type,
                                     const nlohmann::json& value);

}  // namespace leasefs::backend::sdk
