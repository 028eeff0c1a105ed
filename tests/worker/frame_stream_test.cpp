// FrameStream without decoding: synthetic frames of known sizes go in as "ready", and the
// PARTIALs and the final message that come out are checked for their positions, their frames
// and their payload parts.
#include "worker/frame_stream.h"

#include <algorithm>
#include <memory>
#include <numeric>
#include <stdexcept>

#include <gtest/gtest.h>

#include "common/protocol.h"
#include "tests/worker/worker_test_support.h"

namespace framewire {
namespace {

// A frame filled with its own index, so that a part shows whose it is.
FrameOutput syntheticFrame(int64_t index, uint64_t bytes) {
  return testing::syntheticFrame(index, bytes, static_cast<uint8_t>(index));
}

struct Message {
  uint32_t position = 0;
  bool more = false;
  std::vector<int64_t> indices;  // FrameHeader.index in order
  size_t parts = 0;
};

Message read(const WorkerReply& reply) {
  const proto::Reply* header = protocol::verifyReply(reply.header.data(), reply.header.size());
  EXPECT_NE(header, nullptr);
  Message m;
  if (!header) return m;
  m.position = header->position();
  m.more = header->more();
  for (const proto::FrameHeader* frame : *header->frames()) {
    m.indices.push_back(frame->index());
    for (const proto::Plane* plane : *frame->planes()) {
      EXPECT_LT(plane->part(), reply.payload.size());
      // The part holds the frame's own bytes (each synthetic frame is filled with its index).
      EXPECT_EQ(reply.payload[plane->part()].data[0], static_cast<uint8_t>(frame->index()));
    }
  }
  m.parts = reply.payload.size();
  return m;
}

class FrameStreamTest : public ::testing::Test {
 protected:
  // `wanted`: frame numbers in request order; frames are made distinct and ascending as the
  // handler does.
  void start(std::vector<int64_t> wanted, FrameStreamLimits limits) {
    wanted_ = wanted;
    distinct_ = wanted;
    std::sort(distinct_.begin(), distinct_.end());
    distinct_.erase(std::unique(distinct_.begin(), distinct_.end()), distinct_.end());
    std::vector<size_t> order;
    for (int64_t n : wanted) {
      order.push_back(std::lower_bound(distinct_.begin(), distinct_.end(), n) - distinct_.begin());
    }
    ReplyContext context;
    context.request_id = 7;
    context.worker = "w";
    stream_ = std::make_unique<FrameStream>(order, distinct_.size(), OutputSpec{}, context, limits,
                                            [this](WorkerReply partial) { sent_.push_back(read(partial)); });
  }

  void readyAll(uint64_t bytes_each) {
    for (size_t d = 0; d < distinct_.size(); ++d) stream_->ready(d, syntheticFrame(distinct_[d], bytes_each));
  }

  Message finish() {
    ReplyContext context;
    context.request_id = 7;
    return read(stream_->finish(context));
  }

  // Every position exactly once, in order, over the partials and the final message.
  void expectCoversRequest(const Message& last) {
    std::vector<int64_t> all;
    uint32_t next = 0;
    for (const Message& m : sent_) {
      EXPECT_TRUE(m.more);
      EXPECT_EQ(m.position, next);
      all.insert(all.end(), m.indices.begin(), m.indices.end());
      next += static_cast<uint32_t>(m.indices.size());
    }
    EXPECT_FALSE(last.more);
    EXPECT_EQ(last.position, next);
    all.insert(all.end(), last.indices.begin(), last.indices.end());
    EXPECT_EQ(all, wanted_);
  }

  std::vector<int64_t> wanted_, distinct_;
  std::unique_ptr<FrameStream> stream_;
  std::vector<Message> sent_;
};

TEST_F(FrameStreamTest, ConsecutiveFramesLeaveInRunsOfTheChunkSize) {
  std::vector<int64_t> wanted(20);
  std::iota(wanted.begin(), wanted.end(), 100);
  start(wanted, FrameStreamLimits{300, 16});
  readyAll(100);  // a run of 3 frames reaches 300 bytes
  const Message last = finish();
  ASSERT_EQ(sent_.size(), 6u);  // 6 x 3 frames, then the last 2 in the final message
  for (const Message& m : sent_) EXPECT_EQ(m.indices.size(), 3u);
  EXPECT_EQ(last.indices.size(), 2u);
  expectCoversRequest(last);
}

TEST_F(FrameStreamTest, NeverMoreMessagesThanTheLimit) {
  std::vector<int64_t> wanted(100);
  std::iota(wanted.begin(), wanted.end(), 0);
  start(wanted, FrameStreamLimits{1, 5});
  readyAll(100);
  const Message last = finish();
  EXPECT_EQ(sent_.size(), 4u);  // 4 PARTIALs + the final message = 5
  expectCoversRequest(last);
  EXPECT_EQ(last.indices.size(), 96u);
}

TEST_F(FrameStreamTest, SmallBatchIsOneMessage) {
  start({5, 6, 7}, FrameStreamLimits{1000, 16});
  readyAll(100);
  const Message last = finish();
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(last.position, 0u);
  expectCoversRequest(last);
}

TEST_F(FrameStreamTest, ShuffledOrderWaitsForTheRunInRequestOrder) {
  // Frames are ready in ascending order; the request starts with the largest, so nothing can
  // go out before it is ready, at the very end.
  start({9, 0, 1, 2, 3, 4, 5, 6, 7, 8}, FrameStreamLimits{1, 16});
  for (size_t d = 0; d < 9; ++d) {
    stream_->ready(d, syntheticFrame(distinct_[d], 10));
    EXPECT_TRUE(sent_.empty());
  }
  stream_->ready(9, syntheticFrame(9, 10));
  // Everything became ready at once, at the end: it all goes in the final message (a PARTIAL
  // never takes the whole request, which would leave the final message empty).
  const Message last = finish();
  expectCoversRequest(last);
}

TEST_F(FrameStreamTest, DuplicatesShareAPartWithinAMessageAndRepeatAcrossMessages) {
  start({3, 3, 4, 3}, FrameStreamLimits{150, 16});
  stream_->ready(0, syntheticFrame(3, 100));  // positions 0, 1 ready (200 bytes): a PARTIAL
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].indices, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(sent_[0].parts, 1u);  // frame 3 once in the payload
  stream_->ready(1, syntheticFrame(4, 100));
  const Message last = finish();
  EXPECT_EQ(last.indices, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(last.parts, 2u);
  expectCoversRequest(last);
}

TEST_F(FrameStreamTest, FinishBeforeEveryFrameIsReadyIsABug) {
  start({1, 2}, FrameStreamLimits{1, 16});
  stream_->ready(0, syntheticFrame(1, 10));
  EXPECT_THROW(finish(), std::logic_error);
}

TEST(StreamChunkBytes, KeepsTheWholeReplyWithinTheMessageLimit) {
  EXPECT_EQ(streamChunkBytes(1000, 8 << 20, 16), uint64_t(8) << 20);  // small: the minimum
  const uint64_t big = uint64_t(622) << 20;
  const uint64_t chunk = streamChunkBytes(big, 8 << 20, 16);
  EXPECT_GE(chunk * 15, big);
  EXPECT_LT(chunk, big / 14);
}

}  // namespace
}  // namespace framewire
