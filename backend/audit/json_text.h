// Writes JSON text straight into a string, for audit entries: building an nlohmann tree
// per entry (and a hashed copy of the request data) and then serializing it cost about
// twice the HMACs themselves. Output is compact JSON; strings that are not valid UTF-8
// get U+FFFD for each bad byte, so every line is valid JSON whatever the input.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/audit/hasher.h"

namespace leasefs::backend::audit {

// Whether `s` is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Appends `s` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view s);

// A JSON writer over `out` that places commas itself. Members are written in the order
// the caller gives; values of nlohmann::json objects come out in their (sorted) order.
class JsonText {
 public:
  explicit JsonText(std::string& out) : out_(out) {}

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  // The next member's key (inside an object).
  void key(std::string_view k);
  // Members written earlier by a JsonText into an object that already held members:
  // `text` starts with its comma (`,"auth":{...}`). Appended as it is.
  void members(std::string_view text);

  void string(std::string_view s);
  void integer(std::int64_t v);
  void boolean(bool v);
  // "hmac-sha256:<hex>" of `input`, as a string value.
  void hmac(Hasher::Session& session, std::string_view input);
  // A token or other secret: hashed with `session`, or written as it is when null.
  void secret(Hasher::Session* session, std::string_view input);
  // Any JSON value. With a session, every string in it is replaced by its HMAC except
  // those whose nearest enclosing object key is in `plain_keys` (the rule of
  // hmac_strings(), hasher.h); `key` is the key this value is stored under.
  void value(const nlohmann::json& v, Hasher::Session* session = nullptr,
             std::span<const std::string> plain_keys = {}, std::string_view key = {});

  // Members that are left out when empty or zero, as Vault's omitempty does.
  void opt_string(std::string_view k, std::string_view v) {
    if (!v.empty()) {
      key(k);
      string(v);
    }
  }
  void opt_integer(std::string_view k, std::int64_t v) {
    if (v != 0) {
      key(k);
      integer(v);
    }
  }
  void opt_list(std::string_view k, const std::vector<std::string>& v);
  void opt_secret(std::string_view k, std::string_view v, Hasher::Session* session) {
    if (!v.empty()) {
      key(k);
      secret(session, v);
    }
  }

 private:
  void separate();
  void walk(const nlohmann::json& v, Hasher::Session* session,
            std::span<const std::string> plain_keys, std::string_view key, int depth);

  std::string& out_;
  // One flag per open container: does it hold an element yet?
  std::vector<bool> filled_;
  bool after_key_ = false;
};

}  // namespace leasefs::backend::audit
