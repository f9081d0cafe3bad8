// Key validation and one-level listing helpers shared by storage backends.
#include <gtest/gtest.h>

#include "backend/sdk/storage.h"

namespace leasefs::backend::sdk {
namespace {

TEST(StorageHelpersTest, ValidatesKeys) {
  EXPECT_TRUE(validate_key("core/keyring"));
  EXPECT_TRUE(validate_key("logical/abc/x y"));
  EXPECT_TRUE(validate_key("", true));
  EXPECT_TRUE(validate_key("a/b/", true));
  for (std::string_view bad : {"", "/a", "a/", "a//b", "a/./b", "../a", "a/.."}) {
    EXPECT_FALSE(validate_key(bad)) << bad;
  }
  EXPECT_FALSE(validate_key(std::string("a\0b", 3)));
  EXPECT_FALSE(validate_key("a\nb"));
  EXPECT_FALSE(validate_key(std::string(1025, 'k')));
}

TEST(StorageHelpersTest, OneLevelNames) {
  std::vector<std::string> keys = {"p/a", "p/a/x", "p/a/y/z", "p/b", "p/c/d"};
  EXPECT_EQ(one_level_names("p/", keys), (std::vector<std::string>{"a", "a/", "b", "c/"}));
}

TEST(StorageHelpersTest, PrefixSuccessor) {
  EXPECT_EQ(prefix_successor("a/"), "a0");
  EXPECT_EQ(prefix_successor(""), "");
  EXPECT_EQ(prefix_successor("a\xff"), "b");
  EXPECT_EQ(skip_past("p/", "dir/"), "p/dir0");
  EXPECT_EQ(skip_past("p/", "file"), std::string("p/file\0", 7));
}

}  // namespace
}  // namespace leasefs::backend::sdk
