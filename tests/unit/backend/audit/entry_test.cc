// Entry shapes (Vault's request/response, leasefs's access) and the HMAC rules: which
// values are hashed, which keys are exempt, and what log_raw and hmac_accessor change.
#include "backend/audit/entry.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "backend/audit/chain.h"
#include "backend/audit/json_text.h"
#include "backend/sdk/encoding.h"

namespace leasefs::backend::audit {
namespace {

using nlohmann::json;

constexpr std::string_view kTime = "2026-11-28T13:24:54.123456789Z";

std::string reference_hmac(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size);
  return "hmac-sha256:" + sdk::hex_encode(std::span<const std::uint8_t>(mac, size));
}

std::shared_ptr<Hasher> make_hasher(
    std::string_view salt = "5e2c7a9a-8d2a-4b5d-9f3e-0123456789ab") {
  auto hasher = Hasher::create(sdk::SecureBuffer::copy_of(salt));
  EXPECT_TRUE(hasher.has_value());
  return *hasher;
}

AuditRequest sample_request() {
  AuditRequest r;
  r.id = "0b9e4d7e-6a4b-4a1e-8d0c-2f6d9b1c3a55";
  r.operation = "update";
  r.path = "secret/data/app";
  r.mount_point = "secret/";
  r.mount_type = "kv";
  r.mount_accessor = "kv_1f2e3d4c";
  r.client_token = "hvs.CLIENTTOKENVALUE";
  r.client_token_accessor = "ACCESSORVALUE";
  r.data = {{"password", "hunter2"},
            {"ttl", 30},
            {"enabled", true},
            {"nested", {{"inner", "deepsecret"}, {"list", {"a1", 2, "b2"}}}}};
  r.remote_address = "10.1.2.3";
  r.remote_port = 51234;
  r.headers = {{"x-request-tag", {"blue"}}, {"x-secret-header", {"sh-value"}}};
  r.hmac_headers = {"x-secret-header"};
  AuditAuth auth;
  auth.client_token = "hvs.CLIENTTOKENVALUE";
  auth.accessor = "ACCESSORVALUE";
  auth.display_name = "token-app";
  auth.policies = {"default", "app"};
  auth.token_policies = {"default", "app"};
  auth.metadata = {{"team", "payments"}};
  auth.entity_id = "entity-1";
  auth.token_type = "service";
  auth.token_ttl = 3600;
  auth.policy_results = PolicyResults{.allowed = true, .granting_policies = {"app"}};
  r.auth = auth;
  return r;
}

json parse(const std::string& body, std::string_view prefix = "") {
  EXPECT_TRUE(std::string_view(body).starts_with(prefix));
  json j = json::parse(body.substr(prefix.size()), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << body;
  return j;
}

TEST(HasherTest, MatchesHmacSha256KeyedWithTheSaltText) {
  auto hasher = make_hasher("my-salt");
  EXPECT_EQ(hasher->hmac("hello"), reference_hmac("my-salt", "hello"));
  EXPECT_EQ(hasher->hmac(""), reference_hmac("my-salt", ""));
  Hasher::Session session(*hasher);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(session.hmac("again"), reference_hmac("my-salt", "again"));
  EXPECT_EQ(session.hmac(std::string(10000, 'x')),
            reference_hmac("my-salt", std::string(10000, 'x')));
}

// The hasher keys SHA-256 states itself (RFC 2104), so check it against OpenSSL's HMAC
// across the block boundaries of key and input: keys shorter than, as long as and longer
// than a block (hashed first), inputs that end around a block and take several.
TEST(HasherTest, MatchesHmacAcrossKeyAndInputBlockSizes) {
  for (std::size_t key_size : {1u, 36u, 63u, 64u, 65u, 200u}) {
    std::string key(key_size, 'k');
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>('a' + i % 26);
    auto hasher = make_hasher(key);
    Hasher::Session session(*hasher);
    for (std::size_t input_size : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 119u, 120u, 1000u}) {
      const std::string input(input_size, static_cast<char>('0' + input_size % 10));
      EXPECT_EQ(session.hmac(input), reference_hmac(key, input))
          << "key " << key_size << " bytes, input " << input_size << " bytes";
      EXPECT_EQ(hasher->hmac(input), reference_hmac(key, input));
    }
  }
}

TEST(HasherTest, NewSaltIsAUuidInLockedBuffer) {
  sdk::SeededRandom random(7);
  auto salt = new_salt(random);
  ASSERT_TRUE(salt.has_value());
  ASSERT_EQ(salt->size(), 36u);
  std::string text(salt->view());
  EXPECT_EQ(text[8], '-');
  EXPECT_EQ(text[14], '4');
  auto other = new_salt(random);
  EXPECT_NE(text, std::string(other->view()));
}

json write_value(const json& data, Hasher::Session* session, std::vector<std::string> plain = {}) {
  std::string out;
  JsonText w(out);
  w.value(data, session, plain);
  json parsed = json::parse(out, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << out;
  return parsed;
}

TEST(JsonTextTest, ValuesFollowVaultExemptionRule) {
  auto hasher = make_hasher();
  Hasher::Session session(*hasher);
  json data = {{"plain", "visible"},
               {"plainlist", {"v1", "v2"}},
               {"plainobj", {{"inner", "hidden"}}},
               {"secret", "hidden2"},
               {"n", 5},
               {"u", 18446744073709551615ull},
               {"f", 1.5},
               {"b", false},
               {"z", nullptr}};
  json out = write_value(data, &session, {"plain", "plainlist", "plainobj"});
  EXPECT_EQ(out["plain"], "visible");
  EXPECT_EQ(out["plainlist"], json({"v1", "v2"}));
  EXPECT_EQ(out["plainobj"]["inner"], hasher->hmac("hidden"));  // nearest key is "inner"
  EXPECT_EQ(out["secret"], hasher->hmac("hidden2"));
  EXPECT_EQ(out["n"], 5);
  EXPECT_EQ(out["u"], 18446744073709551615ull);
  EXPECT_EQ(out["f"], 1.5);
  EXPECT_EQ(out["b"], false);
  EXPECT_TRUE(out["z"].is_null());
  // Without a session the value comes out as it went in.
  EXPECT_EQ(write_value(data, nullptr), data);
}

TEST(JsonTextTest, VeryDeepDataIsHashedWhole) {
  auto hasher = make_hasher();
  Hasher::Session session(*hasher);
  json deep = "bottom-secret";
  for (int i = 0; i < 300; ++i) deep = json::array({deep});
  std::string out;
  JsonText w(out);
  w.value(json{{"k", deep}}, &session);
  EXPECT_EQ(out.find("bottom-secret"), std::string::npos);
  EXPECT_FALSE(json::parse(out, nullptr, false).is_discarded());
}

TEST(JsonTextTest, StringsAreEscapedAndMadeValidUtf8) {
  const std::string tricky = std::string("q\"b\\n\n\t\x01\x7f é € 😀 ") + "\xff\xc3(\xed\xa0\x80";
  std::string out;
  append_json_string(out, tricky);
  json parsed = json::parse(out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << out;
  const std::string back = parsed.get<std::string>();
  EXPECT_TRUE(back.starts_with("q\"b\\n\n\t\x01\x7f é € 😀 "));
  // Each invalid byte became U+FFFD; the valid '(' survived.
  EXPECT_TRUE(back.ends_with("\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
  EXPECT_NE(out.find("\\u0001"), std::string::npos);
}

// The escaper looks at eight bytes at a time; every character class must be found at
// every position of a word and in the tail, and the result must be what a byte-by-byte
// JSON serializer produces (nlohmann's, with invalid UTF-8 replaced as ours does).
TEST(JsonTextTest, EscapingIsTheSameAtEveryAlignment) {
  const std::vector<std::string> specials = {
      "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
      " ",  "~"};
  for (const auto& special : specials) {
    for (std::size_t before = 0; before < 20; ++before) {
      for (std::size_t after : {0, 1, 7, 8, 9, 17}) {
        const std::string input = std::string(before, 'a') + special + std::string(after, 'z');
        std::string out;
        append_json_string(out, input);
        EXPECT_EQ(out, json(input).dump()) << "before=" << before << " after=" << after;
      }
    }
  }
  // Invalid bytes become U+FFFD wherever they sit in a word.
  for (std::size_t before = 0; before < 12; ++before) {
    std::string out;
    append_json_string(out, std::string(before, 'b') + "\xff" + "tail-of-it");
    EXPECT_EQ(out, "\"" + std::string(before, 'b') + "\xEF\xBF\xBDtail-of-it\"");
  }
}

TEST(EntryTest, RequestEntryHasVaultShapeAndHashes) {
  auto hasher = make_hasher();
  FormatOptions options{
      .hasher = hasher.get(), .hmac_accessor = true, .elide_list_responses = false, .prefix = ""};
  std::string body = format_request_entry(sample_request(), "", kTime, options);
  EXPECT_TRUE(
      body.starts_with("{\"time\":\"2026-11-28T13:24:54.123456789Z\",\"type\":\"request\","))
      << body;
  json e = parse(body);
  EXPECT_FALSE(e.contains("error"));
  const json& auth = e["auth"];
  EXPECT_EQ(auth["client_token"], hasher->hmac("hvs.CLIENTTOKENVALUE"));
  EXPECT_EQ(auth["accessor"], hasher->hmac("ACCESSORVALUE"));
  EXPECT_EQ(auth["display_name"], "token-app");
  EXPECT_EQ(auth["policies"], json({"default", "app"}));
  EXPECT_EQ(auth["token_policies"], json({"default", "app"}));
  EXPECT_EQ(auth["metadata"], json({{"team", "payments"}}));
  EXPECT_EQ(auth["entity_id"], "entity-1");
  EXPECT_EQ(auth["token_type"], "service");
  EXPECT_EQ(auth["token_ttl"], 3600);
  EXPECT_EQ(auth["policy_results"]["allowed"], true);
  EXPECT_EQ(auth["policy_results"]["granting_policies"][0]["name"], "app");
  EXPECT_EQ(auth["policy_results"]["granting_policies"][0]["type"], "acl");
  const json& req = e["request"];
  EXPECT_EQ(req["id"], "0b9e4d7e-6a4b-4a1e-8d0c-2f6d9b1c3a55");
  EXPECT_EQ(req["operation"], "update");
  EXPECT_EQ(req["mount_point"], "secret/");
  EXPECT_EQ(req["mount_type"], "kv");
  EXPECT_EQ(req["mount_accessor"], "kv_1f2e3d4c");
  EXPECT_EQ(req["client_token"], hasher->hmac("hvs.CLIENTTOKENVALUE"));
  EXPECT_EQ(req["client_token_accessor"], hasher->hmac("ACCESSORVALUE"));
  EXPECT_EQ(req["namespace"], json({{"id", "root"}}));
  EXPECT_EQ(req["path"], "secret/data/app");
  EXPECT_EQ(req["remote_address"], "10.1.2.3");
  EXPECT_EQ(req["remote_port"], 51234);
  EXPECT_EQ(req["data"]["password"], hasher->hmac("hunter2"));
  EXPECT_EQ(req["data"]["ttl"], 30);
  EXPECT_EQ(req["data"]["enabled"], true);
  EXPECT_EQ(req["data"]["nested"]["inner"], hasher->hmac("deepsecret"));
  EXPECT_EQ(req["data"]["nested"]["list"], json({hasher->hmac("a1"), 2, hasher->hmac("b2")}));
  EXPECT_EQ(req["headers"]["x-request-tag"], json({"blue"}));
  EXPECT_EQ(req["headers"]["x-secret-header"], json({hasher->hmac("sh-value")}));
  for (std::string_view secret :
       {"hunter2", "hvs.CLIENTTOKENVALUE", "ACCESSORVALUE", "deepsecret", "sh-value"}) {
    EXPECT_EQ(body.find(secret), std::string::npos) << secret;
  }
}

TEST(EntryTest, RequestEntryCarriesErrorAndExemptKeys) {
  auto hasher = make_hasher();
  AuditRequest r = sample_request();
  r.non_hmac_request_keys = {"password"};
  FormatOptions options{
      .hasher = hasher.get(), .hmac_accessor = true, .elide_list_responses = false, .prefix = ""};
  json e = parse(format_request_entry(r, "permission denied", kTime, options));
  EXPECT_EQ(e["error"], "permission denied");
  EXPECT_EQ(e["request"]["data"]["password"], "hunter2");
}

TEST(EntryTest, HmacAccessorFalseKeepsAccessorsButHashesTokens) {
  auto hasher = make_hasher();
  FormatOptions options{
      .hasher = hasher.get(), .hmac_accessor = false, .elide_list_responses = false, .prefix = ""};
  json e = parse(format_request_entry(sample_request(), "", kTime, options));
  EXPECT_EQ(e["auth"]["accessor"], "ACCESSORVALUE");
  EXPECT_EQ(e["request"]["client_token_accessor"], "ACCESSORVALUE");
  EXPECT_EQ(e["request"]["client_token"], hasher->hmac("hvs.CLIENTTOKENVALUE"));
}

TEST(EntryTest, LogRawWritesValuesInClear) {
  FormatOptions options{
      .hasher = nullptr, .hmac_accessor = true, .elide_list_responses = false, .prefix = "raw:"};
  std::string body = format_request_entry(sample_request(), "", kTime, options);
  json e = parse(body, "raw:");
  EXPECT_EQ(e["request"]["client_token"], "hvs.CLIENTTOKENVALUE");
  EXPECT_EQ(e["request"]["data"]["password"], "hunter2");
}

TEST(EntryTest, ResponseEntryHasVaultShape) {
  auto hasher = make_hasher();
  AuditRequest r = sample_request();
  r.operation = "read";
  r.non_hmac_response_keys = {"public"};
  AuditResponse resp;
  resp.lease_id = "database/creds/ro/abc123";
  resp.data = {{"username", "v-app-ro-xyz"}, {"password", "s3cr3t-pw"}, {"public", "shown"}};
  resp.warnings = {"TTL capped"};
  resp.mount_point = "database/";
  resp.mount_type = "database";
  resp.mount_accessor = "database_1234";
  AuditAuth login;
  login.client_token = "hvs.NEWTOKEN";
  login.accessor = "NEWACCESSOR";
  login.policies = {"default"};
  login.num_uses = 3;
  resp.auth = login;
  FormatOptions options{
      .hasher = hasher.get(), .hmac_accessor = true, .elide_list_responses = false, .prefix = ""};
  std::string body = format_response_entry(r, resp, kTime, options);
  EXPECT_TRUE(
      body.starts_with("{\"time\":\"2026-11-28T13:24:54.123456789Z\",\"type\":\"response\","));
  json e = parse(body);
  EXPECT_EQ(e["request"]["id"], r.id);
  EXPECT_EQ(e["request"]["data"]["password"], hasher->hmac("hunter2"));
  EXPECT_EQ(e["auth"]["client_token"], hasher->hmac("hvs.CLIENTTOKENVALUE"));
  const json& out = e["response"];
  EXPECT_EQ(out["secret"]["lease_id"], "database/creds/ro/abc123");
  EXPECT_EQ(out["data"]["username"], hasher->hmac("v-app-ro-xyz"));
  EXPECT_EQ(out["data"]["password"], hasher->hmac("s3cr3t-pw"));
  EXPECT_EQ(out["data"]["public"], "shown");
  EXPECT_EQ(out["warnings"], json({"TTL capped"}));
  EXPECT_EQ(out["mount_point"], "database/");
  EXPECT_EQ(out["mount_type"], "database");
  EXPECT_EQ(out["mount_accessor"], "database_1234");
  EXPECT_EQ(out["auth"]["client_token"], hasher->hmac("hvs.NEWTOKEN"));
  EXPECT_EQ(out["auth"]["accessor"], hasher->hmac("NEWACCESSOR"));
  EXPECT_EQ(out["auth"]["num_uses"], 3);
  for (std::string_view secret : {"s3cr3t-pw", "hvs.NEWTOKEN", "NEWACCESSOR", "v-app-ro-xyz"}) {
    EXPECT_EQ(body.find(secret), std::string::npos) << secret;
  }
}

TEST(EntryTest, ResponseEntryReusingTheRequestMembersIsByteIdentical) {
  auto hasher = make_hasher();
  AuditRequest r = sample_request();
  AuditResponse resp;
  resp.data = {{"password", "s3cr3t-pw"}, {"n", 2}};
  resp.error = "some error";
  const nlohmann::json viewed = {{"other", "v"}};
  for (bool hmac_accessor : {true, false}) {
    FormatOptions options{.hasher = hasher.get(),
                          .hmac_accessor = hmac_accessor,
                          .elide_list_responses = false,
                          .prefix = "pfx:"};
    RequestMembers kept;
    const std::string request_body =
        format_request_entry(r, "permission denied", kTime, options, &kept);
    EXPECT_EQ(request_body, format_request_entry(r, "permission denied", kTime, options));
    ASSERT_TRUE(kept.auth.starts_with(",\"auth\":{")) << kept.auth;
    ASSERT_TRUE(kept.request.starts_with(",\"request\":{")) << kept.request;
    EXPECT_NE(request_body.find(kept.auth), std::string::npos);
    EXPECT_NE(request_body.find(kept.request), std::string::npos);
    EXPECT_EQ(format_response_entry(r, resp, kTime, options, &kept),
              format_response_entry(r, resp, kTime, options));
    // data_view replaces data, without a copy.
    AuditResponse by_view = resp;
    by_view.data = nullptr;
    by_view.data_view = &viewed;
    AuditResponse by_value = resp;
    by_value.data = viewed;
    EXPECT_EQ(format_response_entry(r, by_view, kTime, options, &kept),
              format_response_entry(r, by_value, kTime, options));
  }
  // A request without a calling token: the auth member is an empty object either way.
  r.auth.reset();
  FormatOptions options{.hasher = hasher.get()};
  RequestMembers kept;
  (void)format_request_entry(r, "", kTime, options, &kept);
  EXPECT_EQ(kept.auth, ",\"auth\":{}");
  EXPECT_EQ(format_response_entry(r, resp, kTime, options, &kept),
            format_response_entry(r, resp, kTime, options));
}

TEST(EntryTest, ResponseEntryErrorAndElidedList) {
  auto hasher = make_hasher();
  AuditRequest r = sample_request();
  r.operation = "list";
  AuditResponse resp;
  resp.data = {{"keys", {"a", "b", "c"}}, {"key_info", {{"a", {{"x", 1}}}}}};
  resp.error = "1 error occurred";
  FormatOptions options{
      .hasher = hasher.get(), .hmac_accessor = true, .elide_list_responses = true, .prefix = ""};
  json e = parse(format_response_entry(r, resp, kTime, options));
  EXPECT_EQ(e["response"]["data"]["keys"], 3);
  EXPECT_EQ(e["response"]["data"]["key_info"], 1);
  EXPECT_EQ(e["error"], "1 error occurred");
}

TEST(EntryTest, InvalidUtf8IsReplacedNotFatal) {
  AuditRequest r = sample_request();
  r.path = std::string("secret/\xff\xfe");
  FormatOptions options{
      .hasher = nullptr, .hmac_accessor = true, .elide_list_responses = false, .prefix = ""};
  json e = parse(format_request_entry(r, "", kTime, options));
  EXPECT_EQ(e["request"]["path"], "secret/\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(EntryTest, BodiesSealIntoTheChain) {
  auto hasher = make_hasher();
  FormatOptions options{
      .hasher = hasher.get(), .hmac_accessor = true, .elide_list_responses = false, .prefix = ""};
  std::string body = format_request_entry(sample_request(), "", kTime, options);
  std::string line;
  std::string hash;
  append_sealed_line(body, kGenesisHash, line, hash);
  json e = parse(line.substr(0, line.size() - 1));
  EXPECT_EQ(e["prev_hash"], std::string(kGenesisHash));
  EXPECT_EQ(e["hash"], hash);
  EXPECT_EQ(e["type"], "request");
}

TEST(AccessEventTest, EntryShape) {
  auto hasher = make_hasher();
  AccessEvent ev;
  ev.time = *parse_rfc3339("2026-11-28T10:00:00.5Z");
  ev.host = "web-1";
  ev.mount = "/run/secrets";
  ev.file = "db/password";
  ev.path = "database/creds/ro";
  ev.lease_id = "database/creds/ro/LEASE1";
  ev.pid = 4242;
  ev.exe = "/usr/bin/python3";
  ev.uid = 1000;
  ev.gid = 0;
  ev.cgroup = "/system.slice/app.service";
  ev.result = AccessResult::kDenied;
  ev.error = "uid not allowed";
  AccessReporter reporter{.request_id = "req-1",
                          .client_token = "hvs.MOUNTTOKEN",
                          .accessor = "MOUNTACC",
                          .display_name = "approle-mount",
                          .remote_address = "10.0.0.9"};
  FormatOptions options{
      .hasher = hasher.get(), .hmac_accessor = true, .elide_list_responses = false, .prefix = ""};
  std::string body = format_access_entry(ev, reporter, kTime, options);
  EXPECT_TRUE(
      body.starts_with("{\"time\":\"2026-11-28T13:24:54.123456789Z\",\"type\":\"access\","));
  json e = parse(body);
  const json& a = e["access"];
  EXPECT_EQ(a["time"], "2026-11-28T10:00:00.500000000Z");
  EXPECT_EQ(a["host"], "web-1");
  EXPECT_EQ(a["mount"], "/run/secrets");
  EXPECT_EQ(a["file"], "db/password");
  EXPECT_EQ(a["path"], "database/creds/ro");
  EXPECT_EQ(a["lease_id"], "database/creds/ro/LEASE1");
  EXPECT_EQ(a["pid"], 4242);
  EXPECT_EQ(a["exe"], "/usr/bin/python3");
  EXPECT_EQ(a["uid"], 1000);
  EXPECT_EQ(a["gid"], 0);
  EXPECT_EQ(a["cgroup"], "/system.slice/app.service");
  EXPECT_EQ(a["result"], "denied");
  EXPECT_EQ(a["error"], "uid not allowed");
  EXPECT_EQ(e["auth"]["client_token"], hasher->hmac("hvs.MOUNTTOKEN"));
  EXPECT_EQ(e["auth"]["accessor"], hasher->hmac("MOUNTACC"));
  EXPECT_EQ(e["auth"]["display_name"], "approle-mount");
  EXPECT_EQ(e["request"]["id"], "req-1");
  EXPECT_EQ(e["request"]["path"], "sys/access-events");
  EXPECT_EQ(e["request"]["remote_address"], "10.0.0.9");
}

// The members a batch's entries share are written once; every option must still shape
// them as a single entry would, and each entry must stay one valid JSON object.
TEST(AccessEventTest, SharedReporterMembersFollowTheOptions) {
  auto hasher = make_hasher();
  AccessEvent ev;
  ev.file = "k";
  ev.result = AccessResult::kAllowed;
  const AccessReporter reporter{.request_id = "req-2",
                                .client_token = "hvs.MOUNTTOKEN",
                                .accessor = "MOUNTACC",
                                .display_name = "mount",
                                .remote_address = ""};
  struct Case {
    Hasher* hasher;
    bool hmac_accessor;
    std::string token;
    std::string accessor;
  };
  for (const Case& c :
       {Case{hasher.get(), true, hasher->hmac("hvs.MOUNTTOKEN"), hasher->hmac("MOUNTACC")},
        Case{hasher.get(), false, hasher->hmac("hvs.MOUNTTOKEN"), "MOUNTACC"},
        Case{nullptr, true, "hvs.MOUNTTOKEN", "MOUNTACC"}}) {
    FormatOptions options{.hasher = c.hasher, .hmac_accessor = c.hmac_accessor, .prefix = "p:"};
    const std::string shared = access_entry_members(reporter, options);
    ASSERT_TRUE(shared.starts_with(",\"auth\":{")) << shared;
    for (int i = 0; i < 3; ++i) {
      ev.pid = i;
      const std::string body = format_access_entry(ev, kTime, options, shared);
      ASSERT_TRUE(body.starts_with("p:{")) << body;
      json e = parse(body.substr(2));
      EXPECT_EQ(e["access"]["pid"], i);
      EXPECT_EQ(e["auth"]["client_token"], c.token);
      EXPECT_EQ(e["auth"]["accessor"], c.accessor);
      EXPECT_EQ(e["request"]["id"], "req-2");
      EXPECT_FALSE(e["request"].contains("remote_address"));
    }
  }
  // A reporter with nothing to say still gives well-formed entries.
  FormatOptions options{.hasher = hasher.get()};
  const std::string empty = access_entry_members(AccessReporter{}, options);
  json e = parse(format_access_entry(ev, kTime, options, empty));
  EXPECT_EQ(e["auth"], json::object());
  EXPECT_EQ(e["request"]["path"], "sys/access-events");
}

TEST(AccessEventTest, ParseBody) {
  const auto now = sdk::WallTime(std::chrono::seconds(1'800'000'000));
  json body = {{"events",
                {{{"time", "2026-11-28T10:00:00Z"},
                  {"host", "h"},
                  {"file", "f"},
                  {"path", "kv/data/x"},
                  {"lease_id", ""},
                  {"pid", 1},
                  {"exe", "/bin/cat"},
                  {"uid", 0},
                  {"gid", 0},
                  {"cgroup", "/"},
                  {"result", "allowed"}},
                 {{"time", 1764324000.25},
                  {"result", "error"},
                  {"error", "backend down"},
                  {"future_field", "ignored"}},
                 {{"result", "denied"}}}}};
  auto events = parse_access_events(body, now);
  ASSERT_TRUE(events.has_value()) << events.error().message();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(sdk::rfc3339((*events)[0].time), "2026-11-28T10:00:00.000000000Z");
  EXPECT_EQ((*events)[0].pid, 1);
  EXPECT_EQ((*events)[0].uid, 0);
  EXPECT_EQ((*events)[0].result, AccessResult::kAllowed);
  EXPECT_EQ(sdk::rfc3339((*events)[1].time), "2025-11-28T10:00:00.250000000Z");
  EXPECT_EQ((*events)[1].result, AccessResult::kError);
  EXPECT_EQ((*events)[1].pid, -1);
  EXPECT_EQ((*events)[2].time, now);
  EXPECT_EQ((*events)[2].result, AccessResult::kDenied);
}

TEST(AccessEventTest, ParseRejectsBadInput) {
  const auto now = sdk::WallTime(std::chrono::seconds(1'800'000'000));
  auto bad = [&](json body) {
    auto r = parse_access_events(body, now);
    EXPECT_FALSE(r.has_value()) << body.dump();
    if (!r) {
      EXPECT_EQ(r.error().code(), sdk::Code::kInvalidArgument);
    }
  };
  bad(json::array());
  bad({{"events", "x"}});
  bad({{"events", {{{"result", "maybe"}}}}});
  bad({{"events", {{{"host", "h"}}}}});  // result missing
  bad({{"events", {{{"result", "allowed"}, {"pid", -3}}}}});
  bad({{"events", {{{"result", "allowed"}, {"uid", "0"}}}}});
  bad({{"events", {{{"result", "allowed"}, {"time", "yesterday"}}}}});
  bad({{"events", {{{"result", "allowed"}, {"exe", std::string(5000, 'x')}}}}});
  json many = json::array();
  for (std::size_t i = 0; i <= kMaxAccessEventsPerBatch; ++i)
    many.push_back({{"result", "allowed"}});
  bad({{"events", many}});
}

TEST(AccessEventTest, Rfc3339) {
  EXPECT_EQ(sdk::rfc3339(*parse_rfc3339("2026-11-28T13:24:54.123456789Z")),
            "2026-11-28T13:24:54.123456789Z");
  EXPECT_EQ(sdk::rfc3339(*parse_rfc3339("2026-11-28T15:24:54+02:00")),
            "2026-11-28T13:24:54.000000000Z");
  EXPECT_FALSE(parse_rfc3339("2026-11-28 13:24:54Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-28T13:24:54"));
  EXPECT_FALSE(parse_rfc3339("2026-13-28T13:24:54Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-28T13:24:54.Z"));
  // The clock holds nanoseconds in 64 bits: 1678 to 2262. Times outside are refused,
  // not wrapped around.
  EXPECT_EQ(sdk::rfc3339(*parse_rfc3339("2262-04-11T23:47:15.999999999Z")),
            "2262-04-11T23:47:15.999999999Z");
  EXPECT_FALSE(parse_rfc3339("2262-04-11T23:47:16Z"));
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_rfc3339("0001-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("1900-01-01T00:00:00Z"));
}

// The calendar arithmetic counts as timegm does: leap years, a day past the month's end
// into the next month, second 60 into the next minute, offsets both ways.
TEST(AccessEventTest, Rfc3339CountsAsTimegm) {
  EXPECT_EQ(sdk::rfc3339(*parse_rfc3339("2024-02-29T12:00:00Z")), "2024-02-29T12:00:00.000000000Z");
  EXPECT_EQ(sdk::rfc3339(*parse_rfc3339("2026-02-31T00:00:00Z")), "2026-03-03T00:00:00.000000000Z");
  EXPECT_EQ(sdk::rfc3339(*parse_rfc3339("2026-12-31T23:59:60Z")), "2027-01-01T00:00:00.000000000Z");
  unsigned state = 12345;
  auto pick = [&state](int n) {
    state = state * 1103515245u + 12345u;
    return static_cast<int>((state >> 8) % static_cast<unsigned>(n));
  };
  for (int i = 0; i < 20000; ++i) {
    std::tm tm{};
    tm.tm_year = 1700 + pick(550) - 1900;
    tm.tm_mon = pick(12);
    tm.tm_mday = 1 + pick(31);
    tm.tm_hour = pick(24);
    tm.tm_min = pick(60);
    tm.tm_sec = pick(61);
    const int offset_minutes = pick(2) == 0 ? 0 : pick(24 * 60) - 12 * 60;
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d%s%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  offset_minutes < 0 ? "-" : "+", std::abs(offset_minutes) / 60,
                  std::abs(offset_minutes) % 60);
    const std::int64_t expected = static_cast<std::int64_t>(::timegm(&tm)) - offset_minutes * 60;
    auto parsed = parse_rfc3339(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(parsed->time_since_epoch()).count(),
              expected)
        << text;
  }
}

}  // namespace
}  // namespace leasefs::backend::audit
