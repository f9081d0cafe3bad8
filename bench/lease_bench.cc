// lease_bench: what the expiration manager costs with a million leases on the default
// storage (SQLite behind the barrier), next to baselines measured in the same run:
//   memory    resident bytes per lease held by a restored manager, against the same
//             number of bare std::string lease ids in a vector (and Vault's ~3 KB);
//   restart   a new manager on the same file: time from start() to the answer of a
//             lookup of a random lease (aim < 5 s), and the whole background restore,
//             against a plain scan (list_page + get of every record through the barrier);
//   storm     100,000 leases expiring in the same second: time until all are revoked
//             (aim < 30 s) with a cheap fake engine, while another thread reads other
//             keys of the same storage; the reads' p99 during the storm (aim < 10 ms)
//             against their p99 with the server idle.
// Every phase runs in its own forked child so one phase's heap does not hide another's
// RSS. The engine is a counter; the clock is a ManualClock started at the real time
// (the storm is one advance of it).
//
//   lease_bench [--leases 1000000] [--storm 100000] [--dir /tmp] [--keep]
//               [--restore-threads 4] [--workers 8] [--batch 64]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/barrier/barrier.h"
#include "backend/barrier/keyring.h"
#include "backend/lease/expiration_manager.h"
#include "backend/sdk/storage_view.h"
#include "backend/storage/sqlite_storage.h"

namespace {

namespace fs = std::filesystem;
namespace sdk = leasefs::backend::sdk;
namespace lease = leasefs::backend::lease;
namespace barrier = leasefs::backend::barrier;
using leasefs::backend::storage::SqliteStorage;
using Steady = std::chrono::steady_clock;
using Results = std::map<std::string, double>;

// Manager settings under test (--restore-threads, --workers, --batch).
lease::ExpirationOptions g_options;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "lease_bench: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

// Resident set size of this process, from /proc/self/statm.
double rss_bytes() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto at = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[at];
}

// Runs `phase` in a forked child that reports "name value" lines through a pipe.
Results in_child(const char* what, const std::function<void(Results&)>& phase) {
  int fds[2];
  if (::pipe(fds) != 0) die("pipe failed");
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    Results out;
    phase(out);
    std::string text;
    for (const auto& [k, v] : out) text += k + " " + std::to_string(v) + "\n";
    std::size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::write(fds[1], text.data() + off, text.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(fds[1]);
    std::fflush(stdout);
    std::_Exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die(std::string(what) + " phase failed");
  Results out;
  std::istringstream lines(text);
  std::string key;
  double value;
  while (lines >> key >> value) out[key] = value;
  return out;
}

// The server's storage stack: SQLite file, barrier (unsealed with `root`), and the
// manager's view "sys/expire/".
struct Stack {
  std::unique_ptr<SqliteStorage> physical;
  std::unique_ptr<barrier::Barrier> vault;
  std::unique_ptr<sdk::StorageView> view;

  Stack(const fs::path& file, const sdk::SecureBuffer& root, const sdk::Clock& clock,
        bool initialize) {
    auto opened = SqliteStorage::open(file);
    if (!opened) die(opened.error().message());
    physical = std::move(*opened);
    vault = std::make_unique<barrier::Barrier>(*physical, clock, sdk::SystemRandom::instance());
    if (initialize) {
      if (auto r = vault->initialize(root); !r) die(r.error().message());
    }
    if (auto r = vault->unseal(root); !r) die(r.error().message());
    view = std::make_unique<sdk::StorageView>(*vault, "sys/expire/");
  }
};

// Buffers writes and commits them in big transactions: the fast way to lay down a
// million leases for the benchmark (the server commits each registration on its own).
class BulkWriter final : public sdk::Storage {
 public:
  explicit BulkWriter(sdk::Storage& inner) : inner_(inner) {}
  sdk::Result<std::optional<std::string>> get(std::string_view key) override {
    return inner_.get(key);
  }
  sdk::Result<void> put(std::string_view key, std::string_view value) override {
    sdk::StorageOp op = sdk::StorageOp::put(std::string(key), std::string(value));
    return apply(std::span<const sdk::StorageOp>(&op, 1));
  }
  sdk::Result<void> remove(std::string_view key) override { return inner_.remove(key); }
  sdk::Result<std::vector<std::string>> list(std::string_view prefix) override {
    return inner_.list(prefix);
  }
  sdk::Result<std::vector<std::string>> list_page(std::string_view prefix, std::string_view after,
                                                  std::size_t limit) override {
    return inner_.list_page(prefix, after, limit);
  }
  sdk::Result<void> apply(std::span<const sdk::StorageOp> ops) override {
    buffer_.insert(buffer_.end(), ops.begin(), ops.end());
    if (buffer_.size() >= 200'000) return flush();
    return {};
  }
  sdk::Result<void> flush() {
    if (buffer_.empty()) return {};
    // In key order SQLite appends to its B-tree instead of touching a random page per
    // row. The keys are distinct, and a stable sort keeps any repeats in order.
    std::stable_sort(
        buffer_.begin(), buffer_.end(),
        [](const sdk::StorageOp& a, const sdk::StorageOp& b) { return a.key < b.key; });
    auto r = inner_.apply(buffer_);
    buffer_.clear();
    return r;
  }

 private:
  sdk::Storage& inner_;
  std::vector<sdk::StorageOp> buffer_;
};

lease::ExpirationCallbacks cheap_engine(std::atomic<std::uint64_t>& revoked) {
  lease::ExpirationCallbacks cb;
  cb.revoke_secret = [&revoked](const lease::LeaseRecord&) -> sdk::Result<void> {
    revoked.fetch_add(1, std::memory_order_relaxed);
    return {};
  };
  cb.revoke_token = cb.revoke_secret;
  cb.renew_secret = [](const lease::LeaseRecord&, sdk::Duration) -> sdk::Result<sdk::Response> {
    return sdk::Response{};
  };
  return cb;
}

lease::RegisterSecret request(int i) {
  lease::RegisterSecret r;
  r.path = i % 4 == 0 ? "pki/issue/web" : "database/creds/readonly";
  r.mount = i % 4 == 0 ? "pki/" : "database/";
  r.token_hash = "h" + std::to_string(1000 + i % 5000);
  r.secret.type = "creds";
  r.secret.internal = {{"username", "v-token-readonly-" + std::to_string(i)}};
  r.secret.ttl = std::chrono::hours(1);
  return r;
}

// Registers `n` leases into `file` through a bulk writer; writes `samples` lease ids
// (chosen at random) to `ids_file`, and `extra` plain keys for readers.
void populate(const fs::path& file, const fs::path& ids_file, const sdk::SecureBuffer& root, int n,
              int samples, int extra, Results& out) {
  sdk::ManualClock clock(std::chrono::system_clock::now());
  Stack stack(file, root, clock, /*initialize=*/true);
  BulkWriter bulk(*stack.view);
  std::atomic<std::uint64_t> revoked{0};
  lease::ExpirationOptions options;
  options.background = false;
  sdk::SeededRandom random(7);
  double rss0 = rss_bytes();
  auto start = Steady::now();
  {
    lease::ExpirationManager manager(bulk, clock, random, cheap_engine(revoked), options);
    if (auto r = manager.start(); !r) die(r.error().message());
    std::mt19937 gen(11);
    std::vector<std::string> picked;
    for (int i = 0; i < n; ++i) {
      auto r = manager.register_secret(request(i));
      if (!r) die(r.error().message());
      if (static_cast<int>(gen() % static_cast<unsigned>(n)) < samples)
        picked.push_back(r->lease_id);
    }
    if (auto r = bulk.flush(); !r) die(r.error().message());
    malloc_trim(0);  // the bulk writer's buffer is gone; count what the manager holds
    out["registered_rss_per_lease"] = (rss_bytes() - rss0) / n;
    std::ofstream ids(ids_file);
    for (const auto& id : picked) ids << id << "\n";
    manager.stop();
  }
  std::vector<sdk::StorageOp> ops;
  std::string value(200, 'v');
  for (int i = 0; i < extra; ++i) {
    ops.push_back(sdk::StorageOp::put("logical/app/key" + std::to_string(i), value));
  }
  if (!ops.empty()) {
    if (auto r = stack.vault->apply(ops); !r) die(r.error().message());
  }
  out["populate_s"] = seconds_since(start);
}

std::vector<std::string> read_ids(const fs::path& ids_file) {
  std::ifstream in(ids_file);
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ids.push_back(line);
  }
  if (ids.empty()) die("no sample lease ids");
  return ids;
}

void memory_baseline(int n, Results& out) {
  double rss0 = rss_bytes();
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::string id = i % 4 == 0 ? "pki/issue/web/" : "database/creds/readonly/";
    std::string tail = std::to_string(i);
    id += std::string(24 - tail.size(), 'A') + tail;
    ids.push_back(std::move(id));
  }
  out["baseline_rss_per_id"] = (rss_bytes() - rss0) / n;
  if (ids.size() != static_cast<std::size_t>(n)) die("baseline");
}

void restart(const fs::path& file, const fs::path& ids_file, const sdk::SecureBuffer& root, int n,
             Results& out) {
  auto ids = read_ids(ids_file);
  sdk::ManualClock clock(std::chrono::system_clock::now());
  auto open_start = Steady::now();
  Stack stack(file, root, clock, /*initialize=*/false);
  out["open_unseal_s"] = seconds_since(open_start);
  std::atomic<std::uint64_t> revoked{0};
  lease::ExpirationOptions options = g_options;
  sdk::SeededRandom random(9);
  malloc_trim(0);
  double rss0 = rss_bytes();
  lease::ExpirationManager manager(*stack.view, clock, random, cheap_engine(revoked), options);

  std::mt19937 gen(5);
  auto start = Steady::now();
  if (auto r = manager.start(); !r) die(r.error().message());
  auto first = manager.lookup(ids[gen() % ids.size()]);
  if (!first) die("first lookup: " + first.error().message());
  out["first_lookup_s"] = seconds_since(start);
  // More lookups while the restore runs.
  std::vector<double> lat;
  for (int i = 0; i < 200 && !manager.wait_restored(std::chrono::milliseconds(0)); ++i) {
    auto t = Steady::now();
    if (auto r = manager.lookup(ids[gen() % ids.size()]); !r) die(r.error().message());
    lat.push_back(seconds_since(t));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  out["lookups_during_restore"] = static_cast<double>(lat.size());
  out["lookup_during_restore_p99_ms"] = percentile(lat, 0.99) * 1e3;
  if (!manager.wait_restored(std::chrono::minutes(30))) die("restore did not finish");
  out["restore_s"] = seconds_since(start);
  if (manager.count() != static_cast<std::uint64_t>(n)) {
    die("restored " + std::to_string(manager.count()) + " of " + std::to_string(n));
  }
  out["restored_rss_per_lease"] = (rss_bytes() - rss0) / n;
  malloc_trim(0);
  out["restored_rss_per_lease_trimmed"] = (rss_bytes() - rss0) / n;
  if (revoked.load() != 0) die("a lease was revoked during the restore");
  manager.stop();

  // Baseline: the same records read plainly, one thread.
  auto scan_start = Steady::now();
  std::uint64_t seen = 0;
  std::vector<std::pair<std::string, std::string>> stack_dirs{{"id/", ""}};
  while (!stack_dirs.empty()) {
    auto& top = stack_dirs.back();
    auto names = stack.view->list_page(top.first, top.second, 1000);
    if (!names) die(names.error().message());
    if (names->empty()) {
      stack_dirs.pop_back();
      continue;
    }
    top.second = names->back();
    std::string base = top.first;
    for (const auto& name : *names) {
      if (name.ends_with('/')) {
        stack_dirs.push_back({base + name, ""});
        continue;
      }
      auto got = stack.view->get(base + name);
      if (!got || !*got) die("scan get");
      ++seen;
    }
  }
  out["scan_s"] = seconds_since(scan_start);
  if (seen != static_cast<std::uint64_t>(n)) die("scan saw " + std::to_string(seen));
}

void storm(const fs::path& file, const sdk::SecureBuffer& root, int n, int extra, Results& out) {
  sdk::ManualClock clock(std::chrono::system_clock::now());
  Stack stack(file, root, clock, /*initialize=*/false);
  std::atomic<std::uint64_t> revoked{0};
  lease::ExpirationOptions options = g_options;
  options.max_timer_wait = std::chrono::milliseconds(10);
  sdk::SeededRandom random(13);
  lease::ExpirationManager manager(*stack.view, clock, random, cheap_engine(revoked), options);
  if (auto r = manager.start(); !r) die(r.error().message());
  if (!manager.wait_restored(std::chrono::minutes(10))) die("storm restore");
  if (manager.count() != static_cast<std::uint64_t>(n)) die("storm count");

  std::atomic<int> phase{0};  // 0 idle sample, 1 storm, 2 stop
  std::vector<double> idle, busy;
  std::thread reader([&] {
    std::mt19937 gen(3);
    while (phase.load() != 2) {
      auto t = Steady::now();
      auto got = stack.vault->get("logical/app/key" +
                                  std::to_string(gen() % static_cast<unsigned>(extra)));
      double took = seconds_since(t);
      if (!got || !*got) die("reader get");
      (phase.load() == 0 ? idle : busy).push_back(took);
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto start = Steady::now();
  phase = 1;
  clock.advance(std::chrono::hours(2));
  manager.notify_clock_changed();
  bool done = manager.wait_until_idle(std::chrono::minutes(5));
  double took = seconds_since(start);
  phase = 2;
  reader.join();
  if (!done || manager.count() != 0 || revoked.load() != static_cast<std::uint64_t>(n)) {
    die("storm did not finish: " + std::to_string(revoked.load()) + " revoked, " +
        std::to_string(manager.count()) + " left");
  }
  out["storm_s"] = took;
  out["storm_reads"] = static_cast<double>(busy.size());
  out["idle_read_p99_ms"] = percentile(idle, 0.99) * 1e3;
  out["storm_read_p99_ms"] = percentile(busy, 0.99) * 1e3;
  out["storm_read_max_ms"] = percentile(busy, 1.0) * 1e3;
  manager.stop();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"expiration manager benchmark"};
  int leases = 1'000'000;
  int storm_leases = 100'000;
  std::string dir = fs::temp_directory_path().string();
  bool keep = false;
  app.add_option("--leases", leases, "active leases for memory and restart");
  app.add_option("--storm", storm_leases, "leases expiring in the same second");
  app.add_option("--dir", dir, "where the SQLite files go");
  app.add_flag("--keep", keep, "keep the SQLite files");
  app.add_option("--restore-threads", g_options.restore_threads, "restore loader threads");
  app.add_option("--workers", g_options.revoke_workers, "revocation workers");
  app.add_option("--batch", g_options.revoke_batch, "leases a worker takes at once");
  CLI11_PARSE(app, argc, argv);
  if (leases < 1 || storm_leases < 1) die("counts must be positive");

  std::string pattern = (fs::path(dir) / "lease-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) die("cannot make a directory in " + dir);
  const fs::path work = pattern;
  auto root = sdk::random_key(sdk::SystemRandom::instance(), barrier::kKeySize);
  if (!root) die(root.error().message());
  const int extra = 10'000;

  std::printf(
      "lease_bench: %d leases, storm of %d, files in %s, %u cores; restore threads %zu, "
      "revoke workers %zu, batch %zu\n",
      leases, storm_leases, work.c_str(), std::thread::hardware_concurrency(),
      g_options.restore_threads, g_options.revoke_workers, g_options.revoke_batch);
  std::fflush(stdout);
  Results r;
  auto merge = [&](const Results& more) { r.insert(more.begin(), more.end()); };
  merge(in_child("populate", [&](Results& out) {
    populate(work / "leases.db", work / "ids.txt", *root, leases, 1000, extra, out);
  }));
  merge(in_child("baseline", [&](Results& out) { memory_baseline(leases, out); }));
  merge(in_child("restart", [&](Results& out) {
    restart(work / "leases.db", work / "ids.txt", *root, leases, out);
  }));
  Results storm_fill = in_child("storm-populate", [&](Results& out) {
    populate(work / "storm.db", work / "storm-ids.txt", *root, storm_leases, 10, extra, out);
  });
  merge(in_child("storm",
                 [&](Results& out) { storm(work / "storm.db", *root, storm_leases, extra, out); }));

  std::printf("\npopulate (bulk, outside the measurements): %.1f s\n", r["populate_s"]);
  std::printf("\nmemory per active lease (RSS delta / leases)\n");
  std::printf("  baseline: bare std::string ids  %8.0f B\n", r["baseline_rss_per_id"]);
  std::printf("  manager, after registering      %8.0f B   x%.2f of baseline\n",
              r["registered_rss_per_lease"],
              r["registered_rss_per_lease"] / r["baseline_rss_per_id"]);
  std::printf(
      "  manager, after restore          %8.0f B   x%.2f of baseline  (aim < 1024 B; Vault ~3000 "
      "B)\n",
      r["restored_rss_per_lease"], r["restored_rss_per_lease"] / r["baseline_rss_per_id"]);
  std::printf("  manager, after restore, trimmed %8.0f B   x%.2f of baseline\n",
              r["restored_rss_per_lease_trimmed"],
              r["restored_rss_per_lease_trimmed"] / r["baseline_rss_per_id"]);
  std::printf("\nrestart on the same SQLite file\n");
  std::printf("  open + unseal                    %8.3f s\n", r["open_unseal_s"]);
  std::printf("  start -> first lookup answered   %8.3f s   (aim < 5 s)\n", r["first_lookup_s"]);
  std::printf("  lookups during restore: %.0f, p99 %.2f ms\n", r["lookups_during_restore"],
              r["lookup_during_restore_p99_ms"]);
  std::printf("  full background restore          %8.2f s   %.0f leases/s\n", r["restore_s"],
              leases / r["restore_s"]);
  std::printf("  baseline: plain scan (1 thread)  %8.2f s   restore x%.2f of scan\n", r["scan_s"],
              r["restore_s"] / r["scan_s"]);
  std::printf("\nstorm: %d leases expiring in the same second (populated in %.1f s)\n",
              storm_leases, storm_fill["populate_s"]);
  std::printf("  all revoked after                %8.2f s   %.0f revocations/s  (aim < 30 s)\n",
              r["storm_s"], storm_leases / r["storm_s"]);
  std::printf(
      "  storage reads: idle p99 %.3f ms, storm p99 %.3f ms (x%.1f), max %.1f ms, %.0f reads  (aim "
      "p99 < 10 ms)\n",
      r["idle_read_p99_ms"], r["storm_read_p99_ms"],
      r["storm_read_p99_ms"] / std::max(r["idle_read_p99_ms"], 1e-6), r["storm_read_max_ms"],
      r["storm_reads"]);
  if (!keep) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return 0;
}
