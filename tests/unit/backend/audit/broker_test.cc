// The broker end to end with real files and sockets: entries land hashed and chained,
// the chain survives restarts and rotation, the fail-closed rule holds, and a device
// that fails or blocks never holds a request past its write_timeout.
#include "backend/audit/broker.h"

#include <chrono>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/audit/chain.h"
#include "backend/storage/inmem_storage.h"
#include "tests/unit/backend/audit/audit_test_support.h"

namespace leasefs::backend::audit {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::closed_port;
using testing::join_lines;
using testing::read_file;
using testing::split_lines;
using testing::TempDir;
using testing::TestListener;
using testing::write_file;

constexpr std::string_view kSecret = "correct-horse-battery-staple";
constexpr std::string_view kToken = "hvs.CAESIJ-client-token-value";
constexpr std::string_view kAccessor = "accessor-5f1d2c3b4a";
constexpr std::string_view kResponseSecret = "generated-password-Zx9";
constexpr std::string_view kNewToken = "hvs.login-issued-token";
constexpr std::string_view kNewAccessor = "login-accessor-77aa";

AuditRequest make_request(int i = 0) {
  AuditRequest r;
  r.id = "req-" + std::to_string(i);
  r.operation = "update";
  r.path = "secret/data/app";
  r.mount_point = "secret/";
  r.mount_type = "kv";
  r.client_token = std::string(kToken);
  r.client_token_accessor = std::string(kAccessor);
  r.data = {{"data", {{"password", kSecret}, {"n", i}}}};
  r.remote_address = "127.0.0.1";
  AuditAuth auth;
  auth.client_token = std::string(kToken);
  auth.accessor = std::string(kAccessor);
  auth.policies = {"default"};
  auth.token_type = "service";
  r.auth = auth;
  return r;
}

AuditResponse make_response() {
  AuditResponse resp;
  resp.data = {{"password", kResponseSecret}, {"version", 1}};
  resp.lease_id = "secret/creds/lease-123";
  AuditAuth login;
  login.client_token = std::string(kNewToken);
  login.accessor = std::string(kNewAccessor);
  resp.auth = login;
  return resp;
}

std::vector<json> entries(const std::string& path) {
  std::vector<json> out;
  for (const auto& line : split_lines(read_file(path))) {
    out.push_back(json::parse(line, nullptr, false));
  }
  return out;
}

DeviceSpec file_device(const std::string& path, std::map<std::string, std::string> extra = {},
                       std::string name = "file") {
  DeviceSpec spec;
  spec.path = std::move(name);
  spec.type = "file";
  spec.options = std::move(extra);
  spec.options["file_path"] = path;
  return spec;
}

DeviceSpec socket_device(const std::string& address, std::map<std::string, std::string> extra = {},
                         std::string name = "socket") {
  DeviceSpec spec;
  spec.path = std::move(name);
  spec.type = "socket";
  spec.options = std::move(extra);
  spec.options["address"] = address;
  return spec;
}

class BrokerTest : public ::testing::Test {
 protected:
  BrokerOptions options() { return BrokerOptions{.clock = &clock_, .random = &random_}; }

  // Logs n request/response pairs and checks each call succeeds.
  void log_pairs(Broker& broker, int n, int first = 0) {
    for (int i = first; i < first + n; ++i) {
      auto req = make_request(i);
      ASSERT_TRUE(broker.log_request(req).has_value());
      ASSERT_TRUE(broker.log_response(req, make_response()).has_value());
    }
  }

  TempDir dir_;
  sdk::ManualClock clock_;
  sdk::SystemRandom random_;
  storage::InmemStorage storage_;
};

TEST_F(BrokerTest, NoDeviceEverythingPasses) {
  Broker broker(options());
  EXPECT_FALSE(broker.has_devices());
  EXPECT_TRUE(broker.log_request(make_request()).has_value());
  EXPECT_TRUE(broker.log_response(make_request(), make_response()).has_value());
  AccessEvent ev;
  EXPECT_TRUE(broker.log_access_events(std::span(&ev, 1), {}).has_value());
  EXPECT_EQ(broker.list(), json::object());
}

TEST_F(BrokerTest, FileDeviceWritesRequestThenResponseWithSameId) {
  Broker broker(options());
  const std::string path = dir_.file("audit.log");
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  EXPECT_TRUE(broker.has_devices());
  auto req = make_request(7);
  ASSERT_TRUE(broker.log_request(req).has_value());
  ASSERT_TRUE(broker.log_response(req, make_response()).has_value());
  auto es = entries(path);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0]["type"], "request");
  EXPECT_EQ(es[1]["type"], "response");
  EXPECT_EQ(es[0]["request"]["id"], "req-7");
  EXPECT_EQ(es[1]["request"]["id"], "req-7");
  EXPECT_EQ(es[0]["time"], sdk::rfc3339(clock_.now()));
  EXPECT_EQ(es[0]["prev_hash"], std::string(kGenesisHash));
  EXPECT_EQ(es[1]["prev_hash"], es[0]["hash"]);
  EXPECT_EQ(es[1]["response"]["secret"]["lease_id"], "secret/creds/lease-123");
  EXPECT_EQ(broker.chain_heads()["file/"], es[1]["hash"]);

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  auto verified = verify_log(path);
  ASSERT_TRUE(verified.has_value()) << verified.error().message();
  EXPECT_EQ(verified->entries, 2u);
}

TEST_F(BrokerTest, DeferredRequestIsWrittenWithItsResponse) {
  Broker broker(options());
  const std::string path = dir_.file("audit.log");
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  auto req = make_request(3);
  const std::string arrived = sdk::rfc3339(clock_.now());
  const Broker::DeferredRequest deferred = broker.defer_request("permission denied");
  EXPECT_EQ(deferred.time, arrived);
  EXPECT_EQ(read_file(path), "") << "a deferred request entry is not written on its own";
  clock_.advance(std::chrono::milliseconds(250));
  ASSERT_TRUE(broker.log_exchange(req, deferred, make_response()).has_value());

  // The same two entries log_request and log_response write, with the request's own
  // time and the error it met, linked in order.
  auto es = entries(path);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0]["type"], "request");
  EXPECT_EQ(es[0]["time"], arrived);
  EXPECT_EQ(es[0]["error"], "permission denied");
  EXPECT_EQ(es[0]["request"]["id"], "req-3");
  EXPECT_EQ(es[0]["request"]["data"]["data"]["password"], *broker.hash("file/", kSecret));
  EXPECT_EQ(es[1]["type"], "response");
  EXPECT_EQ(es[1]["time"], sdk::rfc3339(clock_.now()));
  EXPECT_EQ(es[1]["request"]["id"], "req-3");
  EXPECT_EQ(es[1]["request"], es[0]["request"]);
  EXPECT_EQ(es[1]["auth"], es[0]["auth"]);
  EXPECT_EQ(es[1]["response"]["data"]["password"], *broker.hash("file/", kResponseSecret));
  EXPECT_EQ(es[1]["prev_hash"], es[0]["hash"]);
  auto verified = verify_log(path);
  ASSERT_TRUE(verified.has_value()) << verified.error().message();
  EXPECT_EQ(verified->entries, 2u);

  // Nothing enabled: nothing to record, nothing fails.
  Broker none(options());
  EXPECT_TRUE(none.log_exchange(req, none.defer_request(), make_response()).has_value());
  // The only device failing: the exchange fails, so the caller answers 500.
  Broker full(options());
  ASSERT_TRUE(full.enable(file_device("/dev/full", {}, "full")).has_value());
  auto failed = full.log_exchange(req, full.defer_request(), make_response());
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), sdk::Code::kInternal);
  EXPECT_NE(failed.error().message().find("No space left"), std::string::npos)
      << failed.error().message();
}

TEST_F(BrokerTest, ModeOptionIsApplied) {
  Broker broker(options());
  const std::string path = dir_.file("audit.log");
  write_file(path, "");
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(broker.enable(file_device(path, {{"mode", "0640"}})).has_value());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(BrokerTest, NoSecretTokenOrAccessorInPlaintext) {
  Broker broker(options());
  const std::string path = dir_.file("audit.log");
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  log_pairs(broker, 3);
  AccessEvent ev;
  ev.file = "db/password";
  ev.result = AccessResult::kAllowed;
  AccessReporter reporter{.request_id = "r",
                          .client_token = std::string(kToken),
                          .accessor = std::string(kAccessor),
                          .display_name = "",
                          .remote_address = ""};
  ASSERT_TRUE(broker.log_access_events(std::span(&ev, 1), reporter).has_value());
  const std::string text = read_file(path);
  for (std::string_view s :
       {kSecret, kToken, kAccessor, kResponseSecret, kNewToken, kNewAccessor}) {
    EXPECT_EQ(text.find(s), std::string::npos) << "found " << s << " in the audit log";
  }
  // ...and their HMACs, as sys/audit-hash computes them, are there.
  for (std::string_view s :
       {kSecret, kToken, kAccessor, kResponseSecret, kNewToken, kNewAccessor}) {
    auto h = broker.hash("file", s);
    ASSERT_TRUE(h.has_value());
    EXPECT_TRUE(h->starts_with("hmac-sha256:"));
    EXPECT_NE(text.find(*h), std::string::npos) << s;
  }
  auto es = entries(path);
  EXPECT_EQ(es[0]["request"]["data"]["data"]["password"], *broker.hash("file/", kSecret));
  EXPECT_EQ(es[0]["request"]["data"]["data"]["n"], 0);  // numbers untouched
}

TEST_F(BrokerTest, EachDeviceHasItsOwnSaltAndLogRawWritesClear) {
  Broker broker(options());
  ASSERT_TRUE(broker.enable(file_device(dir_.file("a.log"), {}, "a")).has_value());
  ASSERT_TRUE(
      broker.enable(file_device(dir_.file("b.log"), {{"log_raw", "true"}}, "b")).has_value());
  EXPECT_NE(*broker.hash("a", "x"), *broker.hash("b", "x"));
  log_pairs(broker, 1);
  // A log call returns once ONE device recorded the entry; close_all() waits for the rest.
  broker.close_all();
  EXPECT_EQ(read_file(dir_.file("a.log")).find(kSecret), std::string::npos);
  EXPECT_NE(read_file(dir_.file("b.log")).find(kSecret), std::string::npos);
  EXPECT_TRUE(verify_log(dir_.file("b.log")).has_value());
}

TEST_F(BrokerTest, ListEnableDisableAndErrors) {
  Broker broker(options());
  ASSERT_TRUE(broker.load(storage_).has_value());
  DeviceSpec spec = file_device(dir_.file("audit.log"), {{"hmac_accessor", "false"}});
  spec.description = "primary";
  ASSERT_TRUE(broker.enable(spec).has_value());
  json list = broker.list();
  ASSERT_TRUE(list.contains("file/"));
  EXPECT_EQ(list["file/"]["type"], "file");
  EXPECT_EQ(list["file/"]["description"], "primary");
  EXPECT_EQ(list["file/"]["path"], "file/");
  EXPECT_EQ(list["file/"]["local"], false);
  EXPECT_EQ(list["file/"]["options"]["file_path"], dir_.file("audit.log"));
  EXPECT_EQ(list["file/"]["options"]["hmac_accessor"], "false");

  EXPECT_EQ(broker.enable(spec).error().code(), sdk::Code::kInvalidArgument);  // path in use
  auto same_file = file_device(dir_.file("audit.log"), {}, "other");
  EXPECT_EQ(broker.enable(same_file).error().code(), sdk::Code::kInvalidArgument);
  EXPECT_FALSE(broker.enable(file_device(dir_.file("no/such/dir/a.log"), {}, "x")).has_value());
  EXPECT_FALSE(broker.hash("nope", "x").has_value());

  auto stored = storage_.get(kConfigKey);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_NE((*stored)->find("\"file/\""), std::string::npos);

  ASSERT_TRUE(broker.disable("file").has_value());
  EXPECT_FALSE(broker.has_devices());
  EXPECT_EQ(broker.list(), json::object());
  EXPECT_TRUE(broker.disable("file").has_value());  // already gone: fine
  stored = storage_.get(kConfigKey);
  EXPECT_EQ((*stored)->find("\"file/\""), std::string::npos);
  // Disabled: nothing is recorded any more, and requests pass.
  EXPECT_TRUE(broker.log_request(make_request()).has_value());
}

TEST_F(BrokerTest, VerifyNamesTheFirstBadLineOfABrokerLog) {
  Broker broker(options());
  const std::string path = dir_.file("audit.log");
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  log_pairs(broker, 10);  // 20 lines
  broker.close_all();
  auto intact = verify_log(path);
  ASSERT_TRUE(intact.has_value()) << intact.error().message();
  EXPECT_EQ(intact->entries, 20u);
  const auto lines = split_lines(read_file(path));

  auto expect_fault = [&](const std::vector<std::string>& edited, FaultKind kind,
                          std::uint64_t line, bool trailing_newline = true) {
    std::string text = join_lines(edited);
    if (!trailing_newline) text.pop_back();
    const std::string copy = dir_.file("edited.log");
    write_file(copy, text);
    VerifyReport report;
    auto result = verify_log(copy, {}, &report);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(report.fault, kind) << result.error().message();
    EXPECT_EQ(report.fault_line, line) << result.error().message();
  };

  auto edited = lines;  // alter a value in line 9
  auto at = edited[8].find("\"operation\":\"update\"");
  ASSERT_NE(at, std::string::npos);
  edited[8].replace(at, 20, "\"operation\":\"delete\"");
  expect_fault(edited, FaultKind::kAltered, 9);

  edited = lines;  // delete line 12
  edited.erase(edited.begin() + 11);
  expect_fault(edited, FaultKind::kDropped, 12);

  edited = lines;  // swap lines 5 and 6
  std::swap(edited[4], edited[5]);
  expect_fault(edited, FaultKind::kReordered, 5);

  edited = lines;  // truncate the last line
  edited.back().resize(edited.back().size() / 2);
  expect_fault(edited, FaultKind::kTruncated, 20, /*trailing_newline=*/false);
}

TEST_F(BrokerTest, ChainAndSaltSurviveARestart) {
  const std::string path = dir_.file("audit.log");
  std::string hash_before;
  {
    Broker broker(options());
    ASSERT_TRUE(broker.load(storage_).has_value());
    ASSERT_TRUE(broker.enable(file_device(path)).has_value());
    log_pairs(broker, 2);
    hash_before = *broker.hash("file", kSecret);
    broker.close_all();
  }
  Broker broker(options());
  ASSERT_TRUE(broker.load(storage_).has_value());
  ASSERT_TRUE(broker.has_devices());
  EXPECT_EQ(*broker.hash("file", kSecret), hash_before);
  log_pairs(broker, 2, 2);
  broker.close_all();
  auto report = verify_log(path);
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_EQ(report->entries, 8u);
  EXPECT_TRUE(report->starts_at_genesis);
}

TEST_F(BrokerTest, ChainContinuesFromTheFileWithoutAPersistedHead) {
  // A crash: nothing saved the head, so the device continues from the file's last line.
  const std::string path = dir_.file("audit.log");
  {
    Broker broker(options());
    ASSERT_TRUE(broker.load(storage_).has_value());
    ASSERT_TRUE(broker.enable(file_device(path)).has_value());
    log_pairs(broker, 2);
    // Simulate a crash: the stored table keeps the head from enable time (empty).
    auto stored = storage_.get(kConfigKey);
    ASSERT_TRUE(stored.has_value());
    std::string saved = **stored;
    broker.close_all();
    ASSERT_TRUE(storage_.put(kConfigKey, saved).has_value());
  }
  Broker broker(options());
  ASSERT_TRUE(broker.load(storage_).has_value());
  log_pairs(broker, 1, 2);
  broker.close_all();
  auto report = verify_log(path);
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_EQ(report->entries, 6u);
}

TEST_F(BrokerTest, TornLastLineIsEndedAndTheChainSkipsIt) {
  const std::string path = dir_.file("audit.log");
  {
    Broker broker(options());
    ASSERT_TRUE(broker.load(storage_).has_value());
    ASSERT_TRUE(broker.enable(file_device(path)).has_value());
    log_pairs(broker, 1);
    broker.close_all();
  }
  const auto before = entries(path);
  {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(::write(fd, "{\"time\":\"torn", 13), 0);
    ::close(fd);
  }
  Broker broker(options());
  ASSERT_TRUE(broker.load(storage_).has_value());
  log_pairs(broker, 1, 1);
  broker.close_all();
  auto lines = split_lines(read_file(path));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[2], "{\"time\":\"torn");
  auto next = json::parse(lines[3]);
  EXPECT_EQ(next["prev_hash"], before[1]["hash"]);
  VerifyReport report;
  EXPECT_FALSE(verify_log(path, {}, &report).has_value());
  EXPECT_EQ(report.fault, FaultKind::kMalformed);
  EXPECT_EQ(report.fault_line, 3u);
}

TEST_F(BrokerTest, ReopenAfterRenameWritesANewFileThatContinuesTheChain) {
  const std::string path = dir_.file("audit.log");
  const std::string rotated = dir_.file("audit.log.1");
  Broker broker(options());
  ASSERT_TRUE(broker.load(storage_).has_value());
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  log_pairs(broker, 2);
  ASSERT_EQ(::rename(path.c_str(), rotated.c_str()), 0);
  log_pairs(broker, 1, 2);  // still goes to the renamed file until the reopen
  ASSERT_TRUE(broker.reopen().has_value());
  log_pairs(broker, 2, 3);
  ASSERT_EQ(split_lines(read_file(rotated)).size(), 6u);
  auto fresh = entries(path);
  ASSERT_EQ(fresh.size(), 4u);
  auto old_report = verify_log(rotated);
  ASSERT_TRUE(old_report.has_value());
  EXPECT_EQ(fresh[0]["prev_hash"], old_report->last_hash);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  std::vector<std::filesystem::path> series = {rotated, path};
  auto both = verify_logs(series);
  ASSERT_TRUE(both.has_value()) << both.error().message();
  EXPECT_EQ(both->entries, 10u);
  VerifyOptions up_to_now;
  up_to_now.expected_prev_hash = std::string(kGenesisHash);
  up_to_now.expected_last_hash = broker.chain_heads()["file/"];
  EXPECT_TRUE(verify_logs(series, up_to_now).has_value());

  // A restart while the new file is still empty continues from the saved head.
  ASSERT_EQ(::rename(path.c_str(), dir_.file("audit.log.2").c_str()), 0);
  ASSERT_TRUE(broker.reopen().has_value());
  broker.close_all();
  Broker restarted(options());
  ASSERT_TRUE(restarted.load(storage_).has_value());
  log_pairs(restarted, 1, 5);
  restarted.close_all();
  std::vector<std::filesystem::path> all = {rotated, dir_.file("audit.log.2"), path};
  auto three = verify_logs(all);
  ASSERT_TRUE(three.has_value()) << three.error().message();
  EXPECT_EQ(three->entries, 12u);
}

TEST_F(BrokerTest, DeletedFileIsCreatedAgainAndLinked) {
  const std::string path = dir_.file("audit.log");
  Broker broker(options());
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  log_pairs(broker, 1);
  const std::string last = broker.chain_heads()["file/"];
  ASSERT_EQ(::unlink(path.c_str()), 0);
  log_pairs(broker, 1, 1);
  auto es = entries(path);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0]["prev_hash"], last);
  // Again: the file created the second time is watched (checked) as the first was.
  const std::string second = broker.chain_heads()["file/"];
  ASSERT_EQ(::unlink(path.c_str()), 0);
  log_pairs(broker, 2, 2);
  es = entries(path);
  ASSERT_EQ(es.size(), 4u);
  EXPECT_EQ(es[0]["prev_hash"], second);
  // A chmod between writes (an attribute change that is not a delete) changes nothing.
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  log_pairs(broker, 1, 4);
  EXPECT_EQ(entries(path).size(), 6u);
}

TEST_F(BrokerTest, OnlyDeviceFailingFailsTheRequest_DirectoryRemoved) {
  std::filesystem::create_directory(dir_.path() / "sub");
  const std::string path = dir_.file("sub/audit.log");
  Broker broker(options());
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  log_pairs(broker, 1);
  std::filesystem::remove_all(dir_.path() / "sub");
  auto result = broker.log_request(make_request());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), sdk::Code::kInternal);
  EXPECT_NE(result.error().message().find("file/"), std::string::npos) << result.error().message();
  // A later request still finds the file gone (nothing is written to the deleted one).
  EXPECT_FALSE(broker.log_request(make_request()).has_value());
  // Once the directory is back, the device writes again (a new file, same chain).
  std::filesystem::create_directory(dir_.path() / "sub");
  EXPECT_TRUE(broker.log_request(make_request()).has_value());
  EXPECT_EQ(entries(path).size(), 1u);
}

TEST_F(BrokerTest, OnlyDeviceFailingFailsTheRequest_DiskFull) {
  Broker broker(options());
  ASSERT_TRUE(broker.enable(file_device("/dev/full", {}, "full")).has_value());
  auto result = broker.log_request(make_request());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), sdk::Code::kInternal);
  EXPECT_NE(result.error().message().find("No space left"), std::string::npos)
      << result.error().message();
  EXPECT_FALSE(broker.log_response(make_request(), make_response()).has_value());
}

TEST_F(BrokerTest, OnlyDeviceFailingFailsTheRequest_SocketPeerGone) {
  auto listener = std::make_unique<TestListener>(TestListener::Mode::kRead);
  const std::string address = listener->address();
  Broker broker(options());
  ASSERT_TRUE(broker.enable(socket_device(address, {{"write_timeout", "500ms"}})).has_value());
  ASSERT_TRUE(broker.log_request(make_request()).has_value());
  listener.reset();  // closes the listening socket and the connection
  const auto start = steady_clock::now();
  auto result = broker.log_request(make_request());
  EXPECT_FALSE(result.has_value());
  EXPECT_LT(steady_clock::now() - start, milliseconds(1500));
}

TEST_F(BrokerTest, SocketDeviceRestoredAgainstAClosedPortFailsClosed) {
  {
    Broker broker(options());
    ASSERT_TRUE(broker.load(storage_).has_value());
    TestListener listener(TestListener::Mode::kRead);
    ASSERT_TRUE(
        broker.enable(socket_device(listener.address(), {{"write_timeout", "300ms"}})).has_value());
    broker.close_all();
  }
  // Point the stored device at a port nobody listens on, as after a collector outage.
  auto stored = storage_.get(kConfigKey);
  json doc = json::parse(**stored);
  doc["devices"]["socket/"]["options"]["address"] = "127.0.0.1:" + std::to_string(closed_port());
  ASSERT_TRUE(storage_.put(kConfigKey, doc.dump()).has_value());
  Broker broker(options());
  ASSERT_TRUE(broker.load(storage_).has_value());
  const auto start = steady_clock::now();
  EXPECT_FALSE(broker.log_request(make_request()).has_value());
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
}

TEST_F(BrokerTest, EnableSocketNeedsAListener) {
  Broker broker(options());
  auto result = broker.enable(socket_device("127.0.0.1:" + std::to_string(closed_port())));
  ASSERT_FALSE(result.has_value());
  EXPECT_FALSE(broker.has_devices());
}

TEST_F(BrokerTest, TwoDevicesOneFailingStillRecords) {
  Broker broker(options());
  const std::string path = dir_.file("audit.log");
  ASSERT_TRUE(broker.enable(file_device("/dev/full", {}, "full")).has_value());
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  log_pairs(broker, 3);
  EXPECT_EQ(entries(path).size(), 6u);
  EXPECT_TRUE(verify_log(path).has_value());
}

TEST_F(BrokerTest, SocketDeviceDeliversAChainedStream) {
  TestListener listener(TestListener::Mode::kRead);
  Broker broker(options());
  ASSERT_TRUE(
      broker.enable(socket_device(listener.address(), {{"prefix", "leasefs "}})).has_value());
  log_pairs(broker, 5);
  broker.close_all();
  const auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (split_lines(listener.received()).size() < 10 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  const std::string got = listener.received();
  ASSERT_EQ(split_lines(got).size(), 10u);
  EXPECT_TRUE(got.starts_with("leasefs {\"time\":"));
  write_file(dir_.file("received.log"), got);
  auto report = verify_log(dir_.file("received.log"));
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_EQ(report->entries, 10u);
}

TEST_F(BrokerTest, SocketDeviceReconnectsWhenThePeerClosed) {
  TestListener listener(TestListener::Mode::kCloseAfterFirst);
  Broker broker(options());
  ASSERT_TRUE(broker.enable(socket_device(listener.address())).has_value());
  for (int i = 0; i < 4; ++i) {
    auto req = make_request(i);
    ASSERT_TRUE(broker.log_request(req).has_value()) << i;
    // Let the listener read and hang up before the next entry.
    const auto deadline = steady_clock::now() + std::chrono::seconds(5);
    while (split_lines(listener.received()).size() < static_cast<std::size_t>(i + 1) &&
           steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    std::this_thread::sleep_for(milliseconds(30));
  }
  EXPECT_EQ(split_lines(listener.received()).size(), 4u);
  EXPECT_GE(listener.connections(), 4);
}

TEST_F(BrokerTest, BlockedSocketPeerCostsAtMostTheTimeoutAndDoesNotStallOthers) {
  // The peer accepts and never reads: once the socket buffers are full, every write blocks.
  TestListener listener(TestListener::Mode::kNeverRead, /*rcvbuf=*/4096);
  Broker broker(options());
  ASSERT_TRUE(broker
                  .enable(socket_device(listener.address(),
                                        {{"write_timeout", "300ms"}, {"log_raw", "true"}}))
                  .has_value());
  AuditRequest big = make_request();
  big.data = {{"blob", std::string(512 * 1024, 'x')}};
  bool failed = false;
  for (int i = 0; i < 200 && !failed; ++i) {
    const auto start = steady_clock::now();
    auto result = broker.log_request(big);
    const auto took = steady_clock::now() - start;
    EXPECT_LT(took, milliseconds(300 + 400)) << "entry " << i;
    failed = !result.has_value();
  }
  ASSERT_TRUE(failed) << "the socket never blocked";

  // A second, healthy device: requests succeed at once while the socket stays blocked
  // (its peer accepts every reconnection and never reads).
  const std::string path = dir_.file("audit.log");
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  AuditRequest medium = make_request();
  medium.data = {{"blob", std::string(64 * 1024, 'y')}};
  for (int i = 0; i < 20; ++i) {
    const auto start = steady_clock::now();
    ASSERT_TRUE(broker.log_request(medium).has_value());
    EXPECT_LT(steady_clock::now() - start, milliseconds(250)) << "entry " << i;
  }
  // The socket may have taken an entry first (the call returns on the first device that
  // records it); the file gets every entry too, shortly.
  const auto until = steady_clock::now() + std::chrono::seconds(5);
  while (entries(path).size() < 20u && steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(entries(path).size(), 20u);
  // Alone again, the blocked socket fails requests, each within its timeout.
  ASSERT_TRUE(broker.disable("file").has_value());
  failed = false;
  for (int i = 0; i < 200 && !failed; ++i) {
    const auto start = steady_clock::now();
    failed = !broker.log_request(big).has_value();
    EXPECT_LT(steady_clock::now() - start, milliseconds(300 + 400)) << "entry " << i;
  }
  EXPECT_TRUE(failed);
  const auto closing = steady_clock::now();
  broker.close_all();
  EXPECT_LT(steady_clock::now() - closing, std::chrono::seconds(3));
}

TEST_F(BrokerTest, StdoutDeviceWritesToItsDescriptor) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  BrokerOptions opts = options();
  opts.stdout_fd = fds[1];
  Broker broker(opts);
  DeviceSpec spec;
  spec.path = "stdout";
  spec.type = "stdout";
  ASSERT_TRUE(broker.enable(spec).has_value());
  log_pairs(broker, 1);
  broker.close_all();
  ::close(fds[1]);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  ASSERT_EQ(split_lines(got).size(), 2u);
  EXPECT_EQ(got.find(kSecret), std::string::npos);
  write_file(dir_.file("stdout.log"), got);
  EXPECT_TRUE(verify_log(dir_.file("stdout.log")).has_value());
}

TEST_F(BrokerTest, AccessEventsAreRecordedAndChained) {
  const std::string path = dir_.file("audit.log");
  Broker broker(options());
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  log_pairs(broker, 1);
  std::vector<AccessEvent> events(3);
  for (int i = 0; i < 3; ++i) {
    events[i].host = "web-1";
    events[i].file = "db/password";
    events[i].path = "database/creds/ro";
    events[i].lease_id = "database/creds/ro/L" + std::to_string(i);
    events[i].pid = 100 + i;
    events[i].uid = 1000;
    events[i].gid = 1000;
    events[i].exe = "/usr/bin/app";
    events[i].cgroup = "/system.slice/app.service";
    events[i].result = i == 2 ? AccessResult::kDenied : AccessResult::kAllowed;
  }
  AccessReporter reporter{.request_id = "batch-1",
                          .client_token = std::string(kToken),
                          .accessor = std::string(kAccessor),
                          .display_name = "approle",
                          .remote_address = "10.0.0.2"};
  ASSERT_TRUE(broker.log_access_events(events, reporter).has_value());
  auto es = entries(path);
  ASSERT_EQ(es.size(), 5u);
  for (int i = 0; i < 3; ++i) {
    const json& e = es[2 + i];
    EXPECT_EQ(e["type"], "access");
    EXPECT_EQ(e["access"]["lease_id"], "database/creds/ro/L" + std::to_string(i));  // plain
    EXPECT_EQ(e["access"]["pid"], 100 + i);
    EXPECT_EQ(e["access"]["result"], i == 2 ? "denied" : "allowed");
    EXPECT_EQ(e["request"]["id"], "batch-1");
    EXPECT_EQ(e["prev_hash"], es[1 + i]["hash"]);
  }
  auto report = verify_log(path);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->entries, 5u);

  std::vector<AccessEvent> too_many(kMaxAccessEventsPerBatch + 1);
  EXPECT_EQ(broker.log_access_events(too_many, reporter).error().code(),
            sdk::Code::kInvalidArgument);
}

TEST_F(BrokerTest, ConcurrentRequestsAllLandInOneChain) {
  const std::string path = dir_.file("audit.log");
  Broker broker(options());
  ASSERT_TRUE(broker.enable(file_device(path)).has_value());
  constexpr int kThreads = 8;
  constexpr int kPairs = 150;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPairs; ++i) {
        auto req = make_request(t * 1000 + i);
        if (!broker.log_request(req)) ++failures;
        if (!broker.log_response(req, make_response())) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  broker.close_all();
  auto report = verify_log(path);
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_EQ(report->entries, static_cast<std::uint64_t>(kThreads * kPairs * 2));
}

TEST_F(BrokerTest, LoadRefusesACorruptTableAndASecondLoad) {
  ASSERT_TRUE(storage_.put(kConfigKey, "{not json").has_value());
  Broker broker(options());
  auto result = broker.load(storage_);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), sdk::Code::kDataLoss);
  ASSERT_TRUE(storage_.remove(kConfigKey).has_value());
  ASSERT_TRUE(broker.load(storage_).has_value());
  EXPECT_EQ(broker.load(storage_).error().code(), sdk::Code::kFailedPrecondition);
  broker.close_all();
  EXPECT_TRUE(broker.load(storage_).has_value());  // after close_all (seal), load again
}

TEST_F(BrokerTest, FsyncAlwaysAndDiscard) {
  Broker broker(options());
  ASSERT_TRUE(broker.enable(file_device(dir_.file("a.log"), {{"fsync", "always"}})).has_value());
  ASSERT_TRUE(broker.enable(file_device("discard", {}, "null")).has_value());
  log_pairs(broker, 3);
  broker.close_all();
  EXPECT_EQ(entries(dir_.file("a.log")).size(), 6u);
}

}  // namespace
}  // namespace leasefs::backend::audit
