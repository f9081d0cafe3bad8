// Status codes and Result propagation.
#include "backend/sdk/status.h"

#include <gtest/gtest.h>

namespace leasefs::backend::sdk {
namespace {

Result<int> half(int n) {
  if (n % 2 != 0) return invalid_argument("odd number");
  return n / 2;
}

Result<int> quarter(int n) {
  auto h = half(n);
  LEASEFS_TRY(h);
  return half(*h);
}

TEST(StatusTest, TryPropagatesTheFirstError) {
  EXPECT_EQ(quarter(8).value(), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "odd number");
}

TEST(StatusTest, ContextKeepsTheCode) {
  Status s(Code::kNotFound, "no such key");
  auto c = s.with_context("reading core/keyring");
  EXPECT_EQ(c.code(), Code::kNotFound);
  EXPECT_EQ(c.message(), "reading core/keyring: no such key");
  EXPECT_EQ(code_name(Code::kSealed), "sealed");
}

}  // namespace
}  // namespace leasefs::backend::sdk
