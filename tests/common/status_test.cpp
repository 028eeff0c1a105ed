#include "common/status.h"

#include <gtest/gtest.h>

namespace framewire {
namespace {

Result<int> half(int x) {
  if (x % 2) return Status::invalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> quarter(int x) {
  FW_ASSIGN_OR_RETURN(int h, half(x));
  return half(h);
}

TEST(Status, NamesAndMessages) {
  EXPECT_TRUE(Status::ok().isOk());
  Status s = Status::forbidden("path escapes its root");
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_EQ(s.toString(), "FORBIDDEN: path escapes its root");
  EXPECT_STREQ(statusCodeName(StatusCode::kDecodeError), "DECODE_ERROR");
}

TEST(Result, PropagatesErrors) {
  EXPECT_EQ(*quarter(8), 2);
  auto odd = quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "3 is odd");
}

}  // namespace
}  // namespace framewire
