// The sdk::Storage contract, run against every backend: what one backend does, all do.
#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend/sdk/storage.h"
#include "backend/storage/inmem_storage.h"
#include "backend/storage/one_level_walk.h"
#include "backend/storage/sqlite_storage.h"
#include "tests/unit/backend/storage/test_files.h"

namespace leasefs::backend::storage {
namespace {

using sdk::Code;
using sdk::StorageOp;
using testing::TempDir;

struct InmemBackend {
  static constexpr const char* kName = "Inmem";
  std::unique_ptr<sdk::Storage> open() { return std::make_unique<InmemStorage>(); }
};

struct SqliteBackend {
  static constexpr const char* kName = "Sqlite";
  TempDir dir;
  std::unique_ptr<sdk::Storage> open() {
    auto storage = SqliteStorage::open(dir / "leasefs.db");
    EXPECT_TRUE(storage) << storage.error().message();
    return storage ? std::move(*storage) : nullptr;
  }
};

template <class Backend>
class StorageConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = backend_.open();
    ASSERT_NE(storage_, nullptr);
  }

  void put(std::string_view key, std::string_view value) {
    auto r = storage_->put(key, value);
    ASSERT_TRUE(r) << key << ": " << r.error().message();
  }
  std::optional<std::string> get(std::string_view key) {
    auto r = storage_->get(key);
    EXPECT_TRUE(r) << key << ": " << r.error().message();
    return r ? *r : std::nullopt;
  }
  std::vector<std::string> list(std::string_view prefix) {
    auto r = storage_->list(prefix);
    EXPECT_TRUE(r) << prefix << ": " << r.error().message();
    return r ? *r : std::vector<std::string>{};
  }

  Backend backend_;
  std::unique_ptr<sdk::Storage> storage_;
};

struct BackendNames {
  template <class T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using Backends = ::testing::Types<InmemBackend, SqliteBackend>;
TYPED_TEST_SUITE(StorageConformanceTest, Backends, BackendNames);

TYPED_TEST(StorageConformanceTest, PutGetOverwriteRemove) {
  EXPECT_EQ(this->get("a/b"), std::nullopt);
  this->put("a/b", "one");
  EXPECT_EQ(this->get("a/b"), "one");
  this->put("a/b", "two");
  EXPECT_EQ(this->get("a/b"), "two");
  ASSERT_TRUE(this->storage_->remove("a/b"));
  EXPECT_EQ(this->get("a/b"), std::nullopt);
  // Removing what is not there succeeds.
  EXPECT_TRUE(this->storage_->remove("a/b"));
  EXPECT_TRUE(this->storage_->remove("never/was"));
}

TYPED_TEST(StorageConformanceTest, ValuesAreBytes) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  all_bytes += std::string("\0\0tail\0", 7);
  this->put("bin", all_bytes);
  EXPECT_EQ(this->get("bin"), all_bytes);

  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  this->put("big", big);
  EXPECT_EQ(this->get("big"), big);
}

TYPED_TEST(StorageConformanceTest, EmptyValueIsNotMissing) {
  this->put("empty", "");
  auto v = this->get("empty");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "");
  EXPECT_EQ(this->list(""), std::vector<std::string>{"empty"});
}

TYPED_TEST(StorageConformanceTest, KeysMayHoldHighBytes) {
  std::string key = "caf\xc3\xa9/\xff\xfe";
  this->put(key, "v");
  EXPECT_EQ(this->get(key), "v");
  EXPECT_EQ(this->list(""), std::vector<std::string>{"caf\xc3\xa9/"});
  EXPECT_EQ(this->list("caf\xc3\xa9/"), std::vector<std::string>{"\xff\xfe"});
}

TYPED_TEST(StorageConformanceTest, ListIsOneLevelSortedAndUnique) {
  for (const char* key : {"c", "a/c/e", "a", "b/x/y/z", "a/b", "a-b", "a.b", "a/c/d", "a/c/f/g",
                          "d/e", "d/f", "d/g/h"}) {
    this->put(key, "v");
  }
  // "a" and "a/" both appear; '-' and '.' sort before '/'.
  EXPECT_EQ(this->list(""), (std::vector<std::string>{"a", "a-b", "a.b", "a/", "b/", "c", "d/"}));
  EXPECT_EQ(this->list("a/"), (std::vector<std::string>{"b", "c/"}));
  EXPECT_EQ(this->list("a/c/"), (std::vector<std::string>{"d", "e", "f/"}));
  EXPECT_EQ(this->list("b/"), (std::vector<std::string>{"x/"}));
  EXPECT_EQ(this->list("b/x/y/"), (std::vector<std::string>{"z"}));
  EXPECT_EQ(this->list("d/"), (std::vector<std::string>{"e", "f", "g/"}));
  EXPECT_EQ(this->list("nothing/"), std::vector<std::string>{});
  // A folder disappears with its last key.
  ASSERT_TRUE(this->storage_->remove("b/x/y/z"));
  EXPECT_EQ(this->list(""), (std::vector<std::string>{"a", "a-b", "a.b", "a/", "c", "d/"}));
}

TYPED_TEST(StorageConformanceTest, ListOfEmptyStorage) {
  EXPECT_EQ(this->list(""), std::vector<std::string>{});
}

TYPED_TEST(StorageConformanceTest, ListPagesCoverEveryNameOnce) {
  // Leaves and folders interleaved, folders with many nested keys.
  for (int i = 0; i < 40; ++i) {
    std::string name = "n" + std::to_string(i);
    if (i % 3 == 0) {
      for (int j = 0; j < 5; ++j) this->put("p/" + name + "/deep/" + std::to_string(j), "v");
    }
    if (i % 2 == 0) this->put("p/" + name, "v");
  }
  this->put("q", "outside");
  auto all = this->list("p/");
  ASSERT_EQ(all.size(), 14u + 20u);  // folders "nK/" and leaves "nK" are distinct names
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  for (std::size_t limit : {1u, 2u, 3u, 7u, 100u}) {
    std::vector<std::string> walked;
    std::string after;
    for (int pages = 0; pages < 100; ++pages) {
      auto page = this->storage_->list_page("p/", after, limit);
      ASSERT_TRUE(page) << page.error().message();
      ASSERT_LE(page->size(), limit);
      if (page->empty()) break;
      walked.insert(walked.end(), page->begin(), page->end());
      after = page->back();
    }
    EXPECT_EQ(walked, all) << "limit " << limit;
  }
  // `after` need not be a listed name.
  auto page = this->storage_->list_page("p/", "n1", 2);
  ASSERT_TRUE(page);
  EXPECT_EQ(*page, (std::vector<std::string>{"n10", "n12"}));
  page = this->storage_->list_page("p/", "n12/deep", 1);
  ASSERT_TRUE(page);
  EXPECT_EQ(*page, (std::vector<std::string>{"n14"}));
  page = this->storage_->list_page("", "p/", 10);
  ASSERT_TRUE(page);
  EXPECT_EQ(*page, (std::vector<std::string>{"q"}));
  page = this->storage_->list_page("p/", "", 0);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->empty());
}

TYPED_TEST(StorageConformanceTest, ApplyIsAtomicAndOrdered) {
  this->put("keep", "old");
  this->put("gone", "x");
  std::vector<StorageOp> ops{StorageOp::put("t/1", "a"), StorageOp::remove("gone"),
                             StorageOp::put("t/2", "b"), StorageOp::remove("t/2"),
                             StorageOp::put("t/3", "c"), StorageOp::put("t/3", "d")};
  ASSERT_TRUE(this->storage_->apply(ops));
  EXPECT_EQ(this->get("t/1"), "a");
  EXPECT_EQ(this->get("t/2"), std::nullopt);
  EXPECT_EQ(this->get("t/3"), "d");
  EXPECT_EQ(this->get("gone"), std::nullopt);

  // One bad key anywhere: nothing applies.
  std::vector<StorageOp> bad{StorageOp::put("keep", "new"), StorageOp::remove("t/1"),
                             StorageOp::put("x/../y", "z")};
  auto r = this->storage_->apply(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->get("keep"), "old");
  EXPECT_EQ(this->get("t/1"), "a");

  EXPECT_TRUE(this->storage_->apply({}));
}

TYPED_TEST(StorageConformanceTest, InvalidKeysGiveValidateKeysError) {
  std::string long_key(1025, 'k');
  for (std::string key : {std::string(), std::string("/a"), std::string("a/"), std::string("a//b"),
                          std::string("a/../b"), std::string("./a"), std::string("a\x01"),
                          std::string("a\0b", 3), long_key}) {
    auto expected = sdk::validate_key(key);
    ASSERT_FALSE(expected) << key;
    auto g = this->storage_->get(key);
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error(), expected.error());
    auto p = this->storage_->put(key, "v");
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error(), expected.error());
    auto d = this->storage_->remove(key);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error(), expected.error());
    std::vector<StorageOp> ops{StorageOp::put(key, "v")};
    auto a = this->storage_->apply(ops);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error(), expected.error());
  }
  for (std::string prefix : {std::string("/"), std::string("a//b/"), std::string("a"),
                             std::string("../"), std::string("a\n/")}) {
    auto l = this->storage_->list(prefix);
    ASSERT_FALSE(l) << prefix;
    EXPECT_EQ(l.error().code(), Code::kInvalidArgument);
  }
  auto l = this->storage_->list_page("", std::string("a\0", 2), 10);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->list(""), std::vector<std::string>{});
}

TYPED_TEST(StorageConformanceTest, ConcurrentWritersAndReaders) {
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 60;
  auto value_of = [](int w, int i) { return std::string(100 + i, static_cast<char>('a' + w)); };
  std::atomic<bool> writers_done{false};
  std::atomic<int> failures{0};
  std::latch start(kWriters + 2);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerWriter; ++i) {
        std::string key = "w" + std::to_string(w) + "/k" + std::to_string(i);
        if (!this->storage_->put(key, value_of(w, i))) ++failures;
        // A write is visible to the writer as soon as put() returns.
        auto got = this->storage_->get(key);
        if (!got || *got != value_of(w, i)) ++failures;
        if (i % 10 == 9) {
          std::vector<StorageOp> ops{StorageOp::put(key + "/a", "1"),
                                     StorageOp::put(key + "/b", "2")};
          if (!this->storage_->apply(ops)) ++failures;
        }
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      while (!writers_done.load()) {
        auto names = this->storage_->list("");
        if (!names || !std::is_sorted(names->begin(), names->end())) ++failures;
        if (!this->storage_->get("w0/k0")) ++failures;
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[static_cast<std::size_t>(w)].join();
  writers_done = true;
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  for (int w = 0; w < kWriters; ++w) {
    std::string folder = "w" + std::to_string(w) + "/";
    EXPECT_EQ(this->list(folder).size(), static_cast<std::size_t>(kPerWriter + kPerWriter / 10));
    for (int i = 0; i < kPerWriter; ++i) {
      EXPECT_EQ(this->get(folder + "k" + std::to_string(i)), value_of(w, i));
    }
  }
}

// The listing walk jumps over folders: a folder of 10,000 nested keys costs one seek.
TEST(OneLevelWalkTest, SeeksPastFoldersInsteadOfStepping) {
  using Map = std::map<std::string, std::string, std::less<>>;
  struct CountingCursor {
    const Map* map;
    Map::const_iterator it;
    int steps = 0;
    int seeks = 0;
    sdk::Result<void> seek(std::string_view bound, bool inclusive) {
      ++seeks;
      it = inclusive ? map->lower_bound(bound) : map->upper_bound(bound);
      return {};
    }
    sdk::Result<std::optional<std::string_view>> next() {
      ++steps;
      if (it == map->end()) return std::optional<std::string_view>();
      return std::optional<std::string_view>((it++)->first);
    }
  };
  Map map;
  for (int i = 0; i < 10000; ++i) map["big/nested/" + std::to_string(i)] = "";
  map["big/leaf"] = "";
  map["other"] = "";
  CountingCursor cursor{&map, map.end()};
  std::vector<std::string> names;
  ASSERT_TRUE(internal::walk_one_level(cursor, "", "", 1000, names));
  EXPECT_EQ(names, (std::vector<std::string>{"big/", "other"}));
  EXPECT_LE(cursor.steps, 4);
  EXPECT_LE(cursor.seeks, 2);

  cursor = CountingCursor{&map, map.end()};
  names.clear();
  ASSERT_TRUE(internal::walk_one_level(cursor, "big/", "", 1000, names));
  EXPECT_EQ(names, (std::vector<std::string>{"leaf", "nested/"}));
  EXPECT_LE(cursor.steps, 4);
}

}  // namespace
}  // namespace leasefs::backend::storage
