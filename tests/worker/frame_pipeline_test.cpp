// The pieces around decoding that make it fast: the frame buffer pool, the 8-bit fast path of
// deep YUV to RGB, decoding one frame ahead in batches, and read-ahead for forward readers.
#include <cmath>
#include <filesystem>
#include <random>

#include <set>

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"
#include "worker/output/frame_buffer_pool.h"
#include "worker/output/frame_converter.h"
#include "worker/decode/frame_prefetcher.h"
#include "worker/decode/read_ahead.h"
#include "worker/request_handler.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace fs = std::filesystem;

namespace framewire {
namespace {

std::shared_ptr<const MovieIndex> indexOf(const std::string& path) {
  auto index = MovieIndex::build(path, *fileSignature(path));
  EXPECT_TRUE(index.ok()) << index.status().toString();
  return index.ok() ? *index : nullptr;
}

TEST(FrameBufferPoolTest, ReusesBuffersWithinItsIdleBound) {
  FrameBufferPool pool(size_t(16) << 20);
  AVBufferRef* a = pool.allocate(6220800);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size, 6220800u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a->data) % (2 << 20), 0u) << "2 MiB aligned (huge pages)";
  std::memset(a->data, 0x5a, a->size);  // writable, every byte
  uint8_t* first = a->data;
  av_buffer_unref(&a);
  AVBufferRef* b = pool.allocate(6000000);  // the same whole huge pages: the same buffer again
  ASSERT_TRUE(b);
  EXPECT_EQ(b->data, first);
  EXPECT_EQ(pool.counters().reused, 1u);
  // Three buffers of ~6 MiB freed, only two fit the 16 MiB idle bound: one goes back to the kernel.
  AVBufferRef* c = pool.allocate(6220800);
  AVBufferRef* d = pool.allocate(6220800);
  constexpr uint64_t kSixMiB = 6 << 20;  // 1080p rgb24 in whole huge pages
  EXPECT_EQ(pool.counters().live_bytes, 3 * kSixMiB);
  av_buffer_unref(&b);
  av_buffer_unref(&c);
  av_buffer_unref(&d);
  EXPECT_EQ(pool.counters().idle_bytes, 2 * kSixMiB);
  EXPECT_EQ(pool.counters().live_bytes, 0u);
  // Where whole huge pages would waste more than an eighth (720p rgb24: 2.64 MiB), whole pages.
  AVBufferRef* small = pool.allocate(2764800);
  EXPECT_EQ(pool.counters().live_bytes, 2764800u);
  av_buffer_unref(&small);
  // A buffer shared by references lives until the last one goes (freed on another thread).
  AVBufferRef* e = pool.allocate(100);
  AVBufferRef* f = av_buffer_ref(e);
  av_buffer_unref(&e);
  std::thread([&] { av_buffer_unref(&f); }).join();
  EXPECT_EQ(pool.counters().live_bytes, 0u);
}

TEST(FrameBufferPoolTest, KeepsBuffersReadyForTheLastMissedSize) {
  FrameBufferPool pool(size_t(64) << 20, /*prefault=*/true);
  std::vector<AVBufferRef*> held;
  for (int i = 0; i < 3; ++i) held.push_back(pool.allocate(3 << 20));  // all missed: kept by "a cache"
  for (int tries = 0; tries < 200 && pool.counters().prefaulted < 2; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(pool.counters().prefaulted, 2u);
  const uint64_t reused = pool.counters().reused;
  held.push_back(pool.allocate(3 << 20));
  EXPECT_EQ(pool.counters().reused, reused + 1) << "a ready buffer should have been used";
  for (AVBufferRef*& buffer : held) av_buffer_unref(&buffer);
}

// Deep YUV (10 and 12 bit, 4:2:0, 4:2:2, 4:4:4 with alpha) to 8-bit RGB takes the worker's
// faster paths (DeepYuvToRgb for rgb24/bgr24, 8 bits first for rgba): within a few levels of
// swscale's direct conversion, for every RGB output and a crop.
TEST(FrameConverterTest, DeepYuvToRgbStaysWithinALevelOfSwscale) {
  struct Case {
    std::string (*movie)();
    const char* format;
    AVPixelFormat pixel_format;
  };
  for (const Case& c : {Case{&testing::proresMovie, "rgb24", AV_PIX_FMT_RGB24},
                        Case{&testing::proresMovie, "bgr24", AV_PIX_FMT_BGR24},
                        Case{&testing::hevc10Movie, "rgb24", AV_PIX_FMT_RGB24},
                        Case{&testing::prores4444AlphaMovie, "rgba", AV_PIX_FMT_RGBA},
                        Case{&testing::prores4444AlphaMovie, "rgb24", AV_PIX_FMT_RGB24}}) {
    const UniqueAVFrame frame = testing::decodedFrame(c.movie(), 5);
    ASSERT_TRUE(frame);
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
    ASSERT_GT(desc->comp[0].depth, 8) << "the case is about deep formats";
    for (int threads : {1, 2}) {
      FrameConverter converter(threads);
      OutputSpec spec;
      spec.format = c.pixel_format == AV_PIX_FMT_RGB24 ? OutputFormat::kRgb24
                    : c.pixel_format == AV_PIX_FMT_BGR24 ? OutputFormat::kBgr24 : OutputFormat::kRgba;
      spec.format_name = c.format;
      auto geometry = outputGeometry(spec, frame->width, frame->height);
      auto image = converter.toRaw(*frame, spec, *geometry);
      ASSERT_TRUE(image.ok()) << image.status().toString();
      const std::vector<uint8_t> ours = testing::packedImage(*image);
      const std::vector<uint8_t> reference = testing::swscaleDirect(*frame, c.pixel_format);
      ASSERT_EQ(ours.size(), reference.size());
      EXPECT_GE(testing::psnr(ours.data(), reference.data(), ours.size()), 45.0) << c.format << " " << desc->name;
      int worst = 0;
      for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::abs(int(ours[i]) - int(reference[i])));
      EXPECT_LE(worst, 6) << desc->name;
    }
    // Crops: compared with the same rectangle of swscale's direct conversion of the frame (a
    // width of 96 takes the 8-bit path, 101 swscale's own; 3 starts off the chroma grid).
    for (const CropRect rect : {CropRect{40, 20, 96, 60}, CropRect{3, 5, 101, 77}}) {
      FrameConverter converter(2);
      OutputSpec spec;
      spec.crop = true;
      spec.crop_rect = rect;
      auto geometry = outputGeometry(spec, frame->width, frame->height);
      auto image = converter.toRaw(*frame, spec, *geometry);
      ASSERT_TRUE(image.ok()) << image.status().toString();
      EXPECT_EQ(image->width, rect.width);
      const std::vector<uint8_t> cropped = testing::packedImage(*image);
      ASSERT_EQ(cropped.size(), size_t(rect.width) * rect.height * 3);
      // The reference: the rectangle of the whole frame's direct conversion.
      const std::vector<uint8_t> whole = testing::swscaleDirect(*frame, AV_PIX_FMT_RGB24);
      std::vector<uint8_t> reference;
      for (int y = rect.y; y < rect.y + rect.height; ++y) {
        const auto row = whole.begin() + (ptrdiff_t(y) * frame->width + rect.x) * 3;
        reference.insert(reference.end(), row, row + rect.width * 3);
      }
      // Off the chroma grid the crop's chroma is rounded to it (as ffmpeg's crop filter does).
      const double bound = rect.x % 2 == 0 ? 45.0 : 25.0;
      EXPECT_GE(testing::psnr(cropped.data(), reference.data(), cropped.size()), bound)
          << "crop " << rect.x << "," << rect.y << " " << rect.width << "x" << rect.height << " of " << desc->name;
    }
  }
}

// Converted frames of any width are whole: swscale's x86 YUV->RGB converters skip a tightly
// packed row's last pixels when the width is not a multiple of 8, so a buffer reused from the
// pool (dirty here on purpose) would show through. Crops of H.264 frames (yuv420p), every
// packed RGB output, against swscale's conversion of the same rectangle into roomy rows.
TEST(FrameConverterTest, ConvertedFramesOfAnyWidthAreWhole) {
  const UniqueAVFrame frame = testing::decodedFrame(testing::h264BFramesMovie(), 3);
  ASSERT_TRUE(frame);
  FrameConverter converter(2);
  for (const CropRect rect : {CropRect{2, 4, 100, 60}, CropRect{4, 2, 7, 9}, CropRect{0, 0, 318, 240}}) {
    for (const auto& [name, format] : {std::pair{"rgb24", OutputFormat::kRgb24}, std::pair{"bgr24", OutputFormat::kBgr24},
                                       std::pair{"rgba", OutputFormat::kRgba}}) {
      OutputSpec spec;
      spec.format = format;
      spec.format_name = name;
      spec.crop = true;
      spec.crop_rect = rect;
      const OutputGeometry geometry = *outputGeometry(spec, frame->width, frame->height);
      const AVPixelFormat pixel_format = targetPixelFormat(spec, static_cast<AVPixelFormat>(frame->format));
      // Dirty buffers of the output's size wait in the pool.
      const size_t bytes = size_t(av_image_get_buffer_size(pixel_format, rect.width, rect.height, 1));
      std::vector<AVBufferRef*> dirty;
      for (int i = 0; i < 3; ++i) {
        dirty.push_back(framePool().allocate(bytes + 64));
        std::memset(dirty.back()->data, 0xa5, dirty.back()->size);
      }
      for (AVBufferRef*& buffer : dirty) av_buffer_unref(&buffer);
      auto image = converter.toRaw(*frame, spec, geometry);
      ASSERT_TRUE(image.ok()) << image.status().toString();
      UniqueAVFrame view = referenceFrame(frame.get());
      view->crop_left = size_t(rect.x);
      view->crop_top = size_t(rect.y);
      view->crop_right = size_t(frame->width - rect.x - rect.width);
      view->crop_bottom = size_t(frame->height - rect.y - rect.height);
      ASSERT_GE(av_frame_apply_cropping(view.get(), AV_FRAME_CROP_UNALIGNED), 0);
      EXPECT_EQ(testing::packedImage(*image), testing::swscaleDirect(*view, pixel_format))
          << name << " crop " << rect.x << "," << rect.y << " " << rect.width << "x" << rect.height;
    }
  }
}

// toRaw's target (a client's shared memory): a copy beside the converter's own buffer, or the
// only place the pixels go (the image then points there and holds the owner), from
// DeepYuvToRgb (ProRes) and from swscale (H.264) alike; never past the target's slack.
TEST(FrameConverterTest, WritesATargetBesideItsOwnBufferOrOnlyThere) {
  for (const std::string& movie : {testing::proresMovie(), testing::h264BFramesMovie()}) {
    SCOPED_TRACE(movie);
    const UniqueAVFrame frame = testing::decodedFrame(movie, 3);
    ASSERT_TRUE(frame);
    FrameConverter converter(2);
    OutputSpec spec;  // rgb24
    spec.crop = true;
    spec.crop_rect = CropRect{2, 4, 100, 60};
    const OutputGeometry geometry = *outputGeometry(spec, frame->width, frame->height);
    auto plain = converter.toRaw(*frame, spec, geometry);
    ASSERT_TRUE(plain.ok());
    const std::vector<uint8_t> expected = testing::packedImage(*plain);
    constexpr uint8_t kGuard = 0xa5;
    for (bool only : {false, true}) {
      std::vector<uint8_t> memory(expected.size() + RawTarget::kSlack + 64, kGuard);
      auto owner = std::make_shared<int>(0);
      RawTarget target;
      target.data = memory.data();
      target.only = only;
      if (only) target.owner = owner;
      const long references = owner.use_count();
      {
        auto image = converter.toRaw(*frame, spec, geometry, target);
        ASSERT_TRUE(image.ok()) << image.status().toString();
        EXPECT_EQ(testing::packedImage(*image), expected);
        EXPECT_EQ(image->parts[0].data == memory.data(), only);
        EXPECT_EQ(owner.use_count(), references + (only ? 1 : 0)) << "the image holds the target's owner";
      }
      EXPECT_EQ(owner.use_count(), references);
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), memory.begin())) << (only ? "only" : "beside");
      for (size_t i = expected.size() + RawTarget::kSlack; i < memory.size(); ++i) {
        ASSERT_EQ(memory[i], kGuard) << "written past the slack at " << i;
      }
    }
  }
}

TEST(FramePrefetcherTest, BatchesDecodeAheadAndStayExact) {
  const std::string movie = testing::h264BFramesMovie();
  const auto& oracle = testing::oracleMd5s(movie);
  auto index = indexOf(movie);
  ASSERT_TRUE(index);
  auto reader = MovieReader::open(index, 2);
  ASSERT_TRUE(reader.ok());
  const std::vector<int64_t> planned = {3, 4, 5, 9, 10, 30, 31, 32, 60};
  FramePrefetcher prefetcher(reader->get(), planned);
  FrameConverter converter(1);
  OutputSpec native;
  native.format = OutputFormat::kNative;
  for (int64_t n : {3, 4, 5, 10, 30, 31, 32, 60}) {  // 9 skipped (a cache hit, say)
    StageTimings timings;
    auto frame = prefetcher.read(n, &timings);
    ASSERT_TRUE(frame.ok()) << n << ": " << frame.status().toString();
    auto image = converter.toRaw(**frame, native, *outputGeometry(native, 320, 240));
    ASSERT_TRUE(image.ok());
    const std::vector<uint8_t> bytes = testing::packedImage(*image);
    EXPECT_EQ(testing::md5Hex(bytes.data(), bytes.size()), oracle[size_t(n)]) << "frame " << n;
  }
  EXPECT_GE(prefetcher.framesDecodedAhead(), 5);
}

// A decoded frame of `bytes` bytes (one buffer), as a job would put it.
UniqueAVFrame decodedFrameOf(int bytes) {
  UniqueAVFrame frame = allocateFrame();
  frame->format = AV_PIX_FMT_GRAY8;
  frame->width = bytes;
  frame->height = 1;
  EXPECT_EQ(av_frame_get_buffer(frame.get(), 1), 0);
  return frame;
}

// What ReadAhead counts for such a frame.
uint64_t heldBytesOf(int bytes) {
  ReadAhead read_ahead(3);
  for (int64_t n : {0, 1, 2}) read_ahead.served("m", n);
  read_ahead.put("m", 3, decodedFrameOf(bytes));
  return read_ahead.counters().held_bytes;
}

TEST(ReadAheadTest, NoticesForwardReaders) {
  ReadAhead read_ahead(3);
  EXPECT_FALSE(read_ahead.served("movie a", 10));
  EXPECT_FALSE(read_ahead.served("movie a", 11)) << "one step may be chance";
  EXPECT_TRUE(read_ahead.continues("movie a", 12));
  EXPECT_TRUE(read_ahead.served("movie a", 12));
  EXPECT_FALSE(read_ahead.served("movie b", 13)) << "another movie";
  // Two interleaved forward readers of one movie both count.
  EXPECT_FALSE(read_ahead.served("movie a", 100));
  EXPECT_TRUE(read_ahead.served("movie a", 13));
  EXPECT_FALSE(read_ahead.served("movie a", 101));
  EXPECT_TRUE(read_ahead.served("movie a", 14));
  EXPECT_TRUE(read_ahead.served("movie a", 102));
  EXPECT_FALSE(read_ahead.served("movie a", 50)) << "a jump is not forward reading";
  EXPECT_FALSE(read_ahead.continues("movie c", 1));
  ReadAhead off(0);
  for (int64_t n : {1, 2, 3, 4}) EXPECT_FALSE(off.served("movie a", n)) << "depth 0: off";
}

// What a job decodes: the window after the frame served last, in order, past what is held,
// present elsewhere or behind its reader; never past the movie's end.
TEST(ReadAheadTest, JobsDecodeTheWindowAheadOfTheReader) {
  ReadAhead read_ahead(3);
  auto none = [](int64_t) { return false; };
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 100, none), -1) << "nothing served yet";
  for (int64_t n : {10, 11, 12}) read_ahead.served("movie a", n);
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 100, none), 13);
  read_ahead.put("movie a", 13, decodedFrameOf(1000));
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 100, [](int64_t f) { return f == 14; }), 15)
      << "frame 14 is in the cache already";
  read_ahead.put("movie a", 15, decodedFrameOf(1000));
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 100, none), -1) << "the window 13..15 is done";
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 14, none), -1);

  // The reader takes 13 (held) and moves on: the window is 14..16; 14 lies behind the job.
  UniqueAVFrame taken = read_ahead.take("movie a", 13, std::chrono::milliseconds(0));
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->width, 1000);
  EXPECT_FALSE(read_ahead.take("movie a", 13, std::chrono::milliseconds(0))) << "handed out once";
  read_ahead.served("movie a", 13);
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 100, none), 16);
  read_ahead.failed("movie a");
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 17, none), 16);
  read_ahead.put("movie a", 16, decodedFrameOf(1000));
  EXPECT_EQ(read_ahead.counters().frames_decoded, 3u);
  EXPECT_EQ(read_ahead.counters().frames_taken, 1u);

  // A jump elsewhere: the frames held for the old place go, the job starts at the new one.
  EXPECT_EQ(read_ahead.counters().held_bytes, 2 * heldBytesOf(1000));
  for (int64_t n : {500, 501, 502, 503}) read_ahead.served("movie a", n);
  EXPECT_EQ(read_ahead.counters().held_bytes, 0u);
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 1000, none), 504);
}

// Two forward readers share the bytes: jobs decode no further while the held frames fill them,
// and no held frame is pushed out for another (it would only be decoded again).
TEST(ReadAheadTest, HeldFramesStayWithinTheirBytes) {
  const uint64_t frame_bytes = heldBytesOf(1000);
  ReadAhead read_ahead(4, frame_bytes * 5 / 2);
  auto none = [](int64_t) { return false; };
  for (int64_t n : {0, 1, 2}) read_ahead.served("movie a", n);
  for (int64_t n : {0, 1, 2}) read_ahead.served("movie b", n);
  read_ahead.put("movie a", read_ahead.nextToDecode("movie a", 100, none), decodedFrameOf(1000));
  read_ahead.put("movie b", read_ahead.nextToDecode("movie b", 100, none), decodedFrameOf(1000));
  EXPECT_EQ(read_ahead.counters().held_bytes, 2 * frame_bytes);
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 100, none), -1) << "no room for a third frame";
  EXPECT_EQ(read_ahead.nextToDecode("movie b", 100, none), -1);
  EXPECT_TRUE(read_ahead.take("movie a", 3, std::chrono::milliseconds(0)));
  EXPECT_EQ(read_ahead.nextToDecode("movie b", 100, none), 4) << "room again";
  read_ahead.put("movie b", 4, decodedFrameOf(1000));
  EXPECT_TRUE(read_ahead.take("movie b", 3, std::chrono::milliseconds(0))) << "nothing was pushed out";
  EXPECT_TRUE(read_ahead.take("movie b", 4, std::chrono::milliseconds(0)));
}

// Frames of a reader that went away are let go after the hold time.
TEST(ReadAheadTest, LetsGoOfFramesNobodyCameBackFor) {
  ReadAhead read_ahead(3, ReadAhead::kDefaultMaxHeldBytes, std::chrono::milliseconds(50));
  for (int64_t n : {0, 1, 2}) read_ahead.served("movie a", n);
  read_ahead.put("movie a", 3, decodedFrameOf(1000));
  read_ahead.put("movie a", 4, decodedFrameOf(1000));
  EXPECT_TRUE(read_ahead.take("movie a", 3, std::chrono::milliseconds(0))) << "held while the reader is there";
  EXPECT_GT(read_ahead.counters().held_bytes, 0u);
  for (int tries = 0; tries < 200 && read_ahead.counters().held_bytes > 0; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(read_ahead.counters().held_bytes, 0u);
  EXPECT_FALSE(read_ahead.take("movie a", 4, std::chrono::milliseconds(0)));
  EXPECT_EQ(read_ahead.nextToDecode("movie a", 100, [](int64_t) { return false; }), 3)
      << "should the reader come back, its window is decoded again";
}

// A request for a frame the job is about to decode waits for it; for other frames, or with no
// job at work, it does not wait.
TEST(ReadAheadTest, RequestsWaitForTheFrameTheJobDecodes) {
  using std::chrono::milliseconds;
  std::mutex mutex;
  std::condition_variable cv;
  int release = 0;  // frames the job may decode
  ReadAhead read_ahead(3);  // after what its job uses: its thread stops first
  auto none = [](int64_t) { return false; };
  for (int64_t n : {48, 49, 50}) read_ahead.served("movie a", n);
  EXPECT_FALSE(read_ahead.take("movie a", 51, milliseconds(1000))) << "no job at work";
  auto allowed = [&](int count) {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return release >= count; });
  };
  read_ahead.submit("movie a", [&] {
    for (int count = 1;; ++count) {
      const int64_t n = read_ahead.nextToDecode("movie a", 100, none);
      if (n < 0) return false;
      allowed(count);
      read_ahead.put("movie a", n, decodedFrameOf(int(n)));
    }
  });
  std::this_thread::sleep_for(milliseconds(20));  // the job is at work, on frame 51
  EXPECT_FALSE(read_ahead.take("movie a", 50, milliseconds(1000))) << "served already";
  EXPECT_FALSE(read_ahead.take("movie a", 54, milliseconds(1000))) << "past the window";
  EXPECT_FALSE(read_ahead.take("movie b", 51, milliseconds(1000))) << "no job for that movie";
  const auto before = std::chrono::steady_clock::now();
  EXPECT_FALSE(read_ahead.take("movie a", 52, milliseconds(30)));
  EXPECT_GE(std::chrono::steady_clock::now() - before, milliseconds(30)) << "the job is yet to decode it: waits its limit";
  std::thread releaser([&] {
    for (int count = 1; count <= 3; ++count) {
      std::this_thread::sleep_for(milliseconds(10));
      {
        std::lock_guard<std::mutex> lock(mutex);
        release = count;
      }
      cv.notify_all();
    }
  });
  for (int64_t n : {51, 52, 53}) {
    UniqueAVFrame frame = read_ahead.take("movie a", n, milliseconds(10000));
    ASSERT_TRUE(frame) << n;
    EXPECT_EQ(frame->width, n);
    read_ahead.served("movie a", n);
  }
  releaser.join();
  EXPECT_GE(read_ahead.counters().waits, 2u);
  EXPECT_EQ(read_ahead.counters().waits_cut_short, 1u) << "only the first wait reached its limit";
  {
    std::lock_guard<std::mutex> lock(mutex);
    release = 1000;  // the job finishes the window and ends
  }
  cv.notify_all();
}

// One job per movie; a job that makes way runs again after the others; at most four wait, and
// a new one pushes out the oldest.
TEST(ReadAheadTest, BoundsItsJobs) {
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  bool blocking = false;         // the blocker runs
  std::vector<std::string> ran;  // under `mutex`
  ReadAhead read_ahead(3);
  auto job = [&](const std::string& name, bool block, int* again = nullptr) {
    return [&, name, block, again] {
      std::unique_lock<std::mutex> lock(mutex);
      if (block) {
        blocking = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
      }
      ran.push_back(name);
      return again && (*again)-- > 0;
    };
  };
  auto runAll = [&](const char* blocker, const std::vector<std::string>& movies, int* again, uint64_t runs) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      release = false;
      blocking = false;
      ran.clear();
    }
    const uint64_t before = read_ahead.counters().jobs_run;
    read_ahead.submit(blocker, job(blocker, true));
    {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return blocking; });
    }
    read_ahead.submit(blocker, job("again", false));  // one per movie: not taken
    for (const std::string& movie : movies) read_ahead.submit(movie, job(movie, false, movie == "movie 1" ? again : nullptr));
    {
      std::lock_guard<std::mutex> lock(mutex);
      release = true;
    }
    cv.notify_all();
    for (int tries = 0; tries < 1000 && read_ahead.counters().jobs_run < before + runs; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard<std::mutex> lock(mutex);
    return ran;
  };
  int again = 1;
  EXPECT_EQ(runAll("movie 0", {"movie 1", "movie 2"}, &again, 4),
            (std::vector<std::string>{"movie 0", "movie 1", "movie 2", "movie 1"}));
  EXPECT_EQ(runAll("movie 9", {"movie 1", "movie 2", "movie 3", "movie 4", "movie 5", "movie 6"}, nullptr, 5),
            (std::vector<std::string>{"movie 9", "movie 3", "movie 4", "movie 5", "movie 6"}));
  EXPECT_EQ(read_ahead.counters().jobs_dropped, 2u) << "movies 1 and 2 gave way";
}

// Forward single-frame requests: after the first three, each frame was decoded ahead by the
// read-ahead job, with the reader the requests left positioned, and is exact; frames of a
// forward reader (from the third on) are not kept in the cache. With and without a cache, native and converted.
TEST(ReadAheadTest, ForwardReadersGetFramesDecodedAhead) {
  const std::string movie = testing::h264BFramesMovie();
  const auto& oracle = testing::oracleMd5s(movie);
  const auto& rgb_oracle = testing::oracleRgb24(movie);
  for (const uint64_t cache_bytes : {uint64_t(0), uint64_t(64) << 20}) {
    for (const std::string format : {"native", "rgb24"}) {
      SCOPED_TRACE(format + (cache_bytes ? ", cache" : ", no cache"));
      RequestHandlerConfig config;
      config.roots = {fs::path(movie).parent_path().string()};
      config.cache_bytes = cache_bytes;
      config.decoder_threads = 2;
      RequestHandler handler(config);
      for (int64_t n = 20; n < 32; ++n) {
        testing::RequestSpec spec;
        spec.movie = fs::path(movie).filename().string();
        spec.frames = {n};
        spec.format = format;
        auto request = testing::buildRequest(spec);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the client looks at its frame
        WorkerReply reply = handler.handle(*testing::requestOf(request), 0, "test");
        const proto::Reply* header = testing::replyOf(reply);
        ASSERT_EQ(header->status(), proto::StatusCode::OK);
        const proto::FrameHeader* frame = header->frames()->Get(0);
        const std::vector<uint8_t> pixels = testing::packedPixels(reply, *frame);
        if (format == "native") {
          EXPECT_EQ(testing::md5Hex(pixels.data(), pixels.size()), oracle[size_t(n)]) << "frame " << n;
        } else {
          const size_t frame_bytes = 320 * 240 * 3;
          ASSERT_EQ(pixels.size(), frame_bytes);
          EXPECT_GE(testing::psnr(pixels.data(), rgb_oracle.data() + size_t(n) * frame_bytes, frame_bytes), 40.0)
              << "frame " << n;
        }
        EXPECT_EQ(frame->cached(), proto::CacheTier::NONE);
      }
      const JsonValue stats = testing::workerStats(handler);
      const JsonValue& requests = *stats.get("requests");
      // Frames 23..31 (a request that waits past its limit on a stalled machine decodes its own).
      EXPECT_GE(requests.get("read_ahead_frames_taken")->asInt(), 6);
      EXPECT_LE(requests.get("read_ahead_frames")->asInt(), 9 + 6) << "and at most the window after them";
      EXPECT_LE(stats.get("movies")->get("open_readers")->asInt(), 2) << "the positioned reader did the work";
      if (cache_bytes) {
        EXPECT_EQ(stats.get("memory")->get("entries")->asInt(), 2) << "only frames 20 and 21 are kept";
      }
    }
  }
}

// Two clients reading one movie forward at different places, their requests interleaved: the
// job follows whichever was served last, each with its own positioned reader, and every frame
// is exact.
TEST(ReadAheadTest, InterleavedForwardReadersGetExactFrames) {
  const std::string movie = testing::h264BFramesMovie();
  const auto& oracle = testing::oracleMd5s(movie);
  RequestHandlerConfig config;
  config.roots = {fs::path(movie).parent_path().string()};
  config.decoder_threads = 2;
  RequestHandler handler(config);
  for (int64_t step = 0; step < 10; ++step) {
    for (const int64_t start : {2, 40}) {
      const int64_t n = start + step;
      testing::RequestSpec spec;
      spec.movie = fs::path(movie).filename().string();
      spec.frames = {n};
      spec.format = "native";
      auto request = testing::buildRequest(spec);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      WorkerReply reply = handler.handle(*testing::requestOf(request), 0, "test");
      const proto::Reply* header = testing::replyOf(reply);
      ASSERT_EQ(header->status(), proto::StatusCode::OK);
      const proto::FrameHeader* frame = header->frames()->Get(0);
      EXPECT_EQ(frame->index(), n);
      const std::vector<uint8_t> pixels = testing::packedPixels(reply, *frame);
      EXPECT_EQ(testing::md5Hex(pixels.data(), pixels.size()), oracle[size_t(n)]) << "frame " << n;
    }
  }
  const JsonValue stats = testing::workerStats(handler);
  EXPECT_GE(stats.get("requests")->get("read_ahead_frames_taken")->asInt(), 8) << "both readers were served ahead";
  EXPECT_LE(stats.get("movies")->get("open_readers")->asInt(), 3);
}

}  // namespace
}  // namespace framewire
