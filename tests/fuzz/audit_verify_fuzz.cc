// Fuzz target for `leasefs audit verify` and for the tail reader a file device uses to
// continue a log's chain. Whatever the bytes of a log file:
//   - verify_log answers in bounded time, without crashing, with either a report or an
//     error that names a line of the file (kDataLoss) and fills the same facts in;
//   - a log verify_log calls whole has no more entries than lines;
//   - for such a log ending in a newline, read_log_tail finds the same last hash, so a
//     device that opens the file links its next entry to it (if the two disagreed, the
//     server would start a new chain on a log verify accepts, and verify would then fail
//     at the server's first line).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <sys/mman.h>
#include <unistd.h>

#include "backend/audit/chain.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

namespace audit = leasefs::backend::audit;
namespace sdk = leasefs::backend::sdk;

// One in-memory file for all inputs, opened by path as the CLI opens a log.
int log_fd() {
  static const int fd = [] {
    int made = ::memfd_create("audit_verify_fuzz", MFD_CLOEXEC);
    FUZZ_CHECK(made >= 0);
    return made;
  }();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = log_fd();
  FUZZ_CHECK(::ftruncate(fd, 0) == 0);
  FUZZ_CHECK(::pwrite(fd, data, size, 0) == static_cast<ssize_t>(size));
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  if (!text.empty() && text.back() != '\n') ++lines;

  audit::VerifyReport failed;
  auto report = audit::verify_log(path, {}, &failed);
  if (!report) {
    FUZZ_CHECK(report.error().code() == sdk::Code::kDataLoss);
    FUZZ_CHECK(failed.fault != audit::FaultKind::kNone);
    FUZZ_CHECK(failed.fault_line >= 1 && failed.fault_line <= lines + 1);
    FUZZ_CHECK(report.error().message().find("line " + std::to_string(failed.fault_line)) !=
               std::string::npos);
    return 0;
  }
  FUZZ_CHECK(report->entries <= lines);
  if (report->entries > 0 && text.back() == '\n') {
    auto tail = audit::read_log_tail(fd);
    FUZZ_CHECK(tail.has_value());
    FUZZ_CHECK(!tail->torn);
    FUZZ_CHECK(tail->last_hash == report->last_hash);
  }
  return 0;
}
