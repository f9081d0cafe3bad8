// The two parsers of a sys/access-events body agree: try_parse_access_events (straight
// from the text) either declines a body or returns exactly the events that
// parse_access_events gives for its JSON tree. Hand-picked bodies first, then random
// mutations of valid ones (fixed seed).
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/audit/entry.h"

namespace leasefs::backend::audit {
namespace {

using nlohmann::json;

const sdk::WallTime kNow = sdk::WallTime(std::chrono::seconds(1'800'000'000));

std::string describe(const AccessEvent& e) {
  return "{time=" + sdk::rfc3339(e.time) + " host=" + e.host + " mount=" + e.mount +
         " file=" + e.file + " path=" + e.path + " lease_id=" + e.lease_id +
         " pid=" + std::to_string(e.pid) + " exe=" + e.exe + " uid=" + std::to_string(e.uid) +
         " gid=" + std::to_string(e.gid) + " cgroup=" + e.cgroup +
         " result=" + std::string(access_result_name(e.result)) + " error=" + e.error + "}";
}

// What the tree parser makes of `body`, the way the server reads a body (nullopt where
// it refuses it).
std::optional<std::vector<AccessEvent>> tree_parse(const std::string& body) {
  json tree = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded()) return std::nullopt;
  auto events = parse_access_events(tree, kNow);
  if (!events) return std::nullopt;
  return std::move(*events);
}

// The contract: declined, or the same events as the tree's. Returns whether it took it.
bool agrees(const std::string& body) {
  auto fast = try_parse_access_events(body, kNow);
  if (!fast) return false;
  auto tree = tree_parse(body);
  EXPECT_TRUE(tree.has_value()) << "taken, but the tree parser refuses: " << body;
  if (!tree) return true;
  EXPECT_EQ(fast->size(), tree->size()) << body;
  for (std::size_t i = 0; i < std::min(fast->size(), tree->size()); ++i) {
    EXPECT_TRUE((*fast)[i] == (*tree)[i])
        << "event " << i << " of " << body << "\n  fast: " << describe((*fast)[i])
        << "\n  tree: " << describe((*tree)[i]);
  }
  return true;
}

std::string batch(const std::string& events) {
  return R"({"events":[)" + events + "]}";
}

std::string repeated(const std::string& event, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out += ',';
    out += event;
  }
  return out;
}

const std::string kFullEvent =
    R"({"time":"2026-11-28T10:00:00.123456789Z","host":"web-1","mount":"/run/secrets",)"
    R"("file":"db/password","path":"database/creds/ro","lease_id":"database/creds/ro/abc",)"
    R"("pid":4242,"exe":"/usr/bin/cat","uid":1000,"gid":0,"cgroup":"/system.slice/web.service",)"
    R"("result":"allowed","error":""})";

TEST(AccessEventsParseTest, TakesTheCommonShapeAsTheTreeDoes) {
  const std::vector<std::string> bodies = {
      batch(kFullEvent),
      batch(""),
      R"(  {"events" : [ ] }  )",
      batch(R"({"result":"denied"})"),
      batch(R"({"result":"error","error":"backend down","time":1764324000.25})"),
      batch(R"({"result":"allowed","time":1764324000})"),
      batch(R"({"result":"allowed","time":0})"),
      batch(R"({"result":"allowed","time":9223372035.999})"),
      batch(R"({"result":"allowed","time":-0})"),
      batch(R"({"result":"allowed","time":1.5e9})"),
      // Zero with an exponent: RapidJSON 1.1's exact conversion passed 0 to clz here.
      batch(R"({"result":"allowed","time":0e111,"n":0.0e-5,"m":-0E+300})"),
      batch(R"({"result":"allowed","time":1764324000.123456789123})"),
      batch(R"({"result":"allowed","big":18446744073709551616,"neg":-9223372036854775809})"),
      batch(R"({"result":"allowed","time":null})"),
      batch(R"({"result":"allowed","time":"2026-11-28T15:24:54+02:00"})"),
      batch(R"({"result":"allowed","time":"2026-11-28t13:24:54.5z"})"),
      batch(R"({"result":"allowed","pid":0,"uid":-0,"gid":9223372036854775807})"),
      batch(R"({"result":"allowed","pid":null,"uid":null,"gid":null,"host":null,"error":null})"),
      batch(R"({"result":"allowed","future":"x","flag":true,"n":-1.5,"z":null,"u":7})"),
      batch(R"({"re\u0073ult":"allowed","h\u006fst":"\u00e9\n\"q\"","exe":"\/bin\/sh"})"),
      batch(R"({"result":"allowed","exe":")" + std::string(kMaxAccessFieldSize, 'x') + R"("})"),
      batch(repeated(kFullEvent, 3)),
      batch(repeated(R"({"result":"allowed","pid":1})", kMaxAccessEventsPerBatch)),
  };
  for (const std::string& body : bodies) {
    EXPECT_TRUE(agrees(body)) << "declined: " << body.substr(0, 200);
  }
  auto thousand =
      try_parse_access_events(batch(repeated(kFullEvent, kMaxAccessEventsPerBatch)), kNow);
  ASSERT_TRUE(thousand);
  EXPECT_EQ(thousand->size(), kMaxAccessEventsPerBatch);
}

// Every member lands in its own field (the comparisons above would not notice a mix-up
// shared by both parsers).
TEST(AccessEventsParseTest, FieldsComeOutRight) {
  auto events = try_parse_access_events(batch(kFullEvent), kNow);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  const AccessEvent& e = (*events)[0];
  EXPECT_EQ(sdk::rfc3339(e.time), "2026-11-28T10:00:00.123456789Z");
  EXPECT_EQ(e.host, "web-1");
  EXPECT_EQ(e.mount, "/run/secrets");
  EXPECT_EQ(e.file, "db/password");
  EXPECT_EQ(e.path, "database/creds/ro");
  EXPECT_EQ(e.lease_id, "database/creds/ro/abc");
  EXPECT_EQ(e.pid, 4242);
  EXPECT_EQ(e.exe, "/usr/bin/cat");
  EXPECT_EQ(e.uid, 1000);
  EXPECT_EQ(e.gid, 0);
  EXPECT_EQ(e.cgroup, "/system.slice/web.service");
  EXPECT_EQ(e.result, AccessResult::kAllowed);
  EXPECT_EQ(e.error, "");
}

TEST(AccessEventsParseTest, ARepeatedKeyCountsItsLastValueAsInTheTree) {
  // nlohmann's tree keeps the last value of a repeated key; so must the text parser.
  EXPECT_EQ(json::parse(R"({"a":1,"a":2})")["a"], 2);
  const std::vector<std::string> bodies = {
      batch(R"({"result":"allowed","pid":1,"pid":2})"),
      batch(R"({"result":"allowed","host":"a","host":null})"),
      batch(R"({"result":"bogus","result":"denied"})"),
      batch(R"({"result":"allowed","pid":"x","pid":3})"),
      batch(R"({"result":"allowed","time":"bad","time":12})"),
      batch(R"({"result":"allowed","exe":"a","exe":"bb","exe":"ccc"})"),
  };
  for (const std::string& body : bodies) EXPECT_TRUE(agrees(body)) << "declined: " << body;
  auto events = try_parse_access_events(bodies[0], kNow);
  ASSERT_TRUE(events);
  EXPECT_EQ((*events)[0].pid, 2);
  // The other way round the tree refuses it, so the text parser declines.
  EXPECT_FALSE(try_parse_access_events(batch(R"({"result":"allowed","pid":3,"pid":"x"})"), kNow));
}

TEST(AccessEventsParseTest, DeclinesEverythingElse) {
  const std::string ok = R"({"result":"allowed"})";
  const std::vector<std::string> bodies = {
      "",
      "   ",
      "{",
      "null",
      "[]",
      R"("events")",
      "{}",
      R"({"events":null})",
      R"({"events":{}})",
      R"({"events":"x"})",
      R"({"events":[1]})",
      R"({"events":[null]})",
      R"({"events":[[]]})",
      R"({"events":[)" + ok + R"(],"note":"n"})",
      R"({"note":"n","events":[)" + ok + "]}",
      R"({"events":[],"events":[)" + ok + "]}",
      batch(ok) + " x",
      batch(ok) + "{}",
      batch(ok + ","),
      R"({"events":[)" + ok + "}",
      "/* c */" + batch(ok),
      batch(R"({"result":"allowed","extra":{"a":1}})"),
      batch(R"({"result":"allowed","extra":[1]})"),
      batch(R"({"result":"allowed","pid":{}})"),
      batch(R"({"result":"maybe"})"),
      batch(R"({"host":"h"})"),
      batch("{}"),
      batch(R"({"result":true})"),
      batch(R"({"result":"allowed","pid":-3})"),
      batch(R"({"result":"allowed","pid":1.0})"),
      batch(R"({"result":"allowed","pid":"1"})"),
      batch(R"({"result":"allowed","pid":true})"),
      batch(R"({"result":"allowed","uid":9223372036854775808})"),
      batch(R"({"result":"allowed","gid":18446744073709551616})"),
      batch(R"({"result":"allowed","host":1})"),
      batch(R"({"result":"allowed","time":"yesterday"})"),
      batch(R"({"result":"allowed","time":-1})"),
      batch(R"({"result":"allowed","time":100000000000})"),
      // Past what the clock's 64-bit nanoseconds hold (2262): refused, not wrapped.
      batch(R"({"result":"allowed","time":9223372036})"),
      batch(R"({"result":"allowed","time":99999999999.999})"),
      batch(R"({"result":"allowed","time":"9999-12-31T23:59:59Z"})"),
      batch(R"({"result":"allowed","time":true})"),
      batch(R"({"result":"allowed","time":1e400})"),
      batch(R"({"result":"allowed","exe":")" + std::string(kMaxAccessFieldSize + 1, 'x') + R"("})"),
      batch(R"({"result":"allowed","host":")" + std::string("\xff\xfe") + R"("})"),
      batch(R"({"result":"allowed","host":"\ud800"})"),
      // Unpaired low surrogates and encoded surrogates, in values and in keys (ignored
      // keys too): the tree refuses them, so the fast parser must not take them.
      batch(R"({"result":"allowed","host":"\udc00"})"),
      batch(R"({"result":"allowed","host":"a\udfffb"})"),
      batch(R"({"result":"allowed","\udc00":1})"),
      batch(R"({"result":"allowed","x)" + std::string("\xed\xa0\x80") + R"(":1})"),
      batch(R"({"result":"allowed","host":")" + std::string("\xc0\xaf") + R"("})"),
      R"({"ev\udc00ents":[)" + ok + "]}",
      batch(repeated(ok, kMaxAccessEventsPerBatch + 1)),
      std::string(200, '[') + std::string(200, ']'),
      // Raw control bytes, which JSON allows only escaped: 0x1a-0x1f slip through
      // RapidJSON's SSE2 string scan, a NUL would end the text early, and one after
      // the body is trailing garbage to the tree.
      batch(R"({"result":"allowed","ho)" + std::string("\x1a") + R"(st":"a"})"),
      batch(R"({"result":"allowed","host":"web)" + std::string("\x1f") + R"("})"),
      batch(R"({"result":"allowed","host":"web)" + std::string(1, '\0') + R"("})"),
      batch(ok) + std::string(1, '\0'),
      batch(R"({"result":"allowed","host":"web)" + std::string("\x01") + R"("})"),
  };
  for (const std::string& body : bodies) {
    EXPECT_FALSE(try_parse_access_events(body, kNow)) << body.substr(0, 200);
    agrees(body);
  }
  // A byte order mark is skipped by both parsers.
  EXPECT_TRUE(agrees("\xef\xbb\xbf" + batch(ok)));
  // JSON's whitespace between tokens is fine, and escaped control characters are text.
  EXPECT_TRUE(agrees("\t{\r\n\"events\" :\n[ " + ok + " ]\n}\n"));
  EXPECT_TRUE(agrees(batch(R"({"result":"allowed","host":"a\u001ab\u0000c"})")));
}

TEST(AccessEventsParseTest, TheTreeParserKeepsItsErrors) {
  // The messages a client sees for a bad batch (the text parser declines these; the
  // tree's parse words them).
  auto message = [](const std::string& body) {
    auto events = parse_access_events(json::parse(body), kNow);
    EXPECT_FALSE(events.has_value()) << body;
    return events ? std::string() : events.error().message();
  };
  EXPECT_EQ(message("[]"), R"(expected a JSON object with "events")");
  EXPECT_EQ(message("{}"), R"("events" must be a list of access events)");
  EXPECT_EQ(message(R"({"events":{}})"), R"("events" must be a list of access events)");
  EXPECT_EQ(message(batch(R"({"result":"allowed"},1)")), "events[1]: expected an object");
  EXPECT_EQ(message(batch(R"({"result":"allowed","pid":-3})")),
            "events[0].pid: expected a non-negative integer");
  EXPECT_EQ(message(batch(R"({"result":"allowed","gid":1.5})")),
            "events[0].gid: expected a non-negative integer");
  EXPECT_EQ(message(batch(R"({"result":"allowed","cgroup":2})")),
            "events[0].cgroup: expected a string");
  EXPECT_EQ(message(batch(R"({"result":"allowed","host":2,"pid":"x"})")),
            "events[0].host: expected a string");
  EXPECT_EQ(message(batch(R"({"result":"allowed"},{"result":"maybe"})")),
            R"(events[1].result: expected "allowed", "denied" or "error")");
  EXPECT_EQ(message(batch(R"({})")),
            R"(events[0].result: expected "allowed", "denied" or "error")");
  EXPECT_EQ(message(batch(R"({"result":"allowed","time":"now"})")),
            "events[0].time: expected RFC 3339");
  EXPECT_EQ(message(batch(R"({"result":"allowed","time":false,"pid":"x"})")),
            "events[0].time: expected RFC 3339 or unix seconds");
  EXPECT_EQ(message(batch(R"({"result":"allowed","time":-1})")),
            "events[0].time: expected RFC 3339 or unix seconds");
  EXPECT_EQ(message(batch(R"({"result":"allowed","file":")" + std::string(4097, 'f') + R"("})")),
            "events[0]: access event field longer than 4096 bytes");
  EXPECT_EQ(message(batch(repeated("{}", kMaxAccessEventsPerBatch + 1))),
            "at most 1000 access events per request");
}

// Random edits of valid bodies: a member's value replaced, a byte changed, a token put
// in, a run cut out or doubled. Whatever comes out, the text parser declines it or
// agrees with the tree.
TEST(AccessEventsParseTest, MutatedBodiesAgreeWithTheTree) {
  const std::vector<std::string> seeds = {
      batch(kFullEvent),
      batch(repeated(kFullEvent, 2)),
      batch(R"({"result":"denied","time":1764324000.25,"pid":7,"x":true})"),
      batch(R"({"time":null,"result":"error","error":"e","uid":0,"gid":"0"})"),
      batch(""),
  };
  const std::vector<std::string> tokens = {R"("events")",
                                           R"("time")",
                                           R"("pid")",
                                           R"("result")",
                                           R"("allowed")",
                                           R"("denied")",
                                           R"("host")",
                                           "null",
                                           "true",
                                           "false",
                                           "0",
                                           "-1",
                                           "1e11",
                                           "1.5",
                                           "18446744073709551616",
                                           "9223372036854775808",
                                           "{",
                                           "}",
                                           "[",
                                           "]",
                                           ",",
                                           ":",
                                           R"("")",
                                           R"("\u0041")",
                                           R"({"a":1})",
                                           R"("2026-01-01T00:00:00Z")",
                                           "\"",
                                           "\\",
                                           " ",
                                           "\xc3\xa9",
                                           "\xff"};
  std::mt19937 random(20260701);
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
  };
  int taken = 0;
  constexpr int kCases = 5000;
  for (int i = 0; i < kCases; ++i) {
    std::string body = seeds[pick(seeds.size())];
    const std::size_t edits = 1 + pick(2);
    for (std::size_t k = 0; k < edits && !body.empty(); ++k) {
      const std::size_t at = pick(body.size());
      switch (pick(8)) {
        case 0:
        case 1:
        case 6:
        case 7: {
          // The value after a ':' (up to the next ',' or '}') becomes a token.
          const std::size_t colon = body.find(':', at);
          if (colon == std::string::npos) break;
          const std::size_t end = body.find_first_of(",}", colon + 1);
          body.replace(colon + 1, end == std::string::npos ? 0 : end - colon - 1,
                       tokens[pick(tokens.size())]);
          break;
        }
        case 2:
          body[at] = static_cast<char>(pick(256));
          break;
        case 3:
          body.insert(at, tokens[pick(tokens.size())]);
          break;
        case 4:
          body.erase(at, 1 + pick(8));
          break;
        case 5:
          body.insert(at, body.substr(at, 1 + pick(40)));
          break;
      }
    }
    if (agrees(body)) ++taken;
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "case " << i << " fails: " << body;
      break;
    }
  }
  // Enough of them still have the common shape for the comparison to mean something.
  EXPECT_GT(taken, kCases / 20);
}

}  // namespace
}  // namespace leasefs::backend::audit
