// The PostgreSQL plugin over libpq (see postgresql.h).
#include "engines/database/postgresql.h"
#include <utility>

#include <cerrno>
#include <map>
#include <optional>
#include <thread>

#include <libpq-fe.h>
#include <poll.h>

#include "backend/sdk/secure_buffer.h"

namespace leasefs::engines::database {
namespace {

using Clock = std::chrono::steady_clock;

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultFree>;

struct OptionsFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

// The URL with the credential placeholders taken out; the credentials are passed as
// separate connection parameters that override what the URL says.
std::string strip_placeholders(std::string url) {
  for (std::string_view p : {"{{username}}", "{{password}}"}) {
    for (auto pos = url.find(p); pos != std::string::npos; pos = url.find(p, pos)) {
      url.erase(pos, p.size());
    }
  }
  return url;
}

// Removes every occurrence of `secret` from `text` (error messages can quote statements).
std::string redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), "[redacted]");
  }
  return text;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// libpq's message for the connection's last failure, without a trailing newline.
std::string conn_message(PGconn* c) {
  return trim(c ? PQerrorMessage(c) : "out of memory");
}

sdk::Status result_error(PGresult* r, std::string_view secret) {
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  const std::string sqlstate = state ? state : "";
  std::string message = redact(primary ? primary : trim(PQresultErrorMessage(r)), secret);
  sdk::Code code = sdk::Code::kInternal;
  if (sqlstate.starts_with("08") || sqlstate.starts_with("53") || sqlstate == "57P01" ||
      sqlstate == "57P02" || sqlstate == "57P03") {
    code = sdk::Code::kUnavailable;
  } else if (sqlstate == "57014") {
    code = sdk::Code::kDeadlineExceeded;
  }
  return sdk::Status(code, "database error (SQLSTATE " + sqlstate + "): " + message);
}

// How a command is sent: a query string, a query with parameters, a prepared statement
// (by name, with parameters), or the preparation of one.
enum class Send { kQuery, kPrepared, kPrepare };

// Sends `sql` (one or more statements; with `params`, exactly one) and returns the last
// result. With kPrepared `sql` is the statement's name; with kPrepare, the name is
// params[0] and `sql` its text. Waits on the socket until `deadline`; past it the
// connection is left busy and the caller must discard it. `secret` is cut out of
// error messages.
sdk::Result<ResultPtr> run(PGconn* c, const std::string& sql,
                           const std::vector<std::string>& params, Clock::time_point deadline,
                           std::string_view secret = {}, Send how = Send::kQuery) {
  int sent = 0;
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  const int n = static_cast<int>(values.size());
  if (how == Send::kPrepare) {
    sent = PQsendPrepare(c, values.at(0), sql.c_str(), 0, nullptr);
  } else if (how == Send::kPrepared) {
    sent = PQsendQueryPrepared(c, sql.c_str(), n, values.data(), nullptr, nullptr, 0);
  } else if (params.empty()) {
    sent = PQsendQuery(c, sql.c_str());
  } else {
    sent = PQsendQueryParams(c, sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
  }
  if (sent == 0) {
    return sdk::error(sdk::Code::kUnavailable,
                      "database connection failed: " + redact(conn_message(c), secret));
  }
  ResultPtr last;
  std::optional<sdk::Status> first_error;
  while (true) {
    while (PQisBusy(c) != 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return sdk::error(sdk::Code::kDeadlineExceeded, "the database did not answer in time");
      }
      pollfd pfd{PQsocket(c), POLLIN, 0};
      int ready = poll(&pfd, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno != EINTR) {
        return sdk::error(sdk::Code::kUnavailable, "database connection failed: poll");
      }
      if (ready > 0 && PQconsumeInput(c) == 0) {
        return sdk::error(sdk::Code::kUnavailable,
                          "database connection failed: " + redact(conn_message(c), secret));
      }
    }
    ResultPtr r(PQgetResult(c));
    if (!r) break;
    const auto status = PQresultStatus(r.get());
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) {
      if (!first_error) first_error = result_error(r.get(), secret);
    }
    last = std::move(r);
  }
  if (PQstatus(c) != CONNECTION_OK) {
    return sdk::error(sdk::Code::kUnavailable,
                      "database connection failed: " + redact(conn_message(c), secret));
  }
  if (first_error) return sdk::error(*first_error);
  return last;
}

// Fills a statement template with escaped values (see StatementValues).
sdk::Result<std::string> render(PGconn* c, std::string_view statement,
                                const StatementValues& values) {
  struct Placeholder {
    std::string_view token;
    const std::string* value;
    bool identifier;
  };
  const Placeholder placeholders[] = {{"{{name}}", &values.name, true},
                                      {"{{username}}", &values.name, true},
                                      {"{{password}}", &values.password, false},
                                      {"{{expiration}}", &values.expiration, false}};
  std::string out;
  std::size_t i = 0;
  while (i < statement.size()) {
    bool matched = false;
    for (const auto& p : placeholders) {
      // With its quotes ("{{name}}" or '{{password}}'), or bare.
      const char quote = p.identifier ? '"' : '\'';
      std::size_t len = 0;
      if (statement[i] == quote && statement.substr(i + 1).starts_with(p.token) &&
          i + 1 + p.token.size() < statement.size() && statement[i + 1 + p.token.size()] == quote) {
        len = p.token.size() + 2;
      } else if (statement.substr(i).starts_with(p.token)) {
        len = p.token.size();
      }
      if (len == 0) continue;
      char* escaped = p.identifier ? PQescapeIdentifier(c, p.value->data(), p.value->size())
                                   : PQescapeLiteral(c, p.value->data(), p.value->size());
      if (escaped == nullptr) {
        return sdk::invalid_argument("a value cannot be used in a statement: " + conn_message(c));
      }
      out += escaped;
      sdk::wipe(escaped, std::char_traits<char>::length(escaped));
      PQfreemem(escaped);
      i += len;
      matched = true;
      break;
    }
    if (!matched) out.push_back(statement[i++]);
  }
  return out;
}

// A string that holds a password: wiped when it goes.
struct WipedString {
  std::string text;
  ~WipedString() { sdk::wipe(text.data(), text.size()); }
};

// Revoke's lookup: whether the role exists and, in the same round trip, what it was
// granted on this database's tables, views and sequences, its schemas, and on any
// database. Prepared once per connection (planning it costs more than running it).
constexpr const char* kRevokeLookupName = "leasefs_revoke_lookup";
constexpr const char* kRevokeLookupSql =
    "WITH r AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1) "
    "SELECT 'role', '', '' FROM r "
    "UNION ALL SELECT DISTINCT CASE WHEN cl.relkind = 'S' THEN 'sequence' ELSE 'table' END, "
    "n.nspname, cl.relname FROM pg_catalog.pg_class cl "
    "JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace "
    "CROSS JOIN LATERAL pg_catalog.aclexplode(cl.relacl) a "
    "WHERE cl.relacl IS NOT NULL AND a.grantee = (SELECT oid FROM r) "
    "UNION ALL SELECT DISTINCT 'schema', n.nspname, '' FROM pg_catalog.pg_namespace n "
    "CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a "
    "WHERE n.nspacl IS NOT NULL AND a.grantee = (SELECT oid FROM r) "
    "UNION ALL SELECT DISTINCT 'database', d.datname, '' FROM pg_catalog.pg_database d "
    "CROSS JOIN LATERAL pg_catalog.aclexplode(d.datacl) a "
    "WHERE d.datacl IS NOT NULL AND a.grantee = (SELECT oid FROM r)";

}  // namespace

void PgPool::ConnFree::operator()(pg_conn* c) const {
  PQfinish(c);
}

sdk::Result<void> check_connection_url(const std::string& url) {
  if (url.empty()) return sdk::invalid_argument("connection_url cannot be empty");
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, OptionsFree> opts(
      PQconninfoParse(strip_placeholders(url).c_str(), &err));
  if (!opts) {
    std::string message = err ? trim(err) : "out of memory";
    if (err) PQfreemem(err);
    return sdk::invalid_argument("connection_url cannot be parsed: " + message);
  }
  return {};
}

// A connection taken from the pool; goes back (or is closed) when destroyed.
class PgPool::Lease {
 public:
  Lease(PgPool* pool, ConnPtr conn, bool reused)
      : pool_(pool), conn_(std::move(conn)), reused_(reused) {}
  Lease(Lease&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)), conn_(std::move(o.conn_)), reused_(o.reused_) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (pool_ != nullptr) pool_->release(std::move(conn_), healthy());
  }
  PGconn* get() const { return conn_.get(); }
  bool reused() const { return reused_; }
  // Usable by the next caller: connected, idle, not inside a transaction.
  bool healthy() const {
    return conn_ && PQstatus(conn_.get()) == CONNECTION_OK && PQisBusy(conn_.get()) == 0 &&
           PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
  }

 private:
  PgPool* pool_;
  ConnPtr conn_;
  bool reused_;
};

PgPool::PgPool(PgSettings settings) : settings_(std::move(settings)) {
  if (settings_.max_open_connections <= 0) settings_.max_open_connections = 4;
}

PgPool::~PgPool() {
  sdk::wipe(settings_.password.data(), settings_.password.capacity());
}

int PgPool::open_connections() const {
  std::lock_guard lock(mu_);
  return open_;
}

sdk::Result<PgPool::ConnPtr> PgPool::connect() {
  const std::string url = strip_placeholders(settings_.connection_url);
  const std::string timeout = std::to_string(settings_.connect_timeout.count());
  const std::string options =
      "-c statement_timeout=" + std::to_string(settings_.statement_timeout.count());
  std::vector<const char*> keys = {"dbname", "connect_timeout", "options", "application_name"};
  std::vector<const char*> vals = {url.c_str(), timeout.c_str(), options.c_str(), "leasefs"};
  if (!settings_.username.empty()) {
    keys.push_back("user");
    vals.push_back(settings_.username.c_str());
  }
  if (!settings_.password.empty()) {
    keys.push_back("password");
    vals.push_back(settings_.password.c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);
  ConnPtr conn(PQconnectdbParams(keys.data(), vals.data(), 1));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    return sdk::error(
        sdk::Code::kUnavailable,
        "cannot connect to the database: " + redact(conn_message(conn.get()), settings_.password));
  }
  // NOTICEs ("role ... does not exist, skipping") would go to stderr; they carry
  // nothing the engine acts on.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  auto prepared = run(conn.get(), kRevokeLookupSql, {kRevokeLookupName},
                      Clock::now() + settings_.statement_timeout, {}, Send::kPrepare);
  if (!prepared) return sdk::error(prepared.error().with_context("preparing statements"));
  return conn;
}

sdk::Result<PgPool::Lease> PgPool::acquire() {
  std::unique_lock lock(mu_);
  const auto deadline = Clock::now() + settings_.acquire_timeout;
  while (idle_.empty() && open_ >= settings_.max_open_connections) {
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= settings_.max_open_connections) {
      return sdk::error(sdk::Code::kUnavailable,
                        "all " + std::to_string(settings_.max_open_connections) +
                            " database connections are busy");
    }
  }
  while (!idle_.empty()) {
    ConnPtr conn = std::move(idle_.back());
    idle_.pop_back();
    // Reads what the server sent while the connection sat idle: a server that went
    // away has closed it, and the connection shows it now instead of on first use.
    if (PQconsumeInput(conn.get()) == 1 && PQstatus(conn.get()) == CONNECTION_OK) {
      return Lease(this, std::move(conn), true);
    }
    --open_;  // a slot for a new connection, taken below
  }
  ++open_;
  lock.unlock();
  auto conn = connect();
  if (!conn) {
    lock.lock();
    --open_;
    cv_.notify_one();
    return sdk::error(conn.error());
  }
  return Lease(this, std::move(*conn), false);
}

void PgPool::release(ConnPtr conn, bool healthy) {
  ConnPtr drop;
  {
    std::lock_guard lock(mu_);
    if (healthy && conn) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
      drop = std::move(conn);
    }
  }
  cv_.notify_one();
  // `drop` closes outside the lock.
}

void PgPool::close_idle() {
  std::vector<ConnPtr> drop;
  {
    std::lock_guard lock(mu_);
    drop.swap(idle_);
    open_ -= static_cast<int>(drop.size());
  }
  cv_.notify_all();
}

namespace {

// The server rolled the work back because of a concurrent change (serialization
// failure, deadlock, or the "tuple concurrently updated" that concurrent GRANTs on one
// table cause): running it again is safe.
bool conflict(const sdk::Status& status) {
  const std::string& m = status.message();
  return m.find("(SQLSTATE 40001)") != std::string::npos ||
         m.find("(SQLSTATE 40P01)") != std::string::npos ||
         (m.find("(SQLSTATE XX000)") != std::string::npos &&
          m.find("concurrently") != std::string::npos);
}

}  // namespace

template <class Fn>
sdk::Result<void> PgPool::with_connection(Fn&& fn) {
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    auto lease = acquire();
    if (!lease) return sdk::error(lease.error());
    bool progressed = false;
    auto done = fn(lease->get(), progressed);
    if (done || attempt == kAttempts) return done;
    // A pooled connection that broke while idle (the server restarted) before the
    // work was sent: again on a new one (the broken one is dropped by the lease).
    const bool stale =
        !progressed && lease->reused() && done.error().code() == sdk::Code::kUnavailable;
    if (!stale && !conflict(done.error())) return done;
    if (!stale) {
      // Back off a little, with jitter, so the competing transactions spread out.
      thread_local std::uint32_t seed =
          static_cast<std::uint32_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()));
      seed = seed * 1664525u + 1013904223u;
      std::this_thread::sleep_for(std::chrono::milliseconds(2 * attempt + (seed >> 28)));
    }
  }
}

sdk::Result<void> PgPool::verify() {
  return with_connection([&](PGconn* c, bool& progressed) -> sdk::Result<void> {
    auto r = run(c, "SELECT 1", {}, Clock::now() + settings_.statement_timeout);
    if (!r) return sdk::error(r.error());
    progressed = true;
    return {};
  });
}

namespace {

// Runs `statements` rendered with `values` as one query string: PostgreSQL runs the
// statements of one simple query in one implicit transaction, so they commit together
// or not at all, in a single round trip. `progressed` turns true when the work is sent
// (from then on a retry after a broken connection could repeat it).
sdk::Result<void> run_transaction(PGconn* c, const std::vector<std::string>& statements,
                                  const StatementValues& values, Clock::duration timeout,
                                  bool& progressed) {
  WipedString batch;
  for (const auto& statement : statements) {
    auto sql = render(c, statement, values);
    if (!sql) return sdk::error(sql.error());
    WipedString text{std::move(*sql)};
    batch.text += text.text;
    batch.text += ";\n";
  }
  progressed = true;
  auto r = run(c, batch.text, {}, Clock::now() + timeout, values.password);
  if (!r) return sdk::error(r.error());
  return {};
}

// True when a role named `name` exists.
sdk::Result<bool> role_exists(PGconn* c, const std::string& name, Clock::duration timeout) {
  auto r = run(c, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", {name},
               Clock::now() + timeout);
  if (!r) return sdk::error(r.error());
  return PQntuples(r->get()) > 0;
}

}  // namespace

sdk::Result<void> PgPool::create_user(const std::vector<std::string>& creation,
                                      const std::vector<std::string>& rollback,
                                      const StatementValues& values) {
  if (creation.empty()) return sdk::invalid_argument("the role has no creation statements");
  const auto timeout = settings_.statement_timeout + std::chrono::seconds(5);
  return with_connection([&](PGconn* c, bool& progressed) -> sdk::Result<void> {
    auto done = run_transaction(c, creation, values, timeout, progressed);
    if (done || !progressed || rollback.empty()) return done;
    if (PQstatus(c) == CONNECTION_OK && PQisBusy(c) == 0) {
      bool ignored = false;
      (void)run_transaction(c, rollback, values, timeout, ignored);
    }
    return done;
  });
}

sdk::Result<void> PgPool::renew_user(const std::vector<std::string>& renew,
                                     const StatementValues& values) {
  static const std::vector<std::string> kDefault = {
      "ALTER ROLE {{name}} VALID UNTIL {{expiration}}"};
  const auto timeout = settings_.statement_timeout + std::chrono::seconds(5);
  return with_connection([&](PGconn* c, bool& progressed) -> sdk::Result<void> {
    auto exists = role_exists(c, values.name, timeout);
    if (!exists) return sdk::error(exists.error());
    if (!*exists) return sdk::not_found("the database role of this lease no longer exists");
    return run_transaction(c, renew.empty() ? kDefault : renew, values, timeout, progressed);
  });
}

sdk::Result<void> PgPool::revoke_user(const std::vector<std::string>& revocation,
                                      const std::string& username, bool terminate_sessions) {
  const auto timeout = settings_.statement_timeout + std::chrono::seconds(5);
  return with_connection([&](PGconn* c, bool& progressed) -> sdk::Result<void> {
    auto found = run(c, kRevokeLookupName, {username}, Clock::now() + timeout, {}, Send::kPrepared);
    if (!found) return sdk::error(found.error());
    PGresult* rows = found->get();
    if (PQntuples(rows) == 0) return {};  // already gone (dropped by hand, or revoked)
    if (terminate_sessions) {
      auto ended = run(c,
                       "SELECT pg_catalog.pg_terminate_backend(pid) FROM "
                       "pg_catalog.pg_stat_activity WHERE usename = $1",
                       {username}, Clock::now() + timeout);
      if (!ended) return sdk::error(ended.error());
    }
    const StatementValues values{.name = username, .password = {}, .expiration = {}};
    if (!revocation.empty()) {
      return run_transaction(c, revocation, values, timeout, progressed);
    }
    auto identifier = [c](const char* text) -> std::optional<std::string> {
      char* escaped = PQescapeIdentifier(c, text, std::char_traits<char>::length(text));
      if (escaped == nullptr) return std::nullopt;
      std::string out = escaped;
      PQfreemem(escaped);
      return out;
    };
    std::vector<std::string> statements;
    for (int row = 0; row < PQntuples(rows); ++row) {
      const std::string kind = PQgetvalue(rows, row, 0);
      if (kind == "role") continue;
      auto first = identifier(PQgetvalue(rows, row, 1));
      if (!first) return sdk::internal_error("cannot escape: " + conn_message(c));
      if (kind == "table" || kind == "sequence") {
        auto relation = identifier(PQgetvalue(rows, row, 2));
        if (!relation) return sdk::internal_error("cannot escape: " + conn_message(c));
        statements.push_back("REVOKE ALL PRIVILEGES ON " +
                             std::string(kind == "table" ? "TABLE " : "SEQUENCE ") + *first + "." +
                             *relation + " FROM {{name}}");
      } else if (kind == "schema") {
        statements.push_back("REVOKE ALL PRIVILEGES ON SCHEMA " + *first + " FROM {{name}}");
      } else {
        statements.push_back("REVOKE ALL PRIVILEGES ON DATABASE " + *first + " FROM {{name}}");
      }
    }
    statements.push_back("DROP ROLE IF EXISTS {{name}}");
    // The templates above are the engine's own; only the role name is filled in.
    return run_transaction(c, statements, values, timeout, progressed);
  });
}

sdk::Result<void> PgPool::rotate_root(const std::vector<std::string>& statements,
                                      const std::string& new_password) {
  static const std::vector<std::string> kDefault = {
      "ALTER ROLE {{username}} WITH PASSWORD {{password}}"};
  if (settings_.username.empty()) {
    return sdk::invalid_argument("unable to rotate root credentials: no username in config");
  }
  const auto timeout = settings_.statement_timeout + std::chrono::seconds(5);
  const StatementValues values{
      .name = settings_.username, .password = new_password, .expiration = {}};
  return with_connection([&](PGconn* c, bool& progressed) -> sdk::Result<void> {
    return run_transaction(c, statements.empty() ? kDefault : statements, values, timeout,
                           progressed);
  });
}

}  // namespace leasefs::engines::database
