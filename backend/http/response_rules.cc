// Error bodies and the response header filter.
#include "backend/http/response_rules.h"

#include <algorithm>
#include <array>

namespace leasefs::backend::http {
namespace {

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

HttpResponse error_response(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = R"({"errors":[")";
  response.body += message;
  response.body += R"("]})";
  return response;
}

std::string to_lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_allowed_response_header(std::string_view name, std::string_view value) {
  if (name.empty() || !std::ranges::all_of(name, is_token_char)) return false;
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) return false;
  static constexpr std::array<std::string_view, 6> kReserved = {
      "content-length", "transfer-encoding", "connection",
      "keep-alive",     "cache-control",     "content-type"};
  return std::ranges::find(kReserved, to_lower_ascii(name)) == kReserved.end();
}

}  // namespace leasefs::backend::http
