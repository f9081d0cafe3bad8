// Fuzz target for the database engine's username_template (a role's setting) rendered
// with the display name of whichever token asks for credentials. The first byte is the
// name's byte limit (0 means PostgreSQL's 63); the rest is the template, the display
// name and the role name, separated by \x01.
// Whatever the bytes: no crash, no sanitizer report, bounded memory (chained replaces
// used to grow a name exponentially); refusals are invalid_argument with a message; a
// template that passes the role write's check renders for any names, or fails only
// because the result is empty or too long; a name is never empty, never over the limit,
// and valid UTF-8 whenever the template and the names are.
#include <cstdint>
#include <string>
#include <string_view>

#include "backend/sdk/encoding.h"
#include "backend/sdk/random.h"
#include "engines/database/credentials.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/refusal.h"

namespace {

namespace db = leasefs::engines::database;
namespace sdk = leasefs::backend::sdk;

std::string_view next_part(std::string_view& rest) {
  const auto end = rest.find('\x01');
  const std::string_view part = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::size_t limit = data[0] == 0 ? db::kMaxPostgresUsername : data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string_view templ = next_part(rest);
  const db::UsernameInput input{.display_name = std::string(next_part(rest)),
                                .role_name = std::string(next_part(rest)),
                                .now = sdk::WallTime(std::chrono::seconds(1'795'000'000))};

  const auto cut = db::truncate_utf8(input.display_name, limit);
  FUZZ_CHECK(cut.size() <= limit && input.display_name.starts_with(cut));
  if (sdk::valid_utf8(input.display_name)) FUZZ_CHECK(sdk::valid_utf8(cut));

  const auto checked = db::check_username_template(templ);
  if (!checked) check_refusal(checked.error());
  sdk::SeededRandom random(size);
  auto name = db::generate_username(templ, input, random, limit);
  if (!name) {
    check_refusal(name.error());
    if (checked) {
      const std::string& why = name.error().message();
      FUZZ_CHECK(why.find("empty name") != std::string::npos ||
                 why.find("longer than") != std::string::npos);
    }
    return 0;
  }
  FUZZ_CHECK(!name->empty() && name->size() <= limit);
  if (sdk::valid_utf8(templ) && sdk::valid_utf8(input.display_name) &&
      sdk::valid_utf8(input.role_name)) {
    FUZZ_CHECK(sdk::valid_utf8(*name));
  }
  return 0;
}
