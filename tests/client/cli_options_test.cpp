// Option parsing of the command line (crop, frame index, encoding from the output name) and
// the JSON writer behind `framewire info`.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "client/cli/get_options.h"
#include "client/cli/json_writer.h"

namespace framewire::cli {
namespace {

TEST(ParseCrop, AcceptsFourNumbers) {
  auto crop = parseCrop("10,20,300,400");
  ASSERT_TRUE(crop.ok()) << crop.status().toString();
  EXPECT_EQ(crop->x, 10);
  EXPECT_EQ(crop->y, 20);
  EXPECT_EQ(crop->width, 300);
  EXPECT_EQ(crop->height, 400);
  EXPECT_TRUE(parseCrop("0,0,1,1").ok());
}

TEST(ParseCrop, RejectsEverythingElse) {
  for (const char* bad : {"", "1,2,3", "1,2,3,4,5", "a,b,c,d", "-1,0,10,10", "0,0,0,10", "0,0,10,0",
                          "1,,3,4", "1,2,3,4,", " 1,2,3,4", "1.5,2,3,4", "0,0,99999999999,1"}) {
    auto crop = parseCrop(bad);
    EXPECT_FALSE(crop.ok()) << "'" << bad << "'";
    if (!crop.ok()) {
      EXPECT_EQ(crop.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(ParseFrameIndex, IntegersOnly) {
  EXPECT_EQ(*parseFrameIndex("0"), 0);
  EXPECT_EQ(*parseFrameIndex("25000"), 25000);
  EXPECT_EQ(*parseFrameIndex("-1"), -1);  // the server's OUT_OF_RANGE, not a usage error
  for (const char* bad : {"", "x", "1x", "1.0", " 3", "99999999999999999999999"}) {
    EXPECT_FALSE(parseFrameIndex(bad).ok()) << "'" << bad << "'";
  }
}

TEST(ParseFrameTime, FiniteNumbers) {
  EXPECT_DOUBLE_EQ(*parseFrameTime("0"), 0.0);
  EXPECT_DOUBLE_EQ(*parseFrameTime("12.5"), 12.5);
  EXPECT_DOUBLE_EQ(*parseFrameTime("1e2"), 100.0);
  EXPECT_DOUBLE_EQ(*parseFrameTime("-0.5"), -0.5);  // the server's OUT_OF_RANGE
  for (const char* bad : {"", "x", "1s", " 3", "nan", "inf", "1e999"}) {
    EXPECT_FALSE(parseFrameTime(bad).ok()) << "'" << bad << "'";
  }
}

TEST(ChooseEncoding, FromTheOutputName) {
  EXPECT_EQ(*chooseEncoding("x.png", ""), "png");
  EXPECT_EQ(*chooseEncoding("dir.d/X.PNG", ""), "png");
  EXPECT_EQ(*chooseEncoding("x.jpg", ""), "jpeg");
  EXPECT_EQ(*chooseEncoding("x.jpeg", ""), "jpeg");
  EXPECT_EQ(*chooseEncoding("x.bmp", ""), "bmp");
  EXPECT_EQ(*chooseEncoding("x.raw", ""), "raw");
  EXPECT_EQ(*chooseEncoding("x.png", "png"), "png");
}

TEST(ChooseEncoding, ExplicitEncodingForOtherNamesAndStdout) {
  EXPECT_EQ(*chooseEncoding("", ""), "raw");
  EXPECT_EQ(*chooseEncoding("-", ""), "raw");
  EXPECT_EQ(*chooseEncoding("-", "png"), "png");
  EXPECT_EQ(*chooseEncoding("frame.yuv", "raw"), "raw");
  EXPECT_EQ(*chooseEncoding("noext", "jpeg"), "jpeg");
}

TEST(ChooseEncoding, RejectsConflictsAndUnknowns) {
  EXPECT_FALSE(chooseEncoding("x.png", "jpeg").ok());
  EXPECT_FALSE(chooseEncoding("x.tiff", "").ok());
  EXPECT_FALSE(chooseEncoding("dir.png/frame", "").ok());
  EXPECT_FALSE(chooseEncoding("x.raw", "webp").ok());
}

TEST(JsonWriter, ObjectWithEveryKindOfValue) {
  JsonWriter json;
  json.beginObject()
      .key("movie").value("a/\"b\"\\c.mov")
      .key("num_frames").value(int64_t(25000))
      .key("file_size").value(uint64_t(14000000000ull))
      .key("fps").value(29.97)
      .key("ok").value(true)
      .key("nan").value(std::numeric_limits<double>::quiet_NaN())
      .key("list").beginArray().value(1).value(2).endArray()
      .key("empty").beginObject().endObject()
      .endObject();
  EXPECT_EQ(json.str(),
            "{\n"
            "  \"movie\": \"a/\\\"b\\\"\\\\c.mov\",\n"
            "  \"num_frames\": 25000,\n"
            "  \"file_size\": 14000000000,\n"
            "  \"fps\": 29.97,\n"
            "  \"ok\": true,\n"
            "  \"nan\": null,\n"
            "  \"list\": [\n"
            "    1,\n"
            "    2\n"
            "  ],\n"
            "  \"empty\": {}\n"
            "}");
}

TEST(JsonWriter, CompactAndControlCharacters) {
  JsonWriter json(0);
  json.beginArray().value("tab\there\nnew\x01").value(0.5).value(-3).null().endArray();
  EXPECT_EQ(json.str(), "[\"tab\\there\\nnew\\u0001\",0.5,-3,null]");
  EXPECT_EQ(jsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

}  // namespace
}  // namespace framewire::cli
