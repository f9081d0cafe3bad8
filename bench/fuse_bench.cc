// fuse_bench: the numbers behind bench/fuse_bench.sh.
//   fuse_bench serve DIR [LOOP] [passthrough]
//                                    a minimal low-level FUSE daemon serving one fixed
//                                    file DIR/file: FUSE's own cost. It is set up as
//                                    leasefs sets up a mount: the same mount options
//                                    (default_permissions, ro, allow_other), the same entry
//                                    and attribute timeouts (60 s), the same open flags
//                                    (direct_io, noflush, no keep_cache). LOOP is how it
//                                    takes requests: "libfuse" (default), libfuse's own
//                                    fuse_session_loop_mt (clone_fd, up to 64 threads), as
//                                    a FUSE daemon is usually written; or "leasefs", the
//                                    mount's loop (fs/fuse_loop.h), so that leasefs and
//                                    this daemon differ only in the work of their handlers.
//                                    "passthrough": opens are answered as leasefs answers
//                                    a shared file's when the kernel offers FUSE
//                                    passthrough (fs/passthrough.h): reads are the kernel's
//   fuse_bench read PATH THREADS SECONDS
//                                    open+read+close of PATH in a loop on THREADS threads;
//                                    prints "ops_per_second"
//   fuse_bench latency PATH COUNT    mean and median open+read+close latency (us) of PATH
//   fuse_bench api ADDRESS TOKEN COUNT
//                                    mean and median latency (us) of POST auth/token/create
//                                    straight to the server, the baseline for `latency`
// Ratios, not absolute numbers, are what to compare across runs.
#define FUSE_USE_VERSION 312
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/api/client.h"
#include "fs/fuse_loop.h"
#include "fs/passthrough.h"

namespace {

constexpr char kContent[] = "0123456789abcdef0123456789abcdef\n";
constexpr fuse_ino_t kFileIno = 2;
// As fs/mount.cc's kEntryTimeout: leasefs caches names and secret files' attributes.
constexpr double kTimeout = 60.0;

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

void minimal_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID || std::strcmp(name, "file") != 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e{};
  e.ino = kFileIno;
  e.entry_timeout = kTimeout;
  e.attr_timeout = kTimeout;
  fill(kFileIno, e.attr);
  fuse_reply_entry(req, &e);
}

void minimal_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st {};
  fill(ino, st);
  fuse_reply_attr(req, &st, kTimeout);
}

bool g_passthrough = false;
fuse_session* g_session = nullptr;

// The backing file, made at the first open (after INIT said whether the kernel agreed).
std::int32_t backing_id() {
  static const std::unique_ptr<leasefs::fs::BackingFile> backing = [] {
    std::unique_ptr<leasefs::fs::BackingFile> made;
    if (!leasefs::fs::passthrough_negotiated()) {
      std::fprintf(stderr, "fuse_bench: the kernel did not agree to passthrough\n");
      return made;
    }
    auto r = leasefs::fs::BackingFile::create(fuse_session_fd(g_session),
                                              std::string_view(kContent, sizeof kContent - 1));
    if (!r) {
      std::fprintf(stderr, "fuse_bench: %s\n", r.error().message().c_str());
      return made;
    }
    return std::move(*r);
  }();
  return backing ? backing->id() : 0;
}

void minimal_open(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  if (g_passthrough) {
    if (std::int32_t id = backing_id(); id > 0) {
      leasefs::fs::reply_open_passthrough(req, 0, id);
      return;
    }
  }
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->noflush = 1;
  fuse_reply_open(req, fi);
}

void minimal_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  std::size_t len = sizeof kContent - 1;
  std::size_t start = std::min<std::size_t>(static_cast<std::size_t>(off), len);
  fuse_reply_buf(req, kContent + start, std::min(size, len - start));
}

int serve(const char* dir, const std::string& loop_kind, bool passthrough) {
  if (loop_kind != "libfuse" && loop_kind != "leasefs") {
    std::fprintf(stderr, "fuse_bench: LOOP is libfuse or leasefs, not %s\n", loop_kind.c_str());
    return 2;
  }
  fuse_lowlevel_ops ops{};
  ops.lookup = minimal_lookup;
  ops.getattr = minimal_getattr;
  ops.open = minimal_open;
  ops.read = minimal_read;
  char arg0[] = "fuse_bench";
  char dash_o[] = "-o";
  char opts[] = "fsname=fuse_bench,subtype=minimal,default_permissions,ro,allow_other";
  char* argv[] = {arg0, dash_o, opts, nullptr};
  fuse_args args = FUSE_ARGS_INIT(3, argv);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
  if (se == nullptr || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, dir) != 0) {
    std::fprintf(stderr, "fuse_bench: cannot mount %s\n", dir);
    return 1;
  }
  g_session = se;
  g_passthrough = passthrough;
  if (passthrough) {
    if (auto hooked = leasefs::fs::negotiate_passthrough(se); !hooked) {
      std::fprintf(stderr, "fuse_bench: %s\n", hooked.error().message().c_str());
      return 1;
    }
  }
  int rc = 0;
  if (loop_kind == "leasefs") {
    rc = leasefs::fs::run_fuse_loop(se);
  } else {
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, 1);
    fuse_loop_cfg_set_max_threads(cfg, 64);
    rc = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
  }
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  return rc == 0 ? 0 : 1;
}

bool read_once(const char* path) {
  int fd = ::open(path, O_RDONLY);
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0;
}

int read_loop(const char* path, int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<long> ops{0}, errors{0};
  std::vector<std::thread> pool;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      long mine = 0, bad = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (read_once(path))
          ++mine;
        else
          ++bad;
      }
      ops += mine;
      errors += bad;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("ops_per_second %.0f errors %ld\n", static_cast<double>(ops.load()) / elapsed,
              errors.load());
  return errors.load() == 0 ? 0 : 1;
}

void print_latencies(std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double v : us) sum += v;
  std::printf("mean_us %.1f median_us %.1f\n", sum / static_cast<double>(us.size()),
              us[us.size() / 2]);
}

int latency(const char* path, int count) {
  std::vector<double> us;
  for (int i = 0; i < count; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (!read_once(path)) {
      std::fprintf(stderr, "fuse_bench: reading %s failed\n", path);
      return 1;
    }
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  print_latencies(us);
  return 0;
}

int api_latency(const char* address, const char* token, int count) {
  leasefs::backend::api::ClientOptions options;
  options.address = address;
  auto client = leasefs::backend::api::Client::create(options);
  if (!client) {
    std::fprintf(stderr, "fuse_bench: %s\n", client.error().message().c_str());
    return 1;
  }
  std::vector<double> us;
  for (int i = 0; i < count; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*client)->request("POST", "/v1/auth/token/create", R"({"ttl":"60s"})", token);
    if (!r || r->status != 200) {
      std::fprintf(stderr, "fuse_bench: token create failed\n");
      return 1;
    }
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  print_latencies(us);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "serve" && argc >= 3 && argc <= 5) {
    const bool passthrough = argc == 5 && std::string_view(argv[4]) == "passthrough";
    if (argc == 5 && !passthrough) {
      std::fprintf(stderr, "fuse_bench: the last argument of serve is \"passthrough\"\n");
      return 2;
    }
    return serve(argv[2], argc >= 4 ? argv[3] : "libfuse", passthrough);
  }
  if (mode == "read" && argc == 5)
    return read_loop(argv[2], std::atoi(argv[3]), std::atof(argv[4]));
  if (mode == "latency" && argc == 4) return latency(argv[2], std::atoi(argv[3]));
  if (mode == "api" && argc == 5) return api_latency(argv[2], argv[3], std::atoi(argv[4]));
  std::fprintf(
      stderr,
      "usage: fuse_bench serve DIR [libfuse|leasefs] [passthrough] | read PATH THREADS SECONDS | "
      "latency PATH COUNT |"
      " api ADDRESS TOKEN COUNT\n");
  return 2;
}
