// The worker pool: jobs run off the caller's thread, the queue bound is exact, and
// stop() waits for running jobs and drops queued ones.
#include "backend/http/worker_pool.h"

#include <atomic>

#include <gtest/gtest.h>

#include "tests/unit/backend/http/http_test_support.h"

namespace leasefs::backend::http {
namespace {

using namespace std::chrono_literals;

TEST(WorkerPoolTest, RunsJobsOnItsThreads) {
  WorkerPool pool(2, 16);
  std::atomic<int> ran{0};
  std::atomic<bool> off_thread{true};
  auto caller = std::this_thread::get_id();
  for (int i = 0; i < 10; ++i) {
    WorkerPool::Job job = [&] {
      if (std::this_thread::get_id() == caller) off_thread = false;
      ++ran;
    };
    ASSERT_TRUE(pool.try_submit(job));
  }
  EXPECT_TRUE(testing::eventually([&] { return ran.load() == 10; }));
  EXPECT_TRUE(off_thread.load());
}

TEST(WorkerPoolTest, RefusesJobsBeyondTheQueueBoundAndKeepsThem) {
  WorkerPool pool(1, 2);
  testing::Gate gate;
  WorkerPool::Job blocker = [&] { gate.arrive_and_wait(); };
  ASSERT_TRUE(pool.try_submit(blocker));
  ASSERT_TRUE(gate.wait_for_arrivals(1, 5s));
  std::atomic<int> ran{0};
  for (int i = 0; i < 2; ++i) {
    WorkerPool::Job job = [&] { ++ran; };
    EXPECT_TRUE(pool.try_submit(job));
  }
  bool refused_ran = false;
  WorkerPool::Job refused = [&] { refused_ran = true; };
  EXPECT_FALSE(pool.try_submit(refused));
  ASSERT_TRUE(refused);  // still holds the job
  refused();
  EXPECT_TRUE(refused_ran);
  gate.open();
  EXPECT_TRUE(testing::eventually([&] { return ran.load() == 2; }));
}

TEST(WorkerPoolTest, StopWaitsForRunningJobsAndDropsQueuedOnes) {
  auto pool = std::make_unique<WorkerPool>(1, 8);
  testing::Gate gate;
  std::atomic<bool> finished{false};
  WorkerPool::Job running = [&] {
    gate.arrive_and_wait();
    finished = true;
  };
  ASSERT_TRUE(pool->try_submit(running));
  ASSERT_TRUE(gate.wait_for_arrivals(1, 5s));
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> watch = token;
  bool queued_ran = false;
  WorkerPool::Job queued = [&, token] { queued_ran = true; };
  token.reset();
  ASSERT_TRUE(pool->try_submit(queued));
  std::thread opener([&] {
    std::this_thread::sleep_for(50ms);  // let stop() begin waiting first
    gate.open();
  });
  pool->stop();
  opener.join();
  EXPECT_TRUE(finished.load());
  EXPECT_FALSE(queued_ran);
  EXPECT_TRUE(watch.expired());  // the dropped job was destroyed
  WorkerPool::Job late = [] {};
  EXPECT_FALSE(pool->try_submit(late));
  pool->stop();  // idempotent
}

}  // namespace
}  // namespace leasefs::backend::http
