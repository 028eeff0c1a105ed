// Frames in a client's shared memory (worker/shared_memory.h), with real memfds made here the
// way a client makes them: the checks a segment must pass before a worker writes into it, the
// placement of parts, and replies whose parts went there.
#include "worker/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/json_value.h"
#include "common/protocol.h"
#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"
#include "worker/frame_stream.h"
#include "worker/output/frame_buffer_pool.h"
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
    if (seal) {
      EXPECT_EQ(::fcntl(fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
    }
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

// Reserved places are handed out as place() would, in reserve order; a frame written there
// in place is not copied again, one that comes out another size goes in the message.
TEST(SharedPlacementTest, ReservedFramesAreWrittenInPlaceOrSentInTheMessage) {
  ClientSegment client;
  auto segment = SharedSegment::open(client.path(), kToken, kSegmentBytes);
  ASSERT_TRUE(segment.ok());
  SharedPlacement placement(*segment, {{4096, 250000}});
  placement.reserve(2, 100000);  // the first request position
  placement.reserve(0, 100000);
  placement.reserve(1, 100000);  // no room left: in the message
  placement.reserve(2, 5);       // reserved once: unchanged
  uint8_t* first = placement.reservedFor(2, 100000);
  ASSERT_EQ(first, (*segment)->data() + 4096);
  EXPECT_EQ(placement.reservedFor(0, 100000), (*segment)->data() + 4096 + 100032);  // aligned to 64
  EXPECT_EQ(placement.reservedFor(0, 99999), nullptr) << "reserved for another size";
  EXPECT_EQ(placement.reservedFor(1, 100000), nullptr) << "no room";
  EXPECT_EQ(placement.reservedFor(7, 100000), nullptr) << "not reserved";

  // Frame 2 is written in place; its output in the cache is another buffer, not copied again.
  std::memset(first, 0x21, 100000);
  placement.writtenInPlace(2);
  EXPECT_EQ(placement.reservedFor(2, 100000), nullptr) << "written already";
  const auto places2 = placement.place(2, testing::syntheticFrame(2, 100000, 0x77).image.parts);
  ASSERT_EQ(places2.size(), 1u);
  EXPECT_EQ(places2[0].offset(), 4096u);
  EXPECT_TRUE(filledWith(client.data() + 4096, 100000, 0x21)) << "written in place, not copied over";
  // Frame 0 was not (a cache hit): copied into its reserved place.
  const auto places0 = placement.place(0, testing::syntheticFrame(0, 100000, 0x33).image.parts);
  EXPECT_EQ(places0[0].offset(), 4096u + 100032u);
  EXPECT_TRUE(filledWith(client.data() + 4096 + 100032, 100000, 0x33));
  // Frame 1 had no room, and a frame of another size than reserved goes in the message.
  EXPECT_EQ(placement.place(1, testing::syntheticFrame(1, 100000, 0x44).image.parts)[0].size(), 0u);
  SharedPlacement other(*segment, {{4096, 250000}});
  other.reserve(0, 100000);
  EXPECT_EQ(other.place(0, testing::syntheticFrame(0, 120000, 0x55).image.parts)[0].size(), 0u);
  EXPECT_EQ(other.partsPlaced(), 0u);

  EXPECT_EQ(placement.partsPlaced(), 2u);
  EXPECT_EQ(placement.partsWrittenInPlace(), 1u);
  EXPECT_EQ(placement.bytesPlaced(), 200000u);
  // Slack after a reserved place is room no other part gets.
  SharedPlacement slack(*segment, {{4096, 250000}});
  slack.reserve(0, 1000, 64);
  slack.reserve(1, 1000);
  EXPECT_EQ(slack.reservedFor(1, 1000), (*segment)->data() + 4096 + 1088);  // 1000 + 64, aligned to 64
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
JsonValue sharedMemoryStats(RequestHandler& handler) { return *testing::workerStats(handler).get("shared_memory"); }

// Checks that every frame of `shared` lies in the client's segment, each part in shared memory
// (none in the message), with the pixels of the same frame of `plain`; returns where each
// plane starts in the segment.
std::vector<uint64_t> expectFramesInSegment(const ClientSegment& client, const WorkerReply& shared,
                                            const WorkerReply& plain) {
  const proto::Reply* header = testing::replyOf(shared);
  const proto::Reply* plain_header = testing::replyOf(plain);
  std::vector<uint64_t> offsets;
  if (!header || !plain_header || !header->shared_parts() || !header->frames()) {
    ADD_FAILURE() << "no frames in shared memory";
    return offsets;
  }
  EXPECT_EQ(header->frames()->size(), plain_header->frames()->size());
  for (flatbuffers::uoffset_t i = 0; i < header->frames()->size(); ++i) {
    const proto::FrameHeader* frame = header->frames()->Get(i);
    const std::vector<uint8_t> expected = testing::packedPixels(plain, *plain_header->frames()->Get(i));
    size_t checked = 0;
    for (const proto::Plane* plane : *frame->planes()) {
      const proto::SharedPart* place = header->shared_parts()->Get(plane->part());
      EXPECT_GT(place->size(), 0u);
      EXPECT_EQ(shared.payload[plane->part()].size, 0u);
      offsets.push_back(place->offset() + plane->offset());
      for (uint32_t row = 0; row < plane->rows(); ++row, checked += plane->row_bytes()) {
        if (checked + plane->row_bytes() > expected.size() ||
            std::memcmp(client.data() + place->offset() + plane->offset() + uint64_t(row) * plane->stride(),
                        expected.data() + checked, plane->row_bytes()) != 0) {
          ADD_FAILURE() << "frame " << frame->index() << " differs at row " << row;
          return offsets;
        }
      }
    }
    EXPECT_EQ(checked, expected.size());
  }
  return offsets;
}

// Every way a frame reaches the client's memory gives the plain reply's pixels at the same
// offsets: converted straight into it when decoded (DeepYuvToRgb's second output for ProRes,
// a copy after swscale for H.264), copied from the RAM cache on a decode thread and on the
// socket thread (answerFromMemory), and native frames copied at reply time.
TEST(SharedMemoryHandlerTest, FramesInSharedMemoryAreTheFramesOfThePlainReply) {
  struct Case {
    std::string movie;
    std::string format;
    bool converted_in_place;  // decoded frames go straight into shared memory
  };
  for (const Case& c : {Case{testing::proresMovie(), "rgb24", true}, Case{testing::h264BFramesMovie(), "bgr24", true},
                        Case{testing::proresMovie(), "native", false}}) {
    SCOPED_TRACE(c.movie + " " + c.format);
    RequestHandlerConfig config;
    config.roots = {std::filesystem::path(c.movie).parent_path().string()};
    config.cache_bytes = 64 << 20;  // later requests are answered from the cache: placed as well
    RequestHandler handler(config);
    testing::RequestSpec spec;
    spec.movie = std::filesystem::path(c.movie).filename().string();
    spec.frames = {5, 2, 5};
    spec.format = c.format;

    const WorkerReply plain = handler.handle(*testing::requestOf(testing::buildRequest(spec)), 0, "w");
    const proto::Reply* plain_header = testing::replyOf(plain);
    ASSERT_NE(plain_header, nullptr);
    ASSERT_EQ(plain_header->status(), proto::StatusCode::OK);
    EXPECT_EQ(plain_header->shared_parts(), nullptr);

    RequestHandler decoding(config);  // a second worker: its cache is empty, so it decodes
    ClientSegment client;
    spec.shared = testing::RequestSpec::SharedOffer{client.path(), kToken, kSegmentBytes, {proto::Extent(4096, kSegmentBytes - 4096)}};
    std::vector<uint64_t> first_offsets;
    for (int attempt = 0; attempt < 3; ++attempt) {  // decoded, from the RAM cache, on the socket thread
      const auto request = testing::buildRequest(spec);
      const int64_t in_place_before = sharedMemoryStats(decoding).get("parts_written_in_place")->asInt();
      std::optional<WorkerReply> shared = attempt < 2 ? decoding.handle(*testing::requestOf(request), 0, "w")
                                                      : decoding.answerFromMemory(*testing::requestOf(request), 0, "w");
      ASSERT_TRUE(shared.has_value());
      const int64_t in_place = sharedMemoryStats(decoding).get("parts_written_in_place")->asInt() - in_place_before;
      EXPECT_EQ(in_place, attempt == 0 && c.converted_in_place ? 2 : 0) << "attempt " << attempt;
      const proto::Reply* header = testing::replyOf(*shared);
      ASSERT_NE(header, nullptr);
      ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
      ASSERT_NE(header->shared_parts(), nullptr);
      ASSERT_EQ(header->frames()->size(), 3u);
      for (flatbuffers::uoffset_t i = 0; i < 3; ++i) {
        EXPECT_EQ(header->frames()->Get(i)->cached(), attempt == 0 ? proto::CacheTier::NONE : proto::CacheTier::MEMORY);
      }
      const std::vector<uint64_t> offsets = expectFramesInSegment(client, *shared, plain);
      if (attempt == 0) first_offsets = offsets;
      EXPECT_EQ(offsets, first_offsets) << "the placement depends on the request alone";
      // Frame 5 twice, one place.
      EXPECT_EQ(header->frames()->Get(0)->planes()->Get(0)->part(), header->frames()->Get(2)->planes()->Get(0)->part());
    }
  }

  // A worker told not to use shared memory sends every frame in the message.
  RequestHandlerConfig config;
  const std::string movie = testing::proresMovie();
  config.roots = {std::filesystem::path(movie).parent_path().string()};
  config.shared_memory = false;
  RequestHandler refusing(config);
  ClientSegment client;
  testing::RequestSpec spec;
  spec.movie = std::filesystem::path(movie).filename().string();
  spec.frames = {5, 2, 5};
  spec.shared = testing::RequestSpec::SharedOffer{client.path(), kToken, kSegmentBytes, {proto::Extent(4096, kSegmentBytes - 4096)}};
  const WorkerReply sent = refusing.handle(*testing::requestOf(testing::buildRequest(spec)), 0, "w");
  EXPECT_EQ(testing::replyOf(sent)->shared_parts(), nullptr);
  EXPECT_EQ(sent.payload.size(), 2u);
  EXPECT_EQ(sharedMemoryStats(refusing).get("parts_written_in_place")->asInt(), 0);
}

// Frames no cache keeps are converted only into the client's memory (no buffer of the worker's
// own, no copy): all of them without a cache, and those past a request's share of the cache.
TEST(SharedMemoryHandlerTest, FramesNoCacheKeepsGoOnlyIntoSharedMemory) {
  for (const std::string& movie : {testing::proresMovie(), testing::h264BFramesMovie()}) {
    SCOPED_TRACE(movie);
    RequestHandlerConfig config;
    config.roots = {std::filesystem::path(movie).parent_path().string()};
    config.cache_bytes = 0;
    RequestHandler uncached(config);
    testing::RequestSpec spec;
    spec.movie = std::filesystem::path(movie).filename().string();
    spec.frames = {3, 1, 2};
    const WorkerReply plain = uncached.handle(*testing::requestOf(testing::buildRequest(spec)), 0, "w");
    ASSERT_EQ(testing::replyOf(plain)->status(), proto::StatusCode::OK);

    ClientSegment client;
    spec.shared = testing::RequestSpec::SharedOffer{client.path(), kToken, kSegmentBytes, {proto::Extent(4096, kSegmentBytes - 4096)}};
    const uint64_t buffers = framePool().counters().allocated;
    const WorkerReply direct = uncached.handle(*testing::requestOf(testing::buildRequest(spec)), 0, "w");
    EXPECT_EQ(framePool().counters().allocated, buffers) << "no buffer of the worker's own for these frames";
    expectFramesInSegment(client, direct, plain);
    EXPECT_EQ(sharedMemoryStats(uncached).get("parts_written_in_place")->asInt(), 3);

    // A cache whose share per request (an eighth) holds one 320x240 rgb24 frame: frame 1 is
    // kept (and written beside the cache's copy), frames 2 and 3 only into shared memory.
    config.cache_bytes = 8 * 320 * 240 * 3;
    RequestHandler cached(config);
    for (int attempt = 0; attempt < 2; ++attempt) {
      const WorkerReply reply = cached.handle(*testing::requestOf(testing::buildRequest(spec)), 0, "w");
      expectFramesInSegment(client, reply, plain);
      const proto::Reply* header = testing::replyOf(reply);
      ASSERT_NE(header, nullptr);
      // In request order (3, 1, 2): only frame 1 comes from the cache the second time.
      EXPECT_EQ(header->frames()->Get(1)->cached(), attempt == 0 ? proto::CacheTier::NONE : proto::CacheTier::MEMORY);
      EXPECT_EQ(header->frames()->Get(0)->cached(), proto::CacheTier::NONE);
      EXPECT_EQ(header->frames()->Get(2)->cached(), proto::CacheTier::NONE);
    }
  }
}

}  // namespace
}  // namespace framewire
