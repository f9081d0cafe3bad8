// Where a device's lines go: a file, a TCP or unix socket, a file descriptor (stdout),
// or nowhere (file_path=discard). A sink is used by exactly one thread, its device's
// writer (writer.h), which is what keeps a blocked disk or socket away from request
// threads; the sink itself bounds what it can (connects and socket writes honour the
// deadline) and leaves the rest (a write(2) to a hung disk) to the writer's timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "backend/audit/chain.h"
#include "backend/audit/device_config.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::audit {

using SteadyTime = std::chrono::steady_clock::time_point;

class Sink {
 public:
  virtual ~Sink() = default;
  // Opens the destination and says what it already holds: for a file, the end of the log
  // there (to continue its chain; a torn last line is ended with '\n' first); for the
  // others an empty tail. Errors: kUnavailable, kNotFound, kPermissionDenied,
  // kDeadlineExceeded.
  virtual sdk::Result<LogTail> open(SteadyTime deadline) = 0;
  // Writes all of `bytes` (whole lines). On failure a file is cut back to where it was,
  // so no partial line stays behind; a socket is closed (the peer may have received a
  // partial line) and reconnected once if time is left.
  virtual sdk::Result<void> write(std::string_view bytes, SteadyTime deadline) = 0;
  // Makes written bytes durable (file: fdatasync). No-op for the others.
  virtual sdk::Result<void> sync() { return {}; }
  // The descriptor sync() flushes, for a writer that syncs it beside the writes (on a
  // duplicate); -1 when there is none (sockets, stdout) or the sink is closed. Changes
  // only in open(), write(), reopen() and close().
  virtual int sync_fd() const { return -1; }
  // Closes and opens the destination again: a file is opened by its path, which after a
  // rotation (rename) is a new file; a socket reconnects. On failure a file keeps the
  // old descriptor.
  virtual sdk::Result<LogTail> reopen(SteadyTime deadline) = 0;
  virtual void close() = 0;
  // "file /var/log/leasefs/audit.log", for log messages.
  virtual std::string describe() const = 0;
};

// The sink for a parsed config. `stdout_fd` is where stdout devices write (tests pass
// a pipe).
std::unique_ptr<Sink> make_sink(const DeviceConfig& config, int stdout_fd);

}  // namespace leasefs::backend::audit
