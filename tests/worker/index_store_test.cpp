// IndexStore and MovieIndexCodec: persisted indexes come back identical, and a changed movie or
// a damaged, truncated or foreign index file is never used.
#include "worker/index/index_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"
#include "worker/index/movie_index_codec.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

std::shared_ptr<const MovieIndex> build(const std::string& path) {
  auto index = MovieIndex::build(path, *fileSignature(path));
  EXPECT_TRUE(index.ok()) << index.status().toString();
  return index.ok() ? *index : nullptr;
}

void expectSameIndex(const MovieIndex& a, const MovieIndex& b) {
  EXPECT_EQ(a.path(), b.path());
  EXPECT_EQ(a.signature(), b.signature());
  EXPECT_EQ(a.source(), b.source());
  EXPECT_EQ(a.stream_index(), b.stream_index());
  const MovieMetadata& ma = a.metadata();
  const MovieMetadata& mb = b.metadata();
  EXPECT_EQ(ma.container, mb.container);
  EXPECT_EQ(ma.codec, mb.codec);
  EXPECT_EQ(ma.pixel_format, mb.pixel_format);
  EXPECT_EQ(ma.width, mb.width);
  EXPECT_EQ(ma.height, mb.height);
  EXPECT_EQ(ma.bit_depth, mb.bit_depth);
  EXPECT_EQ(ma.fps, mb.fps);
  EXPECT_EQ(ma.duration, mb.duration);
  EXPECT_EQ(ma.start_time, mb.start_time);
  EXPECT_EQ(ma.time_base.num, mb.time_base.num);
  EXPECT_EQ(ma.time_base.den, mb.time_base.den);
  EXPECT_EQ(ma.file_size, mb.file_size);
  EXPECT_EQ(ma.keyframes, mb.keyframes);
  ASSERT_EQ(a.numPackets(), b.numPackets());
  for (int64_t d = 0; d < a.numPackets(); ++d) {
    const IndexedPacket& pa = a.packet(d);
    const IndexedPacket& pb = b.packet(d);
    EXPECT_EQ(pa.pts, pb.pts) << d;
    EXPECT_EQ(pa.dts, pb.dts) << d;
    EXPECT_EQ(pa.pos, pb.pos) << d;
    EXPECT_EQ(pa.frame, pb.frame) << d;
    EXPECT_EQ(pa.keyframe, pb.keyframe) << d;
    EXPECT_EQ(pa.discard, pb.discard) << d;
  }
  ASSERT_EQ(a.numFrames(), b.numFrames());
  for (int64_t n = 0; n < a.numFrames(); ++n) {
    EXPECT_EQ(a.frame(n).pts, b.frame(n).pts) << n;
    EXPECT_EQ(a.frame(n).packet, b.frame(n).packet) << n;
    EXPECT_EQ(a.frame(n).seek_packet, b.frame(n).seek_packet) << n;
    EXPECT_EQ(a.frame(n).keyframe, b.frame(n).keyframe) << n;
  }
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void writeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

class IndexStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::makeTempDir("fw-index-store");
    auto store = IndexStore::open(dir_ + "/state");
    ASSERT_TRUE(store.ok()) << store.status().toString();
    store_ = *store;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A private copy of a test movie (tests change it).
  std::string copyOf(const std::string& movie) {
    const std::string copy = dir_ + "/" + fs::path(movie).filename().string();
    fs::copy_file(movie, copy, fs::copy_options::overwrite_existing);
    return copy;
  }

  // A catalog builder over the store that counts real builds.
  MovieCatalog::Builder countingBuilder() {
    return IndexStore::cachingBuilder(store_, [this](const std::string& path, const FileSignature& signature) {
      ++builds_;
      return MovieIndex::build(path, signature);
    });
  }

  std::string dir_;
  std::shared_ptr<IndexStore> store_;
  std::atomic<int> builds_{0};
};

TEST_F(IndexStoreTest, EveryKindOfIndexComesBackIdentical) {
  for (const std::string& movie : {testing::proresMovie(), testing::h264BFramesMovie(), testing::editListMovie(),
                                   testing::h264TsMovie(), testing::aviBFramesMovie()}) {
    auto built = build(movie);
    ASSERT_TRUE(built);
    ASSERT_TRUE(store_->save(*built).isOk());
    auto loaded = store_->load(movie, *fileSignature(movie));
    ASSERT_TRUE(loaded.ok()) << movie << ": " << loaded.status().toString();
    expectSameIndex(*built, **loaded);
  }
  EXPECT_EQ(store_->counters().loaded, 5u);
}

TEST_F(IndexStoreTest, RestartsUseTheStoredIndex) {
  const std::string movie = copyOf(testing::h264BFramesMovie());
  MovieCatalog::Builder builder = countingBuilder();
  auto first = builder(movie, *fileSignature(movie));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(builds_, 1);
  EXPECT_TRUE(fs::exists(store_->fileFor(movie)));
  // A new process: a new store over the same folder, a new catalog.
  auto reopened = IndexStore::open(dir_ + "/state");
  ASSERT_TRUE(reopened.ok());
  store_ = *reopened;
  MovieCatalog catalog(4, countingBuilder());
  auto second = catalog.get(movie, *fileSignature(movie));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(builds_, 1) << "the stored index should have been used";
  EXPECT_EQ(store_->counters().loaded, 1u);
  expectSameIndex(**first, **second);
}

TEST_F(IndexStoreTest, AChangedMovieIsIndexedAgain) {
  const std::string movie = copyOf(testing::proresMovie());
  MovieCatalog::Builder builder = countingBuilder();
  ASSERT_TRUE(builder(movie, *fileSignature(movie)).ok());
  ASSERT_EQ(builds_, 1);

  // Replaced by another movie: new size, mtime, inode.
  const std::string other = testing::h264BFramesMovie();
  fs::remove(movie);
  fs::copy_file(other, movie);
  auto rebuilt = builder(movie, *fileSignature(movie));
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(builds_, 2);
  EXPECT_EQ((*rebuilt)->metadata().codec, "h264");

  // Rewritten in place with size and mtime restored: the head/tail hash catches it.
  struct stat before;
  ASSERT_EQ(::stat(movie.c_str(), &before), 0);
  std::string bytes = readFile(movie);
  bytes[bytes.size() - 10] ^= 0x55;
  {
    std::fstream out(movie, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(std::streamoff(bytes.size() - 10));
    out.put(bytes[bytes.size() - 10]);
  }
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, movie.c_str(), times, 0), 0);
  ASSERT_EQ(*fileSignature(movie), (*rebuilt)->signature());
  EXPECT_FALSE(store_->load(movie, *fileSignature(movie)).ok());
  ASSERT_TRUE(builder(movie, *fileSignature(movie)).ok());
  EXPECT_EQ(builds_, 3);
}

TEST_F(IndexStoreTest, DamagedTruncatedOrForeignFilesAreIgnored) {
  const std::string movie = copyOf(testing::h264BFramesMovie());
  MovieCatalog::Builder builder = countingBuilder();
  ASSERT_TRUE(builder(movie, *fileSignature(movie)).ok());
  const std::string file = store_->fileFor(movie);
  const std::string good = readFile(file);
  ASSERT_GT(good.size(), 100u);

  auto expectRebuilt = [&](const std::string& damaged, const char* what) {
    writeFile(file, damaged);
    const int builds = builds_;
    auto index = builder(movie, *fileSignature(movie));
    ASSERT_TRUE(index.ok()) << what;
    EXPECT_EQ(builds_, builds + 1) << what << ": the damaged file was used";
    EXPECT_EQ(readFile(file), good) << what << ": the rebuilt index should replace it";
  };
  for (size_t at : {size_t(3), size_t(9), good.size() / 2, good.size() - 3}) {
    std::string flipped = good;
    flipped[at] ^= 0x20;
    expectRebuilt(flipped, "a flipped byte");
  }
  expectRebuilt(good.substr(0, good.size() / 2), "truncated");
  expectRebuilt("", "empty");
  expectRebuilt(std::string(4096, 'x'), "not an index");
  std::string future = good;
  future[8] = char(MovieIndexCodec::kFormatVersion + 1);
  expectRebuilt(future, "another format version");
  EXPECT_GE(store_->counters().rejected, 8u);

  // Decoding damaged bytes never crashes, whatever is changed.
  for (size_t at = 0; at < good.size(); at += 3) {
    std::string flipped = good;
    flipped[at] = char(~flipped[at]);
    EXPECT_FALSE(MovieIndexCodec::decode(flipped).ok()) << at;
  }
}

TEST_F(IndexStoreTest, AnUnwritableFolderOnlyCostsTheNextRestart) {
  const std::string movie = copyOf(testing::proresMovie());
  fs::permissions(store_->folder(), fs::perms::owner_read | fs::perms::owner_exec);
  MovieCatalog::Builder builder = countingBuilder();
  auto index = builder(movie, *fileSignature(movie));
  fs::permissions(store_->folder(), fs::perms::owner_all);
  ASSERT_TRUE(index.ok());
  if (::geteuid() != 0) {
    EXPECT_EQ(store_->counters().save_failures, 1u);  // root writes anyway
  }
}

TEST(IndexStoreOpenTest, RefusesAFileAsFolder) {
  const std::string dir = testing::makeTempDir("fw-index-store-open");
  writeFile(dir + "/file", "x");
  EXPECT_FALSE(IndexStore::open(dir + "/file").ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace framewire
