// storage_batch_bench: durable batches per second of SqliteStorage::apply, from N threads,
// each batch a given number of puts of given value sizes (the storage "shape" of one API
// write). bench/http_bench.sh runs it between its HTTP rounds, on the same filesystem and
// with the same concurrency as the server's writers, as the ceiling the server's
// token-creation and KV-write rates are compared with: what the storage alone sustains
// for the same commits, with no HTTP, JSON, ACL, barrier encryption or engine logic.
//
// The file is warmed up first (one transaction big enough to wrap the WAL, as in
// storage_bench, then --warmup-seconds of the same load, unmeasured) so commits measure
// the steady state. Prints one line:
//   batches_per_second=<x> writes_per_commit=<y> writers=<n> batch=<sizes>
//
//   storage_batch_bench --dir DIR [--seconds 5] [--warmup-seconds 1] [--writers 8]
//                       [--values 98,33,460]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <stdlib.h>

#include "backend/sdk/storage.h"
#include "backend/storage/sqlite_storage.h"

namespace {

namespace fs = std::filesystem;
using leasefs::backend::sdk::StorageOp;
using leasefs::backend::storage::SqliteStorage;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "storage_batch_bench: %s\n", message.c_str());
  std::exit(1);
}

std::vector<std::size_t> parse_sizes(const std::string& text) {
  std::vector<std::size_t> sizes;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      unsigned long v = std::stoul(item, &used);
      if (used != item.size() || v > (1u << 20)) throw std::invalid_argument(item);
      sizes.push_back(v);
    } catch (const std::exception&) {
      die("--values: want comma-separated byte counts, got '" + text + "'");
    }
  }
  if (sizes.empty()) die("--values: at least one size");
  return sizes;
}

// A key about the length of the server's (a 64-hex-digit hash under a short prefix),
// unique per run, thread, iteration and position in the batch.
std::string make_key(unsigned long run, int thread, long i, std::size_t j) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "logical/0123456789abcdef/bench/%02zu/t%04d/%016lx/%020ld", j,
                thread, run, i);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  double warmup_seconds = 1;
  int writers = 8;
  std::string values = "98,33,460";
  std::string base_dir;
  std::string keep_file;
  CLI::App app("Durable SqliteStorage::apply batches per second (baseline for http_bench.sh)");
  app.add_option("--seconds", seconds, "Length of the measurement")->check(CLI::PositiveNumber);
  app.add_option("--warmup-seconds", warmup_seconds, "Unmeasured load before the measurement")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--writers", writers, "Concurrent threads calling apply()")
      ->check(CLI::Range(1, 256));
  app.add_option("--values", values, "Value sizes of the puts in one batch, comma-separated");
  app.add_option("--dir", base_dir,
                 "Directory for the temporary file (same filesystem as "
                 "the server's)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--file", keep_file,
                 "Use this storage file, kept between runs (created and "
                 "warmed up when missing), instead of a temporary one");
  CLI11_PARSE(app, argc, argv);
  if (base_dir.empty() == keep_file.empty()) die("give one of --dir and --file");
  auto sizes = parse_sizes(values);

  // With --file, the storage file lives on between runs (as a server's does): it is
  // created and warmed up by the first run and reused by the next ones.
  fs::path dir;
  fs::path file = keep_file;
  bool fresh = file.empty() || !fs::exists(file);
  if (file.empty()) {
    std::string pattern = (fs::path(base_dir) / "storage-batch-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) die("cannot create a directory under " + base_dir);
    dir = pattern;
    file = dir / "batch.db";
  }
  int status = 0;
  {
    auto opened = SqliteStorage::open(file);
    if (!opened) die(opened.error().message());
    std::unique_ptr<SqliteStorage> storage = std::move(*opened);

    // Warm-up: wrap the WAL (past its 1000-page checkpoint mark) in one transaction.
    if (fresh) {
      std::vector<StorageOp> warm;
      for (int i = 0; i < 1100; ++i) {
        warm.push_back(StorageOp::put("warmup/" + std::to_string(i), std::string(4000, 'w')));
      }
      if (!storage->apply(warm)) die("warm-up failed");
    }

    std::vector<std::string> payloads;
    for (std::size_t n : sizes) {
      std::string v(n, '\0');
      for (std::size_t k = 0; k < n; ++k) v[k] = static_cast<char>(k * 7 + 3);
      payloads.push_back(std::move(v));
    }

    // `writers` threads apply batches for `length` seconds; returns batches/s. `phase`
    // keeps the keys of the unmeasured warm-up load and of the measurement apart.
    std::atomic<bool> failed{false};
    const auto run = static_cast<unsigned long>(Clock::now().time_since_epoch().count());
    auto load = [&](double length, int phase) {
      std::atomic<long> total{0};
      auto start = Clock::now();
      auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(length));
      std::vector<std::thread> pool;
      for (int t = 0; t < writers; ++t) {
        pool.emplace_back([&, t] {
          long i = 0;
          std::vector<StorageOp> ops(payloads.size());
          while (Clock::now() < deadline && !failed) {
            for (std::size_t j = 0; j < payloads.size(); ++j) {
              ops[j] = StorageOp::put(make_key(run, phase * 1000 + t, i, j), payloads[j]);
            }
            auto r = storage->apply(ops);
            if (!r) {
              std::fprintf(stderr, "apply: %s\n", r.error().message().c_str());
              failed = true;
              return;
            }
            ++i;
          }
          total += i;
        });
      }
      for (auto& th : pool) th.join();
      double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      return static_cast<double>(total.load()) / elapsed;
    };
    // Unmeasured load first: the checkpoint that the big warm-up transaction triggers, and
    // the first growth of the tree, happen here rather than in the measurement (the
    // server under test has been taking the same load for a while).
    if (warmup_seconds > 0) load(warmup_seconds, 1);
    auto before = storage->stats();
    double rate = load(seconds, 2);
    auto after = storage->stats();
    double writes = static_cast<double>(after.writes - before.writes);
    double commits = static_cast<double>(after.transactions - before.transactions);
    if (failed) {
      status = 1;
    } else {
      std::printf("batches_per_second=%.1f writes_per_commit=%.2f writers=%d batch=%s\n", rate,
                  commits > 0 ? writes / commits : 0, writers, values.c_str());
    }
  }
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
  return status;
}
