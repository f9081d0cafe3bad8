// database_bench: dynamic PostgreSQL credentials issued and revoked per second through
// the database engine (creds/<role>, then the lease's revoke), against a throwaway local
// cluster (tests/support/postgres_fixture.h), next to a baseline measured in the same
// run: the same CREATE ROLE ... PASSWORD ... VALID UNTIL + GRANT, then DROP ROLE, sent
// as plain SQL over one libpq connection (no pool, escaping, transaction, TTL maths or
// revoke's privilege lookup). Vault's own published figure is about 226 creds/s on its
// reference setup. Rounds interleave subject and baseline; medians are printed.
//
//   database_bench [--count 300] [--rounds 3] [--threads 4]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/storage/inmem_storage.h"
#include "engines/database/database.h"
#include "tests/support/postgres_fixture.h"

namespace {

namespace sdk = leasefs::backend::sdk;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

// Only before the cluster exists or from main: its destructor must run to stop it.
[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "database_bench: %s\n", message.c_str());
  std::exit(1);
}

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Engine {
  leasefs::backend::storage::InmemStorage storage;
  std::unique_ptr<sdk::Backend> backend;

  sdk::Request request(sdk::Operation op, std::string path, json data = json::object()) {
    sdk::Request r;
    r.operation = op;
    r.path = std::move(path);
    r.mount_point = "database/";
    r.data = std::move(data);
    r.caller.display_name = "bench";
    r.storage = &storage;
    r.clock = &sdk::SystemClock::instance();
    r.random = &sdk::SystemRandom::instance();
    return r;
  }
};

// `count` creds + revokes through the engine from `threads` threads; creds/s.
double engine_round(Engine& e, int count, int threads) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  const auto start = Steady::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (next.fetch_add(1) < count && !failed) {
        auto req = e.request(sdk::Operation::kRead, "creds/bench");
        auto r = e.backend->handle(req);
        if (!r || !r->secret) {
          std::fprintf(stderr, "creds: %s\n", r ? "no secret" : r.error().message().c_str());
          failed = true;
          return;
        }
        sdk::LeaseInfo lease{.lease_id = "database/creds/bench/x",
                             .secret_type = r->secret->type,
                             .internal = r->secret->internal,
                             .issue_time = {},
                             .expire_time = {},
                             .increment = {}};
        auto rreq = e.request(sdk::Operation::kUpdate, "sys/leases/revoke");
        auto done = e.backend->revoke_secret(rreq, lease);
        if (!done) {
          std::fprintf(stderr, "revoke: %s\n", done.error().message().c_str());
          failed = true;
          return;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  return failed ? -1 : count / seconds_since(start);
}

// Runs `sql` (one implicit transaction); again when a concurrent GRANT made it fail, as
// the engine does. False when it keeps failing.
bool exec(PGconn* c, const std::string& sql) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    PGresult* r = PQexec(c, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * attempt + 1));
  }
  std::fprintf(stderr, "baseline: %s", PQerrorMessage(c));
  return false;
}

// `count` CREATE ROLE + GRANT, DROP ROLE as plain SQL on one connection per thread.
double baseline_round(const leasefs::testing::PostgresServer& pg, int count, int threads,
                      int round) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  const auto start = Steady::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      PGconn* c = PQconnectdb(pg.conninfo().c_str());
      if (PQstatus(c) != CONNECTION_OK) failed = true;
      for (int i; !failed && (i = next.fetch_add(1)) < count;) {
        const std::string name = "\"b-" + std::to_string(round) + "-" + std::to_string(t) + "-" +
                                 std::to_string(i) + "\"";
        if (!exec(c, "CREATE ROLE " + name +
                         " WITH LOGIN PASSWORD 'Aa1-bench-password-x' VALID UNTIL '2099-01-01 "
                         "00:00:00+00:00'; GRANT SELECT ON public.items TO " +
                         name) ||
            !exec(c,
                  "REVOKE ALL PRIVILEGES ON public.items FROM " + name + "; DROP ROLE " + name)) {
          failed = true;
        }
      }
      PQfinish(c);
    });
  }
  for (auto& th : pool) th.join();
  return failed ? -1 : count / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"database_bench"};
  int count = 300, rounds = 3, threads = 4;
  app.add_option("--count", count, "creds per round");
  app.add_option("--rounds", rounds, "interleaved rounds");
  app.add_option("--threads", threads, "concurrent clients for the parallel rows");
  CLI11_PARSE(app, argc, argv);

  auto started = leasefs::testing::PostgresServer::start();
  if (!started) die(started.error());
  auto& pg = **started;
  // From here on errors return from main, so the cluster's destructor stops it.
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "database_bench: %s\n", message.c_str());
    return 1;
  };
  if (auto setup = pg.admin_query("CREATE TABLE public.items (id int)"); !setup)
    return fail(setup.error());

  Engine e;
  sdk::BackendConfig config{.mount_path = "database/",
                            .type = "database",
                            .options = {},
                            .storage = &e.storage,
                            .clock = &sdk::SystemClock::instance(),
                            .random = &sdk::SystemRandom::instance()};
  auto made = leasefs::engines::database::make_database(config);
  if (!made) return fail(made.error().message());
  e.backend = std::move(*made);
  auto w = e.request(sdk::Operation::kUpdate, "config/main",
                     {{"plugin_name", "postgresql-database-plugin"},
                      {"connection_url", pg.connection_url()},
                      {"username", pg.superuser()},
                      {"password", pg.superuser_password()},
                      {"allowed_roles", "*"},
                      {"max_open_connections", threads}});
  if (auto r = e.backend->handle(w); !r) return fail(r.error().message());
  auto role = e.request(
      sdk::Operation::kUpdate, "roles/bench",
      {{"db_name", "main"},
       {"creation_statements",
        json::array({"CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL "
                     "'{{expiration}}';",
                     "GRANT SELECT ON public.items TO \"{{name}}\";"})},
       {"default_ttl", "1h"}});
  if (auto r = e.backend->handle(role); !r) return fail(r.error().message());

  std::printf("database_bench: %d creds+revoke per round, %d rounds, PostgreSQL on loopback\n",
              count, rounds);
  for (int t : {1, threads}) {
    std::vector<double> subject, baseline;
    for (int round = 0; round < rounds; ++round) {
      subject.push_back(engine_round(e, count, t));
      baseline.push_back(baseline_round(pg, count, t, round * 10 + t));
      if (subject.back() < 0 || baseline.back() < 0) {
        std::fprintf(stderr, "database_bench: a round failed\n");
        return 1;  // the cluster is stopped by its destructor
      }
    }
    const double s = median(subject), b = median(baseline);
    std::printf(
        "  %d client%s: engine %.0f creds+revokes/s, raw libpq CREATE/DROP ROLE %.0f/s, "
        "ratio %.2f (Vault's published figure: ~226 creds/s)\n",
        t, t == 1 ? " " : "s", s, b, s / b);
  }
  return 0;
}
