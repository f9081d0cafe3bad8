// The database engine's PostgreSQL plugin: a bounded pool of libpq connections for one
// database config, and the four things the engine asks of a database — make a user,
// move its expiry, drop it, and change the root password. Every wait is bounded:
// connecting (connect_timeout), waiting for a free connection, and every statement
// (server-side statement_timeout plus a client-side deadline polled on the socket, so a
// database that stops answering cannot hang a request). Identifiers and literals that go
// into statements are escaped with libpq's PQescapeIdentifier and PQescapeLiteral.
// Internal to engines/database.
//
// Errors: kUnavailable when the database cannot be reached or a connection broke
// (HTTP 502), kDeadlineExceeded when it did not answer in time (504), kInternal when a
// statement failed (the message names the SQLSTATE and PostgreSQL's text, with any
// generated password cut out), kInvalidArgument for a connection URL libpq cannot parse.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/status.h"

struct pg_conn;

namespace leasefs::engines::database {

namespace sdk = ::leasefs::backend::sdk;

struct PgSettings {
  // Vault's connection_url, e.g. "postgresql://{{username}}:{{password}}@db:5432/app";
  // the placeholders are filled from username/password (a key=value conninfo works too).
  std::string connection_url{};
  std::string username{};
  std::string password{};
  int max_open_connections = 4;
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds statement_timeout{10'000};
  // Longest wait for a free connection when all are busy.
  std::chrono::milliseconds acquire_timeout{10'000};
};

// Checks that libpq can parse the URL (placeholders removed). invalid_argument with
// libpq's message otherwise.
sdk::Result<void> check_connection_url(const std::string& url);

// Values a statement template may use: {{name}} / {{username}} (an identifier),
// {{password}} and {{expiration}} (literals). A placeholder that the statement already
// wraps in quotes ("{{name}}", '{{password}}') is replaced together with its quotes.
struct StatementValues {
  std::string name{};
  std::string password{};
  std::string expiration{};
};

class PgPool {
 public:
  explicit PgPool(PgSettings settings);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Opens (or reuses) a connection and runs SELECT 1.
  sdk::Result<void> verify();
  // Runs the creation statements in one transaction. On any failure the transaction is
  // rolled back, then the rollback statements run (best effort, their errors ignored),
  // and the first error is returned. Thread-safe, like every method here.
  sdk::Result<void> create_user(const std::vector<std::string>& creation,
                                const std::vector<std::string>& rollback,
                                const StatementValues& values);
  // Runs the renew statements (default: ALTER ROLE .. VALID UNTIL ..) in a transaction.
  // not_found when the role no longer exists.
  sdk::Result<void> renew_user(const std::vector<std::string>& renew,
                               const StatementValues& values);
  // Drops the user: with no statements, revokes what it was granted in this database
  // (on tables, sequences, schemas, databases) and drops the role, in one transaction;
  // with statements, runs them in one. Succeeds without doing anything when the role
  // does not exist. With `terminate_sessions`, ends the role's sessions first.
  sdk::Result<void> revoke_user(const std::vector<std::string>& revocation,
                                const std::string& username, bool terminate_sessions);
  // Sets the root user's password to `new_password` (default statement: ALTER ROLE
  // {{username}} WITH PASSWORD {{password}}). The pool keeps using the old password
  // for its open connections; callers replace the pool afterwards.
  sdk::Result<void> rotate_root(const std::vector<std::string>& statements,
                                const std::string& new_password);
  // Closes idle connections (busy ones close when returned).
  void close_idle();
  int open_connections() const;

 private:
  struct ConnFree {
    void operator()(pg_conn* c) const;
  };
  using ConnPtr = std::unique_ptr<pg_conn, ConnFree>;
  class Lease;

  sdk::Result<ConnPtr> connect();
  sdk::Result<Lease> acquire();
  void release(ConnPtr conn, bool healthy);
  // Runs `fn` on a pooled connection; when the connection turns out to be broken before
  // anything was sent on it (a stale pooled connection), retries once on a fresh one.
  template <class Fn>
  sdk::Result<void> with_connection(Fn&& fn);

  PgSettings settings_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ConnPtr> idle_;
  int open_ = 0;
};

}  // namespace leasefs::engines::database
