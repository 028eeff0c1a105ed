// OutputSpec parsing and output geometry.
#include "worker/output/output_spec.h"

#include <gtest/gtest.h>

#include "tests/worker/worker_test_support.h"
#include "worker/output/image_encoder.h"

namespace framewire {
namespace {

using testing::buildRequest;
using testing::RequestSpec;

Result<OutputSpec> parse(const RequestSpec& spec) {
  auto buffer = buildRequest(spec);
  return parseOutputSpec(*testing::requestOf(buffer));
}

TEST(OutputSpecTest, DefaultsAndNames) {
  auto spec = parse({});
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->format, OutputFormat::kRgb24);
  EXPECT_EQ(spec->format_name, "rgb24");
  EXPECT_EQ(spec->encoding, ImageEncoding::kRaw);
  EXPECT_EQ(spec->encoding_name, "raw");
  EXPECT_EQ(spec->quality, kDefaultJpegQuality);
  EXPECT_FALSE(spec->crop);
  RequestSpec request;
  request.format = "gray16";
  request.encoding = "png";
  spec = parse(request);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(targetPixelFormat(*spec, AV_PIX_FMT_NONE), AV_PIX_FMT_GRAY16BE);
}

TEST(OutputSpecTest, RefusesUnknownNamesAndCombinations) {
  RequestSpec request;
  request.format = "yuv420p";
  auto spec = parse(request);
  ASSERT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find("native, rgb24, rgba, bgr24, gray8, gray16"), std::string::npos);
  request = {};
  request.encoding = "gif";
  EXPECT_EQ(parse(request).status().code(), StatusCode::kInvalidArgument);
  request = {};
  request.format = "native";
  request.encoding = "png";
  EXPECT_EQ(parse(request).status().code(), StatusCode::kInvalidArgument);
  request = {};
  request.format = "gray16";
  request.encoding = "jpeg";
  spec = parse(request);
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find("jpeg takes rgb24, bgr24, gray8"), std::string::npos)
      << spec.status().message();
  request = {};
  request.quality = 101;
  EXPECT_EQ(parse(request).status().code(), StatusCode::kInvalidArgument);
  request = {};
  request.width = -1;
  EXPECT_EQ(parse(request).status().code(), StatusCode::kInvalidArgument);
  request = {};
  request.crop = proto::Rect(0, 0, 0, 10);
  EXPECT_EQ(parse(request).status().code(), StatusCode::kInvalidArgument);
  request = {};
  request.crop = proto::Rect(0, 0, 0, 0);  // all zero: no crop
  ASSERT_TRUE(parse(request).ok());
  EXPECT_FALSE(parse(request)->crop);
}

TEST(OutputSpecTest, GeometryCropsThenResizesKeepingAspect) {
  RequestSpec request;
  request.crop = proto::Rect(10, 20, 200, 100);
  request.width = 100;
  auto spec = parse(request);
  ASSERT_TRUE(spec.ok());
  auto geometry = outputGeometry(*spec, 320, 240);
  ASSERT_TRUE(geometry.ok());
  EXPECT_TRUE(geometry->cropped);
  EXPECT_TRUE(geometry->resized);
  EXPECT_EQ(geometry->width, 100);
  EXPECT_EQ(geometry->height, 50);
  auto outside = outputGeometry(*spec, 200, 240);
  ASSERT_EQ(outside.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(outside.status().message().find("200x240"), std::string::npos);
  request = {};
  request.height = 120;
  geometry = outputGeometry(*parse(request), 320, 240);
  EXPECT_EQ(geometry->width, 160);
  EXPECT_FALSE(geometry->cropped);
}

TEST(OutputSpecTest, JpegQualityMapsOntoTheQuantiser) {
  EXPECT_EQ(jpegQuantiser(100), 1);
  EXPECT_EQ(jpegQuantiser(1), 31);
  EXPECT_LT(jpegQuantiser(90), jpegQuantiser(50));
}

}  // namespace
}  // namespace framewire
