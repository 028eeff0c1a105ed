// Frames in a client's shared memory (worker/shared_memory.h), with real memfds made here the
// way a client makes them: the checks a segment must pass before a worker writes into it, the
// placement of parts, and replies whose parts went there.
#include "worker/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/protocol.h"
#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"
#include "worker/frame_stream.h"
#include "worker/reply_builder.h"
#include "worker/request_handler.h"

namespace framewire {
namespace {

constexpr uint64_t kSegmentBytes = 1 << 20;
const std::string kToken = "0123456789abcdef0123456789abcdef";

// A segment as a client makes one (PROTOCOL.md 3), mapped here too so tests can read it.
class ClientSegment {
 public:
  explicit ClientSegment(const std::string& name = "framewire-test", uint64_t size = kSegmentBytes,
                         const std::string& token = kToken, bool seal = true)
      : size_(size) {
    fd_ = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::ftruncate(fd_, static_cast<off_t>(size)), 0);
    if (seal) EXPECT_EQ(::fcntl(fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
    std::string header("framewire-shm-1", 16);
    header += token;
    EXPECT_EQ(::pwrite(fd_, header.data(), header.size(), 0), static_cast<ssize_t>(header.size()));
    data_ = static_cast<uint8_t*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0));
    EXPECT_NE(data_, MAP_FAILED);
  }
  ~ClientSegment() {
    ::munmap(data_, size_);
    ::close(fd_);
  }
  std::string path() const { return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd_); }
  const uint8_t* data() const { return data_; }

 private:
  int fd_ = -1;
  uint64_t size_;
  uint8_t* data_ = nullptr;
};

// A FRAMES request offering `extents` of `segment` (or of any path/token/size given).
flatbuffers::DetachedBuffer offerRequest(const std::string& path, const std::string& token, uint64_t size,
                                         const std::vector<proto::Extent>& extents) {
  flatbuffers::FlatBufferBuilder builder;
  const auto shared = proto::CreateSharedMemoryDirect(builder, path.c_str(), token.c_str(), size, &extents);
  proto::RequestBuilder request(builder);
  request.add_kind(proto::RequestKind::FRAMES);
  request.add_shared_memory(shared);
  builder.Finish(request.Finish());
  return builder.Release();
}

const proto::Request& requestOf(const flatbuffers::DetachedBuffer& buffer) {
  return *flatbuffers::GetRoot<proto::Request>(buffer.data());
}

bool filledWith(const uint8_t* data, uint64_t bytes, uint8_t fill) {
  for (uint64_t i = 0; i < bytes; ++i) {
    if (data[i] != fill) return false;
  }
  return true;
}

TEST(SharedSegmentTest, OpensAClientSegmentAndWritesWhatTheClientReads) {
  ClientSegment client;
  auto segment = SharedSegment::open(client.path(), kToken, kSegmentBytes);
  ASSERT_TRUE(segment.ok()) << segment.status().message();
  std::memcpy((*segment)->data() + 8192, "pixels", 6);
  EXPECT_EQ(std::memcmp(client.data() + 8192, "pixels", 6), 0);
  EXPECT_TRUE((*segment)->stillAt(client.path()));
}

TEST(SharedSegmentTest, RefusesAnythingButTheSegmentOffered) {
  ClientSegment client;
  const auto refusal = [](const std::string& path, const std::string& token, uint64_t size) {
    auto opened = SharedSegment::open(path, token, size);
    EXPECT_FALSE(opened.ok()) << path;
    return opened.ok() ? std::string() : opened.status().message();
  };
  EXPECT_NE(refusal("/tmp/framewire-test", kToken, kSegmentBytes).find("/proc/PID/fd/FD"), std::string::npos);
  EXPECT_NE(refusal("/proc/self/fd/0", kToken, kSegmentBytes).find("/proc/PID/fd/FD"), std::string::npos);
  EXPECT_NE(refusal(client.path() + "/..", kToken, kSegmentBytes).find("/proc/PID/fd/FD"), std::string::npos);
  EXPECT_NE(refusal(client.path(), "not-hex", kSegmentBytes).find("32 hex digits"), std::string::npos);
  EXPECT_NE(refusal(client.path(), kToken, 5000).find("multiple of 4096"), std::string::npos);
  EXPECT_NE(refusal(client.path(), kToken, 2 * kSegmentBytes).find("size"), std::string::npos);
  EXPECT_NE(refusal(client.path(), "ffffffffffffffffffffffffffffffff", kSegmentBytes).find("token"),
            std::string::npos);

  ClientSegment other_name("not-framewire");
  EXPECT_NE(refusal(other_name.path(), kToken, kSegmentBytes).find("not a framewire memfd"), std::string::npos);
  ClientSegment unsealed("framewire-unsealed", kSegmentBytes, kToken, /*seal=*/false);
  EXPECT_NE(refusal(unsealed.path(), kToken, kSegmentBytes).find("sealed"), std::string::npos);

  // An ordinary file the process has open, even one named like a segment.
  char name[] = "/tmp/framewire-shm-test-XXXXXX";
  const int fd = ::mkstemp(name);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, kSegmentBytes), 0);
  const std::string file_path = "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd);
  EXPECT_NE(refusal(file_path, kToken, kSegmentBytes).find("not a framewire memfd"), std::string::npos);
  ::close(fd);
  ::unlink(name);
  // A descriptor that is not open.
  EXPECT_FALSE(SharedSegment::open("/proc/" + std::to_string(::getpid()) + "/fd/999999", kToken, kSegmentBytes).ok());
}

TEST(SharedPlacementTest, FirstFitInExtentOrderAlignedAndOncePerFrame) {
  ClientSegment client;
  auto segment = SharedSegment::open(client.path(), kToken, kSegmentBytes);
  ASSERT_TRUE(segment.ok());
  // A small extent first (too small for the big frame), then a large one at an odd offset.
  SharedPlacement placement(*segment, {{4096, 1000}, {10001, 500000}});
  const FrameOutput big = testing::syntheticFrame(0, 300000, 7);
  const FrameOutput small = testing::syntheticFrame(1, 900, 9);
  const FrameOutput too_big = testing::syntheticFrame(2, 400000, 3);

  const auto big_places = placement.place(0, big.image.parts);
  ASSERT_EQ(big_places.size(), 1u);
  EXPECT_EQ(big_places[0].offset(), 10048u);  // 10001 aligned up to 64
  EXPECT_EQ(big_places[0].size(), 300000u);
  const auto small_places = placement.place(1, small.image.parts);
  EXPECT_EQ(small_places[0].offset(), 4096u);  // fits the first extent
  const auto too_big_places = placement.place(2, too_big.image.parts);
  EXPECT_EQ(too_big_places[0].size(), 0u);  // stays in the message
  EXPECT_TRUE(filledWith(client.data() + 10048, 300000, 7));
  EXPECT_TRUE(filledWith(client.data() + 4096, 900, 9));

  // Asked again (a frame in a later message of the stream): the same place, no second copy.
  const auto again = placement.place(0, big.image.parts);
  EXPECT_EQ(again[0].offset(), big_places[0].offset());
  EXPECT_EQ(placement.partsPlaced(), 2u);
  EXPECT_EQ(placement.bytesPlaced(), 300900u);
}

TEST(SharedSegmentsTest, ChecksOffersAndReusesTheMapping) {
  ClientSegment client;
  SharedSegments segments;
  const auto good = offerRequest(client.path(), kToken, kSegmentBytes, {proto::Extent(4096, 65536)});
  EXPECT_TRUE(segments.placementFor(requestOf(good))->active());
  EXPECT_TRUE(segments.placementFor(requestOf(good))->active());
  EXPECT_EQ(segments.counters().opened, 1u);
  EXPECT_EQ(segments.mapped(), 1u);

  // Extents over the header, past the end, or wrapping around are refused as a whole.
  for (const proto::Extent& bad : {proto::Extent(0, 4096), proto::Extent(kSegmentBytes - 10, 11),
                                   proto::Extent(8192, UINT64_MAX - 100), proto::Extent(UINT64_MAX, 2)}) {
    const auto request = offerRequest(client.path(), kToken, kSegmentBytes, {proto::Extent(4096, 100), bad});
    EXPECT_FALSE(segments.placementFor(requestOf(request))->active());
  }
  EXPECT_EQ(segments.counters().refused, 4u);
  EXPECT_NE(segments.counters().last_refusal.find("outside the segment"), std::string::npos);

  // A segment of another process's making (wrong token) is refused and says why.
  const auto wrong = offerRequest(client.path(), "ffffffffffffffffffffffffffffffff", kSegmentBytes,
                                  {proto::Extent(4096, 100)});
  EXPECT_FALSE(segments.placementFor(requestOf(wrong))->active());
  EXPECT_NE(segments.counters().last_refusal.find("token"), std::string::npos);

  // No offer: nothing to place, nothing refused.
  const auto none = offerRequest(client.path(), kToken, kSegmentBytes, {});
  EXPECT_FALSE(segments.placementFor(requestOf(none))->active());
  EXPECT_EQ(segments.counters().refused, 5u);
}

TEST(SharedSegmentsTest, ADescriptorReusedForAnotherSegmentIsOpenedAfresh) {
  SharedSegments segments;
  std::string path;
  {
    ClientSegment first;
    path = first.path();
    const auto request = offerRequest(path, kToken, kSegmentBytes, {proto::Extent(4096, 100)});
    ASSERT_TRUE(segments.placementFor(requestOf(request))->active());
  }
  // The client closed the first segment; its descriptor number now names a new one.
  ClientSegment second;
  ASSERT_EQ(second.path(), path);
  const auto request = offerRequest(path, kToken, kSegmentBytes, {proto::Extent(4096, 100)});
  auto placement = segments.placementFor(requestOf(request));
  ASSERT_TRUE(placement->active());
  EXPECT_EQ(segments.counters().opened, 2u);
  const FrameOutput frame = testing::syntheticFrame(0, 100, 5);
  placement->place(0, frame.image.parts);
  EXPECT_TRUE(filledWith(second.data() + 4096, 100, 5));  // written into the segment in use now
}

TEST(SharedReplyTest, PartsInSharedMemoryLeaveEmptyPartsAndSayWhere) {
  ClientSegment client;
  auto segment = SharedSegment::open(client.path(), kToken, kSegmentBytes);
  ASSERT_TRUE(segment.ok());
  SharedPlacement placement(*segment, {{4096, 250000}});
  // Frames 0 and 1 (200 kB each): only the first fits. Request order: 1, 0, 1.
  const std::vector<FrameOutput> frames = {testing::syntheticFrame(0, 200000, 1), testing::syntheticFrame(1, 200000, 2)};
  OutputSpec spec;
  const WorkerReply reply = buildFramesReply(ReplyContext{}, spec, frames, {1, 0, 1}, {}, &placement);
  const proto::Reply* header = protocol::verifyReply(reply.header.data(), reply.header.size());
  ASSERT_NE(header, nullptr);
  ASSERT_NE(header->shared_parts(), nullptr);
  ASSERT_EQ(header->shared_parts()->size(), reply.payload.size());
  // Placed in order of first request position: frame 1 first, so frame 1 is in shared memory.
  EXPECT_EQ(header->shared_parts()->Get(1)->offset(), 4096u);
  EXPECT_EQ(header->shared_parts()->Get(1)->size(), 200000u);
  EXPECT_EQ(reply.payload[1].size, 0u);
  EXPECT_TRUE(filledWith(client.data() + 4096, 200000, 2));
  EXPECT_EQ(header->shared_parts()->Get(0)->size(), 0u);  // frame 0 did not fit: in the message
  EXPECT_EQ(reply.payload[0].size, 200000u);

  // Without an offer the reply is as always.
  const WorkerReply plain = buildFramesReply(ReplyContext{}, spec, frames, {1, 0, 1});
  EXPECT_EQ(protocol::verifyReply(plain.header.data(), plain.header.size())->shared_parts(), nullptr);
}

TEST(SharedReplyTest, AStreamPlacesTheSameWayWhateverItsMessages) {
  // Two workers streaming the same request split it into different messages; the frames land
  // at the same offsets all the same (PROTOCOL.md 3: a request dispatched again).
  ClientSegment client;
  auto segment = SharedSegment::open(client.path(), kToken, kSegmentBytes);
  ASSERT_TRUE(segment.ok());
  const std::vector<size_t> order = {0, 1, 2, 1, 3};  // positions -> distinct frames
  const auto offsets = [&](uint64_t chunk_bytes) {
    SharedPlacement placement(*segment, {{4096, 8000}, {20000, 100000}});
    std::vector<std::pair<uint64_t, uint64_t>> seen;  // (index, offset) of every shared frame
    auto collect = [&](const WorkerReply& reply) {
      const proto::Reply* header = protocol::verifyReply(reply.header.data(), reply.header.size());
      for (const proto::FrameHeader* frame : *header->frames()) {
        const uint32_t part = frame->planes()->Get(0)->part();
        seen.emplace_back(frame->index(), header->shared_parts()->Get(part)->offset());
      }
    };
    FrameStreamLimits limits;
    limits.chunk_bytes = chunk_bytes;
    FrameStream stream(order, 4, OutputSpec{}, ReplyContext{}, limits, collect, &placement);
    for (size_t distinct : {0u, 1u, 2u, 3u}) stream.ready(distinct, testing::syntheticFrame(int64_t(distinct), 5000, uint8_t(distinct)));
    collect(stream.finish(ReplyContext{}));
    return seen;
  };
  const auto one_message = offsets(uint64_t(1) << 30);
  const auto many_messages = offsets(1);
  EXPECT_EQ(one_message, many_messages);
  ASSERT_EQ(one_message.size(), 5u);
  EXPECT_EQ(one_message[1], one_message[3]);  // frame 1 twice, one place
}

// A real request through the RequestHandler: the frames that went into shared memory are the
// frames sent in the message without an offer, and a worker told not to use it does not.
TEST(SharedMemoryHandlerTest, FramesInSharedMemoryAreTheFramesOfThePlainReply) {
  const std::string movie = testing::proresMovie();
  RequestHandlerConfig config;
  config.roots = {std::filesystem::path(movie).parent_path().string()};
  config.cache_bytes = 64 << 20;  // the second request is answered from the cache: placed as well
  RequestHandler handler(config);
  testing::RequestSpec spec;
  spec.movie = std::filesystem::path(movie).filename().string();
  spec.frames = {5, 2, 5};

  const WorkerReply plain = handler.handle(*testing::requestOf(testing::buildRequest(spec)), 0, "w");
  const proto::Reply* plain_header = testing::replyOf(plain);
  ASSERT_NE(plain_header, nullptr);
  ASSERT_EQ(plain_header->status(), proto::StatusCode::OK);
  EXPECT_EQ(plain_header->shared_parts(), nullptr);

  ClientSegment client;
  spec.shared = testing::RequestSpec::SharedOffer{client.path(), kToken, kSegmentBytes, {proto::Extent(4096, kSegmentBytes - 4096)}};
  for (int attempt = 0; attempt < 2; ++attempt) {  // decoded, then from the RAM cache
    const WorkerReply shared = handler.handle(*testing::requestOf(testing::buildRequest(spec)), 0, "w");
    const proto::Reply* header = testing::replyOf(shared);
    ASSERT_NE(header, nullptr);
    ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
    ASSERT_NE(header->shared_parts(), nullptr);
    ASSERT_EQ(header->frames()->size(), 3u);
    for (flatbuffers::uoffset_t i = 0; i < 3; ++i) {
      const proto::FrameHeader* frame = header->frames()->Get(i);
      const proto::Plane* plane = frame->planes()->Get(0);
      const proto::SharedPart* place = header->shared_parts()->Get(plane->part());
      ASSERT_EQ(place->size(), frame->size());
      EXPECT_EQ(shared.payload[plane->part()].size, 0u);
      const std::vector<uint8_t> expected = testing::packedPixels(plain, *plain_header->frames()->Get(i));
      ASSERT_EQ(expected.size(), size_t(plane->row_bytes()) * plane->rows());
      for (uint32_t row = 0; row < plane->rows(); ++row) {
        ASSERT_EQ(std::memcmp(client.data() + place->offset() + plane->offset() + uint64_t(row) * plane->stride(),
                              expected.data() + uint64_t(row) * plane->row_bytes(), plane->row_bytes()),
                  0)
            << "frame " << frame->index() << " row " << row;
      }
    }
    // Frame 5 twice, one place.
    EXPECT_EQ(header->frames()->Get(0)->planes()->Get(0)->part(), header->frames()->Get(2)->planes()->Get(0)->part());
  }

  config.shared_memory = false;
  RequestHandler refusing(config);
  const WorkerReply sent = refusing.handle(*testing::requestOf(testing::buildRequest(spec)), 0, "w");
  EXPECT_EQ(testing::replyOf(sent)->shared_parts(), nullptr);
  EXPECT_EQ(sent.payload.size(), plain.payload.size());
}

}  // namespace
}  // namespace framewire
