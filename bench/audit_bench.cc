// audit_bench: what auditing costs per request. Runs the broker's request path —
// log_request + log_response for a request with ~1 KiB of data and a ~1 KiB response —
// with no device enabled (the baseline, what the core pays when audit is off), with a
// file device (fsync=interval, the default; and fsync=always), and with a discard
// device (formatting, HMACs, chain and the writer hand-off, but no I/O), from 1 thread
// and from N threads, in the same run; for the file device also with both entries in one
// write, as for a refused request. Also times `audit verify` on the file produced.
// Prints pairs/s, entries/s, CPU microseconds per entry, and the ratio against the
// baseline. The target (kv reads with audit on >= 0.8x audit off) is measured
// at the server; the per-entry CPU cost printed here is what decides it.
// Then the server's share of a mount's open: a POST sys/access-events body of 500
// events shaped as a mount sends them, parsed (try_parse_access_events, the baseline)
// and parsed + logged to a file device, in CPU microseconds per event.
//
//   audit_bench [--seconds 2] [--threads 4] [--dir /tmp]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include "backend/audit/broker.h"
#include "backend/audit/chain.h"

namespace {

namespace fs = std::filesystem;
namespace audit = leasefs::backend::audit;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "audit_bench: %s\n", message.c_str());
  std::exit(1);
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A kv-v2-write-shaped request: ~1 KiB of data in 16 string fields and a few numbers.
audit::AuditRequest make_request(long i) {
  audit::AuditRequest r;
  r.id = "6f1c2a8e-3b4d-4e5f-8a9b-" + std::to_string(100000000000 + i);
  r.operation = "update";
  r.path = "secret/data/services/payments/db";
  r.mount_point = "secret/";
  r.mount_type = "kv";
  r.mount_accessor = "kv_1f2e3d4c";
  r.client_token = "hvs.CAESIJx1y2z3a4b5c6d7e8f9g0h1i2j3k4l5m6n7o8p9q0r";
  r.client_token_accessor = "Xy7Qw3Er5Ty8Ui9Op0As1Df2";
  nlohmann::json fields = nlohmann::json::object();
  for (int f = 0; f < 16; ++f) {
    fields["field_" + std::to_string(f)] = std::string(48, static_cast<char>('a' + f)) + "-value";
  }
  fields["port"] = 5432;
  fields["enabled"] = true;
  r.data = {{"data", fields}, {"options", {{"cas", 3}}}};
  r.remote_address = "10.20.30.40";
  r.remote_port = 53122;
  audit::AuditAuth auth;
  auth.client_token = r.client_token;
  auth.accessor = r.client_token_accessor;
  auth.display_name = "approle-payments";
  auth.policies = {"default", "payments-rw"};
  auth.token_policies = auth.policies;
  auth.metadata = {{"role_name", "payments"}};
  auth.token_type = "service";
  auth.token_ttl = 3600;
  auth.policy_results = audit::PolicyResults{.allowed = true, .granting_policies = {"payments-rw"}};
  r.auth = auth;
  return r;
}

audit::AuditResponse make_response() {
  audit::AuditResponse resp;
  nlohmann::json data = nlohmann::json::object();
  for (int f = 0; f < 16; ++f) data["k" + std::to_string(f)] = std::string(56, 'v');
  resp.data = {{"data", data},
               {"metadata", {{"created_time", "2026-11-28T13:24:54.123456789Z"}, {"version", 4}}}};
  resp.mount_point = "secret/";
  resp.mount_type = "kv";
  return resp;
}

struct Result {
  double pairs_per_second = 0;
  double cpu_us_per_pair = 0;
};

// `together`: the two entries written in one go (defer_request + log_exchange), as for
// a refused request, instead of one log call each.
Result run(audit::Broker& broker, double seconds, int threads, bool together = false) {
  std::atomic<long> pairs{0};
  std::atomic<bool> failed{false};
  const auto response = make_response();
  const double cpu0 = cpu_seconds();
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      long i = static_cast<long>(t) << 32;
      long done = 0;
      while (Clock::now() < deadline) {
        auto req = make_request(i++);
        const bool logged =
            together ? broker.log_exchange(req, broker.defer_request(), response).has_value()
                     : broker.log_request(req) && broker.log_response(req, response);
        if (!logged) {
          failed = true;
          return;
        }
        ++done;
      }
      pairs += done;
    });
  }
  for (auto& th : pool) th.join();
  if (failed) die("a log call failed");
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu0;
  return Result{.pairs_per_second = static_cast<double>(pairs.load()) / elapsed,
                .cpu_us_per_pair = cpu * 1e6 / static_cast<double>(std::max(1L, pairs.load()))};
}

// Cost of building the request objects alone (subtracted nowhere; printed for scale).
Result run_inputs_only(double seconds) {
  const double cpu0 = cpu_seconds();
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  long pairs = 0;
  std::size_t sink = 0;
  while (Clock::now() < deadline) {
    auto req = make_request(pairs++);
    sink += req.id.size();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (sink == 0) die("unreachable");
  return Result{.pairs_per_second = static_cast<double>(pairs) / elapsed,
                .cpu_us_per_pair = (cpu_seconds() - cpu0) * 1e6 / static_cast<double>(pairs)};
}

// A batch as a mount posts it (fs/access_audit.cc): 500 opens of one cached file by
// one reader, each with its own pid and time.
std::string access_batch() {
  std::string body = "{\"events\":[";
  for (int i = 0; i < 500; ++i) {
    if (i > 0) body += ',';
    body += "{\"time\":\"2026-11-29T09:22:10." + std::to_string(100000000 + i * 1731) +
            "Z\",\"host\":\"web-7.internal\",\"mount\":\"/run/secrets\",\"file\":\"app/"
            "api_key\",\"path\":\"secret/data/app\",\"lease_id\":\"\",\"exe\":\"/usr/bin/"
            "python3.11\",\"cgroup\":\"/system.slice/app.service\",\"result\":\"allowed\","
            "\"pid\":" +
            std::to_string(20000 + i) + ",\"uid\":1000,\"gid\":1000}";
  }
  return body + "]}";
}

// CPU microseconds per event: parse `body` and, with `log`, log the events.
double run_access(audit::Broker* broker, const std::string& body, double seconds) {
  audit::AccessReporter reporter{.request_id = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
                                 .client_token = "hvs.CAESIJx1y2z3a4b5c6d7e8f9g0h1i2j3k4l5",
                                 .accessor = "Xy7Qw3Er5Ty8Ui9Op0As1Df2",
                                 .display_name = "token-mount-web-7",
                                 .remote_address = "10.20.30.40:51164"};
  const double cpu0 = cpu_seconds();
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(seconds));
  long events = 0;
  while (Clock::now() < deadline) {
    auto parsed = audit::try_parse_access_events(body, std::chrono::system_clock::now());
    if (!parsed) die("the access-event batch did not parse");
    if (broker != nullptr) {
      if (auto logged = broker->log_access_events(*parsed, reporter); !logged) {
        die(logged.error().message());
      }
    }
    events += static_cast<long>(parsed->size());
  }
  return (cpu_seconds() - cpu0) * 1e6 / static_cast<double>(std::max(1L, events));
}

// Enables a file device (file_path in `options`) or dies.
void enable(audit::Broker& broker, const std::string& name,
            std::map<std::string, std::string> options) {
  audit::DeviceSpec spec;
  spec.path = name;
  spec.type = "file";
  spec.options = std::move(options);
  if (auto enabled = broker.enable(spec); !enabled) die(enabled.error().message());
}

void run_access_section(const fs::path& work, double seconds) {
  const std::string body = access_batch();
  audit::Broker broker;
  enable(broker, "file", {{"file_path", (work / "access.log").string()}});
  const double parse = run_access(nullptr, body, seconds);
  const double logged = run_access(&broker, body, seconds);
  broker.close_all();
  std::printf(
      "  access events (500 per batch, %zu bytes): parse %.2f us CPU/event, "
      "parse + file device %.2f us CPU/event (%.2fx)\n",
      body.size(), parse, logged, logged / parse);
}

void print(const char* name, int threads, const Result& r, const Result& baseline) {
  std::printf("  %-34s %2d thr  %9.0f pairs/s  %9.0f entries/s  %6.1f us CPU/entry  %6.4fx\n", name,
              threads, r.pairs_per_second, 2 * r.pairs_per_second, r.cpu_us_per_pair / 2,
              r.pairs_per_second / baseline.pairs_per_second);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  int threads = 4;
  std::string dir = fs::temp_directory_path().string();
  CLI::App app{"audit_bench: cost of audit entries per request"};
  app.add_option("--seconds", seconds, "seconds per measurement");
  app.add_option("--threads", threads, "threads for the concurrent runs");
  app.add_option("--dir", dir, "directory for the audit file (a real disk)");
  bool access_only = false;
  app.add_flag("--access-only", access_only, "measure the access-event batches only");
  CLI11_PARSE(app, argc, argv);

  std::string pattern = (fs::path(dir) / "leasefs-audit-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) die("cannot create a directory under " + dir);
  const fs::path work = pattern;
  const std::string log_path = (work / "audit.log").string();

  std::printf(
      "audit_bench: log_request + log_response per request (~1 KiB request data, "
      "~1 KiB response data), %.1f s each\n",
      seconds);
  std::printf("  %-34s %2s      %9s         %9s            %6s\n", "pipeline", "", "", "", "");

  if (access_only) {
    run_access_section(work, seconds);
    std::error_code ec;
    fs::remove_all(work, ec);
    return 0;
  }
  const Result inputs = run_inputs_only(seconds);
  std::printf("  (building the AuditRequest alone: %.1f us CPU per request)\n",
              inputs.cpu_us_per_pair);

  Result base1;
  Result base_n;
  {
    audit::Broker broker;
    base1 = run(broker, seconds, 1);
    base_n = run(broker, seconds, threads);
  }
  print("no device (baseline)", 1, base1, base1);
  print("no device (baseline)", threads, base_n, base_n);

  {
    audit::Broker broker;
    enable(broker, "discard", {{"file_path", "discard"}});
    print("discard device (format+chain)", 1, run(broker, seconds, 1), base1);
    print("discard device (format+chain)", threads, run(broker, seconds, threads), base_n);
  }
  {
    audit::Broker broker;
    enable(broker, "file", {{"file_path", log_path}});
    print("file device, fsync=interval", 1, run(broker, seconds, 1), base1);
    print("file device, fsync=interval", threads, run(broker, seconds, threads), base_n);
    print("  same, both entries in one write", 1, run(broker, seconds, 1, true), base1);
    print("  same, both entries in one write", threads, run(broker, seconds, threads, true),
          base_n);
    broker.close_all();
  }
  {
    audit::Broker broker;
    enable(broker, "file", {{"file_path", (work / "always.log").string()}, {"fsync", "always"}});
    print("file device, fsync=always", 1, run(broker, seconds, 1), base1);
    print("file device, fsync=always", threads, run(broker, seconds, threads), base_n);
    broker.close_all();
  }

  run_access_section(work, seconds);

  std::error_code ec;
  const auto size = fs::file_size(log_path, ec);
  const auto start = Clock::now();
  auto verified = audit::verify_log(log_path);
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  if (!verified) die(verified.error().message());
  std::printf("  verify: %llu entries (%.0f MB) in %.2f s: %.0f entries/s, %.0f MB/s\n",
              static_cast<unsigned long long>(verified->entries), static_cast<double>(size) / 1e6,
              took, static_cast<double>(verified->entries) / took,
              static_cast<double>(size) / 1e6 / took);
  fs::remove_all(work, ec);
  return 0;
}
