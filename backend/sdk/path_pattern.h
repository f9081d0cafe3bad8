// Path patterns for engine routes and policy-free special paths. A pattern is a list of
// '/'-separated segments:
//   literal      matches itself                       "config"
//   {name}       one non-empty segment, captured      "roles/{name}"
//   {name*}      the rest: one or more characters,    "data/{path*}"
//                slashes included, captured
//   {name*?}     the rest, possibly empty             "metadata/{path*?}"
// A rest capture must be last. A request path may end in '/' (LIST); a trailing '/'
// is kept in a rest capture and otherwise ignored.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/status.h"

namespace leasefs::backend::sdk {

class PathPattern {
 public:
  // Fails with invalid_argument on an empty segment, a bad capture name or a rest
  // capture that is not last.
  static Result<PathPattern> compile(std::string_view pattern);

  // True on a match; then `captures` holds name -> value.
  bool match(std::string_view path, std::map<std::string, std::string>& captures) const;
  const std::string& text() const { return text_; }

 private:
  struct Segment {
    enum class Kind { kLiteral, kOne, kRest, kOptionalRest } kind;
    std::string text;  // literal text or capture name
  };
  std::string text_;
  std::vector<Segment> segments_;
};

}  // namespace leasefs::backend::sdk
