// `framewire warm`'s planning (frame ranges, batch sizes) and its progress bar, without a server.
#include <gtest/gtest.h>

#include "client/cli/progress_bar.h"
#include "client/cli/warm_plan.h"

namespace framewire::cli {
namespace {

std::vector<int64_t> framesFor(const std::string& text, int64_t num_frames) {
  auto range = parseFrameRange(text);
  EXPECT_TRUE(range.ok()) << text << ": " << range.status().toString();
  return range.ok() ? framesOf(*range, num_frames) : std::vector<int64_t>{};
}

TEST(WarmPlanTest, FrameRangesAreSlices) {
  EXPECT_EQ(framesFor("", 4), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(framesFor(":", 3), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(framesFor("::", 2), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(framesFor("2:", 5), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(framesFor(":3", 10), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(framesFor("1:10:3", 100), (std::vector<int64_t>{1, 4, 7}));
  EXPECT_EQ(framesFor("::25", 60), (std::vector<int64_t>{0, 25, 50}));
  EXPECT_EQ(framesFor("0:1000:10", 25), (std::vector<int64_t>{0, 10, 20}));  // clipped to the movie
  EXPECT_EQ(framesFor("7", 10), (std::vector<int64_t>{7}));
  EXPECT_TRUE(framesFor("50:", 10).empty());
  for (const char* bad : {"a:b", "1:2:0", "-1:5", "1:2:3:4", "1.5:3", " 1:2", "1:-2"}) {
    auto range = parseFrameRange(bad);
    EXPECT_FALSE(range.ok()) << bad;
    if (!range.ok()) {
      EXPECT_EQ(range.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(WarmPlanTest, BatchesFitTheirByteBudgetAndTheFrameLimit) {
  MovieInfo info;
  info.width = 1920;
  info.height = 1080;
  info.bitDepth = 10;
  FrameOptions rgb;
  EXPECT_EQ(estimatedFrameBytes(info, rgb), 1920u * 1080 * 3);
  FrameOptions gray;
  gray.format = "gray8";
  gray.width = 480;  // keeps the aspect ratio: 480x270
  EXPECT_EQ(estimatedFrameBytes(info, gray), 480u * 270);
  FrameOptions cropped;
  cropped.crop = CropRect{0, 0, 100, 50};
  cropped.format = "rgba";
  EXPECT_EQ(estimatedFrameBytes(info, cropped), 100u * 50 * 4);

  EXPECT_EQ(framesPerBatch(1920u * 1080 * 3, 64u << 20), 10u);
  EXPECT_EQ(framesPerBatch(100u << 20, 64u << 20), 1u);        // never 0
  EXPECT_EQ(framesPerBatch(10, 64u << 20, 10000), 10000u);     // the worker's frame limit
  EXPECT_EQ(framesPerBatch(10, 64u << 20, 500), 500u);
}

TEST(ProgressBarTest, RendersCountsRateAndEta) {
  EXPECT_EQ(ProgressBar::render(0, 10, 0.0, "frames", 10), "[..........] 0/10 frames    0%  0.0 frames/s");
  EXPECT_EQ(ProgressBar::render(5, 10, 2.0, "frames", 10),
            "[#####.....] 5/10 frames   50%  2.5 frames/s  ETA 2 s");
  EXPECT_EQ(ProgressBar::render(10, 10, 4.0, "frames", 10), "[##########] 10/10 frames  100%  2.5 frames/s");
  // Disabled (not a terminal): writes nothing.
  char buffer[64] = {0};
  FILE* out = fmemopen(buffer, sizeof buffer, "w");
  ProgressBar bar(out, false, 10, "frames");
  bar.update(5);
  bar.finish();
  std::fclose(out);
  EXPECT_STREQ(buffer, "");
}

}  // namespace
}  // namespace framewire::cli
