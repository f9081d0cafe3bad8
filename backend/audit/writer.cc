// The per-device writer thread (see writer.h).
#include "backend/audit/writer.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <system_error>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "backend/audit/chain.h"
#include "backend/sdk/duration.h"
#include "backend/sdk/log.h"

namespace leasefs::backend::audit {
namespace {

using sdk::Code;
using std::chrono::steady_clock;

constexpr std::size_t kMaxBatchBytes = 4u << 20;
// A batch buffer up to this size is kept for the next write (a batch of access events
// is ~0.7 MiB; allocating that afresh faulted in every page each time).
constexpr std::size_t kKeptBufferBytes = kMaxBatchBytes + (1u << 20);
constexpr auto kSyncInterval = std::chrono::seconds(1);
constexpr auto kIdleWake = std::chrono::seconds(1);

// How long a submitting thread waits for another thread's write to end before handing
// its entry over instead (a local file write takes a few microseconds; much longer means
// the writing thread was preempted).
constexpr auto kTakeOverWait = std::chrono::microseconds(20);

// Spins while `busy()` holds, at most until `until`: for waits of a few microseconds on
// another thread's write, where sleeping and being woken would cost two context
// switches. The clock is read every 64 pauses only: reading it on every turn made the
// spin cost more CPU than the waiting it saves.
template <typename Busy>
void spin_while(Busy busy, SteadyTime until) {
  for (unsigned turn = 1; busy(); ++turn) {
    if (turn % 64 == 0 && steady_clock::now() >= until) return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
  }
}

std::int64_t steady_ns(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

// --- Completion -------------------------------------------------------------------------

void Completion::report(std::string_view device, const sdk::Status& status) {
  {
    std::lock_guard lock(mu_);
    if (status.ok()) {
      ++recorded_;
    } else {
      if (!failures_.empty()) failures_ += "; ";
      failures_ += std::string(device) + ": " + status.message();
    }
    --pending_;
    if (recorded_ > 0 || pending_ <= 0) settled_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

bool Completion::wait(SteadyTime deadline, std::string& why) {
  // A local file write takes a few microseconds: when another thread is writing and
  // will take this entry next (expect_soon), look for the outcome briefly before
  // sleeping, so the request does not pay two context switches for it.
  if (soon_.load(std::memory_order_relaxed)) {
    spin_while([&] { return !settled_.load(std::memory_order_acquire); },
               steady_clock::now() + std::chrono::microseconds(50));
  }
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return recorded_ > 0 || pending_ <= 0; });
  if (recorded_ > 0) return true;
  why = failures_;
  if (pending_ > 0) {
    if (!why.empty()) why += "; ";
    why += std::to_string(pending_) + " device(s) did not finish within their write_timeout";
  }
  return false;
}

// --- DeviceWriter -----------------------------------------------------------------------

struct DeviceWriter::State {
  struct Item {
    std::vector<std::string> bodies{};
    std::vector<LineHead> heads{};  // hash_line_head of each body, hashed before queueing
    std::size_t bytes = 0;
    SteadyTime deadline{};
    std::shared_ptr<Completion> done{};
  };

  WriterOptions options;
  std::unique_ptr<Sink> sink;  // used by the writer thread only

  mutable std::mutex mu;
  std::condition_variable work_cv;     // wakes the writer
  std::condition_variable ctl_cv;      // wakes callers of start(), reopen(), stop()
  std::deque<Item> queue;              // mu
  std::size_t queued_bytes = 0;        // mu
  bool stopping = false;               // mu
  bool exited = false;                 // mu
  bool open_attempted = false;         // mu
  sdk::Status open_status;             // mu
  std::uint64_t reopen_requested = 0;  // mu
  std::uint64_t reopen_done = 0;       // mu
  sdk::Status reopen_status;           // mu
  std::string head;                    // mu; changed only by whoever holds `writing`
  // Someone (the writer thread, or a submitting thread with direct_writes) is using the
  // sink. The fields below belong to whoever set it. Changed under mu only; read without
  // it by a submitting thread waiting to take the sink over (see submit()).
  std::atomic<bool> writing{false};  // mu

  // Owned by whoever holds `writing` (the writer thread before its loop); `dirty` is
  // also read and cleared under mu while nobody holds `writing` (sync_beside_writes).
  bool opened = false;
  bool dirty = false;
  // Set by whoever holds `writing`, and by a sync running beside the writes.
  std::atomic<bool> failing{false};
  // The writer thread's (and, with fsync=always, the holder of `writing`'s).
  SteadyTime last_sync{};

  // write_batch's working memory, owned by whoever holds `writing`.
  std::vector<Item*> live_scratch{};
  std::string buffer_scratch{};
  std::string chain_scratch{};
  std::string next_scratch{};

  // Steady time (ns) at which the writer entered a sink call; 0 when it is not in one.
  std::atomic<std::int64_t> busy_since{0};

  std::string describe() const {
    return "audit device " + options.name + " (" + sink->describe() + ")";
  }

  void set_failing(const sdk::Status& status) {
    if (!failing.exchange(true)) sdk::log_error("audit", describe() + " failed: " + status.message());
  }
  void set_healthy() {
    if (failing.exchange(false)) sdk::log_info("audit", describe() + " is writing again");
  }

  // Takes the chain head from a freshly opened sink, the first time only: later opens
  // (rotation, a re-created file) continue the chain already running.
  void adopt_tail(const LogTail& tail) {
    std::lock_guard lock(mu);
    if (!head.empty()) return;
    if (!tail.last_hash.empty()) {
      // The log's own last entry wins. If it is not the entry the broker saved at the
      // last clean shutdown or rotation, say so: the file was cut back, replaced or
      // written by someone else — or the server crashed after writing more entries.
      if (!options.chain_head.empty() && options.chain_head != kGenesisHash &&
          options.chain_head != tail.last_hash) {
        sdk::log_warn("audit", describe() +
                                   ": the log does not end with the entry saved at the last "
                                   "shutdown or rotation (" +
                                   options.chain_head + "); continuing from its last entry " +
                                   tail.last_hash +
                                   " (expected after a crash; otherwise check the log)");
      }
      head = tail.last_hash;
    } else if (!options.chain_head.empty()) {
      head = options.chain_head;
    } else {
      head = std::string(kGenesisHash);
    }
  }

  sdk::Status open_sink() {
    busy_since.store(steady_ns(steady_clock::now()));
    auto tail = sink->open(steady_clock::now() + options.timeout);
    busy_since.store(0);
    if (!tail) return tail.error();
    opened = true;
    adopt_tail(*tail);
    return {};
  }

  sdk::Status reopen_sink() {
    busy_since.store(steady_ns(steady_clock::now()));
    if (opened) (void)sink->sync();
    auto tail = sink->reopen(steady_clock::now() + options.timeout);
    busy_since.store(0);
    if (!tail) return tail.error();
    opened = true;
    adopt_tail(*tail);
    return {};
  }

  void sync_now() {
    busy_since.store(steady_ns(steady_clock::now()));
    auto synced = sink->sync();
    busy_since.store(0);
    if (!synced) set_failing(synced.error());
    dirty = false;
    last_sync = steady_clock::now();
  }

  // fsync=interval: the writer thread's fdatasync, at most once per kSyncInterval while
  // entries arrive. It runs BESIDE the writes, on a duplicate of the sink's descriptor,
  // so requests keep writing their entries meanwhile: holding the sink for it (as
  // writes do) stalled every request behind the disk flush, once a second (kv reads'
  // p99 40 ms with audit on, 3 ms with fsync=never). Lines written during the sync
  // mark the device dirty again for the next one. mu held (unlocked during the sync)
  // and nobody holds `writing`.
  void sync_beside_writes(std::unique_lock<std::mutex>& lock) {
    if (!dirty || options.fsync != FsyncPolicy::kInterval ||
        steady_clock::now() - last_sync < kSyncInterval) {
      return;
    }
    const int fd = sink->sync_fd();  // stable: replacing it needs `writing`
    if (fd < 0) {
      // Nothing to sync beside the writes (sockets, stdout): the sink's own sync.
      writing = true;
      lock.unlock();
      sync_now();
      lock.lock();
      writing = false;
      return;
    }
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    dirty = false;
    last_sync = steady_clock::now();
    lock.unlock();
    if (copy < 0) {
      set_failing(sdk::Status(sdk::Code::kInternal,
                              std::string("cannot duplicate the file for fdatasync: ") +
                                  std::strerror(errno)));
    } else {
      if (::fdatasync(copy) != 0 && errno != EINVAL && errno != EROFS) {
        set_failing(sdk::Status(sdk::Code::kUnavailable,
                                "fdatasync " + sink->describe() + ": " + std::strerror(errno)));
      }
      ::close(copy);
    }
    lock.lock();
  }

  // Moves queued entries into `batch`, up to kMaxBatchBytes (at least one). mu held.
  void take_batch_locked(std::vector<Item>& batch) {
    std::size_t bytes = 0;
    while (!queue.empty() && (batch.empty() || bytes + queue.front().bytes <= kMaxBatchBytes)) {
      bytes += queue.front().bytes;
      queued_bytes -= queue.front().bytes;
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
    }
  }

  // The interval fdatasync is not done here: the writer thread runs it beside the
  // writes (sync_beside_writes), so a request never waits for one.
  void write_batch(std::vector<Item>& batch) {
    const SteadyTime now = steady_clock::now();
    std::vector<Item*>& live = live_scratch;
    live.clear();
    for (auto& item : batch) {
      if (now > item.deadline) {
        item.done->report(
            options.name,
            sdk::Status(Code::kDeadlineExceeded, "not written within write_timeout (" +
                                                     sdk::format_duration(options.timeout) + ")"));
      } else {
        live.push_back(&item);
      }
    }
    if (live.empty()) return;
    sdk::Status status;
    if (!opened) status = open_sink();
    bool written = false;
    if (status.ok()) {
      // The buffers are kept between writes (a large allocation per write cost more
      // than the copy), and trimmed after an exceptionally large batch.
      std::string& buffer = buffer_scratch;
      std::string& chain = chain_scratch;
      std::string& next = next_scratch;
      buffer.clear();
      std::size_t size = 0;
      for (Item* item : live) size += item->bytes + 160 * item->bodies.size();
      buffer.reserve(size);
      {
        std::lock_guard lock(mu);
        chain = head;
      }
      for (Item* item : live) {
        for (std::size_t i = 0; i < item->bodies.size(); ++i) {
          append_sealed_line(item->bodies[i], item->heads[i], chain, buffer, next);
          chain.swap(next);
        }
      }
      busy_since.store(steady_ns(steady_clock::now()));
      auto result = sink->write(buffer, steady_clock::now() + options.timeout);
      written = result.has_value();
      if (written && options.fsync == FsyncPolicy::kAlways) {
        result = sink->sync();
        last_sync = steady_clock::now();
      } else if (written) {
        dirty = true;
      }
      busy_since.store(0);
      if (written) {
        // The lines are in the sink, so the chain moves on even if a sync failed.
        std::lock_guard lock(mu);
        head = chain;
      }
      if (!result) status = result.error();
    }
    if (buffer_scratch.capacity() > kKeptBufferBytes) std::string().swap(buffer_scratch);
    if (status.ok()) {
      set_healthy();
    } else {
      set_failing(status);
    }
    for (Item* item : live) item->done->report(options.name, status);
  }
};

DeviceWriter::DeviceWriter(std::shared_ptr<State> state) : state_(std::move(state)) {}

DeviceWriter::~DeviceWriter() {
  stop();
}

sdk::Result<std::unique_ptr<DeviceWriter>> DeviceWriter::start(WriterOptions options,
                                                               std::unique_ptr<Sink> sink,
                                                               bool require_open) {
  auto state = std::make_shared<State>();
  state->options = std::move(options);
  state->sink = std::move(sink);
  state->last_sync = steady_clock::now();
  std::unique_ptr<DeviceWriter> writer(new DeviceWriter(state));
  try {
    writer->thread_ = std::thread(&DeviceWriter::run, state);
  } catch (const std::system_error& e) {
    return sdk::error(Code::kResourceExhausted, "cannot start the writer of audit device " +
                                                    state->options.name + ": " + e.what());
  }
  if (require_open) {
    std::unique_lock lock(state->mu);
    const bool answered = state->ctl_cv.wait_until(
        lock, steady_clock::now() + state->options.timeout, [&] { return state->open_attempted; });
    sdk::Status status =
        answered ? state->open_status
                 : sdk::Status(Code::kDeadlineExceeded, "opening " + state->sink->describe() +
                                                            " did not finish within write_timeout");
    lock.unlock();
    if (!status.ok()) {
      writer->stop();
      return sdk::error(status);
    }
  }
  return writer;
}

void DeviceWriter::run(std::shared_ptr<State> state) {
  State& s = *state;
  // A stdout pipe whose reader went away must fail the write (EPIPE), not kill the
  // server: SIGPIPE is blocked on this thread (sockets use MSG_NOSIGNAL anyway).
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  sdk::Status opened = s.open_sink();
  if (!opened.ok()) s.set_failing(opened);
  {
    std::lock_guard lock(s.mu);
    s.open_attempted = true;
    s.open_status = opened;
  }
  s.ctl_cv.notify_all();

  std::unique_lock lock(s.mu);
  while (true) {
    s.work_cv.wait_for(lock, kIdleWake, [&] {
      return !s.writing &&
             (s.stopping || !s.queue.empty() || s.reopen_requested != s.reopen_done);
    });
    if (s.writing) continue;  // a submitting thread is writing; it notifies when done
    s.sync_beside_writes(lock);
    if (s.writing) continue;
    if (s.queue.empty() && !s.stopping && s.reopen_requested == s.reopen_done) continue;
    s.writing = true;
    struct Release {
      State& state;
      ~Release() { state.writing = false; }  // runs with mu held (see below)
    } release{s};
    if (s.reopen_requested != s.reopen_done) {
      const std::uint64_t target = s.reopen_requested;
      lock.unlock();
      sdk::Status status = s.reopen_sink();
      if (status.ok()) {
        s.set_healthy();
      } else {
        s.set_failing(status);
      }
      lock.lock();
      s.reopen_status = status;
      s.reopen_done = target;
      s.ctl_cv.notify_all();
      continue;
    }
    if (s.queue.empty()) {
      if (s.stopping) break;
      continue;
    }
    std::vector<State::Item> batch;
    s.take_batch_locked(batch);
    lock.unlock();
    s.write_batch(batch);
    batch.clear();
    lock.lock();
  }
  s.writing = true;  // for good: no submitter may write after stopping
  lock.unlock();
  if (s.opened) {
    if (s.dirty) s.sync_now();
    s.sink->close();
  }
  lock.lock();
  s.exited = true;
  s.ctl_cv.notify_all();
}

sdk::Result<void> DeviceWriter::submit(std::vector<std::string> bodies, SteadyTime deadline,
                                       std::shared_ptr<Completion> done) {
  State& s = *state_;
  const auto now = steady_clock::now();
  const std::int64_t busy = s.busy_since.load();
  if (busy != 0 && steady_ns(now) - busy > s.options.timeout.count()) {
    return sdk::error(Code::kUnavailable, "stalled: a write has been blocked for more than " +
                                              sdk::format_duration(s.options.timeout));
  }
  std::size_t bytes = 0;
  // The bulk of each line's hash, on this thread and before the lock: whoever writes
  // then only finishes it, as the chain comes to the line.
  std::vector<LineHead> heads;
  heads.reserve(bodies.size());
  for (const auto& b : bodies) {
    bytes += b.size();
    heads.push_back(hash_line_head(b));
  }
  // With direct writes, a thread that finds another thread writing waits for that write
  // to end (once, briefly) and then writes its entry itself. Queueing it instead would
  // have the other thread write it while this one waits anyway: the same wait, plus a
  // second write on the other thread's request.
  bool waited = !s.options.direct_writes;
  while (true) {
    std::unique_lock lock(s.mu);
    if (s.stopping) return sdk::error(Code::kUnavailable, "the device is closing");
    if (s.queue.size() >= s.options.max_queue_entries ||
        (!s.queue.empty() && s.queued_bytes + bytes > s.options.max_queue_bytes)) {
      return sdk::error(Code::kResourceExhausted, "its queue is full");
    }
    const bool may_write = s.options.direct_writes && s.queue.empty() && s.open_attempted &&
                           s.reopen_requested == s.reopen_done;
    if (may_write && !s.writing) {
      s.writing = true;
      break;
    }
    if (may_write && !waited) {
      lock.unlock();
      waited = true;
      spin_while([&] { return s.writing.load(std::memory_order_acquire); },
                 std::min(deadline, now + kTakeOverWait));
      continue;
    }
    s.queue.push_back(State::Item{.bodies = std::move(bodies),
                                  .heads = std::move(heads),
                                  .bytes = bytes,
                                  .deadline = deadline,
                                  .done = std::move(done)});
    s.queued_bytes += bytes;
    // Whoever is writing takes the queue when done; only an idle writer thread needs
    // waking (waking it while a submitting thread writes would only cost a switch).
    if (s.writing) {
      s.queue.back().done->expect_soon();
    } else {
      s.work_cv.notify_one();
    }
    return {};
  }
  // This thread writes the entry (and reports it) itself, as the writer thread would.
  std::vector<State::Item> batch;
  batch.push_back(State::Item{.bodies = std::move(bodies),
                              .heads = std::move(heads),
                              .bytes = bytes,
                              .deadline = deadline,
                              .done = std::move(done)});
  s.write_batch(batch);
  // Then what other threads queued meanwhile (they are waiting for it), as the writer
  // thread would have.
  // A few rounds at most, so this request is not kept writing for others under a
  // steady stream; the writer thread takes over what is left.
  std::unique_lock lock(s.mu);
  for (int round = 0;
       round < 4 && !s.queue.empty() && !s.stopping && s.reopen_requested == s.reopen_done;
       ++round) {
    batch.clear();
    s.take_batch_locked(batch);
    lock.unlock();
    s.write_batch(batch);
    lock.lock();
  }
  s.writing = false;
  const bool wake = !s.queue.empty() || s.stopping || s.reopen_requested != s.reopen_done;
  lock.unlock();
  if (wake) s.work_cv.notify_one();  // a reopen or a stop may be waiting
  return {};
}

sdk::Result<void> DeviceWriter::reopen() {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  if (s.stopping || s.exited) return sdk::error(Code::kUnavailable, "the device is closing");
  const std::uint64_t mine = ++s.reopen_requested;
  s.work_cv.notify_one();
  const bool done = s.ctl_cv.wait_until(lock, steady_clock::now() + s.options.timeout,
                                        [&] { return s.reopen_done >= mine || s.exited; });
  if (!done || s.reopen_done < mine) {
    return sdk::error(Code::kDeadlineExceeded,
                      "reopen did not finish within write_timeout (the device is busy)");
  }
  if (!s.reopen_status.ok()) return sdk::error(s.reopen_status);
  return {};
}

void DeviceWriter::stop() {
  if (!thread_.joinable()) return;
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
  }
  s.work_cv.notify_all();
  bool exited = false;
  {
    std::unique_lock lock(s.mu);
    // Queued entries expire within one timeout; one write in progress may take another.
    exited = s.ctl_cv.wait_until(
        lock, steady_clock::now() + 2 * s.options.timeout + std::chrono::seconds(1),
        [&] { return s.exited; });
  }
  if (exited) {
    thread_.join();
  } else {
    sdk::log_error("audit", s.describe() + " is stuck in a write; leaving its thread behind");
    thread_.detach();
  }
}

std::string DeviceWriter::chain_head() const {
  std::lock_guard lock(state_->mu);
  return state_->head.empty() ? state_->options.chain_head : state_->head;
}

std::chrono::nanoseconds DeviceWriter::timeout() const {
  return state_->options.timeout;
}

}  // namespace leasefs::backend::audit
