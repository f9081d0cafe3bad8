// Durability under SIGKILL: a child process writes from several threads and reports
// each key only after put()/apply() returned; the parent kills it at a random point and
// checks that every reported write is in the file when it is opened again.
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/storage/sqlite_storage.h"
#include "tests/unit/backend/storage/test_files.h"

namespace leasefs::backend::storage {
namespace {

namespace fs = std::filesystem;
using sdk::StorageOp;
using testing::TempDir;

// One acknowledgement on the pipe: a fixed-size record, so writes from several
// threads (each <= PIPE_BUF) never interleave.
constexpr std::size_t kRecordSize = 64;
constexpr int kWriterThreads = 4;

// The value written under `key`: derived from the key, of varying length, with NULs.
std::string value_for(const std::string& key) {
  std::size_t length = std::hash<std::string>{}(key) % 1500;
  std::string value(length, '\0');
  for (std::size_t i = 0; i < length; ++i) value[i] = key[i % key.size()] ^ static_cast<char>(i);
  return value;
}

// Runs in the child: writes until killed, acknowledging each durable write on `ack_fd`.
[[noreturn]] void run_writer_child(const fs::path& file, int round, int ack_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
  auto storage = SqliteStorage::open(file);
  if (!storage) ::_exit(2);
  auto acknowledge = [ack_fd](const std::string& key) {
    char record[kRecordSize] = {};
    std::memcpy(record, key.data(), std::min(key.size(), kRecordSize - 1));
    if (::write(ack_fd, record, kRecordSize) != static_cast<ssize_t>(kRecordSize)) ::_exit(4);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriterThreads; ++t) {
    threads.emplace_back([&, t] {
      for (long i = 0;; ++i) {
        std::string key =
            "r" + std::to_string(round) + "/t" + std::to_string(t) + "/k" + std::to_string(i);
        if (i % 7 == 6) {
          std::vector<StorageOp> ops{StorageOp::put(key + "/a", value_for(key + "/a")),
                                     StorageOp::put(key + "/b", value_for(key + "/b"))};
          if (!(*storage)->apply(ops)) ::_exit(3);
          acknowledge(key + "/a");
          acknowledge(key + "/b");
        } else {
          if (!(*storage)->put(key, value_for(key))) ::_exit(3);
          acknowledge(key);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ::_exit(5);
}

// Reads acknowledgements until the child is killed (after `kill_after` of them) and
// the pipe reaches end of file. Bounded by `deadline`.
std::vector<std::string> collect_acks(pid_t child, int ack_fd, std::size_t kill_after,
                                      std::chrono::steady_clock::time_point deadline,
                                      bool& killed) {
  std::vector<std::string> keys;
  std::string pending;
  killed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 && !killed) {
      ::kill(child, SIGKILL);  // out of time: stop it anyway, the test then fails
      killed = true;
    }
    pollfd pfd{ack_fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(std::max<long>(left.count(), 100)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[kRecordSize * 64];
    ssize_t n = ::read(ack_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child is gone and its end is closed
    pending.append(buf, static_cast<std::size_t>(n));
    while (pending.size() >= kRecordSize) {
      keys.emplace_back(pending.c_str());
      pending.erase(0, kRecordSize);
    }
    if (!killed && keys.size() >= kill_after) {
      ::kill(child, SIGKILL);
      killed = true;
    }
  }
  return keys;
}

TEST(SqliteStorageCrashTest, AcknowledgedWritesSurviveSigkill) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  fs::path file = dir / "crash.db";
  std::random_device seed_source;
  unsigned seed = seed_source();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);

  std::vector<std::string> acknowledged;  // across all rounds
  for (int round = 0; round < 4; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      run_writer_child(file, round, fds[1]);
    }
    ::close(fds[1]);
    std::size_t kill_after = std::uniform_int_distribution<std::size_t>(1, 600)(rng);
    bool killed = false;
    auto keys = collect_acks(child, fds[0], kill_after,
                             std::chrono::steady_clock::now() + std::chrono::seconds(60), killed);
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer stopped by itself (exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1)
        << ") in round " << round;
    EXPECT_GE(keys.size(), kill_after) << "ran out of time in round " << round;
    acknowledged.insert(acknowledged.end(), keys.begin(), keys.end());

    // A clean open (with the full integrity check) finds every acknowledged write.
    auto storage = SqliteStorage::open(file);
    ASSERT_TRUE(storage) << "round " << round << ": " << storage.error().message();
    std::size_t missing = 0;
    for (const auto& key : acknowledged) {
      auto value = (*storage)->get(key);
      ASSERT_TRUE(value) << value.error().message();
      if (!*value || **value != value_for(key)) {
        ++missing;
        ADD_FAILURE() << "acknowledged write lost or wrong: " << key;
        if (missing > 5) break;
      }
    }
    EXPECT_EQ(missing, 0u) << "round " << round << " of " << acknowledged.size() << " acks";
  }
  EXPECT_GT(acknowledged.size(), 4u);
}

}  // namespace
}  // namespace leasefs::backend::storage
