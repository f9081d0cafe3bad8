// Compilation and matching of engine path patterns.
#include "backend/sdk/path_pattern.h"

namespace leasefs::backend::sdk {
namespace {

bool valid_capture_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<PathPattern> PathPattern::compile(std::string_view pattern) {
  PathPattern p;
  p.text_ = pattern;
  if (pattern.empty()) return p;  // matches only the mount root
  std::string_view rest = pattern;
  while (true) {
    auto slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) {
      return invalid_argument("path pattern \"" + std::string(pattern) + "\" has an empty segment");
    }
    if (!p.segments_.empty() && (p.segments_.back().kind == Segment::Kind::kRest ||
                                 p.segments_.back().kind == Segment::Kind::kOptionalRest)) {
      return invalid_argument("path pattern \"" + std::string(pattern) +
                              "\": a rest capture must be last");
    }
    if (seg.front() == '{') {
      if (seg.back() != '}') {
        return invalid_argument("path pattern \"" + std::string(pattern) + "\": unclosed '{'");
      }
      std::string_view name = seg.substr(1, seg.size() - 2);
      auto kind = Segment::Kind::kOne;
      if (name.ends_with("*?")) {
        kind = Segment::Kind::kOptionalRest;
        name.remove_suffix(2);
      } else if (name.ends_with("*")) {
        kind = Segment::Kind::kRest;
        name.remove_suffix(1);
      }
      if (!valid_capture_name(name)) {
        return invalid_argument("path pattern \"" + std::string(pattern) +
                                "\": bad capture name");
      }
      p.segments_.push_back({kind, std::string(name)});
    } else {
      p.segments_.push_back({Segment::Kind::kLiteral, std::string(seg)});
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return p;
}

bool PathPattern::match(std::string_view path,
                        std::map<std::string, std::string>& captures) const {
  captures.clear();
  // A LIST path may end in '/': it belongs to a rest capture, or is ignored.
  bool trailing_slash = !path.empty() && path.back() == '/';
  std::string_view body = trailing_slash ? path.substr(0, path.size() - 1) : path;
  std::size_t pos = 0;  // start of the unconsumed part of `body`
  for (const Segment& seg : segments_) {
    if (seg.kind == Segment::Kind::kRest || seg.kind == Segment::Kind::kOptionalRest) {
      std::string value(body.substr(std::min(pos, body.size())));
      if (!value.empty() && trailing_slash) value.push_back('/');
      if (value.empty() && seg.kind == Segment::Kind::kRest) return false;
      captures[seg.text] = std::move(value);
      return true;
    }
    if (pos > body.size()) return false;
    auto slash = body.find('/', pos);
    std::string_view part = body.substr(pos, slash == std::string_view::npos ? body.npos
                                                                                 : slash - pos);
    if (part.empty()) return false;
    if (seg.kind == Segment::Kind::kLiteral) {
      if (part != seg.text) return false;
    } else {
      captures[seg.text] = std::string(part);
    }
    // Past the segment and its '/'; body.size() + 1 marks "nothing left, no slash".
    pos = slash == std::string_view::npos ? body.size() + 1 : slash + 1;
  }
  if (segments_.empty()) return body.empty();
  return pos == body.size() + 1;
}

}  // namespace leasefs::backend::sdk
