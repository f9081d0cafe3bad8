// Shared pieces of the CLI tests (cli_server_test.cc, cli_lease_audit_test.cc): running
// the real `leasefs` binary, a client environment cleared of the developer's settings,
// and small text helpers. Failure messages built from these show exit codes and stderr
// only: stdout may hold tokens, unseal keys and private keys.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"

#define EXPECT_EXIT_CODE(r, code) EXPECT_EQ((r).exit_code, code) << "stderr: " << (r).err
#define ASSERT_EXIT_CODE(r, code) ASSERT_EQ((r).exit_code, code) << "stderr: " << (r).err

namespace leasefs::testing {

// Sets (or, with nullopt, unsets) an environment variable for one scope. The CLI
// children inherit the test's environment, so this is how a test picks their
// LEASEFS_* and VAULT_* settings.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Every variable the CLI reads, cleared so the developer's own settings cannot leak in.
const std::vector<std::string>& client_variables();

// `bytes` random bytes as lower-case hex.
std::string random_hex(std::size_t bytes);
// A whole file ("" when it cannot be read).
std::string read_file(const std::string& path);
// JSON text parsed without exceptions (discarded when it does not parse).
nlohmann::json parse(const std::string& text);
// True when `pattern` (ECMAScript regex) matches somewhere in `text`.
bool has(const std::string& text, const std::string& pattern);
// Exactly one line on stderr, starting with "leasefs: ".
bool one_line_error(const ProcessResult& r);
// Runs the leasefs binary with `args` and `input` on stdin (bounded: 20 s).
ProcessResult leasefs(const std::vector<std::string>& args, const std::string& input = "");

// A clean client environment and a home directory of the test's own, so that the
// token helper file (~/.leasefs-token) is the test's and never the developer's.
class ClientEnvironment {
 protected:
  ClientEnvironment();

  TempDir dir_;
  std::string home_ = dir_ / "home";
  std::vector<std::unique_ptr<ScopedEnv>> cleared_;
};

}  // namespace leasefs::testing
