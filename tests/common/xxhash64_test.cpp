// XXH64 against values computed with the reference library (libxxhash 0.8.1, XXH64()).
#include "common/xxhash64.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace framewire {
namespace {

std::string tens() {
  std::string s;
  for (int i = 0; i < 10; ++i) s += "0123456789";
  return s;
}

std::string bytes768() {
  std::string s;
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  }
  return s;
}

TEST(XxHash64Test, MatchesTheReferenceImplementation) {
  EXPECT_EQ(xxhash64(""), 0xef46db3751d8e999ULL);
  EXPECT_EQ(xxhash64("a"), 0xd24ec4f1a98c6e5bULL);
  EXPECT_EQ(xxhash64("abc"), 0x44bc2cf5ad770999ULL);
  EXPECT_EQ(xxhash64(tens()), 0xf80e7b96315afffaULL);
  EXPECT_EQ(xxhash64(bytes768()), 0x8e03c838c596036fULL);
  EXPECT_EQ(xxhash64("", 7), 0x95f0626f6f0a4409ULL);
  EXPECT_EQ(xxhash64("a", 7), 0xdc6349d489e0f965ULL);
  EXPECT_EQ(xxhash64("abc", 7), 0x9e755206156676d7ULL);
  EXPECT_EQ(xxhash64(tens(), 7), 0xa314a8f85da8c7d1ULL);
  EXPECT_EQ(xxhash64(bytes768(), 7), 0xb1e10f6c5294cd6bULL);
}

TEST(XxHash64Test, StreamingEqualsOneShotForEverySplit) {
  const std::string data = bytes768();
  for (size_t split = 0; split <= 100; ++split) {
    XxHash64 hash(7);
    hash.update(data.data(), split);
    hash.update(data.data() + split, data.size() - split);
    EXPECT_EQ(hash.digest(), 0xb1e10f6c5294cd6bULL) << "split at " << split;
  }
  XxHash64 bytewise;
  for (char c : tens()) bytewise.update(&c, 1);
  EXPECT_EQ(bytewise.digest(), 0xf80e7b96315afffaULL);
}

}  // namespace
}  // namespace framewire
