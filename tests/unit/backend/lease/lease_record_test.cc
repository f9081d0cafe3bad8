// The lease record's storage form: keys, escaping, JSON round trip, and refusing
// malformed records without throwing.
#include "backend/lease/lease_record.h"

#include <gtest/gtest.h>

namespace leasefs::backend::lease {
namespace {

LeaseRecord sample() {
  LeaseRecord r;
  r.lease_id = "database/creds/ro/abcDEF0123456789abcdefGH";
  r.kind = LeaseKind::kSecret;
  r.path = "database/creds/ro";
  r.mount = "database/";
  r.secret_type = "creds";
  r.internal = {{"username", "v-ro-1"}, {"n", 3}};
  r.token_hash = "h0123abcd";
  r.issue_time = sdk::WallTime(std::chrono::seconds(1'700'000'000));
  r.expire_time = r.issue_time + std::chrono::hours(1);
  r.renewable = true;
  r.ttl = std::chrono::hours(1);
  r.role_max_ttl = std::chrono::hours(2);
  return r;
}

TEST(LeaseRecordTest, RoundTripsEveryField) {
  LeaseRecord r = sample();
  r.last_renewal_time = r.issue_time + std::chrono::minutes(5);
  r.revoke_attempts = 3;
  r.revoke_error = "connection refused";
  r.irrevocable = true;
  auto back = decode_record(encode_record(r));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->lease_id, r.lease_id);
  EXPECT_EQ(back->kind, r.kind);
  EXPECT_EQ(back->path, r.path);
  EXPECT_EQ(back->mount, r.mount);
  EXPECT_EQ(back->secret_type, r.secret_type);
  EXPECT_EQ(back->internal, r.internal);
  EXPECT_EQ(back->token_hash, r.token_hash);
  EXPECT_EQ(back->issue_time, r.issue_time);
  EXPECT_EQ(back->expire_time, r.expire_time);
  EXPECT_EQ(back->last_renewal_time, r.last_renewal_time);
  EXPECT_TRUE(back->renewed());
  EXPECT_EQ(back->renewable, r.renewable);
  EXPECT_EQ(back->ttl, r.ttl);
  EXPECT_EQ(back->role_max_ttl, r.role_max_ttl);
  EXPECT_EQ(back->revoke_attempts, 3);
  EXPECT_EQ(back->revoke_error, r.revoke_error);
  EXPECT_TRUE(back->irrevocable);
}

TEST(LeaseRecordTest, ScheduleComesFromTheHeaderLine) {
  LeaseRecord r = sample();
  r.kind = LeaseKind::kToken;
  r.revoke_attempts = 4;
  r.irrevocable = true;
  std::string bytes = encode_record(r);
  EXPECT_TRUE(bytes.starts_with("L1 t 1 4 "));
  auto s = decode_schedule(bytes);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->kind, LeaseKind::kToken);
  EXPECT_EQ(s->expire_time, r.expire_time);
  EXPECT_EQ(s->revoke_attempts, 4);
  EXPECT_TRUE(s->irrevocable);
  // The JSON after the header is not read at all.
  auto header_only = decode_schedule(bytes.substr(0, bytes.find('\n') + 1) + "not json");
  ASSERT_TRUE(header_only);
  EXPECT_FALSE(decode_record(bytes.substr(0, bytes.find('\n') + 1) + "not json"));
  for (std::string bad :
       {"", "L1 s 0 0 1", "L2 s 0 0 1\n{}", "L1 x 0 0 1\n", "L1 s 2 0 1\n", "L1 s 0 -1 1\n",
        "L1 s 0 0 \n", "L1 s 0 0 12x\n", "L1 s 0 1\n", "{\"v\":1}"}) {
    auto b = decode_schedule(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().code(), sdk::Code::kDataLoss);
  }
}

TEST(LeaseRecordTest, TokenKindRoundTrips) {
  LeaseRecord r = sample();
  r.kind = LeaseKind::kToken;
  auto back = decode_record(encode_record(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, LeaseKind::kToken);
  EXPECT_FALSE(back->renewed());
}

TEST(LeaseRecordTest, MalformedRecordsAreDataLossNotExceptions) {
  for (std::string bad : {"", "{", "[]", "null", "{\"v\":1}", "{\"v\":2,\"lease_id\":\"a\"}"}) {
    auto r = decode_record(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), sdk::Code::kDataLoss) << bad;
  }
  // A field of the wrong type.
  std::string text = encode_record(sample());
  auto pos = text.find("\"renewable\":true");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 16, "\"renewable\":\"yes\"");
  EXPECT_FALSE(decode_record(text));
}

TEST(LeaseRecordTest, InvalidUtf8IsReplacedNotThrown) {
  LeaseRecord r = sample();
  r.revoke_error = std::string("bad \xff\xfe bytes");
  auto back = decode_record(encode_record(r));
  ASSERT_TRUE(back);
  EXPECT_NE(back->revoke_error.find("bad"), std::string::npos);
}

TEST(LeaseRecordTest, KeysAndEscaping) {
  EXPECT_EQ(record_key("a/b/c"), "id/a/b/c");
  EXPECT_EQ(token_index_key("h1", "a/b%c"), "token/h1/a%2Fb%25c");
  for (std::string id : {"", "a", "a/b/c", "%", "%2F/", "x%25y"}) {
    auto back = unescape_segment(escape_segment(id));
    ASSERT_TRUE(back) << id;
    EXPECT_EQ(*back, id);
    EXPECT_EQ(escape_segment(id).find('/'), std::string::npos);
  }
  EXPECT_FALSE(unescape_segment("%"));
  EXPECT_FALSE(unescape_segment("%3A"));
}

TEST(LeaseRecordTest, ValidatesIdsAndTokenHashes) {
  EXPECT_TRUE(validate_lease_id("database/creds/ro/abc"));
  EXPECT_FALSE(validate_lease_id(""));
  EXPECT_FALSE(validate_lease_id("a//b"));
  EXPECT_FALSE(validate_lease_id("a/../b"));
  EXPECT_FALSE(validate_lease_id("a/b/"));
  EXPECT_FALSE(validate_lease_id(std::string("a\nb")));
  EXPECT_FALSE(validate_lease_id(std::string(2000, 'a')));
  EXPECT_TRUE(validate_token_hash("h0123"));
  EXPECT_FALSE(validate_token_hash(""));
  EXPECT_FALSE(validate_token_hash("a/b"));
  EXPECT_FALSE(validate_token_hash(".."));
  EXPECT_FALSE(validate_token_hash("a b"));
}

TEST(LeaseRecordTest, TruncatesErrorsOnCharacterBoundaries) {
  EXPECT_EQ(truncate_error("short"), "short");
  std::string ascii(300, 'x');
  EXPECT_EQ(truncate_error(ascii).size(), kMaxRevokeErrorBytes);
  // 239 ASCII bytes then a 2-byte character straddling the limit: it is dropped whole.
  std::string mixed = std::string(239, 'x') + "\xc3\xa9" + "tail";
  std::string cut = truncate_error(mixed);
  EXPECT_EQ(cut.size(), 239u);
}

TEST(LeaseRecordTest, LeaseInfoCarriesWhatTheEngineNeeds) {
  LeaseRecord r = sample();
  auto info = r.lease_info(std::chrono::minutes(10));
  EXPECT_EQ(info.lease_id, r.lease_id);
  EXPECT_EQ(info.secret_type, "creds");
  EXPECT_EQ(info.internal, r.internal);
  EXPECT_EQ(info.issue_time, r.issue_time);
  EXPECT_EQ(info.expire_time, r.expire_time);
  EXPECT_EQ(info.increment, std::chrono::minutes(10));
}

}  // namespace
}  // namespace leasefs::backend::lease
