// Small rules the session applies to every response, kept free of Beast so they are
// testable on their own: Vault's JSON error body and which handler headers may pass.
#pragma once

#include <string>
#include <string_view>

#include "backend/http/message.h"

namespace leasefs::backend::http {

// A response with Vault's error body, {"errors":["<message>"]}. `message` must not need
// JSON escaping (the callers pass constants).
HttpResponse error_response(int status, std::string_view message);

// ASCII lower-case copy (header names).
std::string to_lower_ascii(std::string_view text);

// True when a handler-supplied header may be sent: a valid token name that is not one
// the server owns (framing, Connection, Cache-Control, Content-Type) and a value
// without CR, LF or NUL.
bool is_allowed_response_header(std::string_view name, std::string_view value);

}  // namespace leasefs::backend::http
