// Policy text to rules. Two front ends build one small syntax tree (Node): a hand-written
// HCL lexer and recursive-descent parser whose recursion is bounded by kMaxPolicyDepth,
// and nlohmann's SAX JSON parser (non-recursive) with the same depth bound. One back end
// turns the tree into PathRules with Vault's rules and messages (vault/policy.go).
#include "backend/auth/policy.h"
#include <utility>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "backend/sdk/duration.h"
#include "backend/sdk/encoding.h"

namespace leasefs::backend::auth {
namespace {

using sdk::Result;
using sdk::Status;

// ---------------------------------------------------------------------------------------
// Syntax tree shared by both front ends.

struct Pos {
  int line = 0;  // 1-based; 0 when unknown (JSON values)
  int column = 0;
};

struct Member;

struct Node {
  enum class Kind { kScalar, kList, kObject };
  Kind kind = Kind::kScalar;
  Pos pos{};
  nlohmann::json scalar{};  // string, number, boolean or null when kind == kScalar
  std::vector<Node> items{};
  std::vector<Member> members{};  // in order; duplicate keys are kept (HCL repeats blocks)
};

struct Member {
  std::string key{};
  Pos pos{};
  Node value{};
};

constexpr std::string_view kErrorPrefix = "failed to parse policy: ";

// A string for an error message: quoted, escaped, and cut to a readable length.
std::string quote(std::string_view s) {
  constexpr std::size_t kMaxShown = 120;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

std::unexpected<Status> fail(Pos pos, std::string_view what) {
  std::string message(kErrorPrefix);
  if (pos.line > 0) {
    message += "line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) + ": ";
  }
  message += what;
  return sdk::invalid_argument(std::move(message));
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if there is none there
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t min = 0;
  std::uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2, min = 0x80, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, min = 0x800, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// HCL lexer.

enum class TokenType {
  kEof,
  kIdent,
  kString,
  kNumber,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kAssign,
  kComma,
};

struct Token {
  TokenType type = TokenType::kEof;
  Pos pos{};
  std::string text{};       // identifier name or unescaped string
  nlohmann::json number{};  // for kNumber
};

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<Token> next() {
    LEASEFS_TRY(skip_blanks_and_comments());
    Token token;
    token.pos = pos();
    if (at_end()) return token;
    char c = peek();
    switch (c) {
      case '{':
        return single(token, TokenType::kLeftBrace);
      case '}':
        return single(token, TokenType::kRightBrace);
      case '[':
        return single(token, TokenType::kLeftBracket);
      case ']':
        return single(token, TokenType::kRightBracket);
      case '=':
        return single(token, TokenType::kAssign);
      case ',':
        return single(token, TokenType::kComma);
      case '"':
        return lex_string(std::move(token));
      default:
        break;
    }
    if (c == '<' && peek(1) == '<') return fail(token.pos, "heredoc strings are not supported");
    if (is_digit(c) || (c == '-' && (is_digit(peek(1)) || peek(1) == '.'))) {
      return lex_number(std::move(token));
    }
    if (is_ident_start(c)) {
      std::size_t start = i_;
      while (!at_end() && is_ident_char(peek())) advance();
      token.type = TokenType::kIdent;
      token.text = std::string(text_.substr(start, i_ - start));
      return token;
    }
    return fail(token.pos, "unexpected character " + describe_char());
  }

 private:
  bool at_end() const { return i_ >= text_.size(); }
  char peek(std::size_t ahead = 0) const {
    return i_ + ahead < text_.size() ? text_[i_ + ahead] : '\0';
  }
  Pos pos() const { return Pos{.line = line_, .column = column_}; }
  void advance() {
    auto c = static_cast<unsigned char>(text_[i_++]);
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++column_;
    }
  }
  Token single(Token& token, TokenType type) {
    advance();
    token.type = type;
    return std::move(token);
  }

  std::string describe_char() const {
    auto c = static_cast<unsigned char>(peek());
    if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
    std::size_t n = utf8_sequence_length(text_, i_);
    if (n > 1) return "'" + std::string(text_.substr(i_, n)) + "'";
    constexpr char kHex[] = "0123456789ABCDEF";
    return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 0xf];
  }

  Result<void> skip_blanks_and_comments() {
    while (!at_end()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        advance();
      } else if (c == '#' || (c == '/' && peek(1) == '/')) {
        while (!at_end() && peek() != '\n') advance();
      } else if (c == '/' && peek(1) == '*') {
        Pos start = pos();
        advance();
        advance();
        while (!at_end() && !(peek() == '*' && peek(1) == '/')) advance();
        if (at_end()) return fail(start, "comment not terminated (expected '*/')");
        advance();
        advance();
      } else {
        break;
      }
    }
    return {};
  }

  Result<Token> lex_string(Token token) {
    advance();  // opening quote
    std::string out;
    while (true) {
      if (at_end() || peek() == '\n') {
        return fail(token.pos, "string not terminated (expected '\"' on the same line)");
      }
      char c = peek();
      if (c == '"') {
        advance();
        break;
      }
      if (c != '\\') {
        out += c;
        advance();
        continue;
      }
      Pos escape_pos = pos();
      advance();
      if (at_end()) return fail(escape_pos, "string not terminated");
      char e = peek();
      advance();
      switch (e) {
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case '\\':
          out += '\\';
          break;
        case '"':
          out += '"';
          break;
        case '\'':
          out += '\'';
          break;
        case 'x':
        case 'u':
        case 'U': {
          int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          std::uint32_t value = 0;
          for (int k = 0; k < digits; ++k) {
            int d = hex_digit(peek());
            if (d < 0) return fail(escape_pos, "invalid escape: expected hex digits");
            value = (value << 4) | static_cast<std::uint32_t>(d);
            advance();
          }
          if (e == 'x') {
            out += static_cast<char>(value);
          } else {
            if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
              return fail(escape_pos, "invalid escape: not a Unicode code point");
            }
            append_utf8(out, value);
          }
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            std::uint32_t value = static_cast<std::uint32_t>(e - '0');
            for (int k = 0; k < 2; ++k) {
              char d = peek();
              if (d < '0' || d > '7')
                return fail(escape_pos, "invalid escape: expected octal digits");
              value = value * 8 + static_cast<std::uint32_t>(d - '0');
              advance();
            }
            if (value > 255) return fail(escape_pos, "invalid escape: octal value over 255");
            out += static_cast<char>(value);
            break;
          }
          return fail(escape_pos, std::string("unknown escape sequence '\\") +
                                      (e >= 0x21 && e < 0x7f ? std::string(1, e) : "?") + "'");
      }
    }
    if (!valid_utf8(out)) return fail(token.pos, "string is not valid UTF-8");
    token.type = TokenType::kString;
    token.text = std::move(out);
    return token;
  }

  Result<Token> lex_number(Token token) {
    std::size_t start = i_;
    if (peek() == '-') advance();
    bool is_float = false;
    bool is_hex = false;
    if (peek() == '0' && (peek(1) == 'x' || peek(1) == 'X')) {
      is_hex = true;
      advance();
      advance();
      while (!at_end() && hex_digit(peek()) >= 0) advance();
    } else {
      while (!at_end() && is_digit(peek())) advance();
      if (peek() == '.') {
        is_float = true;
        advance();
        while (!at_end() && is_digit(peek())) advance();
      }
      if (peek() == 'e' || peek() == 'E') {
        is_float = true;
        advance();
        if (peek() == '+' || peek() == '-') advance();
        while (!at_end() && is_digit(peek())) advance();
      }
    }
    if (!at_end() && is_ident_char(peek())) return fail(token.pos, "invalid number");
    std::string_view literal = text_.substr(start, i_ - start);
    token.type = TokenType::kNumber;
    if (is_float) {
      double value = 0;
      auto [end, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), value);
      if (ec != std::errc() || end != literal.data() + literal.size() || !std::isfinite(value)) {
        return fail(token.pos, "invalid number");
      }
      token.number = value;
      return token;
    }
    bool negative = literal.front() == '-';
    std::string_view digits = literal.substr(negative ? 1 : 0);
    if (is_hex) digits.remove_prefix(2);
    std::uint64_t magnitude = 0;
    auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, is_hex ? 16 : 10);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        magnitude > static_cast<std::uint64_t>(INT64_MAX)) {
      return fail(token.pos, "invalid number (not a 64-bit integer)");
    }
    auto value = static_cast<std::int64_t>(magnitude);
    token.number = negative ? -value : value;
    return token;
  }

  std::string_view text_;
  std::size_t i_ = 0;
  int line_ = 1;
  int column_ = 1;
};

// ---------------------------------------------------------------------------------------
// HCL parser: a body is a sequence of items `key+ (= value | { body })`, optionally
// separated by commas.

class HclParser {
 public:
  explicit HclParser(std::string_view text) : lexer_(text) {}

  Result<Node> parse() {
    LEASEFS_TRY(advance());
    Node root;
    root.kind = Node::Kind::kObject;
    root.pos = Pos{.line = 1, .column = 1};
    LEASEFS_TRY(parse_items(root, /*depth=*/0, /*top=*/true));
    return root;
  }

 private:
  Result<void> advance() {
    auto token = lexer_.next();
    if (!token) return std::unexpected(std::move(token).error());
    cur_ = std::move(*token);
    return {};
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::kEof:
        return "the end of the text";
      case TokenType::kIdent:
        return "identifier " + quote(t.text);
      case TokenType::kString:
        return "string " + quote(t.text);
      case TokenType::kNumber:
        return "a number";
      case TokenType::kLeftBrace:
        return "'{'";
      case TokenType::kRightBrace:
        return "'}'";
      case TokenType::kLeftBracket:
        return "'['";
      case TokenType::kRightBracket:
        return "']'";
      case TokenType::kAssign:
        return "'='";
      case TokenType::kComma:
        return "','";
    }
    return "a token";
  }

  std::unexpected<Status> expected(std::string_view what) const {
    return fail(cur_.pos, "expected " + std::string(what) + ", found " + describe(cur_));
  }

  static std::unexpected<Status> too_deep(Pos pos) {
    return fail(pos, "nesting deeper than " + std::to_string(kMaxPolicyDepth) + " levels");
  }

  // Items until the end of the text (top) or a closing '}' (left as the current token).
  Result<void> parse_items(Node& object, int depth, bool top) {
    while (true) {
      if (cur_.type == TokenType::kEof) {
        if (top) return {};
        return expected("'}'");
      }
      if (cur_.type == TokenType::kRightBrace) {
        if (!top) return {};
        return fail(cur_.pos, "unexpected '}' (no block is open)");
      }
      LEASEFS_TRY(parse_item(object, depth));
      if (cur_.type == TokenType::kComma) LEASEFS_TRY(advance());
    }
  }

  Result<void> parse_item(Node& object, int depth) {
    if (cur_.type != TokenType::kIdent && cur_.type != TokenType::kString) {
      return expected("a key");
    }
    std::vector<std::pair<std::string, Pos>> keys;
    while (cur_.type == TokenType::kIdent || cur_.type == TokenType::kString) {
      keys.emplace_back(std::move(cur_.text), cur_.pos);
      if (depth + static_cast<int>(keys.size()) > kMaxPolicyDepth) return too_deep(cur_.pos);
      LEASEFS_TRY(advance());
    }
    Node value;
    if (cur_.type == TokenType::kAssign) {
      LEASEFS_TRY(advance());
      if (keys.size() > 1 && cur_.type != TokenType::kLeftBrace) {
        return expected("'{' after block labels");
      }
      auto parsed = parse_value(depth + static_cast<int>(keys.size()) - 1);
      if (!parsed) return std::unexpected(std::move(parsed).error());
      value = std::move(*parsed);
    } else if (cur_.type == TokenType::kLeftBrace) {
      auto parsed = parse_object(depth + static_cast<int>(keys.size()) - 1);
      if (!parsed) return std::unexpected(std::move(parsed).error());
      value = std::move(*parsed);
    } else {
      return expected("'=' or '{'");
    }
    // `a "b" "c" { body }` is `a = { "b" = { "c" = { body } } }`.
    for (std::size_t k = keys.size(); k-- > 1;) {
      Node wrapper;
      wrapper.kind = Node::Kind::kObject;
      wrapper.pos = keys[k].second;
      wrapper.members.push_back(Member{
          .key = std::move(keys[k].first), .pos = keys[k].second, .value = std::move(value)});
      value = std::move(wrapper);
    }
    object.members.push_back(
        Member{.key = std::move(keys[0].first), .pos = keys[0].second, .value = std::move(value)});
    return {};
  }

  // The current token starts a value; `depth` is the nesting of the value's container.
  Result<Node> parse_value(int depth) {
    Node node;
    node.pos = cur_.pos;
    switch (cur_.type) {
      case TokenType::kString:
        node.scalar = std::move(cur_.text);
        LEASEFS_TRY(advance());
        return node;
      case TokenType::kNumber:
        node.scalar = std::move(cur_.number);
        LEASEFS_TRY(advance());
        return node;
      case TokenType::kIdent:
        if (cur_.text == "true" || cur_.text == "false") {
          node.scalar = cur_.text == "true";
          LEASEFS_TRY(advance());
          return node;
        }
        return expected("a value (a string, number, true, false, list or object)");
      case TokenType::kLeftBracket:
        return parse_list(depth);
      case TokenType::kLeftBrace:
        return parse_object(depth);
      default:
        return expected("a value");
    }
  }

  Result<Node> parse_list(int depth) {
    if (depth + 1 > kMaxPolicyDepth) return too_deep(cur_.pos);
    Node node;
    node.kind = Node::Kind::kList;
    node.pos = cur_.pos;
    LEASEFS_TRY(advance());  // '['
    while (cur_.type != TokenType::kRightBracket) {
      auto item = parse_value(depth + 1);
      if (!item) return std::unexpected(std::move(item).error());
      node.items.push_back(std::move(*item));
      if (cur_.type == TokenType::kComma) {
        LEASEFS_TRY(advance());
      } else if (cur_.type != TokenType::kRightBracket) {
        return expected("',' or ']'");
      }
    }
    LEASEFS_TRY(advance());  // ']'
    return node;
  }

  Result<Node> parse_object(int depth) {
    if (depth + 1 > kMaxPolicyDepth) return too_deep(cur_.pos);
    Node node;
    node.kind = Node::Kind::kObject;
    node.pos = cur_.pos;
    LEASEFS_TRY(advance());  // '{'
    LEASEFS_TRY(parse_items(node, depth + 1, /*top=*/false));
    LEASEFS_TRY(advance());  // '}'
    return node;
  }

  Lexer lexer_;
  Token cur_{};
};

// ---------------------------------------------------------------------------------------
// JSON front end: nlohmann's SAX interface into the same tree, keeping duplicate keys
// (as hashicorp/hcl's JSON parser does) and bounding depth.

class JsonTreeBuilder {
 public:
  using json = nlohmann::json;

  bool null() { return add_scalar(json(nullptr)); }
  bool boolean(bool v) { return add_scalar(json(v)); }
  bool number_integer(json::number_integer_t v) { return add_scalar(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return add_scalar(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return add_scalar(json(v)); }
  bool string(json::string_t& v) { return add_scalar(json(std::move(v))); }
  bool binary(json::binary_t&) { return false; }  // not produced by the JSON reader
  bool start_object(std::size_t) { return open(Node::Kind::kObject); }
  bool key(json::string_t& k) {
    pending_key_ = std::move(k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) { return open(Node::Kind::kList); }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    std::string_view what = ex.what();
    constexpr std::string_view kMarker = "parse error at ";
    if (auto at = what.find(kMarker); at != std::string_view::npos) {
      what.remove_prefix(at + kMarker.size());
    }
    error_ = std::string(what.substr(0, 300));
    return false;
  }

  bool too_deep() const { return too_deep_; }
  const std::string& error() const { return error_; }
  Node take_root() { return std::move(root_); }

 private:
  Node* place(Node node) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return &root_;
    }
    Node& parent = *stack_.back();
    if (parent.kind == Node::Kind::kList) {
      parent.items.push_back(std::move(node));
      return &parent.items.back();
    }
    parent.members.push_back(
        Member{.key = std::move(pending_key_), .pos = {}, .value = std::move(node)});
    return &parent.members.back().value;
  }
  bool add_scalar(json value) {
    Node node;
    node.scalar = std::move(value);
    place(std::move(node));
    return true;
  }
  bool open(Node::Kind kind) {
    if (stack_.size() >= static_cast<std::size_t>(kMaxPolicyDepth)) {
      too_deep_ = true;
      return false;
    }
    Node node;
    node.kind = kind;
    // Only the innermost open container grows, so these pointers stay valid.
    stack_.push_back(place(std::move(node)));
    return true;
  }

  Node root_{};
  std::vector<Node*> stack_{};
  std::string pending_key_{};
  std::string error_{};
  bool too_deep_ = false;
};

// ---------------------------------------------------------------------------------------
// Tree to Policy.

std::string kind_name(const Node& node) {
  switch (node.kind) {
    case Node::Kind::kList:
      return "a list";
    case Node::Kind::kObject:
      return "an object";
    case Node::Kind::kScalar:
      break;
  }
  if (node.scalar.is_string()) return "a string";
  if (node.scalar.is_boolean()) return "a boolean";
  if (node.scalar.is_null()) return "null";
  return "a number";
}

// The members of an object, or of a list of objects taken together (the JSON form
// `"path": [{"a": {...}}, {"b": {...}}]` that hashicorp/hcl flattens the same way).
Result<std::vector<const Member*>> object_members(const Node& node, std::string_view what) {
  std::vector<const Member*> out;
  if (node.kind == Node::Kind::kObject) {
    for (const Member& m : node.members) out.push_back(&m);
    return out;
  }
  bool all_objects = node.kind == Node::Kind::kList &&
                     std::all_of(node.items.begin(), node.items.end(),
                                 [](const Node& n) { return n.kind == Node::Kind::kObject; });
  if (all_objects) {
    for (const Node& item : node.items) {
      for (const Member& m : item.members) out.push_back(&m);
    }
    return out;
  }
  return fail(node.pos, std::string(what) + " must be an object, found " + kind_name(node));
}

Result<std::vector<std::pair<std::string, Pos>>> string_list(const Node& node,
                                                             std::string_view what) {
  if (node.kind != Node::Kind::kList) {
    return fail(node.pos,
                std::string(what) + " must be a list of strings, found " + kind_name(node));
  }
  std::vector<std::pair<std::string, Pos>> out;
  for (const Node& item : node.items) {
    if (item.kind != Node::Kind::kScalar || !item.scalar.is_string()) {
      return fail(item.pos, std::string(what) + " must be a list of strings, found " +
                                kind_name(item) + " in it");
    }
    out.emplace_back(item.scalar.get<std::string>(), item.pos);
  }
  return out;
}

// Recursion is bounded by the parse depth limit.
nlohmann::json to_json(const Node& node) {
  switch (node.kind) {
    case Node::Kind::kScalar:
      return node.scalar;
    case Node::Kind::kList: {
      nlohmann::json out = nlohmann::json::array();
      for (const Node& item : node.items) out.push_back(to_json(item));
      return out;
    }
    case Node::Kind::kObject: {
      nlohmann::json out = nlohmann::json::object();
      for (const Member& m : node.members) out[m.key] = to_json(m.value);
      return out;
    }
  }
  return nullptr;
}

// allowed_parameters / denied_parameters: `{ "key" = [values] ... }`, merged into `out`
// (a repeated key replaces the earlier one, as hashicorp/hcl decodes maps).
Result<void> parse_parameter_map(const Node& node, std::string_view context, ParameterMap& out) {
  auto members = object_members(node, context);
  if (!members) return std::unexpected(std::move(members).error());
  for (const Member* m : *members) {
    const std::string& key = m->key;
    if (key.find('*') != std::string::npos && key != "*") {
      return fail(m->pos, std::string(context) + ": parameter key " + quote(key) +
                              " cannot contain wildcards (only the whole key \"*\" can)");
    }
    if (!key.empty() && key.front() == '/') {
      return fail(m->pos, std::string(context) + ": parameter key " + quote(key) +
                              ": JSON-pointer keys are not supported");
    }
    if (m->value.kind != Node::Kind::kList) {
      return fail(m->value.pos, std::string(context) + ": the values of " + quote(key) +
                                    " must be a list (use [] for any value), found " +
                                    kind_name(m->value));
    }
    std::vector<nlohmann::json> values;
    values.reserve(m->value.items.size());
    for (const Node& item : m->value.items) values.push_back(to_json(item));
    out[ascii_lower(key)] = std::move(values);
  }
  return {};
}

Result<sdk::Duration> parse_ttl(const Member& m, std::string_view path_context) {
  const Node& v = m.value;
  if (v.kind != Node::Kind::kScalar || !(v.scalar.is_string() || v.scalar.is_number())) {
    return fail(v.pos, std::string(path_context) + m.key +
                           " must be a number of seconds or a duration string, found " +
                           kind_name(v));
  }
  auto d = sdk::duration_from_json(v.scalar);
  if (!d) return fail(v.pos, std::string(path_context) + m.key + ": " + d.error().message());
  return *d;
}

Result<PathRule> parse_path_rule(const Member& block) {
  const std::string& written = block.key;
  const std::string context = "path " + quote(written) + ": ";
  auto members = object_members(block.value, "path " + quote(written));
  if (!members) return std::unexpected(std::move(members).error());

  PathRule rule;
  std::vector<std::pair<std::string, Pos>> capability_names;
  std::optional<std::pair<std::string, Pos>> old_policy;
  for (const Member* m : *members) {
    const std::string& key = m->key;
    if (key == "capabilities") {
      auto names = string_list(m->value, context + "capabilities");
      if (!names) return std::unexpected(std::move(names).error());
      capability_names.insert(capability_names.end(), names->begin(), names->end());
    } else if (key == "policy") {
      if (m->value.kind != Node::Kind::kScalar || !m->value.scalar.is_string()) {
        return fail(m->value.pos,
                    context + "policy must be a string, found " + kind_name(m->value));
      }
      old_policy.emplace(m->value.scalar.get<std::string>(), m->value.pos);
    } else if (key == "comment") {
      // Vault accepts and ignores it.
    } else if (key == "allowed_parameters") {
      LEASEFS_TRY(
          parse_parameter_map(m->value, context + "allowed_parameters", rule.allowed_parameters));
    } else if (key == "denied_parameters") {
      LEASEFS_TRY(
          parse_parameter_map(m->value, context + "denied_parameters", rule.denied_parameters));
    } else if (key == "required_parameters") {
      auto names = string_list(m->value, context + "required_parameters");
      if (!names) return std::unexpected(std::move(names).error());
      for (auto& [name, pos] : *names) {
        if (name.find('*') != std::string::npos) {
          return fail(pos, context + "required_parameters: parameter key " + quote(name) +
                               ": a wildcard is not permitted here");
        }
        if (!name.empty() && name.front() == '/') {
          return fail(pos, context + "required_parameters: parameter key " + quote(name) +
                               ": JSON-pointer keys are not supported");
        }
        rule.required_parameters.push_back(std::move(name));
      }
    } else if (key == "min_wrapping_ttl" || key == "max_wrapping_ttl") {
      auto ttl = parse_ttl(*m, context);
      if (!ttl) return std::unexpected(std::move(ttl).error());
      (key == "min_wrapping_ttl" ? rule.min_wrapping_ttl : rule.max_wrapping_ttl) = *ttl;
    } else if (key == "mfa_methods" || key == "control_group" || key == "pagination_limit" ||
               key == "expiration" || key == "list_scan_response_keys_filter_path") {
      return fail(m->pos, context + quote(key) + " is not supported by leasefs");
    } else {
      return fail(m->pos, context + "invalid key " + quote(key));
    }
  }

  // The path: Vault strips one leading '/', forbids "+*", and treats a trailing '*' as a
  // prefix glob. A '*' anywhere else is an ordinary character.
  std::string path = written;
  if (!path.empty() && path.front() == '/') path.erase(0, 1);
  if (path.find("+*") != std::string::npos) {
    return fail(block.pos,
                "path " + quote(path) + ": invalid use of wildcards ('+*' is forbidden)");
  }
  rule.has_segment_wildcards =
      path == "+" || path.find("/+") != std::string::npos || path.starts_with("+/");
  if (path.ends_with('*')) {
    path.pop_back();
    rule.is_prefix = true;
  }
  rule.pattern = std::move(path);

  // The deprecated `policy = "..."` shorthand, mapped as Vault maps it.
  if (old_policy) {
    const std::string& p = old_policy->first;
    if (p == "deny") {
      capability_names = {{"deny", old_policy->second}};
    } else if (p == "read" || p == "write" || p == "sudo") {
      std::vector<std::string_view> implied;
      if (p == "read") implied = {"read", "list"};
      if (p == "write") implied = {"create", "read", "update", "delete", "list"};
      if (p == "sudo") implied = {"create", "read", "update", "delete", "list", "sudo"};
      for (std::string_view name : implied) {
        capability_names.emplace_back(std::string(name), old_policy->second);
      }
    } else {
      return fail(old_policy->second, context + "invalid policy " + quote(p));
    }
  }

  for (const auto& [name, pos] : capability_names) {
    auto bit = capability_from_name(name);
    if (!bit) return fail(pos, context + "invalid capability " + quote(name));
    rule.capabilities |= *bit;
  }
  if (rule.capabilities & capability::kDeny) {
    // A denying rule carries nothing else (Vault skips the rest of the block).
    rule.capabilities = capability::kDeny;
    rule.allowed_parameters.clear();
    rule.denied_parameters.clear();
    rule.required_parameters.clear();
    rule.min_wrapping_ttl = {};
    rule.max_wrapping_ttl = {};
    return rule;
  }
  if (rule.min_wrapping_ttl.count() != 0 && rule.max_wrapping_ttl.count() != 0 &&
      rule.max_wrapping_ttl < rule.min_wrapping_ttl) {
    return fail(block.pos, context + "max_wrapping_ttl cannot be less than min_wrapping_ttl");
  }
  return rule;
}

Result<Policy> policy_from_tree(std::string name, std::string_view text, const Node& root) {
  if (root.kind != Node::Kind::kObject) {
    return fail(root.pos, "does not contain a root object");
  }
  Policy policy;
  policy.name = std::move(name);
  for (const Member& m : root.members) {
    if (m.key == "path") {
      auto blocks = object_members(m.value, "path");
      if (!blocks) return std::unexpected(std::move(blocks).error());
      for (const Member* block : *blocks) {
        auto rule = parse_path_rule(*block);
        if (!rule) return std::unexpected(std::move(rule).error());
        policy.rules.push_back(std::move(*rule));
      }
    } else if (m.key == "name") {
      // Vault reads it and then names the policy from the API path; so does leasefs.
      if (m.value.kind != Node::Kind::kScalar || !m.value.scalar.is_string()) {
        return fail(m.value.pos, "name must be a string, found " + kind_name(m.value));
      }
    } else {
      return fail(m.pos, "invalid key " + quote(m.key));
    }
  }
  policy.raw = std::string(text);
  return policy;
}

Result<void> check_size(std::string_view text) {
  if (text.size() > kMaxPolicyBytes) {
    return fail({}, "policy text is " + std::to_string(text.size()) + " bytes, over the limit of " +
                        std::to_string(kMaxPolicyBytes));
  }
  return {};
}

bool looks_like_json(std::string_view text) {
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

}  // namespace

std::optional<std::uint32_t> capability_from_name(std::string_view name) {
  if (name == "deny") return capability::kDeny;
  if (name == "create") return capability::kCreate;
  if (name == "read") return capability::kRead;
  if (name == "update") return capability::kUpdate;
  if (name == "delete") return capability::kDelete;
  if (name == "list") return capability::kList;
  if (name == "sudo") return capability::kSudo;
  if (name == "patch") return capability::kPatch;
  return std::nullopt;
}

std::string_view capability_name(std::uint32_t bit) {
  switch (bit) {
    case capability::kDeny:
      return "deny";
    case capability::kCreate:
      return "create";
    case capability::kRead:
      return "read";
    case capability::kUpdate:
      return "update";
    case capability::kDelete:
      return "delete";
    case capability::kList:
      return "list";
    case capability::kSudo:
      return "sudo";
    case capability::kPatch:
      return "patch";
    default:
      return "";
  }
}

sdk::Result<Policy> parse_policy_hcl(std::string name, std::string_view text) {
  LEASEFS_TRY(check_size(text));
  // hashicorp/hcl refuses text that is not UTF-8 or that holds NUL; so does this parser.
  for (std::size_t i = 0, line = 1, column = 1; i < text.size();) {
    std::size_t n = utf8_sequence_length(text, i);
    if (n == 0 || text[i] == '\0') {
      return fail(Pos{.line = static_cast<int>(line), .column = static_cast<int>(column)},
                  n == 0 ? "invalid UTF-8" : "unexpected NUL character");
    }
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += n;
  }
  auto root = HclParser(text).parse();
  if (!root) return std::unexpected(std::move(root).error());
  return policy_from_tree(std::move(name), text, *root);
}

sdk::Result<Policy> parse_policy_json(std::string name, std::string_view text) {
  LEASEFS_TRY(check_size(text));
  JsonTreeBuilder builder;
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(text.data(), text.data() + text.size(), &builder);
  } catch (const std::exception& e) {  // not expected from the SAX reader; never let one out
    return fail({}, std::string("invalid JSON: ") + e.what());
  }
  if (!ok) {
    if (builder.too_deep()) {
      return fail({}, "nesting deeper than " + std::to_string(kMaxPolicyDepth) + " levels");
    }
    return fail({}, builder.error().empty() ? "invalid JSON" : builder.error());
  }
  Node root = builder.take_root();
  return policy_from_tree(std::move(name), text, root);
}

sdk::Result<Policy> parse_policy(std::string name, std::string_view text) {
  if (looks_like_json(text)) return parse_policy_json(std::move(name), text);
  return parse_policy_hcl(std::move(name), text);
}

namespace {

constexpr int kMinPasswordLength = 4;
constexpr int kMaxPasswordLength = 100;

// A number member as a whole int in [lo, hi].
Result<int> int_member(const Member& m, int lo, int hi) {
  const Node& v = m.value;
  if (v.kind != Node::Kind::kScalar || !v.scalar.is_number_integer()) {
    return fail(v.pos, m.key + " must be a whole number, found " + kind_name(v));
  }
  const auto n = v.scalar.get<long long>();
  if (n < lo || n > hi) {
    return fail(v.pos, m.key + " must be between " + std::to_string(lo) + " and " +
                           std::to_string(hi) + ", not " + std::to_string(n));
  }
  return static_cast<int>(n);
}

Result<PasswordPolicy::Charset> parse_charset_rule(const Member& block) {
  auto members = object_members(block.value, "rule \"charset\"");
  if (!members) return std::unexpected(std::move(members).error());
  PasswordPolicy::Charset rule;
  bool has_chars = false;
  for (const Member* m : *members) {
    if (m->key == "charset") {
      if (m->value.kind != Node::Kind::kScalar || !m->value.scalar.is_string()) {
        return fail(m->value.pos, "charset must be a string, found " + kind_name(m->value));
      }
      rule.chars.clear();
      for (char c : m->value.scalar.get<std::string>()) {
        if (c < 0x21 || c > 0x7e) {
          return fail(m->value.pos, "charset may hold only printable ASCII characters");
        }
        if (rule.chars.find(c) == std::string::npos) rule.chars += c;
      }
      has_chars = true;
    } else if (m->key == "min-chars") {
      auto n = int_member(*m, 0, kMaxPasswordLength);
      if (!n) return std::unexpected(std::move(n).error());
      rule.min_chars = *n;
    } else {
      return fail(m->pos, "invalid key " + quote(m->key) + " in rule \"charset\"");
    }
  }
  if (!has_chars || rule.chars.empty()) return fail(block.pos, "rule \"charset\" needs a charset");
  return rule;
}

Result<PasswordPolicy> password_policy_from_tree(const Node& root) {
  PasswordPolicy policy;
  for (const Member& m : root.members) {
    if (m.key == "length") {
      auto n = int_member(m, kMinPasswordLength, kMaxPasswordLength);
      if (!n) return std::unexpected(std::move(n).error());
      policy.length = *n;
    } else if (m.key == "rule") {
      auto blocks = object_members(m.value, "rule");
      if (!blocks) return std::unexpected(std::move(blocks).error());
      for (const Member* block : *blocks) {
        if (block->key != "charset") {
          return fail(block->pos, "unknown rule type " + quote(block->key) + " (only \"charset\")");
        }
        auto rule = parse_charset_rule(*block);
        if (!rule) return std::unexpected(std::move(rule).error());
        policy.rules.push_back(std::move(*rule));
      }
    } else {
      return fail(m.pos, "invalid key " + quote(m.key));
    }
  }
  if (policy.length == 0) return fail({}, "length is required");
  if (policy.rules.empty()) return fail({}, "at least one rule \"charset\" is required");
  int minimum = 0;
  for (const auto& r : policy.rules) minimum += r.min_chars;
  if (minimum > policy.length) {
    return fail({}, "the rules need " + std::to_string(minimum) +
                        " characters, more than the length " + std::to_string(policy.length));
  }
  return policy;
}

// Uniform in [0, n) for n <= 256, by rejection sampling on single bytes.
Result<std::size_t> uniform_index(sdk::Random& random, std::size_t n) {
  const unsigned limit = 256 - 256 % static_cast<unsigned>(n);
  for (int tries = 0; tries < 1000; ++tries) {
    std::uint8_t b = 0;
    LEASEFS_TRY(random.fill({&b, 1}));
    if (b < limit) return b % n;
  }
  return sdk::internal_error("the random generator does not produce usable values");
}

}  // namespace

sdk::Result<PasswordPolicy> parse_password_policy(std::string_view text) {
  auto rename = [](Status status) {
    std::string message = status.message();
    if (message.starts_with(kErrorPrefix)) {
      message = "failed to parse password policy: " + message.substr(kErrorPrefix.size());
    }
    return sdk::invalid_argument(std::move(message));
  };
  LEASEFS_TRY(check_size(text));
  for (char c : text) {
    if (c == '\0' || static_cast<unsigned char>(c) >= 0x80) {
      return sdk::invalid_argument("failed to parse password policy: the text must be ASCII");
    }
  }
  Result<Node> root = std::unexpected(sdk::internal_error(""));
  if (looks_like_json(text)) {
    JsonTreeBuilder builder;
    bool ok = false;
    try {
      ok = nlohmann::json::sax_parse(text.data(), text.data() + text.size(), &builder);
    } catch (const std::exception&) {
      ok = false;
    }
    if (!ok) return rename(fail({}, builder.error().empty() ? "invalid JSON" : builder.error()).error());
    root = builder.take_root();
  } else {
    root = HclParser(text).parse();
    if (!root) return rename(root.error());
  }
  auto policy = password_policy_from_tree(*root);
  if (!policy) return rename(policy.error());
  return policy;
}

sdk::Result<std::string> generate_password(const PasswordPolicy& policy, sdk::Random& random) {
  std::string all;
  for (const auto& r : policy.rules) {
    for (char c : r.chars) {
      if (all.find(c) == std::string::npos) all += c;
    }
  }
  if (all.empty() || policy.length <= 0) return sdk::invalid_argument("empty password policy");
  std::string out;
  out.reserve(static_cast<std::size_t>(policy.length));
  for (const auto& r : policy.rules) {
    for (int i = 0; i < r.min_chars; ++i) {
      auto k = uniform_index(random, r.chars.size());
      if (!k) return sdk::error(k.error());
      out += r.chars[*k];
    }
  }
  while (out.size() < static_cast<std::size_t>(policy.length)) {
    auto k = uniform_index(random, all.size());
    if (!k) return sdk::error(k.error());
    out += all[*k];
  }
  // Fisher-Yates, so the required characters are not always in front.
  for (std::size_t i = out.size() - 1; i > 0; --i) {
    auto k = uniform_index(random, i + 1);
    if (!k) return sdk::error(k.error());
    std::swap(out[i], out[*k]);
  }
  return out;
}

std::string decode_policy_text(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n') compact += c;
  }
  if (compact.empty()) return std::string(text);
  auto decoded = sdk::base64_decode(compact);
  if (!decoded) return std::string(text);
  std::string_view view = decoded->view();
  if (!valid_utf8(view)) return std::string(text);
  return std::string(view);
}

}  // namespace leasefs::backend::auth
