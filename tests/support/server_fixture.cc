// A live leasefs server child for tests, and Vault API calls against it.
#include "tests/support/server_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "backend/api/client.h"

extern char** environ;

namespace leasefs::testing {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kAddressMarker = "Api Address:";

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

// Appends what is readable on `fd` to `out`; false at EOF or on a hard error.
bool read_some(int fd, std::string& out) {
  char buf[16384];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN;
  }
}

std::string tail(const std::string& text, std::size_t n = 6000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

const char kPkiConfig[] = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = leasefs test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";

}  // namespace

std::string_view storage_name(StorageKind kind) {
  switch (kind) {
    case StorageKind::kDev: return "dev";
    case StorageKind::kInmem: return "inmem";
    case StorageKind::kSqlite: return "sqlite";
  }
  return "unknown";
}

std::expected<TestPki, std::string> make_test_pki(const std::string& dir) {
  const std::string openssl = "/usr/bin/openssl";
  const std::string cnf = dir + "/pki.cnf";
  if (!write_file(cnf, kPkiConfig)) return std::unexpected("cannot write " + cnf);
  TestPki pki{.ca_file = dir + "/ca.pem", .cert_file = dir + "/server.pem",
              .key_file = dir + "/server.key"};
  const std::vector<std::vector<std::string>> steps = {
      {openssl, "req", "-x509", "-new", "-config", cnf, "-extensions", "v3_ca", "-newkey", "ec",
       "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/ca.key", "-out",
       pki.ca_file, "-days", "2"},
      {openssl, "req", "-new", "-config", cnf, "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", pki.key_file, "-out",
       dir + "/server.csr", "-subj", "/CN=127.0.0.1"},
      {openssl, "x509", "-req", "-in", dir + "/server.csr", "-CA", pki.ca_file, "-CAkey",
       dir + "/ca.key", "-set_serial", "2", "-days", "1", "-extfile", cnf, "-extensions",
       "server", "-out", pki.cert_file},
  };
  for (const auto& argv : steps) {
    auto r = run_process(argv, "", std::chrono::seconds(30));
    if (r.exit_code != 0) {
      return std::unexpected("openssl " + argv[1] + " failed (exit " +
                             std::to_string(r.exit_code) + "): " + r.err + r.out);
    }
  }
  return pki;
}

std::string ExitStatus::describe() const {
  if (timed_out) return "did not exit in time (killed)";
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "exit code " + std::to_string(exit_code);
}

// --- ServerProcess --------------------------------------------------------------------

std::expected<std::unique_ptr<ServerProcess>, std::string> ServerProcess::start(ServerSpec spec) {
  if (spec.storage == StorageKind::kDev && spec.tls) {
    return std::unexpected("dev mode has no TLS listener; use StorageKind::kInmem with tls");
  }
  std::unique_ptr<ServerProcess> p(new ServerProcess());
  const bool needs_dir = spec.storage != StorageKind::kDev || spec.tls;
  if (needs_dir && spec.dir.empty()) {
    p->owned_dir_ = std::make_unique<TempDir>();
    spec.dir = p->owned_dir_->path();
  }

  std::vector<std::string> argv = {leasefs_binary(), "server"};
  if (spec.storage == StorageKind::kDev) {
    argv.push_back("-dev");
    argv.push_back("-dev-root-token=" + spec.dev_root_token);
    argv.push_back("-listen=127.0.0.1:0");
  } else {
    json config = {{"listener", {{"address", "127.0.0.1:0"}}}, {"log_level", "info"}};
    if (spec.storage == StorageKind::kSqlite) {
      if (spec.sqlite_path.empty()) spec.sqlite_path = spec.dir + "/leasefs.db";
      config["storage"] = {{"type", "sqlite"}, {"path", spec.sqlite_path}};
    } else {
      config["storage"] = {{"type", "inmem"}};
    }
    if (spec.tls) {
      if (spec.pki.cert_file.empty()) {
        auto pki = make_test_pki(spec.dir);
        if (!pki) return std::unexpected(pki.error());
        spec.pki = *pki;
      }
      config["listener"]["tls_cert_file"] = spec.pki.cert_file;
      config["listener"]["tls_key_file"] = spec.pki.key_file;
    }
    const std::string config_file = spec.dir + "/server.json";
    if (!write_file(config_file, config.dump(2))) {
      return std::unexpected("cannot write " + config_file);
    }
    argv.push_back("-config=" + config_file);
  }
  argv.insert(argv.end(), spec.extra_args.begin(), spec.extra_args.end());
  if (access(argv[0].c_str(), X_OK) != 0) {
    return std::unexpected("no leasefs binary at " + argv[0] + " (build the leasefs target)");
  }
  p->spec_ = std::move(spec);

  // Everything the child needs is prepared before fork(): between fork and exec it
  // makes only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& e : p->spec_.env) env_strings.push_back(e);
  std::vector<char*> envp, args;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return std::unexpected("pipe failed");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return std::unexpected("pipe failed");
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return std::unexpected(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  p->pid_ = pid;
  p->out_fd_ = out_pipe[0];
  p->err_fd_ = err_pipe[0];
  fcntl(p->out_fd_, F_SETFL, O_NONBLOCK);
  fcntl(p->err_fd_, F_SETFL, O_NONBLOCK);

  // Read both pipes until stdout has the address line, the child exits, or time is up.
  const auto deadline = Clock::now() + p->spec_.start_timeout;
  std::string out, err;
  bool out_open = true, err_open = true;
  std::string failure;
  while (true) {
    auto at = out.find(kAddressMarker);
    if (at != std::string::npos) {
      auto eol = out.find('\n', at);
      if (eol != std::string::npos) {
        std::string url = out.substr(at + kAddressMarker.size(), eol - at - kAddressMarker.size());
        url.erase(0, url.find_first_not_of(" \t"));
        url.erase(url.find_last_not_of(" \t\r") + 1);
        p->address_ = url;
        break;
      }
    }
    if (!out_open) {
      failure = "the server closed stdout before printing its address";
      break;
    }
    int left = remaining_ms(deadline);
    if (left == 0) {
      failure = "no \"Api Address:\" line within " +
                std::to_string(p->spec_.start_timeout.count()) + " ms";
      break;
    }
    pollfd fds[2];
    nfds_t n = 0;
    fds[n++] = {p->out_fd_, POLLIN, 0};
    if (err_open) fds[n++] = {p->err_fd_, POLLIN, 0};
    if (poll(fds, n, left) < 0 && errno != EINTR) {
      failure = "poll failed";
      break;
    }
    if (fds[0].revents != 0) out_open = read_some(p->out_fd_, out);
    if (n > 1 && fds[1].revents != 0) err_open = read_some(p->err_fd_, err);
  }
  {
    std::lock_guard lock(p->output_mu_);
    p->output_ = out + err;
  }
  if (failure.empty()) {
    auto colon = p->address_.rfind(':');
    int port = 0;
    if (colon != std::string::npos) {
      try {
        port = std::stoi(p->address_.substr(colon + 1));
      } catch (const std::exception&) {
        port = 0;
      }
    }
    const bool scheme_ok = p->address_.starts_with(p->spec_.tls ? "https://127.0.0.1:"
                                                                : "http://127.0.0.1:");
    if (port <= 0 || port > 65535 || !scheme_ok) {
      failure = "unexpected Api Address \"" + p->address_ + "\"";
    } else {
      p->port_ = static_cast<std::uint16_t>(port);
    }
  }
  p->start_drain();
  if (!failure.empty()) {
    ExitStatus status = p->kill();
    return std::unexpected(failure + " (" + status.describe() + "); output:\n" +
                           tail(p->output()));
  }
  return p;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exit_) kill();
  stop_drain();
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void ServerProcess::start_drain() {
  drain_ = std::thread([this] {
    bool out_open = true, err_open = true;
    std::string chunk;
    while (out_open || err_open) {
      pollfd fds[2];
      nfds_t n = 0;
      if (out_open) fds[n++] = {out_fd_, POLLIN, 0};
      if (err_open) fds[n++] = {err_fd_, POLLIN, 0};
      int ready = poll(fds, n, 50);
      if (ready < 0 && errno != EINTR) break;
      if (ready == 0 && drain_stop_.load()) break;  // nothing pending and asked to stop
      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        chunk.clear();
        bool open = read_some(fds[i].fd, chunk);
        {
          std::lock_guard lock(output_mu_);
          output_ += chunk;
        }
        (fds[i].fd == out_fd_ ? out_open : err_open) = open;
      }
    }
  });
}

void ServerProcess::stop_drain() {
  drain_stop_.store(true);
  if (drain_.joinable()) drain_.join();
}

void ServerProcess::record(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) s.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  exit_ = s;
}

bool ServerProcess::running() {
  if (exit_ || pid_ <= 0) return false;
  int status = 0;
  pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    record(status);
    return false;
  }
  return true;
}

void ServerProcess::terminate() {
  if (pid_ > 0 && !exit_) ::kill(pid_, SIGTERM);
}

std::optional<ExitStatus> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_) return exit_;
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  // A pidfd turns the wait into one poll(); without one (old kernel), waitpid(WNOHANG)
  // is polled every 5 ms until the deadline.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno == ECHILD)) {
      if (done == pid_) {
        record(status);
      } else {
        exit_ = ExitStatus{};
      }
      break;
    }
    int left = remaining_ms(deadline);
    if (left == 0) break;
    if (pidfd >= 0) {
      pollfd fd = {pidfd, POLLIN, 0};
      poll(&fd, 1, left);
    } else {
      usleep(5000);
    }
  }
  if (pidfd >= 0) close(pidfd);
  if (exit_) stop_drain();
  return exit_;
}

ExitStatus ServerProcess::stop(std::chrono::milliseconds timeout) {
  if (exit_) return *exit_;
  terminate();
  if (auto s = wait_exit(timeout)) return *s;
  ExitStatus s = kill();
  s.timed_out = true;
  exit_ = s;
  return s;
}

ExitStatus ServerProcess::kill() {
  if (exit_) return *exit_;
  if (pid_ <= 0) return ExitStatus{};
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  record(status);
  stop_drain();
  return *exit_;
}

std::string ServerProcess::output() const {
  std::lock_guard lock(output_mu_);
  return output_;
}

// --- API calls ------------------------------------------------------------------------

std::string Reply::describe() const {
  if (status == 0) return "no HTTP response: " + transport_error;
  std::string b = body.size() > 2000 ? body.substr(0, 2000) + "..." : body;
  return std::to_string(status) + " " + b;
}

bool Reply::is_error(std::initializer_list<std::string_view> messages) const {
  if (!json.is_object() || json.size() != 1 || !json.contains("errors")) return false;
  const auto& errors = json["errors"];
  if (!errors.is_array() || errors.size() != messages.size()) return false;
  std::size_t i = 0;
  for (auto m : messages) {
    if (!errors[i].is_string() || errors[i].get<std::string>() != m) return false;
    ++i;
  }
  return true;
}

ApiCaller::ApiCaller(std::string address, std::string ca_file, std::chrono::milliseconds timeout) {
  backend::api::ClientOptions options;
  options.address = std::move(address);
  options.ca_file = std::move(ca_file);
  options.timeout = timeout;
  options.max_retries = 0;  // tests see exactly what one request did
  auto client = backend::api::Client::create(std::move(options));
  if (client) {
    client_ = std::move(*client);
  } else {
    create_error_ = client.error().message();
  }
}

ApiCaller::ApiCaller(const ServerProcess& server, std::chrono::milliseconds timeout)
    : ApiCaller(server.address(), server.ca_file(), timeout) {}

ApiCaller::~ApiCaller() = default;

Reply ApiCaller::call(std::string_view method, std::string_view path, const json& body,
                      std::string_view token) {
  std::string target = "/v1/" + std::string(path);
  return raw(method, target, body.is_null() ? std::string() : body.dump(), token);
}

Reply ApiCaller::raw(std::string_view method, std::string_view target, std::string_view body,
                     std::string_view token,
                     std::vector<std::pair<std::string, std::string>> headers) {
  Reply reply;
  if (!client_) {
    reply.transport_error = "client: " + create_error_;
    return reply;
  }
  auto r = client_->request(method, target, body, token, std::move(headers));
  if (!r) {
    reply.transport_error = r.error().message();
    return reply;
  }
  reply.status = r->status;
  reply.body = std::move(r->body);
  reply.content_type = std::move(r->content_type);
  reply.json = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (reply.json.is_discarded()) reply.json = nullptr;
  return reply;
}

std::expected<InitResult, std::string> init_server(ApiCaller& api, int shares, int threshold) {
  Reply r = api.call("PUT", "sys/init", {{"secret_shares", shares}, {"secret_threshold", threshold}});
  if (r.status != 200 || !r.json.is_object()) return std::unexpected("sys/init: " + r.describe());
  InitResult out;
  try {
    for (const auto& k : r.json.at("keys")) out.keys.push_back(k.get<std::string>());
    out.root_token = r.json.at("root_token").get<std::string>();
  } catch (const json::exception& e) {
    return std::unexpected(std::string("sys/init answer: ") + e.what());
  }
  if (out.keys.size() != static_cast<std::size_t>(shares) || out.root_token.empty()) {
    return std::unexpected("sys/init returned " + std::to_string(out.keys.size()) +
                           " keys (want " + std::to_string(shares) + ") or no root token");
  }
  return out;
}

std::expected<void, std::string> unseal_server(ApiCaller& api, const std::vector<std::string>& keys,
                                               std::size_t threshold) {
  std::size_t use = threshold == 0 ? keys.size() : threshold;
  if (use == 0 || use > keys.size()) return std::unexpected("not enough unseal keys");
  for (std::size_t i = 0; i < use; ++i) {
    Reply r = api.call("PUT", "sys/unseal", {{"key", keys[i]}});
    if (r.status != 200 || !r.json.is_object()) {
      return std::unexpected("sys/unseal #" + std::to_string(i + 1) + ": " + r.describe());
    }
    const bool last = i + 1 == use;
    const bool sealed = r.json.value("sealed", true);
    const auto progress = r.json.value("progress", -1);
    if (last ? sealed || progress != 0
             : !sealed || progress != static_cast<int>(i + 1)) {
      return std::unexpected("sys/unseal #" + std::to_string(i + 1) + " unexpected state: " +
                             r.describe());
    }
  }
  return {};
}

}  // namespace leasefs::testing
