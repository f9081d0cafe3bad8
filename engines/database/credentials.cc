// User names and passwords for generated database credentials (see credentials.h).
#include "engines/database/credentials.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace leasefs::engines::database {
namespace {

// Characters of `alphabet`, uniform (rejection sampling over random bytes).
sdk::Result<std::string> random_from(sdk::Random& random, std::string_view alphabet,
                                     std::size_t n) {
  std::string out;
  out.reserve(n);
  const unsigned limit = 256 - (256 % alphabet.size());
  std::uint8_t buf[64];
  while (out.size() < n) {
    LEASEFS_TRY(random.fill(buf));
    for (std::uint8_t b : buf) {
      if (b >= limit) continue;
      out.push_back(alphabet[b % alphabet.size()]);
      if (out.size() == n) break;
    }
  }
  sdk::wipe(buf, sizeof buf);
  return out;
}

constexpr std::string_view kBase62 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// How much longer than its inputs (the display and role names) a template's text may
// grow before the name is cut to the database's limit. Without a bound, chained
// replaces (`replace "t" "tttt…" | replace "t" …`) grow exponentially: one config write
// could take all the server's memory.
constexpr std::size_t kMaxRenderedBytes = 4096;

std::size_t render_limit(const UsernameInput& input) {
  return kMaxRenderedBytes + input.display_name.size() + input.role_name.size();
}

std::unexpected<sdk::Status> too_long() {
  return sdk::invalid_argument("it makes a name longer than " +
                               std::to_string(kMaxRenderedBytes) +
                               " bytes plus the display and role names");
}

// One token of an action: a word or a "quoted string".
struct Token {
  std::string text;
  bool quoted = false;
};

sdk::Result<std::vector<Token>> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    } else if (s[i] == '|') {
      out.push_back({"|", false});
      ++i;
    } else if (s[i] == '"') {
      std::size_t end = s.find('"', i + 1);
      if (end == std::string_view::npos) return sdk::invalid_argument("unterminated string");
      out.push_back({std::string(s.substr(i + 1, end - i - 1)), true});
      i = end + 1;
    } else {
      std::size_t end = i;
      while (end < s.size() && !std::isspace(static_cast<unsigned char>(s[end])) && s[end] != '|' &&
             s[end] != '"') {
        ++end;
      }
      out.push_back({std::string(s.substr(i, end - i)), false});
      i = end;
    }
  }
  return out;
}

sdk::Result<std::size_t> count_arg(const std::vector<Token>& cmd, std::size_t at) {
  if (at >= cmd.size() || cmd[at].quoted) {
    return sdk::invalid_argument("\"" + cmd[0].text + "\" needs a number");
  }
  std::size_t n = 0;
  const auto& t = cmd[at].text;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (ec != std::errc() || p != t.data() + t.size() || n == 0 || n > 1024) {
    return sdk::invalid_argument("\"" + cmd[0].text + "\" needs a number from 1 to 1024");
  }
  return n;
}

// Evaluates one action: `value | filter | ...`.
sdk::Result<std::string> evaluate(std::string_view action, const UsernameInput& input,
                                  sdk::Random& random) {
  auto tokens = tokenize(action);
  if (!tokens) return sdk::error(tokens.error());
  std::vector<std::vector<Token>> commands(1);
  for (auto& t : *tokens) {
    if (!t.quoted && t.text == "|") {
      commands.emplace_back();
    } else {
      commands.back().push_back(std::move(t));
    }
  }
  std::string value;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const auto& cmd = commands[i];
    if (cmd.empty() || cmd[0].quoted) {
      return sdk::invalid_argument("empty or malformed action {{" + std::string(action) + "}}");
    }
    const std::string& name = cmd[0].text;
    std::size_t want_args = 1;
    if (i == 0) {
      if (name == ".DisplayName") {
        value = input.display_name;
      } else if (name == ".RoleName") {
        value = input.role_name;
      } else if (name == "random") {
        auto n = count_arg(cmd, 1);
        if (!n) return sdk::error(n.error());
        auto r = random_from(random, kBase62, *n);
        if (!r) return sdk::error(r.error());
        value = std::move(*r);
        want_args = 2;
      } else if (name == "unix_time") {
        value = std::to_string(sdk::unix_seconds(input.now));
      } else if (name == "unix_time_millis") {
        value = std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(input.now.time_since_epoch())
                .count());
      } else if (name == "uuid") {
        auto u = sdk::random_uuid(random);
        if (!u) return sdk::error(u.error());
        value = std::move(*u);
      } else {
        return sdk::invalid_argument("unsupported value \"" + name +
                                     "\" in username_template (supported: .DisplayName, "
                                     ".RoleName, random N, unix_time, unix_time_millis, uuid)");
      }
    } else if (name == "truncate") {
      auto n = count_arg(cmd, 1);
      if (!n) return sdk::error(n.error());
      value = truncate_utf8(value, *n);
      want_args = 2;
    } else if (name == "lowercase" || name == "uppercase") {
      const bool lower = name == "lowercase";
      for (char& ch : value) {
        ch = static_cast<char>(lower ? std::tolower(static_cast<unsigned char>(ch))
                                     : std::toupper(static_cast<unsigned char>(ch)));
      }
    } else if (name == "replace") {
      if (cmd.size() != 3 || !cmd[1].quoted || !cmd[2].quoted || cmd[1].text.empty()) {
        return sdk::invalid_argument("replace needs two quoted strings: replace \"a\" \"b\"");
      }
      for (auto pos = value.find(cmd[1].text); pos != std::string::npos;
           pos = value.find(cmd[1].text, pos + cmd[2].text.size())) {
        if (cmd[2].text.size() > cmd[1].text.size() &&
            value.size() + (cmd[2].text.size() - cmd[1].text.size()) > render_limit(input)) {
          return too_long();
        }
        value.replace(pos, cmd[1].text.size(), cmd[2].text);
      }
      want_args = 3;
    } else {
      return sdk::invalid_argument("unsupported filter \"" + name +
                                   "\" in username_template (supported: truncate N, "
                                   "lowercase, uppercase, replace \"a\" \"b\")");
    }
    if (cmd.size() != want_args) {
      return sdk::invalid_argument("wrong number of arguments to \"" + name +
                                   "\" in username_template");
    }
  }
  return value;
}

sdk::Result<std::string> render_template(std::string_view templ, const UsernameInput& input,
                                         sdk::Random& random) {
  std::string out;
  std::size_t i = 0;
  while (i < templ.size()) {
    std::size_t open = templ.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(templ.substr(i));
      break;
    }
    out.append(templ.substr(i, open - i));
    std::size_t close = templ.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return sdk::invalid_argument("username_template has an unclosed \"{{\"");
    }
    auto value = evaluate(templ.substr(open + 2, close - open - 2), input, random);
    if (!value) return sdk::error(value.error());
    out += *value;
    if (out.size() > render_limit(input)) return too_long();
    i = close + 2;
  }
  if (out.size() > render_limit(input)) return too_long();
  return out;
}

}  // namespace

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  // Back off continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

sdk::Result<void> check_username_template(std::string_view templ) {
  sdk::SeededRandom random(1);
  UsernameInput sample{.display_name = "token", .role_name = "role", .now = sdk::WallTime{}};
  auto r = render_template(templ, sample, random);
  if (!r) return sdk::invalid_argument("invalid username_template: " + r.error().message());
  return {};
}

sdk::Result<std::string> generate_username(std::string_view templ, const UsernameInput& input,
                                           sdk::Random& random, std::size_t max_bytes) {
  std::string name;
  if (templ.empty()) {
    auto suffix = random_from(random, kBase62, 20);
    if (!suffix) return sdk::error(suffix.error());
    name = "v-" + truncate_utf8(input.display_name, 8) + "-" + truncate_utf8(input.role_name, 8) +
           "-" + *suffix + "-" + std::to_string(sdk::unix_seconds(input.now));
  } else {
    auto r = render_template(templ, input, random);
    if (!r) return sdk::invalid_argument("invalid username_template: " + r.error().message());
    name = std::move(*r);
  }
  name = truncate_utf8(name, max_bytes);
  if (name.empty()) return sdk::invalid_argument("username_template produced an empty name");
  return name;
}

sdk::Result<std::string> password_for(const sdk::Request& request, const std::string& policy) {
  if (policy.empty()) return generate_password(*request.random);
  if (request.passwords == nullptr) {
    return sdk::internal_error("password policies are not available to this request");
  }
  auto password = request.passwords->generate(policy, *request.random);
  if (!password && password.error().code() == sdk::Code::kNotFound) {
    return sdk::invalid_argument("password_policy: " + password.error().message());
  }
  return password;
}

sdk::Result<std::string> generate_password(sdk::Random& random, std::size_t length) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-";
  if (length < 4) return sdk::invalid_argument("a password needs at least 4 characters");
  // Redraw until every class is present (for 20 characters about one draw in four has a
  // '-'; the rest almost always have the others).
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto pw = random_from(random, kAlphabet, length);
    if (!pw) return sdk::error(pw.error());
    const bool upper = std::any_of(pw->begin(), pw->end(), ::isupper);
    const bool lower = std::any_of(pw->begin(), pw->end(), ::islower);
    const bool digit = std::any_of(pw->begin(), pw->end(), ::isdigit);
    const bool dash = pw->find('-') != std::string::npos;
    if (upper && lower && digit && dash) return pw;
    sdk::wipe(pw->data(), pw->size());
  }
  return sdk::internal_error("the random generator does not produce usable passwords");
}

}  // namespace leasefs::engines::database
