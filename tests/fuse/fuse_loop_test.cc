// The mount's FUSE request loop (fs/fuse_loop.h), on a real mount of a tiny filesystem
// served in this process: "fast" opens at once; "slow" opens only when the test lets it.
// What the loop owes the mount: requests keep being served while every thread waits in
// a handler (the pool grows), and it ends when the session is exited (SIGTERM) or the
// filesystem is unmounted from outside.
#define FUSE_USE_VERSION 312
#include "fs/fuse_loop.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuse/mount_fixture.h"

namespace leasefs::fs {
namespace {

using namespace std::chrono_literals;

constexpr fuse_ino_t kFast = 2;
constexpr fuse_ino_t kSlow = 3;
constexpr fuse_ino_t kBusy = 4;  // opens after computing (running, not waiting) for a while
constexpr char kContent[] = "content\n";

// What the handlers share with the test.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  int slow_waiting = 0;  // "slow" opens inside the handler
  bool open = false;     // the test let them go

  void wait_in_handler() {
    std::unique_lock lock(mu);
    ++slow_waiting;
    cv.notify_all();
    // Bounded, so a broken test cannot hang the run.
    cv.wait_for(lock, 60s, [&] { return open; });
  }
  bool wait_for_waiting(int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 20s, [&] { return slow_waiting >= n; });
  }
  void let_go() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

Gate* gate_of(fuse_req_t req) {
  return static_cast<Gate*>(fuse_req_userdata(req));
}

void fill(fuse_ino_t ino, struct stat& st) {
  st.st_ino = ino;
  if (ino == FUSE_ROOT_ID) {
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | 0444;
    st.st_nlink = 1;
    st.st_size = sizeof kContent - 1;
  }
}

void do_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_ino_t ino = 0;
  if (parent == FUSE_ROOT_ID && std::strcmp(name, "fast") == 0) ino = kFast;
  if (parent == FUSE_ROOT_ID && std::strcmp(name, "slow") == 0) ino = kSlow;
  if (parent == FUSE_ROOT_ID && std::strcmp(name, "busy") == 0) ino = kBusy;
  if (ino == 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e{};
  e.ino = ino;
  e.entry_timeout = 60;
  e.attr_timeout = 60;
  fill(ino, e.attr);
  fuse_reply_entry(req, &e);
}

void do_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st {};
  fill(ino, st);
  fuse_reply_attr(req, &st, 60);
}

void do_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino == kSlow) gate_of(req)->wait_in_handler();
  if (ino == kBusy) {
    // 40 ms on the CPU, far past the loop's 5 ms before it considers another thread.
    const auto until = std::chrono::steady_clock::now() + 40ms;
    while (std::chrono::steady_clock::now() < until) {
    }
  }
  fi->direct_io = 1;
  fuse_reply_open(req, fi);
}

void do_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  const std::size_t len = sizeof kContent - 1;
  const std::size_t start = std::min<std::size_t>(static_cast<std::size_t>(off), len);
  fuse_reply_buf(req, kContent + start, std::min(size, len - start));
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return std::string("open failed: ") + std::strerror(errno);
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n < 0 ? std::string("read failed: ") + std::strerror(errno)
               : std::string(buf, static_cast<std::size_t>(n));
}

class FuseLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = testing::fuse_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    char tmpl[] = "/tmp/leasefs-fuse-loop.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fuse_lowlevel_ops ops{};
    ops.lookup = do_lookup;
    ops.getattr = do_getattr;
    ops.open = do_open;
    ops.read = do_read;
    char arg0[] = "fuse_loop_test";
    char dash_o[] = "-o";
    char opts[] = "fsname=fuse_loop_test,ro";
    char* argv[] = {arg0, dash_o, opts, nullptr};
    fuse_args args = FUSE_ARGS_INIT(3, argv);
    se_ = fuse_session_new(&args, &ops, sizeof ops, &gate_);
    ASSERT_NE(se_, nullptr);
    ASSERT_EQ(fuse_session_mount(se_, dir_.c_str()), 0);
    mounted_ = true;
  }

  void TearDown() override {
    if (loop_.valid()) {
      gate_.let_go();
      fuse_session_exit(se_);
      if (loop_.wait_for(20s) != std::future_status::ready) {
        ADD_FAILURE() << "the loop did not end after fuse_session_exit";
        // Detaching the mount makes every read of the device fail, which ends it.
        if (mounted_) fuse_session_unmount(se_);
        mounted_ = false;
        if (loop_.wait_for(20s) != std::future_status::ready) {
          ADD_FAILURE() << "the loop did not end after the unmount either; leaking the session";
          se_ = nullptr;       // still in use by the loop: destroying it would be a use after free
          std::quick_exit(1);  // the future's destructor would wait for the loop forever
        }
      }
    }
    if (mounted_) fuse_session_unmount(se_);
    if (se_ != nullptr) fuse_session_destroy(se_);
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  void start(FuseLoopOptions options) {
    loop_ = std::async(std::launch::async, [this, options] { return run_fuse_loop(se_, options); });
  }

  std::string dir_;
  Gate gate_;
  fuse_session* se_ = nullptr;
  bool mounted_ = false;
  std::future<int> loop_;
};

TEST_F(FuseLoopTest, ReadsWhileEveryThreadWaitsInAHandler) {
  FuseLoopOptions options;
  options.min_threads = 2;
  options.max_threads = 8;
  start(options);
  // Three opens that wait for the gate: two take both starting threads, the third needs
  // a thread the loop adds.
  std::vector<std::future<std::string>> slow;
  // Declared after `slow`, so an early ASSERT lets the handlers go before the futures
  // wait for their reads.
  struct LetGo {
    Gate& gate;
    ~LetGo() { gate.let_go(); }
  } let_go_on_exit{gate_};
  for (int i = 0; i < 3; ++i) {
    slow.push_back(std::async(std::launch::async, [this] { return read_file(dir_ + "/slow"); }));
  }
  ASSERT_TRUE(gate_.wait_for_waiting(3)) << "the third slow open never reached its handler";
  // And a quick one still gets through while all three wait.
  auto fast = std::async(std::launch::async, [this] { return read_file(dir_ + "/fast"); });
  ASSERT_EQ(fast.wait_for(20s), std::future_status::ready)
      << "a quick open was held up by handlers waiting elsewhere";
  EXPECT_EQ(fast.get(), kContent);
  {
    std::lock_guard lock(gate_.mu);
    EXPECT_FALSE(gate_.open);
  }
  gate_.let_go();
  for (auto& f : slow) {
    ASSERT_EQ(f.wait_for(20s), std::future_status::ready);
    EXPECT_EQ(f.get(), kContent);
  }
}

// The loop's threads, by the name it gives them.
int pool_threads() {
  int n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "leasefs-fuse") ++n;
  }
  return n;
}

// Handlers that keep their threads busy on the CPU do not make the pool grow (another
// thread would only compete for the same CPUs, and stay); one that waits does.
TEST_F(FuseLoopTest, GrowsForHandlersThatWaitNotForHandlersThatRun) {
  FuseLoopOptions options;
  options.min_threads = 1;
  options.max_threads = 8;
  start(options);
  ASSERT_EQ(read_file(dir_ + "/fast"), kContent);
  // (The threads of an earlier test's loop may take a moment to end.)
  for (int i = 0; i < 100 && pool_threads() != 1; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(pool_threads(), 1);
  std::vector<std::future<std::string>> busy;
  for (int i = 0; i < 3; ++i) {
    busy.push_back(std::async(std::launch::async, [this] { return read_file(dir_ + "/busy"); }));
  }
  for (auto& f : busy) {
    ASSERT_EQ(f.wait_for(20s), std::future_status::ready);
    EXPECT_EQ(f.get(), kContent);
  }
  EXPECT_EQ(pool_threads(), 1) << "the pool grew for handlers that were running";

  struct LetGo {
    Gate& gate;
    ~LetGo() { gate.let_go(); }
  } let_go_on_exit{gate_};
  auto slow = std::async(std::launch::async, [this] { return read_file(dir_ + "/slow"); });
  ASSERT_TRUE(gate_.wait_for_waiting(1));
  // The one thread waits in the handler: a quick open gets a new thread.
  auto fast = std::async(std::launch::async, [this] { return read_file(dir_ + "/fast"); });
  ASSERT_EQ(fast.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(fast.get(), kContent);
  EXPECT_EQ(pool_threads(), 2);
  gate_.let_go();
  ASSERT_EQ(slow.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(slow.get(), kContent);
}

TEST_F(FuseLoopTest, EndsWhenTheSessionIsExited) {
  start({});
  EXPECT_EQ(read_file(dir_ + "/fast"), kContent);
  // What libfuse's SIGTERM handler does.
  fuse_session_exit(se_);
  ASSERT_EQ(loop_.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(loop_.get(), 0);
}

TEST_F(FuseLoopTest, EndsWhenUnmountedFromOutside) {
  start({});
  EXPECT_EQ(read_file(dir_ + "/fast"), kContent);
  ASSERT_EQ(::umount2(dir_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
  mounted_ = false;
  ASSERT_EQ(loop_.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(loop_.get(), 0);
}

TEST_F(FuseLoopTest, ManyReadersOnFewThreads) {
  FuseLoopOptions options;
  options.min_threads = 1;
  options.max_threads = 1;
  start(options);
  std::atomic<int> good{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (read_file(dir_ + "/fast") == kContent) ++good;
      }
    });
  }
  for (auto& r : readers) r.join();
  EXPECT_EQ(good.load(), 800);
}

}  // namespace
}  // namespace leasefs::fs
