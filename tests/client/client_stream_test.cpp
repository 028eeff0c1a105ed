// framewire::Client and streamed FRAMES replies (PROTOCOL.md 3) against a scripted in-process
// server (scripted_server.h) that answers a request with several timed messages: who asks for a stream, the
// per-message timeout, retries that ignore an earlier attempt's stream, errors and gaps.
#include "framewire/client.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/client/reply_builder.h"
#include "tests/client/scripted_server.h"

namespace framewire {
namespace {

using namespace std::chrono_literals;
using testing::FrameSpec;
using testing::ScriptedAnswer;
using testing::ScriptedMessage;
using testing::ScriptedServer;
using testing::buildFramesReply;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kRowBytes = 6;  // 2x1 rgb24

// A message with the request's frames at positions [position, position + count); every byte of
// a frame is `fill` (default: the frame's index). Requests by time get index = position.
ScriptedMessage framesMessage(const proto::Request& request, uint32_t position, uint32_t count, bool more,
                              std::chrono::milliseconds at, int fill = -1) {
  ScriptedMessage out;
  out.at = at;
  std::vector<FrameSpec> specs;
  std::vector<uint8_t> payload;
  for (uint32_t k = 0; k < count; ++k) {
    const uint32_t slot = position + k;
    FrameSpec spec;
    spec.index = request.frames() ? request.frames()->Get(slot) : slot;
    spec.width = 2;
    spec.height = 1;
    spec.planes = {{0, k * kRowBytes, kRowBytes, kRowBytes, 1}};
    specs.push_back(spec);
    payload.insert(payload.end(), kRowBytes, static_cast<uint8_t>(fill < 0 ? spec.index : fill));
  }
  if (!payload.empty()) out.payload.push_back(std::move(payload));
  out.header = buildFramesReply(request.id(), specs, proto::StatusCode::OK, "", "w1", more, position);
  return out;
}

uint32_t requestSize(const proto::Request& request) {
  return (request.frames() ? request.frames()->size() : 0) + (request.times() ? request.times()->size() : 0);
}

// The whole request in messages of `sizes` frames, `gap` apart, the first at `first`.
ScriptedAnswer inPieces(const proto::Request& request, const std::vector<uint32_t>& sizes,
                        std::chrono::milliseconds gap, int fill = -1, std::chrono::milliseconds first = 0ms) {
  ScriptedAnswer out;
  uint32_t position = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    out.push_back(framesMessage(request, position, sizes[k], k + 1 < sizes.size(), first + gap * int(k), fill));
    position += sizes[k];
  }
  return out;
}

ScriptedAnswer whole(const proto::Request& request, int fill = -1) {
  return inPieces(request, {requestSize(request)}, 0ms, fill);
}

ClientOptions options(SocketType type, std::chrono::milliseconds timeout, int retries) {
  ClientOptions o;
  o.socketType = type;
  o.timeout = timeout;
  o.retries = retries;
  return o;
}

// Request.stream and id of every request the server received.
std::vector<std::pair<bool, uint64_t>> receivedRequests(ScriptedServer& server) {
  std::vector<std::pair<bool, uint64_t>> out;
  for (const auto& body : server.receivedBodies()) {
    const proto::Request* request = protocol::verifyRequest(body.data(), body.size());
    out.emplace_back(request->stream(), request->id());  // the server keeps only requests that parsed
  }
  return out;
}

std::vector<int> pixelsOf(const std::vector<Frame>& frames) {
  std::vector<int> out;
  for (const Frame& f : frames) out.push_back(f.planes()[0].data[0]);
  return out;
}

std::vector<int64_t> indicesOf(const std::vector<Frame>& frames) {
  std::vector<int64_t> out;
  for (const Frame& f : frames) out.push_back(f.index());
  return out;
}

TEST(ClientStream, OnlyADealerBatchAsksForAStream) {
  ScriptedServer server([](int, const proto::Request& request) { return whole(request); });
  {
    Client dealer(server.endpoint(), options(SocketType::kDealer, 2s, 0));
    ASSERT_TRUE(dealer.getFrames("m.mov", {1, 2}).ok());
    ASSERT_TRUE(dealer.getFrame("m.mov", 1).ok());
    ASSERT_TRUE(dealer.getFramesAt("m.mov", {0.0, 0.5}).ok());
    ASSERT_TRUE(dealer.getFrameAt("m.mov", 0.5).ok());
  }
  {
    Client req(server.endpoint(), options(SocketType::kReq, 2s, 0));
    ASSERT_TRUE(req.getFrames("m.mov", {1, 2}).ok());
    ASSERT_TRUE(req.getFramesAt("m.mov", {0.0, 0.5}).ok());
  }
  const auto received = receivedRequests(server);
  ASSERT_EQ(received.size(), 6u);
  const std::vector<bool> expected = {true, false, true, false, false, false};
  for (size_t i = 0; i < received.size(); ++i) EXPECT_EQ(received[i].first, expected[i]) << "request " << i;
}

TEST(ClientStream, StreamedReplyInSeveralMessages) {
  ScriptedServer server([](int, const proto::Request& request) {
    return inPieces(request, {2, 1, 3, 1}, 20ms);
  });
  Client client(server.endpoint(), options(SocketType::kDealer, 2s, 0));
  const std::vector<int64_t> wanted = {9, 2, 2, 30, 5, 0, 7};
  auto frames = client.getFrames("m.mov", wanted);
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(indicesOf(*frames), wanted);
  EXPECT_EQ(pixelsOf(*frames), (std::vector<int>{9, 2, 2, 30, 5, 0, 7}));
  EXPECT_EQ(server.requests(), 1);
}

TEST(ClientStream, StreamedReplyByTime) {
  ScriptedServer server([](int, const proto::Request& request) { return inPieces(request, {1, 2}, 10ms); });
  Client client(server.endpoint(), options(SocketType::kDealer, 2s, 0));
  auto frames = client.getFramesAt("m.mov", {0.1, 0.12, 0.4});
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(indicesOf(*frames), (std::vector<int64_t>{0, 1, 2}));
}

// Eight messages 300 ms apart take 2.2 s in all, more than twice the 1 s timeout: a stream
// that keeps arriving must not be cut off, nor sent again. (Wide margins: the test machines
// stall for up to half a second under load.)
TEST(ClientStream, TimeoutRestartsWithEveryMessage) {
  ScriptedServer server([](int, const proto::Request& request) {
    return inPieces(request, std::vector<uint32_t>(8, 1), 300ms, -1, 100ms);
  });
  Client client(server.endpoint(), options(SocketType::kDealer, 1000ms, 0));
  const auto start = Clock::now();
  auto frames = client.getFrames("m.mov", {0, 1, 2, 3, 4, 5, 6, 7});
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(indicesOf(*frames), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_GE(elapsed, 2100ms);
  EXPECT_EQ(server.requests(), 1);
}

// The first attempt's stream stalls after one message; the retry is answered in two messages
// around the late rest of the first attempt, which must not be mixed in.
TEST(ClientStream, AStalledStreamIsSentAgainAndItsLateMessagesIgnored) {
  ScriptedServer server([](int n, const proto::Request& request) {
    if (n == 0) return inPieces(request, {1, 3}, 1800ms, 1);      // rest at 1.8 s
    if (n == 1) return inPieces(request, {2, 2}, 900ms, 2, 100ms);  // sent at ~1.2 s: 1.3 s, 2.2 s
    return whole(request, 2);
  });
  Client client(server.endpoint(), options(SocketType::kDealer, 1200ms, 1));
  auto frames = client.getFrames("m.mov", {0, 1, 2, 3});
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(pixelsOf(*frames), (std::vector<int>{2, 2, 2, 2}));
  std::this_thread::sleep_for(200ms);
  auto next = client.getFrames("m.mov", {5, 6});
  ASSERT_TRUE(next.ok()) << next.status().toString();
  EXPECT_EQ(pixelsOf(*next), (std::vector<int>{2, 2}));
  const auto received = receivedRequests(server);
  ASSERT_EQ(received.size(), 3u);
  EXPECT_NE(received[0].second, received[1].second) << "each attempt has its own id";
}

TEST(ClientStream, AStreamThatStopsTimesOut) {
  ScriptedServer server([](int, const proto::Request& request) {
    ScriptedAnswer out;
    out.push_back(framesMessage(request, 0, 1, true, 0ms));  // and nothing more
    return out;
  });
  Client client(server.endpoint(), options(SocketType::kDealer, 250ms, 1));
  auto frames = client.getFrames("m.mov", {0, 1, 2});
  ASSERT_FALSE(frames.ok());
  EXPECT_EQ(frames.status().code(), StatusCode::kTimeout);
  EXPECT_EQ(server.requests(), 2);
}

TEST(ClientStream, AnErrorInTheMiddleEndsTheCall) {
  ScriptedServer server([](int, const proto::Request& request) {
    if (requestSize(request) == 1) return whole(request);
    ScriptedAnswer out;
    out.push_back(framesMessage(request, 0, 2, true, 0ms));
    ScriptedMessage error;
    error.at = 50ms;
    error.header = protocol::makeStatusReply(request.id(), Status::decodeError("damaged at 40"), "w1");
    out.push_back(std::move(error));
    return out;
  });
  Client client(server.endpoint(), options(SocketType::kDealer, 2s, 2));
  auto frames = client.getFrames("m.mov", {0, 1, 40, 41});
  ASSERT_FALSE(frames.ok());
  EXPECT_EQ(frames.status().code(), StatusCode::kDecodeError);
  EXPECT_EQ(frames.status().message(), "damaged at 40");
  EXPECT_EQ(server.requests(), 1) << "an error is an answer, not a reason to retry";
  auto frame = client.getFrame("m.mov", 3);
  ASSERT_TRUE(frame.ok()) << frame.status().toString();
  EXPECT_EQ(frame->index(), 3);
}

TEST(ClientStream, AStreamWithAGapIsAnInternalError) {
  ScriptedServer server([](int, const proto::Request& request) {
    if (requestSize(request) == 1) return whole(request);
    ScriptedAnswer out;
    out.push_back(framesMessage(request, 0, 1, true, 0ms));
    out.push_back(framesMessage(request, 2, 1, false, 0ms));
    return out;
  });
  Client client(server.endpoint(), options(SocketType::kDealer, 2s, 0));
  auto frames = client.getFrames("m.mov", {4, 5, 6});
  ASSERT_FALSE(frames.ok());
  EXPECT_EQ(frames.status().code(), StatusCode::kInternal);
  EXPECT_NE(frames.status().message().find("position(s) 1 "), std::string::npos) << frames.status().message();
  EXPECT_TRUE(client.getFrame("m.mov", 3).ok());
}

TEST(ClientStream, ARestartedStreamOverwritesEarlierPositions) {
  ScriptedServer server([](int, const proto::Request& request) {
    ScriptedAnswer out;
    out.push_back(framesMessage(request, 0, 2, true, 0ms, 1));
    out.push_back(framesMessage(request, 0, 3, false, 20ms, 2));
    return out;
  });
  Client client(server.endpoint(), options(SocketType::kDealer, 2s, 0));
  auto frames = client.getFrames("m.mov", {7, 8, 9});
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  EXPECT_EQ(pixelsOf(*frames), (std::vector<int>{2, 2, 2}));
}

}  // namespace
}  // namespace framewire
