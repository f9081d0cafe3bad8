// Generated database credentials: user names from a username template and random
// passwords. No I/O, so it is tested on its own. Internal to engines/database.
//
// Username templates are a subset of Vault's Go-template language: literal text with
// actions `{{ value | filter | ... }}`, where a value is .DisplayName, .RoleName,
// `random N` (N characters of [A-Za-z0-9]), unix_time, unix_time_millis or uuid, and
// the filters are `truncate N`, `lowercase`, `uppercase` and `replace "old" "new"`.
// Without a template the name is Vault's PostgreSQL default,
// v-<display name, 8>-<role name, 8>-<random 20>-<unix time>, cut to 63 bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "backend/sdk/clock.h"
#include "backend/sdk/random.h"
#include "backend/sdk/request.h"
#include "backend/sdk/status.h"

namespace leasefs::engines::database {

namespace sdk = ::leasefs::backend::sdk;

// PostgreSQL's longest identifier (NAMEDATALEN - 1).
inline constexpr std::size_t kMaxPostgresUsername = 63;

struct UsernameInput {
  std::string display_name{};
  std::string role_name{};
  sdk::WallTime now{};
};

// Checks a template without rendering it for real; invalid_argument naming the problem.
sdk::Result<void> check_username_template(std::string_view templ);

// The user name for `input`, at most `max_bytes` long (cut at a UTF-8 character
// boundary). An empty template means the default above. invalid_argument for a bad
// template or an empty result.
sdk::Result<std::string> generate_username(std::string_view templ, const UsernameInput& input,
                                           sdk::Random& random,
                                           std::size_t max_bytes = kMaxPostgresUsername);

// Vault's default password shape: 20 characters of [A-Za-z0-9-] with at least one
// upper-case letter, one lower-case letter, one digit and one '-', uniform otherwise.
sdk::Result<std::string> generate_password(sdk::Random& random, std::size_t length = 20);
// The password for a new user or a root rotation: from the named password policy
// (sys/policies/password) when `policy` is set, else generate_password's default.
// invalid_argument when the policy does not exist.
sdk::Result<std::string> password_for(const sdk::Request& request, const std::string& policy);

// Cuts `text` to at most `max_bytes` without splitting a UTF-8 character.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

}  // namespace leasefs::engines::database
