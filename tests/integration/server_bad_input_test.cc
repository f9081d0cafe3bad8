// Proves that bad input over the wire gets Vault's 4xx/503 JSON error ({"errors":[...]})
// and neither crashes the server nor writes anything half-way, in every storage and
// transport mode: malformed JSON, wrong field types, unknown fields (200 with Vault's
// "Endpoint ignored these unrecognized parameters" warning), a body over 32 MiB (413),
// unknown paths (404), unsupported methods (405), missing and invalid tokens (403),
// requests while sealed (503), deeply nested JSON, invalid UTF-8 in a body and in a
// path, percent-encoded "../" in a path (400, and it reaches nothing outside the
// mount), a LIST with nothing under it (404 {"errors":[]}). After each case the server
// must still be running; after the barrage it must still serve, and every mount,
// secret, version and policy must be exactly as before it.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>

#include "backend/storage/sqlite_storage.h"
#include "tests/integration/server_test_env.h"
#include "tests/support/storage_dump.h"

namespace leasefs::testing {
namespace {

using nlohmann::json;

// `text` with bytes outside printable ASCII as \xNN, for failure messages.
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : text) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

class ServerBadInputTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    auto s = bring_up({.storage = GetParam().storage, .tls = GetParam().tls});
    ASSERT_TRUE(s) << s.error();
    s_ = std::move(*s);
    // The state the barrage must leave alone.
    ASSERT_EQ(root("POST", "secret/data/base", {{"data", {{"a", "1"}}}}).status, 200);
    ASSERT_EQ(root("POST", "secret/data/base", {{"data", {{"a", "2"}}}}).status, 200);
    ASSERT_EQ(root("POST", "kv1/base", {{"b", "1"}}).status, 204);
    ASSERT_EQ(root("PUT", "sys/policies/acl/base", {{"policy", R"(path "kv1/*" { capabilities = ["read"] })"}}).status, 204);
    ASSERT_EQ(root("POST", "sys/auth/approle", {{"type", "approle"}}).status, 204);
    before_ = snapshot();
  }

  void TearDown() override {
    if (!s_.process) return;
    ExitStatus status = s_.process->stop();
    EXPECT_TRUE(status.clean()) << "server " << status.describe() << "; output:\n"
                                << s_.process->output();
  }

  Reply root(std::string_view method, std::string_view path, const json& body = nullptr) {
    return s_.api->call(method, path, body, s_.root_token);
  }
  Reply raw(std::string_view method, std::string_view target, std::string_view body = {},
            std::string_view token = {}) {
    return s_.api->raw(method, target, body, token.empty() ? s_.root_token : token);
  }

  // Everything the barrage could have touched, with the volatile parts (request ids)
  // dropped.
  json snapshot() {
    json out = json::object();
    auto keep = [&](const std::string& name, Reply r) {
      json j = r.json;
      if (j.is_object()) j.erase("request_id");
      out[name] = {{"status", r.status}, {"body", j}};
    };
    keep("v2 data", root("GET", "secret/data/base"));
    keep("v2 data v1", root("GET", "secret/data/base?version=1"));
    keep("v2 metadata", root("GET", "secret/metadata/base"));
    keep("v2 list", root("LIST", "secret/metadata/"));
    keep("v2 config", root("GET", "secret/config"));
    keep("v1 data", root("GET", "kv1/base"));
    keep("v1 list", root("LIST", "kv1/"));
    keep("policies", root("LIST", "sys/policies/acl"));
    keep("policy", root("GET", "sys/policies/acl/base"));
    keep("roles", root("LIST", "auth/approle/role"));
    Reply mounts = root("GET", "sys/mounts");
    json paths = json::array();
    if (mounts.json.contains("data")) {
      for (const auto& [k, v] : mounts.json["data"].items()) paths.push_back(k + v.value("type", ""));
    }
    out["mounts"] = paths;
    Reply auths = root("GET", "sys/auth");
    json auth_paths = json::array();
    if (auths.json.contains("data")) {
      for (const auto& [k, v] : auths.json["data"].items()) auth_paths.push_back(k + v.value("type", ""));
    }
    out["auth"] = auth_paths;
    return out;
  }

  // The answer is `status` with Vault's error body (one message, or none for {}), and
  // the server is still there.
  void expect_error(const Reply& r, int status, const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.describe();
    EXPECT_TRUE(r.json.is_object() && r.json.size() == 1 && r.json.contains("errors") &&
                r.json["errors"].is_array())
        << what << ": not a Vault error body: " << r.describe();
    EXPECT_NE(r.content_type.find("application/json"), std::string::npos) << what;
    expect_alive(what);
  }
  void expect_alive(const std::string& what) {
    ASSERT_TRUE(s_.process->running()) << "the server died after " << what << "\n"
                                       << s_.process->output();
  }
  std::string first_error(const Reply& r) {
    if (!r.json.is_object() || !r.json.contains("errors") || r.json["errors"].empty()) return {};
    return r.json["errors"][0].is_string() ? r.json["errors"][0].get<std::string>() : "";
  }

  void expect_unchanged() {
    expect_alive("the barrage");
    json after = snapshot();
    EXPECT_EQ(after, before_) << "storage changed:\nbefore " << before_.dump(1)
                              << "\nafter " << after.dump(1);
    Reply health = s_.api->call("GET", "sys/health");
    EXPECT_EQ(health.status, 200) << health.describe();
    Reply write = root("POST", "kv1/after", {{"ok", true}});
    EXPECT_EQ(write.status, 204) << write.describe();
  }

  LiveServer s_;
  json before_;
};

TEST_P(ServerBadInputTest, MalformedJson) {
  for (const std::string body : {R"({"data": {"a": "3"})", R"({"data": )", "{bad", "]",
                                 R"({"data": {"a": "3"}} trailing)", R"({"a":1,})", "\x01"}) {
    Reply r = raw("POST", "/v1/secret/data/base", body);
    expect_error(r, 400, "malformed JSON " + body);
    EXPECT_TRUE(first_error(r).starts_with("failed to parse JSON input")) << r.describe();
    expect_error(raw("PUT", "/v1/kv1/base", body), 400, "malformed JSON to kv v1 " + body);
    expect_error(raw("PUT", "/v1/sys/policies/acl/base", body), 400, "malformed JSON to sys " + body);
  }
  // JSON that is not an object.
  for (const std::string body : {"[1,2]", R"("text")", "42", "true"}) {
    expect_error(raw("POST", "/v1/secret/data/base", body), 400, "non-object body " + body);
    expect_error(raw("POST", "/v1/kv1/base", body), 400, "non-object body to kv v1 " + body);
  }
  expect_error(raw("PUT", "/v1/sys/init", "{"), 400, "malformed JSON to sys/init");
  expect_error(raw("PUT", "/v1/sys/unseal", "{"), 400, "malformed JSON to sys/unseal");
  expect_unchanged();
}

TEST_P(ServerBadInputTest, WrongFieldTypes) {
  expect_error(root("POST", "secret/data/base", {{"data", "not an object"}}), 400, "kv v2 data as string");
  expect_error(root("POST", "secret/data/base", {{"data", {1, 2}}}), 400, "kv v2 data as array");
  expect_error(root("POST", "secret/data/base", {{"data", {{"a", "3"}}}, {"options", {{"cas", "abc"}}}}),
               400, "cas as text");
  expect_error(root("POST", "secret/data/base", {{"data", {{"a", "3"}}}, {"options", "x"}}), 400,
               "options as string");
  expect_error(root("POST", "secret/config", {{"max_versions", "lots"}}), 400, "max_versions as text");
  expect_error(root("POST", "secret/metadata/base", {{"max_versions", {{"x", 1}}}}), 400,
               "metadata max_versions as object");
  expect_error(root("GET", "secret/data/base?version=abc"), 400, "version as text");
  expect_error(root("POST", "auth/token/create", {{"ttl", {{"x", 1}}}}), 400, "token ttl as object");
  expect_error(root("POST", "auth/token/create", {{"ttl", "forever"}}), 400, "token ttl unparsable");
  expect_error(root("POST", "auth/token/create", {{"num_uses", "many"}}), 400, "num_uses as text");
  expect_error(root("POST", "auth/token/create", {{"renewable", {1}}}), 400, "renewable as array");
  expect_error(root("PUT", "sys/policies/acl/base", {{"policy", 5}}), 400, "policy as number");
  expect_error(root("PUT", "sys/policies/acl/base", {{"policy", "path {"}}), 400, "policy unparsable");
  expect_error(root("POST", "sys/mounts/newmount", {{"type", {{"kv", 1}}}}), 400, "mount type as object");
  expect_error(root("POST", "sys/mounts/newmount", {{"type", "kv"}, {"config", "x"}}), 400,
               "mount config as string");
  expect_error(root("POST", "auth/approle/role/bad", {{"token_ttl", {1}}}), 400, "role token_ttl as array");
  expect_error(root("POST", "auth/approle/role/bad", {{"token_policies", {{"a", 1}}}}), 400,
               "role token_policies as object");
  expect_error(root("PUT", "sys/init", {{"secret_shares", "five"}, {"secret_threshold", 3}}), 400,
               "init shares as text");
  expect_error(root("PUT", "sys/unseal", {{"key", 5}}), 400, "unseal key as number");
  // None of those created a role, mount or token-visible change.
  expect_error(root("GET", "auth/approle/role/bad"), 404, "role after bad writes");
  expect_unchanged();
}

TEST_P(ServerBadInputTest, UnknownFieldsAreIgnoredWithAWarning) {
  Reply token = root("POST", "auth/token/create", {{"policies", {"base"}}, {"bogus_field", 1}});
  ASSERT_EQ(token.status, 200) << token.describe();
  EXPECT_EQ(token.json["warnings"],
            json::array({"Endpoint ignored these unrecognized parameters: [bogus_field]"}))
      << token.describe();
  EXPECT_FALSE(token.json["auth"].value("client_token", "").empty());
  // A write whose only answer would be 204 answers 200 with the warning.
  Reply role = root("POST", "auth/approle/role/extra", {{"token_policies", {"base"}}, {"colour", "blue"}});
  EXPECT_EQ(role.status, 200) << role.describe();
  EXPECT_EQ(role.json["warnings"],
            json::array({"Endpoint ignored these unrecognized parameters: [colour]"}))
      << role.describe();
  Reply read = root("GET", "auth/approle/role/extra");
  EXPECT_EQ(read.status, 200) << read.describe();
  EXPECT_FALSE(read.json["data"].contains("colour")) << read.describe();
  ASSERT_EQ(root("DELETE", "auth/approle/role/extra").status, 204);
  // kv v1 stores whatever it gets: no warning there.
  Reply v1 = root("POST", "kv1/free", {{"anything", "goes"}});
  EXPECT_EQ(v1.status, 204) << v1.describe();
  ASSERT_EQ(root("DELETE", "kv1/free").status, 204);
  expect_unchanged();
}

TEST_P(ServerBadInputTest, OversizedBody) {
  // 33 MiB of valid JSON, over Vault's 32 MiB request limit, sent by curl the way real
  // clients send large bodies (Content-Length, Expect: 100-continue): the server must
  // refuse it from the headers with 413 before taking the body.
  TempDir tmp;
  const std::string body_file = tmp / "big.json";
  const std::string answer_file = tmp / "answer.json";
  {
    std::ofstream out(body_file, std::ios::binary);
    out << R"({"data":{"blob":")" << std::string(33u << 20, 'x') << R"("},"blob":"x"})";
  }
  auto curl = [&](const std::string& path, std::vector<std::string> extra) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-o", answer_file, "-w", "%{http_code}",
                                     "-X", "PUT", "-H", "X-Vault-Token: " + s_.root_token,
                                     "-H", "Content-Type: application/json",
                                     "--data-binary", "@" + body_file, "--max-time", "30"};
    if (!s_.process->ca_file().empty()) argv.insert(argv.end(), {"--cacert", s_.process->ca_file()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(s_.process->address() + "/v1/" + path);
    std::remove(answer_file.c_str());
    ProcessResult r = run_process(argv, "", std::chrono::seconds(40));
    Reply reply;
    if (r.exit_code == 0) reply.status = std::atoi(r.out.c_str());
    reply.transport_error = "curl exit " + std::to_string(r.exit_code) + ": " + r.err;
    std::ifstream in(answer_file, std::ios::binary);
    reply.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    reply.json = json::parse(reply.body, nullptr, false);
    if (reply.json.is_discarded()) reply.json = nullptr;
    reply.content_type = "application/json";  // curl's -w does not show it; the body is checked
    return reply;
  };
  for (const std::string path : {"kv1/big", "secret/data/base", "sys/policies/acl/big"}) {
    Reply r = curl(path, {});
    expect_error(r, 413, "a 33 MiB body to " + path);
    EXPECT_TRUE(r.is_error({"http: request body too large"})) << r.describe();
  }
  // Without Expect (the body streams in at once) and chunked (no length up front), the
  // server sees the excess only while reading: it answers 413 if the client is still
  // listening, else the connection breaks. Either way nothing may be stored.
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"-H", "Expect:"}, {"-H", "Transfer-Encoding: chunked"}}) {
    Reply r = curl("kv1/big", extra);
    if (r.status != 0) {
      EXPECT_EQ(r.status, 413) << extra[1] << ": " << r.describe();
    }
    expect_alive("a 33 MiB body with " + extra[1]);
  }
  // The project's own client sends the whole body before reading; it must get the 413 or
  // (when the server closed first) a transport error, never a success.
  ApiCaller slow(*s_.process, std::chrono::seconds(30));
  Reply mine = slow.raw("PUT", "/v1/kv1/big", R"({"blob":")" + std::string(33u << 20, 'y') + "\"}",
                        s_.root_token);
  if (mine.status != 0) expect_error(mine, 413, "a 33 MiB body from backend::api::Client");
  expect_alive("a 33 MiB body from backend::api::Client");

  expect_error(root("GET", "kv1/big"), 404, "the oversized secret");
  expect_error(root("GET", "sys/policies/acl/big"), 404, "the oversized policy");
  expect_unchanged();
}

TEST_P(ServerBadInputTest, UnknownPaths) {
  Reply none = root("GET", "nosuchmount/x");
  expect_error(none, 404, "an unmounted path");
  EXPECT_EQ(first_error(none), "no handler for route \"nosuchmount/x\". route entry not found.")
      << none.describe();
  expect_error(root("POST", "nosuchmount/x", {{"a", 1}}), 404, "a write to an unmounted path");
  expect_error(root("GET", "sys/no-such-endpoint"), 404, "an unknown sys path");
  expect_error(root("GET", "auth/token/no-such-endpoint"), 404, "an unknown auth/token path");
  expect_error(root("GET", "auth/approle/no-such-endpoint"), 404, "an unknown approle path");
  // Vault's kv v2 answers a path it does not serve with 404 and a warning in the
  // envelope (builtin/logical/kv pathInvalid), not an error body.
  Reply v2 = root("GET", "secret/no-such-endpoint/x");
  EXPECT_EQ(v2.status, 404) << v2.describe();
  EXPECT_EQ(v2.json["data"], nullptr) << v2.describe();
  ASSERT_TRUE(v2.json["warnings"].is_array() && v2.json["warnings"].size() == 1) << v2.describe();
  EXPECT_TRUE(v2.json["warnings"][0].get<std::string>().starts_with(
      "Invalid path for a versioned K/V secrets engine"))
      << v2.describe();
  expect_alive("an unknown kv v2 path");
  expect_error(raw("GET", "/v2/secret/data/base"), 404, "outside /v1/");
  expect_error(raw("GET", "/"), 404, "the root");
  expect_error(root("GET", "secret/data/missing"), 404, "a missing kv v2 secret");
  expect_error(root("GET", "kv1/missing"), 404, "a missing kv v1 secret");
  expect_unchanged();
}

TEST_P(ServerBadInputTest, UnsupportedMethods) {
  for (const char* method : {"FOO", "TRACE", "CONNECT", "OPTIONS"}) {
    Reply r = raw(method, "/v1/secret/data/base");
    expect_error(r, 405, std::string(method) + " on a kv path");
  }
  expect_error(raw("FOO", "/v1/sys/seal-status"), 405, "FOO on sys/seal-status");
  expect_error(raw("DELETE", "/v1/sys/seal-status"), 405, "DELETE on sys/seal-status");
  expect_error(raw("POST", "/v1/sys/health"), 405, "POST on sys/health");
  expect_error(raw("DELETE", "/v1/sys/key-status"), 405, "DELETE on sys/key-status");
  expect_error(raw("PATCH", "/v1/kv1/base", R"({"b":"2"})"), 405, "PATCH on kv v1");
  expect_error(raw("LIST", "/v1/auth/token/create"), 405, "LIST on auth/token/create");
  expect_unchanged();
}

// Response wrapping and namespaces are not implemented: asking for them is a 400 that
// says so, not a plain answer that drops what the client asked for.
TEST_P(ServerBadInputTest, WrappingAndNamespacesAreRefused) {
  Reply wrapped = s_.api->raw("GET", "/v1/secret/data/base", {}, s_.root_token,
                              {{"X-Vault-Wrap-TTL", "60s"}});
  expect_error(wrapped, 400, "a wrap TTL");
  EXPECT_TRUE(wrapped.is_error({"response wrapping (X-Vault-Wrap-TTL) is not supported by leasefs"}))
      << wrapped.describe();
  Reply ns = s_.api->raw("GET", "/v1/secret/data/base", {}, s_.root_token,
                         {{"X-Vault-Namespace", "team-a"}});
  expect_error(ns, 400, "a namespace");
  Reply root_ns = s_.api->raw("GET", "/v1/secret/data/base", {}, s_.root_token,
                              {{"X-Vault-Namespace", "root"}});
  EXPECT_EQ(root_ns.status, 200) << root_ns.describe();
  expect_unchanged();
}

TEST_P(ServerBadInputTest, MissingAndInvalidTokens) {
  for (const std::string path : {"/v1/secret/data/base", "/v1/kv1/base", "/v1/sys/mounts",
                                 "/v1/auth/token/lookup-self"}) {
    Reply none = s_.api->raw("GET", path);
    expect_error(none, 403, "no token on " + path);
    EXPECT_TRUE(none.is_error({"permission denied"})) << none.describe();
    Reply bad = s_.api->raw("GET", path, {}, "not-a-real-token");
    expect_error(bad, 403, "a bogus token on " + path);
    EXPECT_TRUE(bad.is_error({"permission denied"})) << bad.describe();
    Reply bearer = s_.api->raw("GET", path, {}, {}, {{"Authorization", "Bearer not-a-real-token"}});
    expect_error(bearer, 403, "a bogus bearer token on " + path);
    Reply huge = s_.api->raw("GET", path, {}, std::string(16000, 'h'));
    expect_error(huge, 403, "a 16 kB token on " + path);
  }
  expect_error(s_.api->raw("POST", "/v1/secret/data/base", R"({"data":{"a":"x"}})"), 403,
               "a write without a token");
  expect_error(s_.api->raw("PUT", "/v1/sys/seal", {}, "not-a-real-token"), 403, "seal with a bogus token");
  Reply revoke = s_.api->raw("POST", "/v1/auth/token/revoke-self", {}, "not-a-real-token");
  expect_error(revoke, 403, "revoke-self with a bogus token");
  expect_unchanged();
}

TEST_P(ServerBadInputTest, RequestsWhileSealed) {
  ASSERT_EQ(root("PUT", "sys/seal").status, 204);
  for (const auto& [method, target, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/v1/secret/data/base", ""},
           {"POST", "/v1/secret/data/base", R"({"data":{"a":"sealed"}})"},
           {"DELETE", "/v1/secret/metadata/base", ""},
           {"PUT", "/v1/kv1/base", R"({"b":"sealed"})"},
           {"LIST", "/v1/kv1/", ""},
           {"PUT", "/v1/sys/policies/acl/base", R"({"policy":"path \"*\" { capabilities = [\"sudo\"] }"})"},
           {"POST", "/v1/auth/token/create", "{}"},
           {"POST", "/v1/sys/mounts/other", R"({"type":"kv"})"},
           {"GET", "/v1/nosuchmount/x", ""},
           {"POST", "/v1/auth/approle/login", R"({"role_id":"x","secret_id":"y"})"}}) {
    Reply r = raw(method, target, body);
    expect_error(r, 503, "sealed " + method + " " + target);
    EXPECT_TRUE(r.is_error({"Vault is sealed"})) << r.describe();
    Reply anonymous = s_.api->raw(method, target, body);
    expect_error(anonymous, 503, "sealed, no token, " + method + " " + target);
  }
  // The sealed-time endpoints still answer.
  EXPECT_EQ(s_.api->call("GET", "sys/seal-status").json["sealed"], true);
  EXPECT_EQ(s_.api->call("GET", "sys/health").status, 503);
  auto unsealed = s_.unseal();
  ASSERT_TRUE(unsealed) << unsealed.error();
  expect_unchanged();
}

TEST_P(ServerBadInputTest, DeeplyNestedJson) {
  for (std::size_t depth : {200u, 10'000u, 1'000'000u}) {
    std::string nested = R"({"data":{"a":)" + std::string(depth, '[') + std::string(depth, ']') + "}}";
    expect_error(raw("POST", "/v1/secret/data/base", nested), 400,
                 "arrays nested " + std::to_string(depth) + " deep");
    std::string objects;
    for (std::size_t i = 0; i < depth; ++i) objects += R"({"a":)";
    objects += "1" + std::string(depth, '}');
    expect_error(raw("PUT", "/v1/kv1/base", objects), 400,
                 "objects nested " + std::to_string(depth) + " deep");
    // Unbalanced: only openers.
    expect_error(raw("PUT", "/v1/kv1/base", std::string(depth, '[')), 400,
                 "unclosed arrays " + std::to_string(depth) + " deep");
  }
  // Moderate nesting is fine and stored as sent.
  std::string ok = R"({"deep":)" + std::string(20, '[') + std::string(20, ']') + "}";
  EXPECT_EQ(raw("PUT", "/v1/kv1/nested", ok).status, 204);
  Reply back = root("GET", "kv1/nested");
  EXPECT_EQ(back.json["data"], json::parse(ok)) << back.describe();
  ASSERT_EQ(root("DELETE", "kv1/nested").status, 204);
  expect_unchanged();
}

TEST_P(ServerBadInputTest, InvalidUtf8InBody) {
  for (const std::string& bad : {std::string("\xff\xfe"), std::string("\xc3\x28"),
                                std::string("\xed\xa0\x80"), std::string("a\xc0\xafz")}) {
    expect_error(raw("PUT", "/v1/kv1/utf8", R"({"k":")" + bad + "\"}"), 400, "invalid UTF-8 in a kv v1 value");
    expect_error(raw("POST", "/v1/secret/data/base", R"({"data":{"a":")" + bad + "\"}}"), 400,
                 "invalid UTF-8 in a kv v2 value");
    expect_error(raw("POST", "/v1/secret/data/base", R"({"data":{")" + bad + R"(":"x"}})"), 400,
                 "invalid UTF-8 in a kv v2 key");
    expect_error(raw("PUT", "/v1/sys/policies/acl/base", R"({"policy":")" + bad + "\"}"), 400,
                 "invalid UTF-8 in a policy");
  }
  expect_error(root("GET", "kv1/utf8"), 404, "the kv v1 secret written with invalid UTF-8");
  expect_unchanged();
}

TEST_P(ServerBadInputTest, InvalidUtf8InPath) {
  for (const std::string& target : {std::string("/v1/kv1/bad\xff\xfe"), std::string("/v1/kv1/bad%FF%FE"),
                                   std::string("/v1/kv1/a%C3%28b"), std::string("/v1/secret/data/bad%ED%A0%80")}) {
    Reply w = raw("PUT", target, target.starts_with("/v1/secret") ? R"({"data":{"a":"1"}})" : R"({"a":"1"})");
    expect_error(w, 400, "a write to an invalid UTF-8 path " + printable(target));
    Reply r = raw("GET", target);
    EXPECT_GE(r.status, 400) << printable(target) << ": " << printable(r.describe());
    EXPECT_LT(r.status, 500) << printable(target) << ": " << printable(r.describe());
    expect_alive("a read of " + printable(target));
  }
  expect_error(raw("GET", "/v1/kv1/bad%ZZ"), 400, "a malformed percent-encoding");
  expect_error(raw("GET", "/v1/kv1/bad%00x"), 400, "an encoded NUL");
  expect_unchanged();
}

TEST_P(ServerBadInputTest, PercentEncodedDotDot) {
  // Each tries to climb out of kv1/ into sys/ (sealing the server, or writing a policy).
  for (const std::string target :
       {"/v1/kv1/%2e%2e/sys/seal", "/v1/kv1/%2E%2E/sys/seal", "/v1/kv1/%2e%2e%2fsys%2fseal",
        "/v1/kv1/..%2fsys/seal", "/v1/kv1/../sys/seal", "/v1/kv1/a/%2e%2e/%2e%2e/sys/seal",
        "/v1/secret/data/%2e%2e/%2e%2e/sys/seal", "/v1/kv1/%2e/base", "/v1/kv1//base"}) {
    Reply r = raw("PUT", target, "{}");
    expect_error(r, 400, "PUT " + target);
    Reply g = raw("GET", target);
    expect_error(g, 400, "GET " + target);
  }
  Reply policy = raw("PUT", "/v1/kv1/%2e%2e/sys/policies/acl/evil",
                     R"({"policy":"path \"*\" { capabilities = [\"sudo\"] }"})");
  expect_error(policy, 400, "a policy write through ../");
  Reply status = s_.api->call("GET", "sys/seal-status");
  EXPECT_EQ(status.json["sealed"], false) << "a ../ path sealed the server";
  expect_error(root("GET", "sys/policies/acl/evil"), 404, "the policy written through ../");
  expect_unchanged();
}

TEST_P(ServerBadInputTest, ListWithNothingUnder) {
  for (const std::string path : {"kv1/nothing/", "kv1/nothing", "secret/metadata/nothing/",
                                 "secret/metadata/base/", "auth/approle/role"}) {
    Reply r = root("LIST", path);
    expect_error(r, 404, "LIST " + path);
    EXPECT_TRUE(r.is_error({})) << r.describe();
    Reply q = root("GET", path + "?list=true");
    expect_error(q, 404, "GET ?list=true " + path);
    EXPECT_TRUE(q.is_error({})) << q.describe();
  }
  expect_unchanged();
}

// One request of the storage-level barrage below.
struct BadRequest {
  std::string method{};
  std::string target{};
  std::string body{};
  enum class Token { kRoot, kNone, kBogus } token = Token::kRoot;
  int status = 400;
};

std::vector<BadRequest> barrage() {
  using T = BadRequest::Token;
  std::vector<BadRequest> out;
  for (const char* body : {R"({"data": {"a": "3"})", "{bad", "[1,2]", R"("text")",
                           R"({"data":{"a":"\xff"}})", "{\"data\":{\"a\":\"\xc3\x28\"}}"}) {
    out.push_back({.method = "POST", .target = "/v1/secret/data/base", .body = body});
    out.push_back({.method = "PUT", .target = "/v1/kv1/base", .body = body});
    out.push_back({.method = "PUT", .target = "/v1/sys/policies/acl/base", .body = body});
    out.push_back({.method = "POST", .target = "/v1/auth/approle/role/web", .body = body});
  }
  out.push_back({.method = "POST", .target = "/v1/secret/data/base", .body = R"({"data":"x"})"});
  out.push_back({.method = "POST", .target = "/v1/secret/data/base",
                 .body = R"({"data":{"a":"3"},"options":{"cas":"abc"}})"});
  out.push_back({.method = "POST", .target = "/v1/secret/data/base",
                 .body = R"({"data":{"a":"3"},"options":{"cas":1}})"});
  out.push_back({.method = "POST", .target = "/v1/secret/config", .body = R"({"max_versions":"lots"})"});
  out.push_back({.method = "POST", .target = "/v1/auth/approle/role/web", .body = R"({"token_ttl":[1]})"});
  out.push_back({.method = "POST", .target = "/v1/sys/mounts/other", .body = R"({"type":{"kv":1}})"});
  out.push_back({.method = "PUT", .target = "/v1/sys/policies/acl/base", .body = R"({"policy":"path {"})"});
  std::string deep = R"({"data":{"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  out.push_back({.method = "POST", .target = "/v1/secret/data/base", .body = deep});
  for (const char* target : {"/v1/kv1/%2e%2e/sys/policies/acl/base", "/v1/kv1/..%2fbase",
                             "/v1/secret/data/%2e%2e/%2e%2e/kv1/base", "/v1/kv1//base"}) {
    out.push_back({.method = "PUT", .target = target, .body = R"({"policy":"x","b":"2"})"});
  }
  out.push_back({.method = "PUT", .target = "/v1/kv1/base", .body = R"({"b":"2"})", .token = T::kNone, .status = 403});
  out.push_back({.method = "PUT", .target = "/v1/kv1/base", .body = R"({"b":"2"})", .token = T::kBogus, .status = 403});
  out.push_back({.method = "DELETE", .target = "/v1/secret/metadata/base", .token = T::kBogus, .status = 403});
  out.push_back({.method = "PUT", .target = "/v1/sys/policies/acl/base", .body = R"({"policy":"x"})",
                 .token = T::kNone, .status = 403});
  out.push_back({.method = "FOO", .target = "/v1/kv1/base", .body = R"({"b":"2"})", .status = 405});
  out.push_back({.method = "PATCH", .target = "/v1/kv1/base", .body = R"({"b":"2"})", .status = 405});
  out.push_back({.method = "PUT", .target = "/v1/nosuchmount/base", .body = R"({"b":"2"})", .status = 404});
  out.push_back({.method = "LIST", .target = "/v1/kv1/nothing/", .status = 404});
  return out;
}

std::map<std::string, std::string> dump_sqlite(const std::string& file) {
  auto storage = backend::storage::SqliteStorage::open(file);
  if (!storage) {
    ADD_FAILURE() << "cannot open " << file << ": " << storage.error().message();
    return {};
  }
  return dump(**storage);
}

// The strongest form of "nothing half-written": the barrier encrypts nothing during
// the barrage (its encryption counter stays put), and every key and (encrypted,
// randomly nonced) value in the SQLite file but the keyring (re-stored at each seal) is
// byte-identical before and after it. The barrage also runs while sealed.
TEST(ServerBadInputStorageTest, BarrageLeavesSqliteFileUnchanged) {
  TempDir dir;
  auto first = bring_up({.storage = StorageKind::kSqlite, .dir = dir.path()});
  ASSERT_TRUE(first) << first.error();
  ApiCaller& api = *first->api;
  const std::string root = first->root_token;
  ASSERT_EQ(api.call("POST", "secret/data/base", {{"data", {{"a", "1"}}}}, root).status, 200);
  ASSERT_EQ(api.call("POST", "secret/data/base", {{"data", {{"a", "2"}}}}, root).status, 200);
  ASSERT_EQ(api.call("POST", "kv1/base", {{"b", "1"}}, root).status, 204);
  ASSERT_EQ(api.call("PUT", "sys/policies/acl/base", {{"policy", R"(path "kv1/*" { capabilities = ["read"] })"}}, root).status, 204);
  ASSERT_EQ(api.call("POST", "sys/auth/approle", {{"type", "approle"}}, root).status, 204);
  ASSERT_EQ(api.call("POST", "auth/approle/role/web", {{"token_policies", {"base"}}}, root).status, 204);
  ExitStatus stopped = first->process->stop();
  ASSERT_TRUE(stopped.clean()) << stopped.describe();
  const ServerSpec spec = first->process->spec();
  const auto before = dump_sqlite(spec.sqlite_path);
  ASSERT_FALSE(before.empty());

  auto again = bring_up(spec, /*init=*/false);
  ASSERT_TRUE(again) << again.error();
  ApiCaller& api2 = *again->api;
  ASSERT_TRUE(unseal_server(api2, first->unseal_keys, 2));
  auto send_all = [&](bool sealed) {
    for (const BadRequest& b : barrage()) {
      std::string token = b.token == BadRequest::Token::kRoot    ? root
                          : b.token == BadRequest::Token::kBogus ? "not-a-real-token"
                                                                 : "";
      Reply r = api2.raw(b.method, b.target, b.body, token);
      // Sealed, everything that reaches the pipeline is 503; bodies are parsed first.
      bool body_error = r.status == 400 && b.status == 400;
      if (sealed && !body_error && b.status != 405) {
        EXPECT_EQ(r.status, 503) << b.method << " " << printable(b.target) << ": " << printable(r.describe());
      } else if (!sealed) {
        EXPECT_EQ(r.status, b.status) << b.method << " " << printable(b.target) << ": " << printable(r.describe());
      }
      ASSERT_TRUE(again->process->running()) << "died after " << b.method << " " << printable(b.target);
    }
    ApiCaller slow(*again->process, std::chrono::seconds(30));
    Reply big = slow.raw("PUT", "/v1/kv1/base", R"({"b":")" + std::string(33u << 20, 'z') + "\"}", root);
    if (big.status != 0) {
      EXPECT_EQ(big.status, 413) << big.describe();
    }
  };
  // The barrier counts every encryption, so a write of any kind would show here.
  auto encryptions = [&] {
    Reply k = api2.call("GET", "sys/key-status", nullptr, root);
    EXPECT_EQ(k.status, 200) << k.describe();
    return k.json["data"].value("encryptions", std::int64_t{-1});
  };
  const auto encryptions_before = encryptions();
  send_all(false);
  EXPECT_EQ(encryptions(), encryptions_before) << "the barrage encrypted (wrote) something";
  ASSERT_EQ(api2.call("PUT", "sys/seal", nullptr, root).status, 204);
  send_all(true);
  ASSERT_TRUE(unseal_server(api2, first->unseal_keys, 2));
  EXPECT_EQ(encryptions(), encryptions_before) << "the sealed barrage encrypted something";
  Reply read = api2.call("GET", "secret/data/base", nullptr, root);
  EXPECT_EQ(read.json["data"]["data"], json({{"a", "2"}})) << read.describe();
  ExitStatus stopped_again = again->process->stop();
  ASSERT_TRUE(stopped_again.clean()) << stopped_again.describe();

  const auto after = dump_sqlite(spec.sqlite_path);
  std::vector<std::string> changed;
  for (const auto& [key, value] : after) {
    // Sealing stores the keyring again to keep its encryption counters (checked above).
    if (key == "core/keyring") continue;
    auto it = before.find(key);
    if (it == before.end()) {
      changed.push_back("added " + key);
    } else if (it->second != value) {
      changed.push_back("rewritten " + key);
    }
  }
  for (const auto& [key, value] : before) {
    if (!after.contains(key)) changed.push_back("removed " + key);
  }
  EXPECT_TRUE(changed.empty()) << ::testing::PrintToString(changed);
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerBadInputTest, ::testing::ValuesIn(all_modes()), mode_name);

}  // namespace
}  // namespace leasefs::testing
