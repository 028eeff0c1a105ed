// Sizes on the command line (--cache-bytes 2G).
#include "common/byte_size.h"

#include <gtest/gtest.h>

namespace framewire {
namespace {

TEST(ByteSizeTest, ParsesNumbersAndBinarySuffixes) {
  EXPECT_EQ(*parseByteSize("0", "--x"), 0u);
  EXPECT_EQ(*parseByteSize("1073741824", "--x"), 1073741824u);
  EXPECT_EQ(*parseByteSize("512M", "--x"), 512u << 20);
  EXPECT_EQ(*parseByteSize("2g", "--x"), uint64_t(2) << 30);
  EXPECT_EQ(*parseByteSize("1.5G", "--x"), uint64_t(3) << 29);
  EXPECT_EQ(*parseByteSize("10GiB", "--x"), uint64_t(10) << 30);
  EXPECT_EQ(*parseByteSize("64KB", "--x"), 65536u);
  EXPECT_EQ(*parseByteSize("1T", "--x"), uint64_t(1) << 40);
  for (const char* bad : {"", "G", "-1", "1X", "1GG", "one", "1e30T"}) {
    auto r = parseByteSize(bad, "--cache-bytes");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--cache-bytes"), std::string::npos);
  }
  EXPECT_EQ(byteSizeText(512), "512 bytes");
  EXPECT_EQ(byteSizeText(uint64_t(1) << 30), "1.0 GiB");
}

}  // namespace
}  // namespace framewire
