// A device's writer: one thread per device that owns its sink, its queue and its chain.
// Request threads hand it formatted entries and wait for its acknowledgement no longer
// than the device's write_timeout, so a full disk, a hung NFS server or a socket peer
// that stopped reading (Vault issues #5361, #18943, #15932) costs a request at most that
// timeout, and nothing at all once the device is known to be stuck:
//   - a device whose writer has been blocked in one write for longer than its timeout
//     is "stalled": new entries are refused at once instead of waiting;
//   - the queue is bounded (entries and bytes); a full queue refuses at once;
//   - an entry still queued when its deadline passes is dropped, not written late.
// The chain is extended only by lines the sink accepted: a failed write leaves the
// chain where it was, so the next entry links to the last entry really written.
//
// Entries of one device are written in the order they were submitted. Entries that
// arrive while a write is in progress are written together (one write(2) and, with
// fsync=always, one fdatasync), which is what makes audit cheap under load.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/audit/device_config.h"
#include "backend/audit/sink.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::audit {

// The outcome of one log call across all devices: each device reports once; the caller
// waits until one device recorded the entry, all reported, or its deadline passed.
class Completion {
 public:
  explicit Completion(int devices) : pending_(devices) {}
  // Reports one device's outcome. Thread-safe.
  void report(std::string_view device, const sdk::Status& status);
  // Says that a thread is writing right now and will write this entry next, so wait()
  // may spin briefly instead of sleeping. Without it (the entry waits for a sleeping
  // writer thread to be woken and scheduled) spinning would only take the CPU that
  // thread needs. Thread-safe.
  void expect_soon() { soon_.store(true, std::memory_order_relaxed); }
  // Waits (bounded by `deadline`) until a device recorded the entry or every device
  // reported. Returns true when at least one device recorded it; otherwise fills
  // `why` with each failed device's reason.
  bool wait(SteadyTime deadline, std::string& why);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> settled_{false};  // recorded somewhere, or every device reported
  std::atomic<bool> soon_{false};     // expect_soon()
  int pending_;
  int recorded_ = 0;
  std::string failures_;
};

struct WriterOptions {
  std::string name{};  // the device path, for messages
  std::chrono::nanoseconds timeout = kDefaultWriteTimeout;
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  std::string chain_head{};  // used when the sink holds no entries yet ("" = genesis)
  std::size_t max_queue_entries = 4096;
  std::size_t max_queue_bytes = 64u << 20;
  // Let a submitting thread write its entry itself when nothing else is being written
  // or queued (one write(2) instead of two thread hand-offs per entry). Only for sinks
  // whose writes cannot block for long: regular files on local filesystems (the broker
  // decides). A thread that finds another one writing waits up to 20 µs for that write
  // to end and then writes its own entry; past that (the writing thread was preempted,
  // or the disk is slow) it queues the entry for whoever writes next, and entries that
  // arrive while some are queued are queued behind them, to keep their order.
  bool direct_writes = false;
};

class DeviceWriter {
 public:
  // Starts the thread, which opens the sink and takes the chain head from what the sink
  // already holds (a log's last entry), else from options.chain_head, else genesis. With
  // `require_open`, waits (bounded by the timeout) for the open and fails if it failed;
  // otherwise a sink that cannot open now is retried before each write.
  static sdk::Result<std::unique_ptr<DeviceWriter>> start(WriterOptions options,
                                                          std::unique_ptr<Sink> sink,
                                                          bool require_open);
  // Stops (see stop()).
  ~DeviceWriter();
  DeviceWriter(const DeviceWriter&) = delete;
  DeviceWriter& operator=(const DeviceWriter&) = delete;

  // Queues `bodies` (chain.h bodies, written as consecutive lines) to be written by
  // `deadline`, reporting to `done` once. Returns an error without queueing (and without
  // reporting) when the device is stalled, stopping, or its queue is full. Thread-safe.
  sdk::Result<void> submit(std::vector<std::string> bodies, SteadyTime deadline,
                           std::shared_ptr<Completion> done);
  // Closes and reopens the sink between two writes (log rotation). Waits at most the
  // timeout; entries queued meanwhile go to the new file. Thread-safe.
  sdk::Result<void> reopen();
  // Writes what is queued (bounded by the timeout), syncs, closes the sink and ends the
  // thread. A thread stuck in a system call is left behind (detached) rather than waited
  // for. Idempotent.
  void stop();

  // Hash of the last entry written; before the sink was first opened, the head the
  // writer was started with (options.chain_head). Thread-safe.
  std::string chain_head() const;
  std::chrono::nanoseconds timeout() const;

 private:
  struct State;
  explicit DeviceWriter(std::shared_ptr<State> state);
  static void run(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace leasefs::backend::audit
