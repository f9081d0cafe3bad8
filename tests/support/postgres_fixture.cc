// A throwaway PostgreSQL cluster for tests (see postgres_fixture.h).
#include "tests/support/postgres_fixture.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace leasefs::testing {
namespace {

namespace fs = std::filesystem;

std::string find_bin_dir() {
  if (const char* env = std::getenv("LEASEFS_PG_BIN"); env != nullptr && *env != '\0') {
    return env;
  }
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const int version = std::atoi(name.c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

std::string random_password() {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 24; ++i) out.push_back(kAlphabet[rd() % (sizeof kAlphabet - 1)]);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Reaps `pid` within `timeout`; true when it exited.
bool wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

std::uint16_t free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::expected<std::unique_ptr<PostgresServer>, std::string> PostgresServer::start(
    std::chrono::milliseconds timeout) {
  std::unique_ptr<PostgresServer> pg(new PostgresServer());
  pg->bin_dir_ = find_bin_dir();
  if (pg->bin_dir_.empty() || !fs::exists(pg->bin_dir_ + "/postgres")) {
    return std::unexpected(
        "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (install the "
        "postgresql package, or set LEASEFS_PG_BIN)");
  }
  // PostgreSQL refuses to run as root: use its own account, else nobody.
  if (geteuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr) pw = getpwnam("nobody");
    if (pw == nullptr) return std::unexpected("neither a postgres nor a nobody user exists");
    pg->uid_ = pw->pw_uid;
    pg->gid_ = pw->pw_gid;
  } else {
    pg->uid_ = geteuid();
    pg->gid_ = getegid();
  }

  // Under /tmp, not $TMPDIR: the unprivileged user must be able to reach it.
  std::string templ = "/tmp/leasefs-pg-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) return std::unexpected("mkdtemp failed");
  pg->dir_ = templ;
  pg->data_dir_ = pg->dir_ + "/data";
  pg->socket_dir_ = pg->dir_ + "/sock";
  pg->log_file_ = pg->dir_ + "/postgres.log";
  chmod(pg->dir_.c_str(), 0755);
  const std::string pwfile = pg->dir_ + "/pwfile";
  pg->password_ = random_password();
  {
    std::ofstream out(pwfile);
    out << pg->password_ << "\n";
  }
  mkdir(pg->data_dir_.c_str(), 0700);
  mkdir(pg->socket_dir_.c_str(), 0700);
  for (const auto& p : {pg->data_dir_, pg->socket_dir_, pwfile}) {
    if (chown(p.c_str(), pg->uid_, pg->gid_) != 0) {
      return std::unexpected("chown " + p + ": " + std::strerror(errno));
    }
  }
  chmod(pwfile.c_str(), 0600);

  std::vector<std::string> argv;
  if (geteuid() == 0) {
    argv = {"/usr/bin/setpriv", "--reuid=" + std::to_string(pg->uid_),
            "--regid=" + std::to_string(pg->gid_), "--clear-groups"};
  }
  for (const std::string& a :
       {pg->bin_dir_ + "/initdb", std::string("-D"), pg->data_dir_, std::string("-U"),
        pg->superuser_, std::string("-E"), std::string("UTF8"), std::string("--no-locale"),
        std::string("--auth-local=trust"), std::string("--auth-host=scram-sha-256"),
        "--pwfile=" + pwfile, std::string("--no-sync"), std::string("--no-instructions")}) {
    argv.push_back(a);
  }
  auto init = run_process(argv, "", timeout);
  fs::remove(pwfile);
  if (init.exit_code != 0) {
    return std::unexpected("initdb failed (exit " + std::to_string(init.exit_code) +
                           "): " + init.out + init.err);
  }
  // A few attempts: another process may take the port between probing and binding.
  std::string last_error;
  for (int attempt = 0; attempt < 3; ++attempt) {
    pg->port_ = free_loopback_port();
    auto launched = pg->launch(timeout);
    if (launched) return pg;
    last_error = launched.error();
  }
  return std::unexpected(last_error);
}

std::expected<void, std::string> PostgresServer::launch(std::chrono::milliseconds timeout) {
  const std::string port = std::to_string(port_);
  std::vector<std::string> args = {bin_dir_ + "/postgres",
                                   "-D",
                                   data_dir_,
                                   "-p",
                                   port,
                                   "-k",
                                   socket_dir_,
                                   "-c",
                                   "listen_addresses=127.0.0.1",
                                   "-c",
                                   "fsync=off",
                                   "-c",
                                   "full_page_writes=off",
                                   "-c",
                                   "max_connections=200",
                                   "-c",
                                   "logging_collector=off"};
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  int log_fd = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return std::unexpected("cannot open " + log_file_);
  const bool drop = geteuid() == 0;
  const uid_t uid = uid_;
  const gid_t gid = gid_;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return std::unexpected("fork failed");
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    if (drop && (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
                 setresuid(uid, uid, uid) != 0)) {
      _exit(126);
    }
    // Set after the uid change, which would clear it. SIGQUIT is PostgreSQL's
    // immediate shutdown.
    prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (getppid() != parent) _exit(125);
    execv(raw[0], raw.data());
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;

  const std::string ping = "host=127.0.0.1 port=" + port + " dbname=postgres connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return std::unexpected("postgres exited during start: " + log());
    }
    if (PQping(ping.c_str()) == PQPING_OK) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      stop();
      return std::unexpected("postgres did not accept connections in time: " + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

PostgresServer::~PostgresServer() {
  stop();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

bool PostgresServer::stop() {
  if (pid_ <= 0) return true;
  kill(pid_, SIGCONT);
  kill(pid_, SIGQUIT);
  bool gone = wait_for_exit(pid_, std::chrono::seconds(10));
  if (!gone) {
    kill(pid_, SIGKILL);
    gone = wait_for_exit(pid_, std::chrono::seconds(5));
  }
  pid_ = -1;
  // An immediate shutdown waits for the backends; a killed postmaster may leave its
  // pid file, which would block a restart on the same directory.
  if (!gone) {
    std::error_code ec;
    fs::remove(data_dir_ + "/postmaster.pid", ec);
  }
  return gone;
}

std::expected<void, std::string> PostgresServer::restart(std::chrono::milliseconds timeout) {
  stop();
  return launch(timeout);
}

void PostgresServer::pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void PostgresServer::resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

std::string PostgresServer::log() const {
  return read_file(log_file_);
}

std::string PostgresServer::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + superuser_ +
         " password=" + password_ + " dbname=" + dbname + " connect_timeout=5";
}

std::string PostgresServer::connection_url(const std::string& dbname) const {
  return "postgresql://{{username}}:{{password}}@127.0.0.1:" + std::to_string(port_) + "/" +
         dbname + "?sslmode=disable";
}

ProcessResult PostgresServer::psql(const std::string& user, const std::string& password,
                                   const std::string& sql, const std::string& dbname) const {
  return run_process({bin_dir_ + "/psql", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U",
                      user, "-d", dbname, "-w", "-tAX", "-v", "ON_ERROR_STOP=1", "-c", sql},
                     "", std::chrono::seconds(30),
                     {"PGPASSWORD=" + password, "PGCONNECT_TIMEOUT=5", "PGSSLMODE=disable"});
}

std::expected<std::string, std::string> PostgresServer::admin_query(
    const std::string& sql, const std::string& dbname) const {
  auto r = psql(superuser_, password_, sql, dbname);
  if (r.exit_code != 0) return std::unexpected(r.err.empty() ? r.out : r.err);
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace leasefs::testing
