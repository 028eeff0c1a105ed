// Movies read over HTTP: RemoteArchive + RemoteFile under MovieIndex and MovieReader, served
// by real nginx and quirky servers. Frames must be exactly the framemd5 oracle's, opening must
// cost the index (not the file), and failures must be UNAVAILABLE with the URL, never wrong
// frames or cached garbage.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "tests/support/test_http_server.h"
#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"
#include "worker/source/byte_source_avio.h"
#include "worker/output/frame_converter.h"
#include "worker/index/mov_sample_table.h"
#include "worker/index/movie_index.h"
#include "worker/decode/movie_reader.h"
#include "worker/source/movie_source.h"
#include "worker/source/remote/remote_archive.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

using testing::TestHttpServer;

constexpr const char* kProresPath = "RS03ASHS/PN03B/06-CAMHDA301/2016/07/24/CAMHDA301-20160724T030000Z.mov";
constexpr const char* kH264Path = "h264/bframes.mp4";
constexpr uint64_t kBlock = 16 << 10;

std::string nativeMd5(const AVFrame& frame) {
  FrameConverter converter(1);
  OutputSpec spec;
  spec.format = OutputFormat::kNative;
  auto geometry = outputGeometry(spec, frame.width, frame.height);
  auto image = converter.toRaw(frame, spec, *geometry);
  if (!image.ok()) return image.status().toString();
  const std::vector<uint8_t> bytes = testing::packedImage(*image);
  return testing::md5Hex(bytes.data(), bytes.size());
}

class RemoteMovieTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TestHttpServer::available()) GTEST_SKIP() << "nginx is not installed";
    root_ = testing::makeTempDir("fw-remote-root");
    copy(testing::proresMovie(), kProresPath);
    copy(testing::h264BFramesMovie(), kH264Path);
    nginx_ = std::make_unique<TestHttpServer>(root_);
    ASSERT_TRUE(nginx_->ok()) << nginx_->why();
  }

  void TearDown() override {
    archive_.reset();
    nginx_.reset();
    quirky_.reset();
    if (!root_.empty()) fs::remove_all(root_);
  }

  void copy(const std::string& from, const std::string& to) {
    fs::create_directories((fs::path(root_) / to).parent_path());
    fs::copy_file(from, fs::path(root_) / to, fs::copy_options::overwrite_existing);
  }

  RemoteArchive& archive(const std::string& base, RemoteConfig config = {}) {
    config.bases = {base};
    config.block_size = kBlock;
    config.http.retry_backoff_ms = 10;
    config.http.timeout_ms = 5000;
    auto created = RemoteArchive::create(config);
    EXPECT_TRUE(created.ok()) << created.status().toString();
    archive_ = std::move(created).value();
    return *archive_;
  }

  // The index of `relative` under the archive's base, read through HTTP.
  Result<std::shared_ptr<const MovieIndex>> remoteIndex(const std::string& relative) {
    FW_ASSIGN_OR_RETURN(RemoteArchive::Opened opened, archive_->openRelative(relative));
    IndexBuildOptions options;
    options.bytes = opened.file;
    return MovieIndex::build(opened.url, remoteSignature(opened.file->info()), options);
  }

  void expectExact(const std::string& relative, const std::string& local, const std::vector<int64_t>& order) {
    const auto& oracle = testing::oracleMd5s(local);
    auto index = remoteIndex(relative);
    ASSERT_TRUE(index.ok()) << index.status().toString();
    ASSERT_EQ(size_t((*index)->numFrames()), oracle.size());
    auto reader = MovieReader::open(*index, 1);
    ASSERT_TRUE(reader.ok()) << reader.status().toString();
    StageTimings timings;
    for (int64_t n : order) {
      auto frame = (*reader)->readFrame(n, &timings);
      ASSERT_TRUE(frame.ok()) << relative << " frame " << n << ": " << frame.status().toString();
      EXPECT_EQ(nativeMd5(**frame), oracle[size_t(n)]) << relative << " frame " << n;
    }
  }

  // The requests the archive sent since `before`, once nginx has logged them all.
  std::vector<TestHttpServer::LogEntry> loggedSince(uint64_t before) const {
    return nginx_->accessLog(size_t(archive_->httpCounters().requests - before));
  }

  std::string root_;
  std::unique_ptr<TestHttpServer> nginx_, quirky_;
  std::unique_ptr<RemoteArchive> archive_;
};

TEST_F(RemoteMovieTest, FramesOverHttpMatchTheOracle) {
  archive(nginx_->url());
  const std::vector<int64_t> order = {0, 47, 5, 4, 30, 31, 32, 1, 46, 20};
  expectExact(kProresPath, testing::proresMovie(), order);
  expectExact(kH264Path, testing::h264BFramesMovie(), {0, 71, 13, 12, 40, 41, 3, 70, 25, 24});
  for (const auto& entry : nginx_->accessLog()) {
    EXPECT_TRUE(entry.status == 206 || (entry.method == "HEAD" && entry.status == 200))
        << entry.method << " " << entry.uri << " " << entry.status;
  }
}

TEST_F(RemoteMovieTest, OpeningCostsTheIndexAndTheFirstFramesNotTheFile) {
  archive(nginx_->url());
  nginx_->clearLog();
  auto index = remoteIndex(kProresPath);
  ASSERT_TRUE(index.ok()) << index.status().toString();
  EXPECT_EQ((*index)->source(), IndexSource::kContainerIndex);
  auto reader = MovieReader::open(*index, 1);
  ASSERT_TRUE(reader.ok());
  StageTimings timings;
  ASSERT_TRUE((*reader)->readFrame(0, &timings).ok());
  uint64_t fetched = 0;
  for (const auto& entry : loggedSince(0)) fetched += entry.body_bytes;
  auto local = LocalFileSource::open(testing::proresMovie());
  ASSERT_TRUE(local.ok());
  auto layout = readMovLayout(**local);
  ASSERT_TRUE(layout.ok()) << layout.status().toString();
  auto track = readMovTrackSamples(**local, &*layout, /*track_id=*/1);  // the movie's only track
  ASSERT_TRUE(track.ok()) << track.status().toString();
  // Opening reads the moov and the first packets (the index check compares up to 8 of these
  // small frames with the demuxer's), through FFmpeg's 64 KiB I/O buffer (the probe at byte 0,
  // and up to one buffer past the last small packet). The bench checks the bound on
  // 1080p frames (moov + frame 0 + two blocks).
  uint64_t first_frames = 0;
  for (size_t i = 0; i < 8; ++i) first_frames += track->sizes[i];
  const uint64_t bound = layout->moov_size + first_frames + 2 * ByteSourceAvio::kDefaultBufferSize + 2 * kBlock;
  EXPECT_LE(fetched, bound) << "moov " << layout->moov_size << ", 8 frames " << first_frames;
  EXPECT_LT(fetched, fs::file_size(testing::proresMovie()) / 3);
  // A random frame costs its own bytes (rounded out to blocks) in one request, nothing else.
  for (const int64_t n : {40, 21}) {
    nginx_->clearLog();
    const uint64_t before = archive_->httpCounters().requests;
    ASSERT_TRUE((*reader)->readFrame(n, &timings).ok());
    const auto log = loggedSince(before);
    ASSERT_EQ(log.size(), 1u) << "frame " << n;
    EXPECT_LE(log[0].body_bytes, track->sizes[size_t(n)] + 2 * kBlock) << "frame " << n;
  }
}

TEST_F(RemoteMovieTest, ServerStoppedIsUnavailableThenRecovers) {
  archive(nginx_->url());
  auto index = remoteIndex(kProresPath);
  ASSERT_TRUE(index.ok()) << index.status().toString();
  auto reader = MovieReader::open(*index, 1);
  ASSERT_TRUE(reader.ok());
  StageTimings timings;
  ASSERT_TRUE((*reader)->readFrame(1, &timings).ok());
  nginx_->stop();
  auto frame = (*reader)->readFrame(44, &timings);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status().toString();
  EXPECT_NE(frame.status().message().find(nginx_->url()), std::string::npos) << frame.status().toString();
  // Nothing partial was cached: once the server is back, a fresh reader gets the right frame.
  ASSERT_TRUE(nginx_->start()) << nginx_->why();
  auto fresh = MovieReader::open(*index, 1);
  ASSERT_TRUE(fresh.ok()) << fresh.status().toString();
  frame = (*fresh)->readFrame(44, &timings);
  ASSERT_TRUE(frame.ok()) << frame.status().toString();
  EXPECT_EQ(nativeMd5(**frame), testing::oracleMd5s(testing::proresMovie())[44]);
}

TEST_F(RemoteMovieTest, IndexingWhileTheServerIsDownIsUnavailable) {
  RemoteConfig config;
  config.revalidate_ms = 0;  // ask the server every time
  archive(nginx_->url(), config);
  auto opened = archive_->openRelative(kProresPath);
  ASSERT_TRUE(opened.ok());
  nginx_->stop();
  IndexBuildOptions options;
  options.bytes = opened->file;
  auto index = MovieIndex::build(opened->url, remoteSignature(opened->file->info()), options);
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), StatusCode::kUnavailable) << index.status().toString();
  EXPECT_EQ(archive_->openRelative(kProresPath).status().code(), StatusCode::kUnavailable);
}

TEST_F(RemoteMovieTest, FlakyAndCutAnswersGiveExactFrames) {
  quirky_ = std::make_unique<TestHttpServer>(root_, TestHttpServer::Kind::kQuirky);
  ASSERT_TRUE(quirky_->ok()) << quirky_->why();
  archive(quirky_->url("cut/"));
  expectExact(kProresPath, testing::proresMovie(), {0, 47, 12, 3});
  archive(quirky_->url("flaky/"));
  expectExact(kH264Path, testing::h264BFramesMovie(), {0, 71, 30});
  EXPECT_GT(archive_->httpCounters().retries, 0u);
}

TEST_F(RemoteMovieTest, ServerIgnoringRangesIsReadWholeOnceOrRefused) {
  quirky_ = std::make_unique<TestHttpServer>(root_, TestHttpServer::Kind::kQuirky);
  ASSERT_TRUE(quirky_->ok()) << quirky_->why();
  archive(quirky_->url("norange/"));
  expectExact(kProresPath, testing::proresMovie(), {0, 47, 12, 3, 30});
  const auto log = quirky_->accessLog();
  const auto gets = std::count_if(log.begin(), log.end(), [](const auto& entry) { return entry.method == "GET"; });
  EXPECT_LE(gets, 3) << "the whole file should be read about once";
  // Over the limit: a clear refusal, not a misread.
  RemoteConfig small;
  small.read.ignored_range_limit = 1000;
  archive(quirky_->url("norange/"), small);
  auto index = remoteIndex(kProresPath);
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(index.status().message().find("ignores Range"), std::string::npos) << index.status().toString();
}

TEST_F(RemoteMovieTest, AReplacedFileIsANewVersion) {
  RemoteConfig config;
  config.revalidate_ms = 0;  // ask the server every time
  archive(nginx_->url(), config);
  auto first = archive_->openRelative(kProresPath);
  ASSERT_TRUE(first.ok());
  auto index = remoteIndex(kProresPath);
  ASSERT_TRUE(index.ok());
  // Unchanged: the same version (and so the same cached blocks) is handed out again.
  auto again = archive_->openRelative(kProresPath);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->file, first->file);
  copy(testing::h264BFramesMovie(), kProresPath);  // same name, other bytes
  auto reader = MovieReader::open(*index, 1);
  // The old version's reader fails clearly (or could not even open).
  if (reader.ok()) {
    StageTimings timings;
    auto frame = (*reader)->readFrame(40, &timings);
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status().toString();
  } else {
    EXPECT_EQ(reader.status().code(), StatusCode::kUnavailable) << reader.status().toString();
  }
  auto second = archive_->openRelative(kProresPath);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->file, first->file);
  EXPECT_NE(remoteSignature(second->file->info()), remoteSignature(first->file->info()));
  expectExact(kProresPath, testing::h264BFramesMovie(), {0, 71, 13});
}

// A local file whose reads fail from a chosen offset on: an HTTP server dying mid-movie, as
// the demuxer sees it.
class FailingSource final : public ByteSource {
 public:
  explicit FailingSource(std::shared_ptr<ByteSource> inner) : inner_(std::move(inner)) {}
  Result<size_t> readAt(uint64_t offset, uint8_t* data, size_t size, uint64_t hint) override {
    if (offset + size > fail_from_.load()) return Status::unavailable(name() + ": injected failure");
    return inner_->readAt(offset, data, size, hint);
  }
  uint64_t size() const override { return inner_->size(); }
  const std::string& name() const override { return inner_->name(); }
  void failFrom(uint64_t offset) { fail_from_ = offset; }

 private:
  std::shared_ptr<ByteSource> inner_;
  std::atomic<uint64_t> fail_from_{UINT64_MAX};
};

TEST(ByteSourceReadingTest, AReadFailingMidPacketIsUnavailableNotAFrame) {
  const std::string movie = testing::proresMovie();
  auto local = LocalFileSource::open(movie);
  ASSERT_TRUE(local.ok());
  auto failing = std::make_shared<FailingSource>(*local);
  IndexBuildOptions options;
  options.bytes = failing;
  auto index = MovieIndex::build(movie, *fileSignature(movie), options);
  ASSERT_TRUE(index.ok()) << index.status().toString();
  auto reader = MovieReader::open(*index, 1);
  ASSERT_TRUE(reader.ok());
  StageTimings timings;
  auto frame = (*reader)->readFrame(10, &timings);
  ASSERT_TRUE(frame.ok()) << frame.status().toString();
  EXPECT_EQ(nativeMd5(**frame), testing::oracleMd5s(movie)[10]);
  // Frame 11 follows frame 10 in the file: FFmpeg's I/O buffer already holds its first bytes,
  // the rest fails. FFmpeg would hand out the cut packet; the reader must not decode it.
  const IndexedPacket& next = (*index)->packet((*index)->frame(11).packet);
  failing->failFrom(uint64_t(next.pos) + 20000);
  frame = (*reader)->readFrame(11, &timings);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status().toString();
  // A fresh reader, once reads work again, gets the right frame.
  failing->failFrom(UINT64_MAX);
  auto fresh = MovieReader::open(*index, 1);
  ASSERT_TRUE(fresh.ok());
  frame = (*fresh)->readFrame(11, &timings);
  ASSERT_TRUE(frame.ok()) << frame.status().toString();
  EXPECT_EQ(nativeMd5(**frame), testing::oracleMd5s(movie)[11]);
}

}  // namespace
}  // namespace framewire
