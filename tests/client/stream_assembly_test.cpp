// StreamAssembly over hand-built reply messages: frames placed by Reply.position into request
// order, a restarted stream overwriting, errors ending the call, gaps named (PROTOCOL.md 3).
#include "client/stream_assembly.h"

#include <gtest/gtest.h>

#include "tests/client/reply_builder.h"

namespace framewire {
namespace {

using client_internal::describePositions;
using client_internal::StreamAssembly;
using testing::FrameSpec;
using testing::buildFramesReply;
using testing::receivedReply;

constexpr uint32_t kRowBytes = 6;  // 2x1 rgb24

struct Message {
  protocol::ClientReply reply;
  const uint8_t* part = nullptr;  // the received payload part
};

// A message carrying frames `indices` at request positions `position`...; every byte of a
// frame is `fill` (default: its index).
Message message(uint64_t id, const std::vector<int64_t>& indices, uint32_t position, bool more,
                int fill = -1, const std::string& worker = "w1", std::pair<int64_t, int64_t> totals = {123, 456}) {
  std::vector<FrameSpec> specs;
  std::vector<uint8_t> payload;
  for (size_t k = 0; k < indices.size(); ++k) {
    FrameSpec spec;
    spec.index = indices[k];
    spec.width = 2;
    spec.height = 1;
    spec.decode_us = 10 + indices[k];
    spec.planes = {{0, k * kRowBytes, kRowBytes, kRowBytes, 1}};
    specs.push_back(spec);
    payload.insert(payload.end(), kRowBytes, static_cast<uint8_t>(fill < 0 ? indices[k] : fill));
  }
  std::vector<std::vector<uint8_t>> parts;
  if (!payload.empty()) parts.push_back(payload);
  Message out;
  out.reply = receivedReply(buildFramesReply(id, specs, proto::StatusCode::OK, "", worker, more, position, totals),
                            parts);
  if (out.reply.parts.size() > 1) out.part = out.reply.parts[1].data<uint8_t>();
  return out;
}

protocol::ClientReply errorMessage(uint64_t id, proto::StatusCode code, const std::string& text) {
  return receivedReply(protocol::makeStatusReply(id, Status(protocol::fromProto(code), text), "w1"), {});
}

std::vector<int64_t> indicesOf(const std::vector<Frame>& frames) {
  std::vector<int64_t> out;
  for (const Frame& f : frames) out.push_back(f.index());
  return out;
}

std::vector<int> pixelsOf(const std::vector<Frame>& frames) {
  std::vector<int> out;
  for (const Frame& f : frames) out.push_back(f.planes()[0].data[0]);
  return out;
}

TEST(StreamAssembly, InOrderMessages) {
  const std::vector<int64_t> wanted = {10, 11, 12, 13, 14};
  StreamAssembly assembly(5, wanted, /*streamed=*/true);
  Message first = message(1, {10, 11}, 0, true);
  Message last = message(1, {13, 14}, 3, false, -1, "w1", {40, 900});
  ASSERT_TRUE(assembly.add(std::move(first.reply)).isOk());
  EXPECT_FALSE(assembly.done());
  EXPECT_EQ(assembly.missing(), (std::vector<size_t>{2, 3, 4}));
  ASSERT_TRUE(assembly.add(message(1, {12}, 2, true).reply).isOk());
  ASSERT_TRUE(assembly.add(std::move(last.reply)).isOk());
  EXPECT_TRUE(assembly.done());
  EXPECT_EQ(assembly.messages(), 3);
  auto frames = assembly.finish();
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(indicesOf(*frames), wanted);
  EXPECT_EQ(pixelsOf(*frames), (std::vector<int>{10, 11, 12, 13, 14}));
  // Zero-copy: each frame points into the message it came in.
  EXPECT_EQ((*frames)[0].planes()[0].data, first.part);
  EXPECT_EQ((*frames)[1].planes()[0].data, first.part + kRowBytes);
  EXPECT_EQ((*frames)[4].planes()[0].data, last.part + kRowBytes);
  // Per-frame timings are the frame's; the request's totals come from the last message.
  EXPECT_EQ((*frames)[0].timings().decodeUs, 20);
  for (const Frame& f : *frames) {
    EXPECT_EQ(f.requestTimings().queueUs, 40);
    EXPECT_EQ(f.requestTimings().totalUs, 900);
  }
}

TEST(StreamAssembly, FramesOutliveTheAssembly) {
  std::vector<Frame> frames;
  {
    StreamAssembly assembly(2, {0, 1}, true);
    ASSERT_TRUE(assembly.add(message(1, {0}, 0, true, 7).reply).isOk());
    ASSERT_TRUE(assembly.add(message(1, {1}, 1, false, 9).reply).isOk());
    frames = std::move(assembly.finish()).value();
  }
  EXPECT_EQ(pixelsOf(frames), (std::vector<int>{7, 9}));
  EXPECT_EQ(frames[1].packedBytes(), std::vector<uint8_t>(kRowBytes, 9));
}

TEST(StreamAssembly, OutOfOrderPositions) {
  const std::vector<int64_t> wanted = {7, 3, 3, 9};
  StreamAssembly assembly(4, wanted, true);
  ASSERT_TRUE(assembly.add(message(1, {3, 9}, 2, true).reply).isOk());
  ASSERT_TRUE(assembly.add(message(1, {7}, 0, true).reply).isOk());
  ASSERT_TRUE(assembly.add(message(1, {3}, 1, false).reply).isOk());
  auto frames = assembly.finish();
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(indicesOf(*frames), wanted);
}

// The first worker streamed positions 0..2 and died; the broker dispatched the request again
// and the second worker streams everything from position 0.
TEST(StreamAssembly, RestartFromZeroOverwrites) {
  const std::vector<int64_t> wanted = {0, 1, 2, 3, 4};
  StreamAssembly assembly(5, wanted, true);
  ASSERT_TRUE(assembly.add(message(1, {0, 1}, 0, true, 100, "dead").reply).isOk());
  ASSERT_TRUE(assembly.add(message(1, {2}, 2, true, 100, "dead").reply).isOk());
  ASSERT_TRUE(assembly.add(message(1, {0, 1, 2}, 0, true, 200, "alive").reply).isOk());
  ASSERT_TRUE(assembly.add(message(1, {3, 4}, 3, false, 200, "alive").reply).isOk());
  auto frames = assembly.finish();
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(indicesOf(*frames), wanted);
  EXPECT_EQ(pixelsOf(*frames), std::vector<int>(5, 200));
  for (const Frame& f : *frames) EXPECT_EQ(f.worker(), "alive");
}

TEST(StreamAssembly, ErrorInTheMiddleEndsTheCall) {
  StreamAssembly assembly(4, {0, 1, 2, 3}, true);
  ASSERT_TRUE(assembly.add(message(1, {0, 1}, 0, true).reply).isOk());
  const Status status = assembly.add(errorMessage(1, proto::StatusCode::DECODE_ERROR, "damaged at frame 2"));
  EXPECT_EQ(status.code(), StatusCode::kDecodeError);
  EXPECT_EQ(status.message(), "damaged at frame 2");
}

TEST(StreamAssembly, MissingPositionsAreNamed) {
  StreamAssembly assembly(6, {0, 1, 2, 3, 4, 5}, true);
  ASSERT_TRUE(assembly.add(message(1, {0}, 0, true).reply).isOk());
  ASSERT_TRUE(assembly.add(message(1, {3}, 3, true).reply).isOk());
  ASSERT_TRUE(assembly.add(message(1, {5}, 5, false).reply).isOk());
  EXPECT_TRUE(assembly.done());
  EXPECT_EQ(assembly.missing(), (std::vector<size_t>{1, 2, 4}));
  auto frames = assembly.finish();
  ASSERT_FALSE(frames.ok());
  EXPECT_EQ(frames.status().code(), StatusCode::kInternal);
  EXPECT_NE(frames.status().message().find("position(s) 1-2, 4 "), std::string::npos) << frames.status().message();
  EXPECT_NE(frames.status().message().find("3 of 6"), std::string::npos) << frames.status().message();
}

TEST(StreamAssembly, FinishBeforeTheLastMessageIsAnError) {
  StreamAssembly assembly(2, {0, 1}, true);
  ASSERT_TRUE(assembly.add(message(1, {0, 1}, 0, true).reply).isOk());
  auto frames = assembly.finish();
  ASSERT_FALSE(frames.ok());
  EXPECT_EQ(frames.status().code(), StatusCode::kInternal);
}

TEST(StreamAssembly, SingleMessageWithoutStreaming) {
  StreamAssembly assembly(3, {4, 2, 4}, /*streamed=*/false);
  Message only = message(1, {4, 2, 4}, 0, false);
  ASSERT_TRUE(assembly.add(std::move(only.reply)).isOk());
  EXPECT_TRUE(assembly.done());
  auto frames = assembly.finish();
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(indicesOf(*frames), (std::vector<int64_t>{4, 2, 4}));
  EXPECT_EQ((*frames)[2].planes()[0].data, only.part + 2 * kRowBytes);
  EXPECT_EQ((*frames)[0].requestTimings().totalUs, 456);
}

TEST(StreamAssembly, MoreOnARequestThatDidNotStreamIsAnError) {
  StreamAssembly assembly(2, {0, 1}, /*streamed=*/false);
  EXPECT_EQ(assembly.add(message(1, {0}, 0, true).reply).code(), StatusCode::kInternal);
}

TEST(StreamAssembly, FramesPastTheRequestAreAnError) {
  StreamAssembly assembly(2, {0, 1}, true);
  EXPECT_EQ(assembly.add(message(1, {1, 2}, 1, false).reply).code(), StatusCode::kInternal);
  StreamAssembly far(2, {0, 1}, true);
  EXPECT_EQ(far.add(message(1, {}, 7, false).reply).code(), StatusCode::kInternal);
}

TEST(StreamAssembly, AnotherFrameThanRequestedIsAnError) {
  StreamAssembly assembly(2, {0, 1}, true);
  const Status status = assembly.add(message(1, {5}, 1, false).reply);
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("position 1"), std::string::npos) << status.message();
}

TEST(StreamAssembly, ByTimeTheServerChoosesTheIndices) {
  StreamAssembly assembly(3, /*requested=*/{}, true);
  ASSERT_TRUE(assembly.add(message(1, {0, 0}, 0, true).reply).isOk());
  ASSERT_TRUE(assembly.add(message(1, {17}, 2, false).reply).isOk());
  auto frames = assembly.finish();
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(indicesOf(*frames), (std::vector<int64_t>{0, 0, 17}));
}

TEST(StreamAssembly, LastMessageMayCarryNoFrames) {
  StreamAssembly assembly(2, {3, 4}, true);
  ASSERT_TRUE(assembly.add(message(1, {3, 4}, 0, true).reply).isOk());
  ASSERT_TRUE(assembly.add(message(1, {}, 2, false, -1, "w1", {5, 77}).reply).isOk());
  auto frames = assembly.finish();
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ((*frames)[1].requestTimings().totalUs, 77);
}

TEST(StreamAssembly, MessageAfterTheLastIsAnError) {
  StreamAssembly assembly(1, {0}, true);
  ASSERT_TRUE(assembly.add(message(1, {0}, 0, false).reply).isOk());
  EXPECT_EQ(assembly.add(message(1, {0}, 0, false).reply).code(), StatusCode::kInternal);
}

TEST(StreamAssembly, DescribePositions) {
  EXPECT_EQ(describePositions({}), "");
  EXPECT_EQ(describePositions({4}), "4");
  EXPECT_EQ(describePositions({0, 1, 2, 5, 7, 8}), "0-2, 5, 7-8");
}

}  // namespace
}  // namespace framewire
