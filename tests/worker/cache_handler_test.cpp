// RequestHandler with its frame caches on, end to end on generated movies: hits are exact and
// say where they came from; every output parameter and every movie version is its own entry;
// the disk tier survives a restart and never serves a damaged entry; the socket thread's
// shortcut; STATS.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "common/json_value.h"
#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"
#include "worker/request_handler.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

using testing::buildRequest;
using testing::md5Hex;
using testing::oracleMd5s;
using testing::packedPixels;
using testing::replyOf;
using testing::RequestSpec;

constexpr auto kNone = proto::CacheTier::NONE;
constexpr auto kMemory = proto::CacheTier::MEMORY;
constexpr auto kDisk = proto::CacheTier::DISK;

class CacheHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = testing::makeTempDir("fw-cache-handler");
    fs::create_directories(scratch_ + "/movies");
    disk_ = scratch_ + "/disk";
    config_.roots = {scratch_ + "/movies", testing::movieCacheDir()};
    config_.decoder_threads = 2;
    config_.convert_threads = 2;
    config_.cache_bytes = 256 << 20;
  }
  void TearDown() override {
    handler_.reset();
    fs::remove_all(scratch_);
  }
  RequestHandler& handler() {
    if (!handler_) handler_ = std::make_unique<RequestHandler>(config_);
    return *handler_;
  }
  void restart() {
    handler_.reset();  // flushes the disk tier's queue
    handler();
  }

  WorkerReply call(const RequestSpec& spec) {
    auto buffer = buildRequest(spec);
    return handler().handle(*testing::requestOf(buffer), 0, "cache-test");
  }
  // One frame; expects OK and returns its reply.
  WorkerReply one(const std::string& movie, int64_t n, RequestSpec spec = {}) {
    spec.movie = movie;
    spec.frames = {n};
    WorkerReply reply = call(spec);
    const proto::Reply* header = replyOf(reply);
    EXPECT_TRUE(header && header->status() == proto::StatusCode::OK)
        << (header && header->message() ? header->message()->str() : "no header");
    return reply;
  }
  static proto::CacheTier tierOf(const WorkerReply& reply, size_t i = 0) {
    const proto::Reply* header = replyOf(reply);
    if (!header || !header->frames() || header->frames()->size() <= i) return proto::CacheTier(99);
    return header->frames()->Get(flatbuffers::uoffset_t(i))->cached();
  }
  static std::vector<uint8_t> pixels(const WorkerReply& reply, size_t i = 0) {
    return packedPixels(reply, *replyOf(reply)->frames()->Get(flatbuffers::uoffset_t(i)));
  }
  static std::string md5(const WorkerReply& reply, size_t i = 0) {
    const std::vector<uint8_t> p = pixels(reply, i);
    return md5Hex(p.data(), p.size());
  }
  JsonValue stats() { return testing::workerStats(*handler_, "cache-test"); }
  static std::vector<std::string> diskEntries(const std::string& dir) {
    std::vector<std::string> files;
    for (const auto& item : fs::recursive_directory_iterator(dir)) {
      if (item.path().extension() == ".fwf") files.push_back(item.path().string());
    }
    return files;
  }

  std::string scratch_, disk_;
  RequestHandlerConfig config_;
  std::unique_ptr<RequestHandler> handler_;
};

TEST_F(CacheHandlerTest, HitsAreExactForEveryCodecAndSayTheyAreHits) {
  for (auto movie_fn : {&testing::proresMovie, &testing::h264BFramesMovie, &testing::hevc10Movie,
                        &testing::oddSizeMovie}) {
    const std::string path = movie_fn();
    const std::string movie = fs::path(path).filename().string();
    const auto& oracle = oracleMd5s(path);
    RequestSpec native;
    native.format = "native";
    for (int64_t n : {int64_t(3), int64_t(oracle.size()) - 1}) {
      WorkerReply decoded = one(movie, n, native);
      WorkerReply hit = one(movie, n, native);
      EXPECT_EQ(tierOf(decoded), kNone) << movie;
      EXPECT_EQ(tierOf(hit), kMemory) << movie;
      EXPECT_EQ(md5(decoded), oracle[size_t(n)]) << movie << " frame " << n;
      EXPECT_EQ(md5(hit), oracle[size_t(n)]) << movie << " frame " << n << " from the cache";
    }
  }
}

TEST_F(CacheHandlerTest, AHitSendsTheCachedBufferWithoutACopy) {
  const std::string movie = fs::path(testing::proresMovie()).filename().string();
  WorkerReply first = one(movie, 10);
  WorkerReply second = one(movie, 10);
  ASSERT_EQ(tierOf(second), kMemory);
  ASSERT_EQ(first.payload.size(), second.payload.size());
  EXPECT_EQ(second.payload[0].data, first.payload[0].data);  // the same bytes, twice sent
  EXPECT_EQ(pixels(first), pixels(second));
  // A batch mixing hits and misses says which is which, in request order.
  RequestSpec spec;
  spec.movie = movie;
  spec.frames = {11, 10, 12, 10};
  WorkerReply batch = call(spec);
  ASSERT_EQ(replyOf(batch)->status(), proto::StatusCode::OK);
  EXPECT_EQ(tierOf(batch, 0), kNone);
  EXPECT_EQ(tierOf(batch, 1), kMemory);
  EXPECT_EQ(tierOf(batch, 2), kNone);
  EXPECT_EQ(tierOf(batch, 3), kMemory);
  EXPECT_EQ(pixels(batch, 1), pixels(first));
}

TEST_F(CacheHandlerTest, EveryOutputParameterIsItsOwnEntry) {
  const std::string movie = fs::path(testing::proresMovie()).filename().string();
  std::vector<RequestSpec> variants(8);
  variants[1].format = "gray8";
  variants[2].format = "rgba";
  variants[3].crop = proto::Rect(0, 0, 160, 120);
  variants[4].width = 160;
  variants[5].encoding = "jpeg";
  variants[5].quality = 50;
  variants[6].encoding = "jpeg";
  variants[6].quality = 90;
  variants[7].encoding = "png";
  std::vector<std::vector<uint8_t>> first;
  for (size_t i = 0; i < variants.size(); ++i) {
    WorkerReply reply = one(movie, 20, variants[i]);
    EXPECT_EQ(tierOf(reply), kNone) << "variant " << i << " was served from another variant's entry";
    first.push_back(pixels(reply));
  }
  for (size_t i = 0; i < variants.size(); ++i) {
    WorkerReply reply = one(movie, 20, variants[i]);
    EXPECT_EQ(tierOf(reply), kMemory) << "variant " << i;
    EXPECT_EQ(pixels(reply), first[i]) << "variant " << i;
  }
}

TEST_F(CacheHandlerTest, AReplacedMovieServesItsNewFramesAtOnce) {
  const std::string path = scratch_ + "/movies/replaced.mov";
  const std::string prores = testing::proresMovie();
  const std::string h264 = testing::h264BFramesMovie();
  RequestSpec native;
  native.format = "native";
  fs::copy_file(prores, path);
  EXPECT_EQ(md5(one("replaced.mov", 5, native)), oracleMd5s(prores)[5]);
  EXPECT_EQ(tierOf(one("replaced.mov", 5, native)), kMemory);

  // Replaced by rename (a new inode), as a careful copy does it.
  fs::copy_file(h264, path + ".new");
  fs::rename(path + ".new", path);
  WorkerReply after_rename = one("replaced.mov", 5, native);
  EXPECT_EQ(tierOf(after_rename), kNone);
  EXPECT_EQ(md5(after_rename), oracleMd5s(h264)[5]);

  // Rewritten in place (same inode, new size and modification time), as `cp` over it does.
  {
    std::ifstream in(prores, std::ios::binary);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
  }
  WorkerReply after_rewrite = one("replaced.mov", 5, native);
  EXPECT_EQ(tierOf(after_rewrite), kNone);
  EXPECT_EQ(md5(after_rewrite), oracleMd5s(prores)[5]);
}

TEST_F(CacheHandlerTest, TheDiskTierSurvivesARestart) {
  config_.disk_cache_dir = disk_;
  const std::string movie = fs::path(testing::proresMovie()).filename().string();
  WorkerReply decoded = one(movie, 7);
  EXPECT_EQ(tierOf(decoded), kNone);
  const std::vector<uint8_t> expected = pixels(decoded);
  restart();
  WorkerReply from_disk = one(movie, 7);
  EXPECT_EQ(tierOf(from_disk), kDisk);
  EXPECT_EQ(pixels(from_disk), expected);
  EXPECT_EQ(tierOf(one(movie, 7)), kMemory);  // and it is in RAM from then on
  JsonValue s = stats();
  EXPECT_EQ(s.get("disk")->get("hits")->asInt(), 1);
  EXPECT_EQ(s.get("disk")->get("scanned_entries")->asInt(), 1);
}

TEST_F(CacheHandlerTest, ACorruptedDiskEntryIsAMissNotAWrongFrame) {
  config_.cache_bytes = 0;  // every repeat goes to the disk tier
  config_.disk_cache_dir = disk_;
  const std::string path = testing::proresMovie();
  const std::string movie = fs::path(path).filename().string();
  RequestSpec native;
  native.format = "native";
  EXPECT_EQ(tierOf(one(movie, 3, native)), kNone);
  handler().flushCaches();
  WorkerReply from_disk = one(movie, 3, native);
  EXPECT_EQ(tierOf(from_disk), kDisk);
  EXPECT_EQ(md5(from_disk), oracleMd5s(path)[3]);

  const auto entries = diskEntries(disk_);
  ASSERT_EQ(entries.size(), 1u);
  {
    std::fstream f(entries[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(entries[0]) / 2));
    f.put('\x55');
    f.put('\xaa');
  }
  WorkerReply after = one(movie, 3, native);
  EXPECT_EQ(tierOf(after), kNone);  // decoded again, not served damaged
  EXPECT_EQ(md5(after), oracleMd5s(path)[3]);
  EXPECT_EQ(stats().get("disk")->get("damaged")->asInt(), 1);
  handler().flushCaches();
  EXPECT_EQ(tierOf(one(movie, 3, native)), kDisk);  // written anew
}

TEST_F(CacheHandlerTest, AnswerFromMemoryOnlyWhenEveryFrameIsInRam) {
  const std::string movie = fs::path(testing::proresMovie()).filename().string();
  RequestSpec spec;
  spec.movie = movie;
  spec.frames = {30, 31, 30};
  auto buffer = buildRequest(spec);
  const proto::Request& request = *testing::requestOf(buffer);
  EXPECT_FALSE(handler().answerFromMemory(request, 0, "w").has_value());
  WorkerReply decoded = handler().handle(request, 0, "w");
  ASSERT_EQ(replyOf(decoded)->status(), proto::StatusCode::OK);
  std::optional<WorkerReply> hit = handler().answerFromMemory(request, 25, "w");
  ASSERT_TRUE(hit.has_value());
  const proto::Reply* header = replyOf(*hit);
  ASSERT_EQ(header->frames()->size(), 3u);
  EXPECT_EQ(header->id(), 42u);
  EXPECT_EQ(header->timings()->queue_us(), 25);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(tierOf(*hit, i), kMemory);
  EXPECT_EQ(pixels(*hit, 2), pixels(decoded, 2));
  EXPECT_EQ(hit->payload[0].data, decoded.payload[0].data);

  // Not all there, by time, another format, a bad request: the decode thread's business.
  spec.frames = {30, 32};
  auto partly = buildRequest(spec);
  EXPECT_FALSE(handler().answerFromMemory(*testing::requestOf(partly), 0, "w").has_value());
  spec.frames = {};
  spec.times = {0.5};
  auto by_time = buildRequest(spec);
  EXPECT_FALSE(handler().answerFromMemory(*testing::requestOf(by_time), 0, "w").has_value());
  spec.times = {};
  spec.frames = {30};
  spec.format = "gray8";
  auto gray = buildRequest(spec);
  EXPECT_FALSE(handler().answerFromMemory(*testing::requestOf(gray), 0, "w").has_value());
  spec.format = "nonsense";
  auto bad = buildRequest(spec);
  EXPECT_FALSE(handler().answerFromMemory(*testing::requestOf(bad), 0, "w").has_value());
  EXPECT_EQ(stats().get("requests")->get("answered_from_memory_on_socket_thread")->asInt(), 1);
}

TEST_F(CacheHandlerTest, StatsCountHitsMissesAndBytes) {
  const std::string movie = fs::path(testing::proresMovie()).filename().string();
  one(movie, 1);
  one(movie, 1);
  one(movie, 2);
  JsonValue s = stats();
  EXPECT_EQ(s.get("worker")->asString(), "cache-test");
  const JsonValue* memory = s.get("memory");
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(memory->get("hits")->asInt(), 1);
  EXPECT_EQ(memory->get("misses")->asInt(), 2);
  EXPECT_EQ(memory->get("entries")->asInt(), 2);
  EXPECT_GE(memory->get("bytes")->asInt(), 2 * 320 * 240 * 3);
  EXPECT_EQ(memory->get("capacity_bytes")->asInt(), 256 << 20);
  EXPECT_FALSE(s.get("disk")->get("enabled")->asBool());
  EXPECT_EQ(s.get("movies")->get("indexes")->asInt(), 1);
}

TEST_F(CacheHandlerTest, ADiskFolderHasOneOwner) {
  config_.disk_cache_dir = disk_;
  handler();
  EXPECT_THROW(RequestHandler second(config_), std::invalid_argument);
}

}  // namespace
}  // namespace framewire
