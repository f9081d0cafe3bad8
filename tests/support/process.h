// Test helper: runs a program to completion with a deadline, feeding it stdin and
// capturing stdout and stderr. A program that outlives the deadline is killed
// (SIGKILL) and reported as timed out, so no test can hang on a child.
#pragma once

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace leasefs::testing {

struct ProcessResult {
  int exit_code = -1;    // -1 when killed by a signal or timed out
  int signal = 0;        // the signal that ended it, if any
  bool timed_out = false;
  std::string out;
  std::string err;
};

// argv[0] is the program's path. `env` entries ("K=V") are added to the environment.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "",
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const std::vector<std::string>& env = {});

// The source and build trees ($LEASEFS_SOURCE_DIR / $LEASEFS_BINARY_DIR, else the
// ones the test was built from), and the leasefs binary in the build tree.
std::string source_dir();
std::string binary_dir();
std::string leasefs_binary();

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace leasefs::testing
