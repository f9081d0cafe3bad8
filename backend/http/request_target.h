// Decoding of an HTTP request-target into the path and query the handler sees. Kept
// apart from the Beast session so the rules (what is decoded, what is refused) are
// readable and tested on their own.
#pragma once

#include <string>
#include <string_view>

#include "backend/http/message.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::http {

struct DecodedTarget {
  std::string path{};  // percent-decoded; "+" stays "+"
  HeaderList query{};  // percent-decoded names and values; "+" is a space
};

// Decodes "%XX" escapes; with `plus_is_space` a "+" becomes " " (form encoding, used
// in queries). Errors: invalid_argument for a "%" not followed by two hex digits and
// for a decoded NUL byte.
sdk::Result<std::string> percent_decode(std::string_view text, bool plus_is_space);

// Splits an origin-form ("/a/b?x=1&y") or absolute-form ("http://host/a?x=1") target
// into its decoded path and query ("y" alone gives the value ""; empty pairs from "&&"
// are skipped; a "#fragment" is ignored). "*" (OPTIONS *) gives the path "*".
// Errors: invalid_argument for any other form and for a bad escape.
sdk::Result<DecodedTarget> decode_target(std::string_view target);

}  // namespace leasefs::backend::http
