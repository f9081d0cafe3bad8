// Path patterns and the declarative engine's routing.
#include "backend/sdk/backend.h"

#include <gtest/gtest.h>

#include "backend/sdk/clock.h"
#include "backend/sdk/duration.h"
#include "backend/sdk/random.h"

namespace leasefs::backend::sdk {
namespace {

using nlohmann::json;
using Captures = std::map<std::string, std::string>;

bool matches(std::string_view pattern, std::string_view path, Captures* out = nullptr) {
  auto p = PathPattern::compile(pattern);
  EXPECT_TRUE(p) << pattern;
  Captures c;
  bool ok = p->match(path, c);
  if (out) *out = c;
  return ok;
}

TEST(PathPatternTest, Segments) {
  Captures c;
  EXPECT_TRUE(matches("config", "config"));
  EXPECT_FALSE(matches("config", "configs"));
  EXPECT_FALSE(matches("config", "config/x"));
  EXPECT_TRUE(matches("roles/{name}", "roles/web", &c));
  EXPECT_EQ(c["name"], "web");
  EXPECT_FALSE(matches("roles/{name}", "roles/"));
  EXPECT_FALSE(matches("roles/{name}", "roles"));
  EXPECT_FALSE(matches("roles/{name}", "roles/a/b"));
  EXPECT_FALSE(matches("roles/{name}", "roles//"));
  EXPECT_TRUE(matches("", ""));
  EXPECT_FALSE(matches("", "x"));
}

TEST(PathPatternTest, RestCaptures) {
  Captures c;
  EXPECT_TRUE(matches("data/{path*}", "data/a/b/c", &c));
  EXPECT_EQ(c["path"], "a/b/c");
  EXPECT_FALSE(matches("data/{path*}", "data"));
  EXPECT_FALSE(matches("data/{path*}", "data/"));
  EXPECT_TRUE(matches("metadata/{path*?}", "metadata", &c));
  EXPECT_EQ(c["path"], "");
  EXPECT_TRUE(matches("metadata/{path*?}", "metadata/", &c));
  EXPECT_EQ(c["path"], "");
  EXPECT_TRUE(matches("metadata/{path*?}", "metadata/team/app/", &c));
  EXPECT_EQ(c["path"], "team/app/");
  EXPECT_TRUE(matches("{path*}", "anything/at/all", &c));
  EXPECT_EQ(c["path"], "anything/at/all");
}

TEST(PathPatternTest, BadPatternsAreRejected) {
  EXPECT_FALSE(PathPattern::compile("a//b"));
  EXPECT_FALSE(PathPattern::compile("{rest*}/after"));
  EXPECT_FALSE(PathPattern::compile("{bad-name}"));
  EXPECT_FALSE(PathPattern::compile("{open"));
}

class EchoEngine : public FrameworkBackend {
 public:
  EchoEngine()
      : FrameworkBackend(
            {{.pattern = "roles/{name}",
              .fields = {{.name = "name"}, {.name = "ttl", .type = FieldType::kDuration}},
              .operations = {{Operation::kRead,
                              [](Request&, const FieldData& d) -> Result<Response> {
                                return Response::with_data(json{{"name", d.string("name")}});
                              }},
                             {Operation::kUpdate,
                              [](Request&, const FieldData& d) -> Result<Response> {
                                return Response::with_data(
                                    json{{"ttl", whole_seconds(d.duration("ttl"))}});
                              }}}}},
            {}) {}
};

TEST(FrameworkBackendTest, RoutesByPatternAndOperation) {
  EchoEngine engine;
  Request req;
  req.path = "roles/web";
  auto r = engine.handle(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data["name"], "web");

  req.operation = Operation::kCreate;  // falls back to the update handler
  req.data = {{"ttl", "2m"}, {"bogus", true}};
  r = engine.handle(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->data["ttl"], 120);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0], "Endpoint ignored these unrecognized parameters: [bogus]");

  req.operation = Operation::kDelete;
  r = engine.handle(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnsupported);

  req.path = "nothing/here";
  req.operation = Operation::kRead;
  r = engine.handle(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kNotFound);

  req.path = "roles/web";
  req.operation = Operation::kUpdate;
  req.data = {{"ttl", "soon"}};
  r = engine.handle(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
}

TEST(FrameworkBackendTest, ExistenceCheckIsOptional) {
  EchoEngine engine;
  Request req;
  req.path = "roles/web";
  auto e = engine.exists(req);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->has_value());
}

// A storage no test reads: fill_request_context only passes the pointer on.
class UnusedStorage final : public Storage {
 public:
  Result<std::optional<std::string>> get(std::string_view) override { return unused(); }
  Result<void> put(std::string_view, std::string_view) override { return unused(); }
  Result<void> remove(std::string_view) override { return unused(); }
  Result<std::vector<std::string>> list(std::string_view) override { return unused(); }
  Result<std::vector<std::string>> list_page(std::string_view, std::string_view,
                                             std::size_t) override {
    return unused();
  }
  Result<void> apply(std::span<const StorageOp>) override { return unused(); }

 private:
  static std::unexpected<Status> unused() { return internal_error("not used by this test"); }
};

TEST(FillRequestContextTest, FillsOnlyWhatIsMissingAndNamesTheEngine) {
  UnusedStorage mount_storage, request_storage;
  ManualClock clock;
  SeededRandom random(1);
  Request request;
  request.storage = &request_storage;
  ASSERT_TRUE(fill_request_context(request, &mount_storage, &clock, &random, "pki").has_value());
  EXPECT_EQ(request.storage, &request_storage);  // the request's own is kept
  EXPECT_EQ(request.clock, &clock);
  EXPECT_EQ(request.random, &random);

  Request bare;
  auto missing = fill_request_context(bare, &mount_storage, &clock, nullptr, "ssh");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), Code::kInternal);
  EXPECT_EQ(missing.error().message(), "ssh: request has no storage, clock or random");
}

}  // namespace
}  // namespace leasefs::backend::sdk
