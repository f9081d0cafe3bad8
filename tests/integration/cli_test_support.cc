// Shared pieces of the CLI tests (see cli_test_support.h).
#include "tests/integration/cli_test_support.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include <sys/stat.h>

namespace leasefs::testing {

ScopedEnv::ScopedEnv(std::string name, const std::optional<std::string>& value)
    : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) old_ = old;
  if (value) {
    setenv(name_.c_str(), value->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_) {
    setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

const std::vector<std::string>& client_variables() {
  static const std::vector<std::string> names = {
      "LEASEFS_ADDR",           "LEASEFS_TOKEN",        "LEASEFS_CACERT", "LEASEFS_SKIP_VERIFY",
      "LEASEFS_CLIENT_TIMEOUT", "VAULT_ADDR",           "VAULT_TOKEN",    "VAULT_CACERT",
      "VAULT_SKIP_VERIFY",      "VAULT_CLIENT_TIMEOUT", "VAULT_FORMAT"};
  return names;
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    auto b = static_cast<unsigned>(rd()) & 0xFF;
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json parse(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

bool has(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern));
}

bool one_line_error(const ProcessResult& r) {
  return r.err.starts_with("leasefs: ") && r.err.ends_with("\n") &&
         r.err.find('\n') == r.err.size() - 1;
}

ProcessResult leasefs(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv = {leasefs_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, input, std::chrono::seconds(20));
}

ClientEnvironment::ClientEnvironment() {
  for (const auto& name : client_variables()) {
    cleared_.push_back(std::make_unique<ScopedEnv>(name, std::nullopt));
  }
  mkdir(home_.c_str(), 0700);
  cleared_.push_back(std::make_unique<ScopedEnv>("HOME", home_));
}

}  // namespace leasefs::testing
