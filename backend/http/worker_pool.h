// The threads that run request handlers. Handlers block (storage fsync, engine calls),
// so they must not run on the I/O threads; a bounded queue in front of the pool turns
// overload into an immediate 503 instead of unbounded memory and latency.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace leasefs::backend::http {

class WorkerPool {
 public:
  using Job = std::move_only_function<void()>;

  // Starts `threads` (at least 1) threads. At most `max_queued` jobs wait for a thread
  // beyond the ones running.
  WorkerPool(std::size_t threads, std::size_t max_queued);
  // Calls stop().
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` and returns true, moving from it; returns false and leaves `job` as it
  // was when the queue is full or the pool is stopped. Thread-safe.
  bool try_submit(Job& job);

  // Refuses new jobs, waits for the running ones to return and joins the threads; jobs
  // still queued are destroyed without running, on the calling thread. Idempotent,
  // but not to be called from two threads at once, nor from a job.
  void stop();

 private:
  void run();

  const std::size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;  // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace leasefs::backend::http
