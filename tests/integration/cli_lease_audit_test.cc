// `leasefs lease ...` and `leasefs audit ...` through the real binary: usage errors and
// their exit codes without a server, `audit verify` on logs built with the audit
// library's own chain code (whole, edited, dropped, swapped, torn, rotated), the exact
// requests the commands send (to a recording stand-in server), and the lease and
// audit-device commands against a dev server started on port 0 (leases from a PKI role
// with generate_lease=true). As in cli_server_test.cc, failure messages show exit codes
// and stderr only: stdout may hold tokens and private keys.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/audit/chain.h"
#include "tests/integration/cli_test_server.h"
#include "tests/integration/cli_test_support.h"
#include "tests/support/process.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// No server at all: the address points at a port nothing listens on, so a command that
// got past its argument checks would fail with exit 1, not 2.
class LeaseAuditNoServerTest : public ::testing::Test, protected ClientEnvironment {
 protected:
  ScopedEnv addr_{"LEASEFS_ADDR", "http://127.0.0.1:" + std::to_string(unused_port())};
  ScopedEnv token_{"LEASEFS_TOKEN", "root-" + random_hex(8)};
};

TEST_F(LeaseAuditNoServerTest, UsageErrorsExitTwoWithOneLine) {
  const std::vector<std::vector<std::string>> one_line_usage = {
      {"lease", "lookup"},
      {"lease", "lookup", "a", "b"},
      {"lease", "renew"},
      {"lease", "renew", "a", "1h", "extra"},
      {"lease", "renew", "-increment=soon", "pki/issue/web/abc"},
      {"lease", "revoke"},
      {"lease", "revoke", "a", "b"},
      {"lease", "revoke", "-force", "pki/issue/web"},
      {"lease", "revoke", "-prefix", "/"},
      {"lease", "list"},
      {"lease", "list", "a", "b"},
      {"audit", "enable"},
      {"audit", "disable"},
      {"audit", "disable", "file", "socket"},
      {"audit", "list", "extra"},
      {"audit", "verify", "-expect-last=not-a-hash", "/dev/null"},
  };
  for (const auto& args : one_line_usage) {
    auto r = leasefs(args);
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    EXPECT_EQ(r.exit_code, 2) << shown << "stderr: " << r.err;
    EXPECT_TRUE(one_line_error(r)) << shown << "stderr: " << r.err;
    EXPECT_TRUE(r.out.empty()) << shown;
  }
  auto force = leasefs({"lease", "revoke", "-force", "pki/issue/web"});
  EXPECT_EQ(force.err,
            "leasefs: Specifying -force requires also specifying -prefix (run with --help for "
            "usage)\n");
  auto type = leasefs({"audit", "enable"});
  EXPECT_TRUE(has(type.err, "audit type missing")) << type.err;

  // Flags CLI11 itself refuses (it prints the usage too): still exit 2.
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"lease", "list", "-format=yaml", "x"},
                                             {"lease", "revoke", "-no-such-flag", "x"},
                                             {"audit", "verify"},
                                             {"audit", "verify", dir_ / "missing.log"},
                                             {"audit", "list", "-detailed=maybe"}}) {
    EXPECT_EQ(leasefs(args).exit_code, 2) << args[1];
  }
}

TEST_F(LeaseAuditNoServerTest, ServerDownIsOneLineExitOne) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"lease", "lookup", "pki/issue/web/abc"},
           {"lease", "renew", "-increment=1h", "pki/issue/web/abc"},
           {"lease", "revoke", "-prefix", "pki/"},
           {"lease", "list", "pki/"},
           {"audit", "list"},
           {"audit", "enable", "file", "file_path=/tmp/x.log"},
           {"audit", "disable", "file"}}) {
    auto r = leasefs(args);
    EXPECT_EQ(r.exit_code, 1) << args[1] << " stderr: " << r.err;
    EXPECT_TRUE(one_line_error(r)) << r.err;
    EXPECT_TRUE(has(r.err, "cannot connect to http://127\\.0\\.0\\.1:")) << r.err;
  }
  auto lookup = leasefs({"lease", "lookup", "pki/issue/web/abc"});
  EXPECT_TRUE(has(lookup.err, "^leasefs: error looking up lease id pki/issue/web/abc: "))
      << lookup.err;
}

// Audit logs written with the library's chain code, so the CLI is checked against the
// format as the server writes it.
class AuditVerifyTest : public ::testing::Test {
 protected:
  // Writes `count` sealed lines continuing from `prev` to `path`; returns the last hash.
  static std::string write_log(const std::string& path, int count, std::string prev,
                               int first_index = 0) {
    std::string text;
    for (int i = first_index; i < first_index + count; ++i) {
      json body = {{"time", "2026-11-28T17:00:00.000000000Z"},
                   {"type", i % 2 == 0 ? "request" : "response"},
                   {"request",
                    {{"id", "req-" + std::to_string(i / 2)},
                     {"operation", "read"},
                     {"path", "secret/data/app"}}}};
      std::string hash;
      backend::audit::append_sealed_line(body.dump(), prev, text, hash);
      prev = hash;
    }
    write_file(path, text);
    return prev;
  }

  static std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> lines;
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  static void write_lines(const std::string& path, const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    write_file(path, text);
  }

  // The fault `audit verify -format=json` reports for `path` (exit 1 expected).
  static json fault_of(const std::string& path) {
    auto r = leasefs({"audit", "verify", "-format=json", path});
    EXPECT_EQ(r.exit_code, 1) << "stderr: " << r.err;
    json doc = parse(r.out);
    EXPECT_TRUE(doc.is_object()) << r.out;
    EXPECT_EQ(doc.value("ok", true), false);
    return doc.is_object() ? doc.value("fault", json::object()) : json::object();
  }

  TempDir dir_;
  std::string log_ = dir_ / "audit.log";
};

TEST_F(AuditVerifyTest, WholeLogVerifiesInTableAndJson) {
  const std::string head = write_log(log_, 6, std::string(backend::audit::kGenesisHash));
  auto table = leasefs({"audit", "verify", log_});
  ASSERT_EXIT_CODE(table, 0);
  EXPECT_TRUE(has(table.out, "Result +ok: the hash chain is whole\n")) << table.out;
  EXPECT_TRUE(has(table.out, "Entries +6\n")) << table.out;
  EXPECT_TRUE(has(table.out, "Starts At Genesis +true\n")) << table.out;
  EXPECT_TRUE(has(table.out, "Last Hash +" + head + "\n")) << table.out;

  auto js = leasefs({"audit", "verify", "-format=json", log_});
  ASSERT_EXIT_CODE(js, 0);
  json doc = parse(js.out);
  ASSERT_TRUE(doc.is_object()) << js.out;
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["entries"], 6);
  EXPECT_EQ(doc["last_hash"], head);
  EXPECT_EQ(doc["starts_at_genesis"], true);
  EXPECT_FALSE(doc.contains("fault"));

  // The chain head the server reports proves nothing was cut off the end.
  EXPECT_EXIT_CODE(leasefs({"audit", "verify", "-expect-last=" + head, log_}), 0);
  EXPECT_EXIT_CODE(
      leasefs({"audit", "verify", "-expect-prev", std::string(backend::audit::kGenesisHash), log_}),
      0);
}

TEST_F(AuditVerifyTest, EditedLineIsNamed) {
  write_log(log_, 5, std::string(backend::audit::kGenesisHash));
  auto lines = lines_of(log_);
  ASSERT_EQ(lines.size(), 5u);
  auto at = lines[2].find("secret/data/app");
  ASSERT_NE(at, std::string::npos);
  lines[2].replace(at, 15, "secret/data/xyz");  // same length, one field changed
  write_lines(log_, lines);

  auto r = leasefs({"audit", "verify", log_});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_TRUE(one_line_error(r)) << r.err;
  EXPECT_TRUE(has(r.err, "audit\\.log: line 3: altered")) << r.err;
  EXPECT_TRUE(r.out.empty());

  json fault = fault_of(log_);
  EXPECT_EQ(fault.value("line", 0), 3);
  EXPECT_EQ(fault.value("kind", ""), "altered");
  EXPECT_EQ(fault.value("file", ""), log_);
}

TEST_F(AuditVerifyTest, DeletedLineIsNamed) {
  write_log(log_, 5, std::string(backend::audit::kGenesisHash));
  auto lines = lines_of(log_);
  lines.erase(lines.begin() + 1);
  write_lines(log_, lines);

  auto r = leasefs({"audit", "verify", log_});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_TRUE(one_line_error(r)) << r.err;
  EXPECT_TRUE(has(r.err, "line 2: dropped")) << r.err;
  json fault = fault_of(log_);
  EXPECT_EQ(fault.value("line", 0), 2);
  EXPECT_EQ(fault.value("kind", ""), "dropped");

  // The first line gone: the log no longer starts at genesis, which -expect-prev catches.
  write_log(log_, 4, std::string(backend::audit::kGenesisHash));
  lines = lines_of(log_);
  lines.erase(lines.begin());
  write_lines(log_, lines);
  auto head_cut = leasefs({"audit", "verify", "-format=json", log_});
  ASSERT_EXIT_CODE(head_cut, 0);
  EXPECT_EQ(parse(head_cut.out)["starts_at_genesis"], false);
  auto expect =
      leasefs({"audit", "verify", "-expect-prev", std::string(backend::audit::kGenesisHash), log_});
  EXPECT_EXIT_CODE(expect, 1);
  EXPECT_TRUE(one_line_error(expect)) << expect.err;
  EXPECT_TRUE(has(expect.err, "line 1: broken link")) << expect.err;

  // The last line gone: only the chain head the server reports can tell.
  std::string head = write_log(log_, 4, std::string(backend::audit::kGenesisHash));
  lines = lines_of(log_);
  lines.pop_back();
  write_lines(log_, lines);
  EXPECT_EXIT_CODE(leasefs({"audit", "verify", log_}), 0);
  auto tail_cut = leasefs({"audit", "verify", "-expect-last=" + head, log_});
  EXPECT_EXIT_CODE(tail_cut, 1);
  EXPECT_TRUE(one_line_error(tail_cut)) << tail_cut.err;
  EXPECT_TRUE(has(tail_cut.err, "end mismatch")) << tail_cut.err;
}

TEST_F(AuditVerifyTest, SwappedLinesAreNamed) {
  write_log(log_, 6, std::string(backend::audit::kGenesisHash));
  auto lines = lines_of(log_);
  std::swap(lines[3], lines[4]);
  write_lines(log_, lines);

  auto r = leasefs({"audit", "verify", log_});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_TRUE(one_line_error(r)) << r.err;
  EXPECT_TRUE(has(r.err, "line 4: reordered")) << r.err;
  json fault = fault_of(log_);
  EXPECT_EQ(fault.value("line", 0), 4);
  EXPECT_EQ(fault.value("kind", ""), "reordered");
}

TEST_F(AuditVerifyTest, TornAndMalformedLinesAreNamed) {
  write_log(log_, 3, std::string(backend::audit::kGenesisHash));
  std::string text = read_file(log_);
  write_file(log_, text.substr(0, text.size() - 20));  // a crash mid-write
  json fault = fault_of(log_);
  EXPECT_EQ(fault.value("line", 0), 3);
  EXPECT_EQ(fault.value("kind", ""), "truncated");

  write_file(log_, text + "not an audit entry\n");
  auto r = leasefs({"audit", "verify", log_});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_TRUE(one_line_error(r)) << r.err;
  EXPECT_TRUE(has(r.err, "line 4: malformed")) << r.err;
}

TEST_F(AuditVerifyTest, RotatedSeriesVerifiesAsOneChainInOrderOnly) {
  const std::string older = dir_ / "audit.log.1";
  std::string middle = write_log(older, 4, std::string(backend::audit::kGenesisHash));
  std::string head = write_log(log_, 3, middle, 4);

  auto both = leasefs({"audit", "verify", "-format=json", "-expect-last=" + head, older, log_});
  ASSERT_EXIT_CODE(both, 0);
  json doc = parse(both.out);
  EXPECT_EQ(doc["entries"], 7);
  EXPECT_EQ(doc["files"], json::array({older, log_}));
  EXPECT_EQ(doc["starts_at_genesis"], true);

  // The newer file alone is whole but does not start a chain.
  auto alone = leasefs({"audit", "verify", log_});
  ASSERT_EXIT_CODE(alone, 0);
  EXPECT_TRUE(has(alone.out, "Starts At Genesis +false\n")) << alone.out;
  EXPECT_TRUE(has(alone.out, "First Prev Hash +" + middle + "\n")) << alone.out;

  // Out of order, the link between the files is broken and the file is named.
  auto swapped = leasefs({"audit", "verify", log_, older});
  EXPECT_EXIT_CODE(swapped, 1);
  EXPECT_TRUE(one_line_error(swapped)) << swapped.err;
  EXPECT_TRUE(has(swapped.err, "audit\\.log\\.1: line 1")) << swapped.err;
}

// A stand-in server that records each request (method, target, JSON body) and answers
// every one with the same canned reply: it checks the exact requests the commands send
// and how they show answers a dev server cannot produce (a renewable lease, an older
// server's sys/audit shape). One thread; every wait is bounded by a poll timeout.
class RecordingServer {
 public:
  struct Request {
    std::string method{};
    std::string target{};
    json body{};
  };

  explicit RecordingServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(fd_, 16) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~RecordingServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  RecordingServer(const RecordingServer&) = delete;
  RecordingServer& operator=(const RecordingServer&) = delete;

  std::string address() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set_reply(std::string reply) {
    std::lock_guard lock(mu_);
    reply_ = std::move(reply);
  }
  // The requests recorded since the last call.
  std::vector<Request> take() {
    std::lock_guard lock(mu_);
    return std::exchange(requests_, {});
  }

 private:
  // Reads into `buf` until `want` bytes are there, the peer closes or 2 s pass.
  static bool read_until(int fd, std::string& buf, const std::function<bool()>& done) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!done()) {
      if (std::chrono::steady_clock::now() >= until) return false;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char chunk[8192];
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }

  void handle(int fd) {
    std::string buf;
    if (!read_until(fd, buf, [&] { return buf.find("\r\n\r\n") != std::string::npos; })) return;
    const auto head_end = buf.find("\r\n\r\n") + 4;
    std::string head = buf.substr(0, head_end);
    std::size_t length = 0;
    std::smatch m;
    if (std::regex_search(head, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)"))) {
      length = std::stoul(m[1]);
    }
    if (!read_until(fd, buf, [&] { return buf.size() >= head_end + length; })) return;
    Request request;
    std::istringstream line(head.substr(0, head.find("\r\n")));
    line >> request.method >> request.target;
    request.body = length == 0 ? json(nullptr) : parse(buf.substr(head_end, length));
    std::string reply;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(std::move(request));
      reply = reply_;
    }
    std::string out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(reply.size()) + "\r\nConnection: close\r\n\r\n" + reply;
    for (std::size_t sent = 0; sent < out.size();) {
      ssize_t n = write(fd, out.data() + sent, out.size() - sent);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
  }

  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      handle(conn);
      close(conn);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string reply_;
  std::vector<Request> requests_;
  std::thread thread_;
};

class RequestShapeTest : public ::testing::Test, protected ClientEnvironment {
 protected:
  // Runs the CLI against the recorder; returns the one request it sent.
  RecordingServer::Request only_request(const std::vector<std::string>& args,
                                        ProcessResult* result = nullptr) {
    auto r = leasefs(args);
    EXPECT_EXIT_CODE(r, 0);
    if (result != nullptr) *result = r;
    auto requests = server_.take();
    EXPECT_EQ(requests.size(), 1u) << args[1];
    return requests.empty() ? RecordingServer::Request{} : requests.front();
  }

  RecordingServer server_{"{}"};
  ScopedEnv addr_{"LEASEFS_ADDR", server_.address()};
  ScopedEnv token_{"LEASEFS_TOKEN", "root-" + random_hex(8)};
};

TEST_F(RequestShapeTest, LeaseRequestsAreVaultsAndARenewedLeaseIsShown) {
  const std::string id = "database/creds/ro/abc123";
  server_.set_reply(json({{"request_id", "r1"},
                          {"lease_id", id},
                          {"lease_duration", 1800},
                          {"renewable", true},
                          {"data", nullptr},
                          {"warnings", nullptr}})
                        .dump());
  ProcessResult r;
  auto renew = only_request({"lease", "renew", "-increment=30m", id}, &r);
  EXPECT_EQ(renew.method, "PUT");
  EXPECT_EQ(renew.target, "/v1/sys/leases/renew");
  EXPECT_EQ(renew.body, json({{"lease_id", id}, {"increment", 1800}}));
  EXPECT_EQ(r.out,
            "Key                Value\n"
            "---                -----\n"
            "lease_id           " +
                id +
                "\n"
                "lease_duration     30m\n"
                "lease_renewable    true\n");
  EXPECT_EQ(only_request({"lease", "renew", id}).body,
            json({{"lease_id", id}, {"increment", 0}}));  // Vault sends 0: the lease's TTL
  EXPECT_EQ(only_request({"lease", "renew", id, "90"}).body,
            json({{"lease_id", id}, {"increment", 90}}));  // Vault's old positional form
  only_request({"lease", "renew", "-field=lease_duration", id}, &r);
  EXPECT_EQ(r.out, "1800");
  only_request({"lease", "renew", "-format=json", id}, &r);
  EXPECT_EQ(parse(r.out)["lease_duration"], 1800);

  auto lookup = only_request({"lease", "lookup", " " + id + " "});
  EXPECT_EQ(lookup.method, "PUT");
  EXPECT_EQ(lookup.target, "/v1/sys/leases/lookup");
  EXPECT_EQ(lookup.body, json({{"lease_id", id}}));

  server_.set_reply("{}");
  auto revoke = only_request({"lease", "revoke", id});
  EXPECT_EQ(revoke.method, "PUT");
  EXPECT_EQ(revoke.target, "/v1/sys/leases/revoke");
  EXPECT_EQ(revoke.body, json({{"lease_id", id}, {"sync", false}}));
  EXPECT_EQ(only_request({"lease", "revoke", "-sync", id}).body,
            json({{"lease_id", id}, {"sync", true}}));
  auto prefix = only_request({"lease", "revoke", "-prefix", "-sync", "database/creds/"});
  EXPECT_EQ(prefix.target, "/v1/sys/leases/revoke-prefix/database/creds/");
  EXPECT_EQ(prefix.body, json({{"sync", true}}));
  auto force = only_request({"lease", "revoke", "-prefix", "-f", "database/creds"});
  EXPECT_EQ(force.method, "PUT");
  EXPECT_EQ(force.target, "/v1/sys/leases/revoke-force/database/creds");

  server_.set_reply(json({{"data", {{"keys", {"b", "a/"}}}}}).dump());
  auto list = only_request({"lease", "list", "database/creds/"}, &r);
  EXPECT_EQ(list.method, "GET");
  EXPECT_EQ(list.target, "/v1/sys/leases/lookup/database/creds?list=true");
  EXPECT_EQ(r.out, "Keys\n----\na/\nb\n");
}

TEST_F(RequestShapeTest, AuditRequestsAreVaultsAndOlderListShapesAreRead) {
  auto enable = only_request({"audit", "enable", "-path=/team/a/", "-description=Team log",
                              "-local", "socket", "address=127.0.0.1:9090", "socket_type=tcp"});
  EXPECT_EQ(enable.method, "PUT");
  EXPECT_EQ(enable.target, "/v1/sys/audit/team/a");
  EXPECT_EQ(enable.body,
            json({{"type", "socket"},
                  {"description", "Team log"},
                  {"local", true},
                  {"options", {{"address", "127.0.0.1:9090"}, {"socket_type", "tcp"}}}}));
  auto plain = only_request({"audit", "enable", "file", "file_path=stdout"});
  EXPECT_EQ(plain.target, "/v1/sys/audit/file");
  EXPECT_EQ(plain.body["description"], "");
  EXPECT_EQ(plain.body["local"], false);

  // Options from standard input and files, as Vault's key=- and key=@file.
  const std::string prefix_file = dir_ / "prefix.txt";
  write_file(prefix_file, "LF:");
  auto r = leasefs({"audit", "enable", "file", "file_path=-", "prefix=@" + prefix_file},
                   "/var/log/x.log");
  ASSERT_EXIT_CODE(r, 0);
  auto requests = server_.take();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body["options"],
            json({{"file_path", "/var/log/x.log"}, {"prefix", "LF:"}}));

  auto disable = only_request({"audit", "disable", "/team/a/"});
  EXPECT_EQ(disable.method, "DELETE");
  EXPECT_EQ(disable.target, "/v1/sys/audit/team/a");

  // Vault before 1.x answered sys/audit with the devices at the top level, no data.
  server_.set_reply(json({{"file/",
                           {{"type", "file"},
                            {"description", ""},
                            {"options", {{"file_path", "/var/log/a.log"}}},
                            {"local", true},
                            {"path", "file/"}}},
                          {"request_id", "x"}})
                        .dump());
  ProcessResult list;
  auto get = only_request({"audit", "list", "-detailed"}, &list);
  EXPECT_EQ(get.method, "GET");
  EXPECT_EQ(get.target, "/v1/sys/audit");
  EXPECT_EQ(list.out,
            "Path     Type    Description    Replication    Options\n"
            "----     ----    -----------    -----------    -------\n"
            "file/    file    n/a            local          file_path=/var/log/a.log\n");
}

// A dev server with a random root token; the CLI sees its address and the token.
class LeaseAuditServerTest : public ::testing::Test, protected ClientEnvironment {
 protected:
  void SetUp() override {
    root_ = "root-" + random_hex(12);
    std::string why;
    server_ = CliTestServer::start({"-dev", "-dev-root-token=" + root_, "-listen=127.0.0.1:0"},
                                   dir_ / "server.log", why);
    ASSERT_NE(server_, nullptr) << why;
    addr_ = std::make_unique<ScopedEnv>("LEASEFS_ADDR", server_->address());
    token_ = std::make_unique<ScopedEnv>("LEASEFS_TOKEN", root_);
  }

  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->stop(), 0) << "the server did not exit 0 within 5 s of SIGTERM";
    }
  }

  std::string root_;
  std::unique_ptr<CliTestServer> server_;
  std::unique_ptr<ScopedEnv> addr_, token_;
};

TEST_F(LeaseAuditServerTest, LookupOfUnknownLeaseIsOneLineExitOne) {
  auto r = leasefs({"lease", "lookup", "pki/issue/web/no-such-lease"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_TRUE(one_line_error(r)) << r.err;
  EXPECT_TRUE(has(r.err,
                  "^leasefs: error looking up lease id pki/issue/web/no-such-lease: "
                  "Code: 4[0-9][0-9]\\. "))
      << r.err;
  EXPECT_TRUE(r.out.empty());

  auto renew = leasefs({"lease", "renew", "pki/issue/web/no-such-lease"});
  EXPECT_EXIT_CODE(renew, 1);
  EXPECT_TRUE(one_line_error(renew)) << renew.err;
  EXPECT_TRUE(has(renew.err, "^leasefs: Error renewing pki/issue/web/no-such-lease: Code: 4"))
      << renew.err;

  // A token without sudo on sys/leases is refused, and the token is not in the message.
  ScopedEnv stranger("LEASEFS_TOKEN", "stranger-" + random_hex(8));
  auto r2 = leasefs({"lease", "lookup", "pki/issue/web/x"});
  EXPECT_EXIT_CODE(r2, 1);
  EXPECT_TRUE(has(r2.err, "Code: 403")) << r2.err;
  EXPECT_EQ(r2.err.find("stranger-"), std::string::npos);
}

// Polls `done` every 20 ms until it holds or `deadline` passes; true when it held.
template <typename Done>
bool eventually(Done done, std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// A PKI mount whose role "web" puts every issued certificate under a lease (as Vault's
// generate_lease does); issue() returns the lease ID of a new certificate.
class PkiLeaseTest : public LeaseAuditServerTest {
 protected:
  void SetUp() override {
    LeaseAuditServerTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EXIT_CODE(leasefs({"secrets", "enable", "pki"}), 0);
    ASSERT_EXIT_CODE(leasefs({"write", "-format=json", "pki/root/generate/internal",
                              "common_name=example.com", "ttl=8760h"}),
                     0);
    ASSERT_EXIT_CODE(
        leasefs({"write", "pki/roles/web", "allowed_domains=example.com", "allow_subdomains=true",
                 "generate_lease=true", "ttl=10m", "max_ttl=1h"}),
        0);
  }

  std::string issue(const std::string& name) {
    auto r = leasefs({"write", "-format=json", "pki/issue/web", "common_name=" + name});
    EXPECT_EXIT_CODE(r, 0);
    json doc = parse(r.out);
    std::string id = doc.is_object() ? doc.value("lease_id", "") : "";
    EXPECT_TRUE(id.starts_with("pki/issue/web/")) << "no lease for " << name;
    return id;
  }

  // Exit code of `lease list pki/issue/web` (2: no leases left).
  int list_exit() { return leasefs({"lease", "list", "pki/issue/web"}).exit_code; }
};

TEST_F(PkiLeaseTest, LookupListRenewRevoke) {
  const std::string id = issue("a.example.com");
  ASSERT_FALSE(id.empty());
  const std::string suffix = id.substr(std::string("pki/issue/web/").size());

  auto table = leasefs({"lease", "lookup", id});
  ASSERT_EXIT_CODE(table, 0);
  EXPECT_TRUE(has(table.out, "^Key +Value\n--- +-----\n")) << table.out;
  EXPECT_TRUE(has(table.out, "\nid +" + id + "\n")) << table.out;
  EXPECT_TRUE(has(table.out, "\nrenewable +false\n")) << table.out;
  EXPECT_TRUE(has(table.out, "\nttl +([0-9]+m)?([0-9]+s)?\n")) << table.out;  // 9m59s
  EXPECT_TRUE(has(table.out, "\nissue_time +20[0-9-]+T")) << table.out;
  EXPECT_TRUE(has(table.out, "\nexpire_time +20[0-9-]+T")) << table.out;

  auto js = leasefs({"lease", "lookup", "-format=json", id});
  ASSERT_EXIT_CODE(js, 0);
  json data = parse(js.out)["data"];
  EXPECT_EQ(data["id"], id);
  EXPECT_EQ(data["renewable"], false);
  ASSERT_TRUE(data["ttl"].is_number_integer()) << js.out;
  EXPECT_GT(data["ttl"].get<int>(), 500);
  EXPECT_LE(data["ttl"].get<int>(), 600);
  EXPECT_EQ(leasefs({"lease", "lookup", "-field=id", id}).out, id);

  // As in Vault, PKI leases are not renewable: one line naming the lease, exit 1.
  auto renew = leasefs({"lease", "renew", "-increment=30m", id});
  EXPECT_EXIT_CODE(renew, 1);
  EXPECT_TRUE(one_line_error(renew)) << renew.err;
  EXPECT_TRUE(has(renew.err, "^leasefs: Error renewing " + id + ": Code: 400\\. .*renew"))
      << renew.err;

  auto list = leasefs({"lease", "list", "pki/issue/web"});
  ASSERT_EXIT_CODE(list, 0);
  EXPECT_EQ(list.out, "Keys\n----\n" + suffix + "\n");
  EXPECT_EQ(parse(leasefs({"lease", "list", "-format=json", "pki/issue/web/"}).out),
            json::array({suffix}));
  EXPECT_EQ(leasefs({"lease", "list", "pki/"}).out, "Keys\n----\nissue/\n");

  auto revoke = leasefs({"lease", "revoke", "-sync", id});
  ASSERT_EXIT_CODE(revoke, 0);
  EXPECT_EQ(revoke.out, "Success! Revoked lease: " + id + "\n");
  auto gone = leasefs({"lease", "lookup", id});
  EXPECT_EXIT_CODE(gone, 1);
  EXPECT_TRUE(one_line_error(gone)) << gone.err;
  EXPECT_TRUE(has(gone.err, "^leasefs: error looking up lease id " + id + ": Code: 400\\."))
      << gone.err;
  // Revoking what is already gone succeeds, as in Vault; without -sync it is queued.
  auto again = leasefs({"lease", "revoke", id});
  ASSERT_EXIT_CODE(again, 0);
  EXPECT_EQ(again.out, "All revocation operations queued successfully!\n");

  auto none = leasefs({"lease", "list", "pki/issue/web"});
  EXPECT_EXIT_CODE(none, 2);
  EXPECT_EQ(none.err, "leasefs: No leases found\n");
  auto none_json = leasefs({"lease", "list", "-format=json", "pki/issue/web"});
  EXPECT_EXIT_CODE(none_json, 2);
  EXPECT_EQ(parse(none_json.out), json::object());
}

TEST_F(PkiLeaseTest, RevokePrefixSyncAsyncAndForce) {
  for (const char* name : {"b1.example.com", "b2.example.com", "b3.example.com"}) issue(name);
  auto list = leasefs({"lease", "list", "-format=json", "pki/issue/web"});
  ASSERT_EXIT_CODE(list, 0);
  EXPECT_EQ(parse(list.out).size(), 3u);

  auto sync = leasefs({"lease", "revoke", "-prefix", "-sync", "pki/issue/web"});
  ASSERT_EXIT_CODE(sync, 0);
  EXPECT_EQ(sync.out, "Success! Revoked any leases with prefix: pki/issue/web\n");
  EXPECT_EQ(list_exit(), 2);

  issue("c1.example.com");
  issue("c2.example.com");
  auto queued = leasefs({"lease", "revoke", "-prefix", "pki/issue/web/"});
  ASSERT_EXIT_CODE(queued, 0);
  EXPECT_EQ(queued.out, "All revocation operations queued successfully!\n");
  EXPECT_TRUE(eventually([this] { return list_exit() == 2; })) << "leases left after 5 s";

  issue("d1.example.com");
  auto force = leasefs({"lease", "revoke", "-force", "-prefix", "pki/issue"});
  ASSERT_EXIT_CODE(force, 0);
  EXPECT_EQ(force.out, "Success! Force revoked any leases with prefix: pki/issue\n");
  EXPECT_TRUE(has(force.err, "^leasefs: Warning! Force-removing leases")) << force.err;
  EXPECT_EQ(list_exit(), 2);

  // JSON format: nothing on stdout, as for the other commands without an answer.
  std::string id = issue("e1.example.com");
  auto quiet = leasefs({"lease", "revoke", "-sync", "-format=json", id});
  ASSERT_EXIT_CODE(quiet, 0);
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(list_exit(), 2);
}

TEST_F(LeaseAuditServerTest, AuditDevicesEnableListVerifyDisable) {
  auto empty = leasefs({"audit", "list"});
  EXPECT_EXIT_CODE(empty, 2);
  EXPECT_EQ(empty.out, "No audit devices are enabled.\n");  // on stdout, as Vault
  auto empty_json = leasefs({"audit", "list", "-format=json"});
  ASSERT_EXIT_CODE(empty_json, 0);
  EXPECT_EQ(parse(empty_json.out), json::object());

  const std::string log = dir_ / "audit.log";
  const std::string second = dir_ / "second.log";
  auto enable = leasefs({"audit", "enable", "file", "file_path=" + log});
  ASSERT_EXIT_CODE(enable, 0);
  EXPECT_EQ(enable.out, "Success! Enabled the file audit device at: file/\n");
  auto enable2 = leasefs({"audit", "enable", "-path=second", "-description=Second log", "file",
                          "file_path=" + second, "prefix=LF", "hmac_accessor=false"});
  ASSERT_EXIT_CODE(enable2, 0);
  EXPECT_EQ(enable2.out, "Success! Enabled the file audit device at: second/\n");
  auto taken = leasefs({"audit", "enable", "file", "file_path=" + second});
  EXPECT_EXIT_CODE(taken, 1);
  EXPECT_TRUE(one_line_error(taken)) << taken.err;
  EXPECT_TRUE(has(taken.err, "^leasefs: Error enabling audit device: Code: 400\\.")) << taken.err;
  auto repeated = leasefs({"audit", "enable", "-path=x", "file", "file_path=/a", "file_path=/b"});
  EXPECT_EXIT_CODE(repeated, 1);
  EXPECT_EQ(repeated.err,
            "leasefs: Failed to parse K=V data: option file_path must be a single value, not a "
            "list or object\n");

  auto list = leasefs({"audit", "list"});
  ASSERT_EXIT_CODE(list, 0);
  EXPECT_EQ(list.out,
            "Path       Type    Description\n"
            "----       ----    -----------\n"
            "file/      file    n/a\n"
            "second/    file    Second log\n");
  auto detailed = leasefs({"audit", "list", "-detailed"});
  ASSERT_EXIT_CODE(detailed, 0);
  EXPECT_TRUE(has(detailed.out, "^Path +Type +Description +Replication +Options\n"))
      << detailed.out;
  EXPECT_TRUE(has(detailed.out, "\nsecond/ +file +Second log +replicated +file_path=" + second +
                                    " hmac_accessor=false prefix=LF\n"))
      << detailed.out;
  json devices = parse(leasefs({"audit", "list", "-format=json"}).out);
  EXPECT_EQ(devices["file/"]["type"], "file");
  EXPECT_EQ(devices["file/"]["options"]["file_path"], log);
  EXPECT_EQ(devices["second/"]["description"], "Second log");
  EXPECT_EQ(devices["second/"]["local"], false);

  const std::string secret_value = "pw-" + random_hex(12);
  ASSERT_EXIT_CODE(leasefs({"kv", "put", "secret/app", "password=" + secret_value}), 0);
  ASSERT_EXIT_CODE(leasefs({"kv", "get", "secret/app"}), 0);

  for (const std::string& file : {log, second}) {
    auto verify = leasefs({"audit", "verify", "-format=json", file});
    ASSERT_EXIT_CODE(verify, 0);
    json doc = parse(verify.out);
    EXPECT_GE(doc.value("entries", 0), 4) << file;
    EXPECT_EQ(doc["starts_at_genesis"], true) << file;
    const std::string text = read_file(file);
    EXPECT_EQ(text.find(secret_value), std::string::npos) << "secret in clear in " << file;
    EXPECT_EQ(text.find(root_), std::string::npos) << "token in clear in " << file;
  }

  // A copy of the server's log with one byte of one entry changed.
  std::string text = read_file(log);
  auto second_line = text.find('\n') + 1;
  auto at = text.find("secret/data/app", second_line);
  ASSERT_NE(at, std::string::npos);
  text[at + 14] = 'q';
  const std::string edited = dir_ / "edited.log";
  write_file(edited, text);
  auto bad = leasefs({"audit", "verify", edited});
  EXPECT_EXIT_CODE(bad, 1);
  EXPECT_TRUE(one_line_error(bad)) << bad.err;
  EXPECT_TRUE(has(bad.err, "edited\\.log: line [0-9]+: altered")) << bad.err;

  auto disable = leasefs({"audit", "disable", "second"});
  ASSERT_EXIT_CODE(disable, 0);
  EXPECT_EQ(disable.out, "Success! Disabled audit device (if it was enabled) at: second/\n");
  EXPECT_EXIT_CODE(leasefs({"audit", "disable", "second/"}), 0);  // already gone: still 0
  ASSERT_EXIT_CODE(leasefs({"audit", "disable", "file"}), 0);
  EXPECT_EXIT_CODE(leasefs({"audit", "list"}), 2);
  EXPECT_EXIT_CODE(leasefs({"audit", "verify", log, "-format=json"}), 0);
}

}  // namespace
}  // namespace leasefs::testing
