// The writer's bounds, with a sink that blocks like a hung disk: a blocked write costs a
// caller at most the timeout, a stalled device refuses at once, the queue is bounded,
// expired entries are dropped without breaking the chain, and stop() never hangs.
#include "backend/audit/writer.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "backend/audit/chain.h"

namespace leasefs::backend::audit {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

struct SinkControl {
  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false;
  std::string written;
  int entered = 0;  // write() calls begun
  int writes = 0;   // write() calls done

  void block() {
    std::lock_guard lock(mu);
    blocked = true;
  }
  void release() {
    {
      std::lock_guard lock(mu);
      blocked = false;
    }
    cv.notify_all();
  }
};

// Blocks in write() while told to, like write(2) on a hung disk (no deadline honoured).
class BlockingSink final : public Sink {
 public:
  explicit BlockingSink(std::shared_ptr<SinkControl> control) : control_(std::move(control)) {}
  sdk::Result<LogTail> open(SteadyTime) override { return LogTail{}; }
  sdk::Result<void> write(std::string_view bytes, SteadyTime) override {
    std::unique_lock lock(control_->mu);
    ++control_->entered;
    control_->cv.notify_all();
    control_->cv.wait(lock, [&] { return !control_->blocked; });
    control_->written.append(bytes);
    ++control_->writes;
    return {};
  }
  sdk::Result<LogTail> reopen(SteadyTime) override { return LogTail{}; }
  void close() override {}
  std::string describe() const override { return "blocking test sink"; }

 private:
  std::shared_ptr<SinkControl> control_;
};

WriterOptions fast_options(std::size_t max_entries = 64) {
  WriterOptions o;
  o.name = "test/";
  o.timeout = milliseconds(200);
  o.max_queue_entries = max_entries;
  return o;
}

const std::string kBody = "{\"time\":\"t\",\"type\":\"request\",\"n\":1}";

bool log_one(DeviceWriter& writer, std::string* why = nullptr) {
  auto done = std::make_shared<Completion>(1);
  const auto deadline = steady_clock::now() + writer.timeout();
  auto queued = writer.submit({kBody}, deadline, done);
  if (!queued) {
    if (why != nullptr) *why = queued.error().message();
    return false;
  }
  std::string reason;
  bool ok = done->wait(deadline, reason);
  if (why != nullptr) *why = reason;
  return ok;
}

TEST(WriterTest, BlockedWriteCostsAtMostTheTimeoutThenFailsFast) {
  auto control = std::make_shared<SinkControl>();
  auto writer = DeviceWriter::start(fast_options(), std::make_unique<BlockingSink>(control), true);
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE(log_one(**writer));
  control->block();
  auto start = steady_clock::now();
  std::string why;
  EXPECT_FALSE(log_one(**writer, &why));
  auto took = steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(190));
  EXPECT_LT(took, milliseconds(600));
  // The writer is now stuck longer than its timeout: refused without waiting.
  std::this_thread::sleep_for(milliseconds(50));
  start = steady_clock::now();
  EXPECT_FALSE(log_one(**writer, &why));
  EXPECT_LT(steady_clock::now() - start, milliseconds(50));
  EXPECT_NE(why.find("stalled"), std::string::npos) << why;
  control->release();
  const auto deadline = steady_clock::now() + std::chrono::seconds(5);
  bool recovered = false;
  while (!recovered && steady_clock::now() < deadline) recovered = log_one(**writer);
  EXPECT_TRUE(recovered);
  (*writer)->stop();
  // The entry caught in the blocked write landed once the write finished; the chain
  // the sink holds ends with the writer's head.
  std::string head = (*writer)->chain_head();
  EXPECT_TRUE(is_chain_hash(head));
  std::lock_guard lock(control->mu);
  EXPECT_NE(control->written.find(head), std::string::npos);
}

// Counts sync() calls; has no descriptor, so the writer calls sync() itself.
class SyncCountingSink final : public Sink {
 public:
  explicit SyncCountingSink(std::shared_ptr<std::atomic<int>> syncs) : syncs_(std::move(syncs)) {}
  sdk::Result<LogTail> open(SteadyTime) override { return LogTail{}; }
  sdk::Result<void> write(std::string_view, SteadyTime) override { return {}; }
  sdk::Result<void> sync() override {
    ++*syncs_;
    return {};
  }
  sdk::Result<LogTail> reopen(SteadyTime) override { return LogTail{}; }
  void close() override {}
  std::string describe() const override { return "sync counting test sink"; }

 private:
  std::shared_ptr<std::atomic<int>> syncs_;
};

TEST(WriterTest, IntervalSyncRunsAboutOnceASecondWhileEntriesArrive) {
  auto syncs = std::make_shared<std::atomic<int>>(0);
  WriterOptions options = fast_options();
  options.direct_writes = true;
  auto writer =
      DeviceWriter::start(options, std::make_unique<SyncCountingSink>(syncs), true);
  ASSERT_TRUE(writer.has_value());
  const auto until = steady_clock::now() + milliseconds(2600);
  while (steady_clock::now() < until) {
    ASSERT_TRUE(log_one(**writer));
    std::this_thread::sleep_for(milliseconds(1));
  }
  const int during = syncs->load();
  EXPECT_GE(during, 1);  // entries kept arriving for 2.6 s: synced at least once...
  EXPECT_LE(during, 3);  // ...and at most once a second, not per entry
  (*writer)->stop();
  EXPECT_GE(syncs->load(), during);  // and at close when entries were left unsynced
}

TEST(WriterTest, QueueIsBounded) {
  auto control = std::make_shared<SinkControl>();
  auto writer = DeviceWriter::start(fast_options(2), std::make_unique<BlockingSink>(control), true);
  ASSERT_TRUE(writer.has_value());
  control->block();
  auto done = std::make_shared<Completion>(10);
  const auto deadline = steady_clock::now() + milliseconds(200);
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < 5; ++i) {
    if ((*writer)->submit({kBody}, deadline, done)) {
      ++accepted;
    } else {
      ++refused;
    }
  }
  // The blocked write holds what the thread took in one batch (at most the two the
  // queue can hold, if both arrived before it woke), two more wait queued; the rest
  // are refused at once.
  EXPECT_LE(accepted, 4);
  EXPECT_GE(refused, 1);
  control->release();
  (*writer)->stop();
}

TEST(WriterTest, StopDoesNotHangOnAStuckSink) {
  auto control = std::make_shared<SinkControl>();
  auto writer = DeviceWriter::start(fast_options(), std::make_unique<BlockingSink>(control), true);
  ASSERT_TRUE(writer.has_value());
  control->block();
  auto done = std::make_shared<Completion>(1);
  ASSERT_TRUE((*writer)->submit({kBody}, steady_clock::now() + milliseconds(200), done));
  std::this_thread::sleep_for(milliseconds(20));
  const auto start = steady_clock::now();
  writer->reset();  // stop(): gives up on the stuck thread and detaches it
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(3));
  control->release();  // let the detached thread finish before the test ends
  std::this_thread::sleep_for(milliseconds(100));
}

TEST(WriterTest, EntriesOfOneWriteShareAChainInOrder) {
  auto control = std::make_shared<SinkControl>();
  auto writer = DeviceWriter::start(fast_options(), std::make_unique<BlockingSink>(control), true);
  ASSERT_TRUE(writer.has_value());
  auto done = std::make_shared<Completion>(1);
  ASSERT_TRUE(
      (*writer)->submit({kBody, kBody, kBody}, steady_clock::now() + milliseconds(500), done));
  std::string why;
  ASSERT_TRUE(done->wait(steady_clock::now() + milliseconds(500), why));
  (*writer)->stop();
  std::lock_guard lock(control->mu);
  std::string expected;
  std::string prev(kGenesisHash);
  std::string hash;
  for (int i = 0; i < 3; ++i) {
    append_sealed_line(kBody, prev, expected, hash);
    prev = hash;
  }
  EXPECT_EQ(control->written, expected);
}

// With direct writes, threads write their own entries, wait for each other's writes or
// queue behind them: every entry is recorded exactly once and the sink holds one chain.
TEST(WriterTest, ConcurrentDirectWritersKeepOneChain) {
  auto control = std::make_shared<SinkControl>();
  WriterOptions options = fast_options(4096);
  options.direct_writes = true;
  options.timeout = std::chrono::seconds(10);
  auto writer = DeviceWriter::start(options, std::make_unique<BlockingSink>(control), true);
  ASSERT_TRUE(writer.has_value());
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        if (!log_one(**writer)) ++failed;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  (*writer)->stop();
  std::string expected;
  std::string prev(kGenesisHash);
  std::string hash;
  for (int i = 0; i < kThreads * kEach; ++i) {
    append_sealed_line(kBody, prev, expected, hash);
    prev = hash;
  }
  std::lock_guard lock(control->mu);
  EXPECT_EQ(control->written.size(), expected.size());
  EXPECT_TRUE(control->written == expected) << "the lines do not form one chain in order";
  EXPECT_EQ((*writer)->chain_head(), prev);
}

// A thread that finds another one stuck in a direct write waits only briefly, then
// leaves its entry queued: the entry is written as soon as the stuck write ends.
TEST(WriterTest, ASubmitterDoesNotWaitLongForAnotherThreadsStuckWrite) {
  auto control = std::make_shared<SinkControl>();
  WriterOptions options = fast_options();
  options.direct_writes = true;
  options.timeout = std::chrono::seconds(5);
  auto writer = DeviceWriter::start(options, std::make_unique<BlockingSink>(control), true);
  ASSERT_TRUE(writer.has_value());
  control->block();
  std::atomic<bool> first_done{false};
  std::thread first([&] {
    EXPECT_TRUE(log_one(**writer));
    first_done = true;
  });
  struct Join {  // on every way out, so a failed assertion does not leave it blocked
    SinkControl& control;
    std::thread& thread;
    ~Join() {
      control.release();
      if (thread.joinable()) thread.join();
    }
  } join{*control, first};
  // Wait until the first thread is inside the sink's write.
  {
    std::unique_lock lock(control->mu);
    ASSERT_TRUE(
        control->cv.wait_for(lock, std::chrono::seconds(5), [&] { return control->entered == 1; }));
  }
  auto done = std::make_shared<Completion>(1);
  const auto start = steady_clock::now();
  ASSERT_TRUE((*writer)->submit({kBody}, steady_clock::now() + options.timeout, done));
  EXPECT_LT(steady_clock::now() - start, milliseconds(100)) << "submit waited for the stuck write";
  EXPECT_FALSE(first_done.load());
  control->release();
  std::string why;
  EXPECT_TRUE(done->wait(steady_clock::now() + options.timeout, why)) << why;
  first.join();
  EXPECT_TRUE(first_done.load());
  (*writer)->stop();
  std::lock_guard lock(control->mu);
  EXPECT_EQ(control->writes, 2);
}

}  // namespace
}  // namespace leasefs::backend::audit
