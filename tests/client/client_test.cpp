// framewire::Client against a scripted in-process server (scripted_server.h): the
// Lazy Pirate retries for REQ and DEALER, stale replies, status propagation, what a request
// carries. No broker or worker is involved.
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
using testing::ScriptedServer;
using testing::answerWith;
using testing::buildFramesReply;

// A LIST reply naming the request's folder, so a test can tell which call a reply answers.
flatbuffers::DetachedBuffer echoListReply(const proto::Request& request) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<proto::ListEntry>> entries = {
      proto::CreateListEntryDirect(builder, request.movie() ? request.movie()->c_str() : "", 1)};
  builder.Finish(proto::CreateReplyDirect(builder, request.id(), proto::StatusCode::OK, nullptr, 0, nullptr, &entries));
  return builder.Release();
}

// Short attempts for the tests about timeouts and retries. Tests that expect an answer on the
// first attempt give it more time: a shared machine stalls for a few hundred ms at times.
ClientOptions quickOptions(SocketType type, int retries, std::chrono::milliseconds timeout = 200ms) {
  ClientOptions options;
  options.socketType = type;
  options.timeout = timeout;
  options.retries = retries;
  return options;
}

class ClientRetryTest : public ::testing::TestWithParam<SocketType> {};

TEST_P(ClientRetryTest, RetriesAfterALostRequest) {
  ScriptedServer server([](int n, const proto::Request& request) {
    if (n == 0) return ScriptedAnswer{};  // the first request is lost
    return answerWith(echoListReply(request));
  });
  Client client(server.endpoint(), quickOptions(GetParam(), 2, 1000ms));
  auto entries = client.list("folder-a");
  ASSERT_TRUE(entries.ok()) << entries.status().toString();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].name, "folder-a");
  EXPECT_EQ(server.requests(), 2);
  // The client is still usable afterwards.
  auto again = client.list("folder-b");
  ASSERT_TRUE(again.ok()) << again.status().toString();
  EXPECT_EQ((*again)[0].name, "folder-b");
}

TEST_P(ClientRetryTest, GivesUpWithTimeoutAfterTheLastRetry) {
  ScriptedServer server([](int, const proto::Request&) { return ScriptedAnswer{}; });
  Client client(server.endpoint(), quickOptions(GetParam(), 2));
  const auto start = std::chrono::steady_clock::now();
  auto info = client.info("a.mov");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kTimeout);
  EXPECT_NE(info.status().message().find(server.endpoint()), std::string::npos) << info.status().message();
  EXPECT_EQ(server.requests(), 3);
  EXPECT_GE(elapsed, 590ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_P(ClientRetryTest, TimesOutWhenNothingListens) {
  std::string endpoint;
  {
    // Bind and release a port so that nothing listens on it.
    zmq::context_t context;
    zmq::socket_t probe(context, zmq::socket_type::router);
    probe.bind("tcp://127.0.0.1:*");
    endpoint = probe.get(zmq::sockopt::last_endpoint);
  }
  Client client(endpoint, quickOptions(GetParam(), 1));
  auto entries = client.list();
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().code(), StatusCode::kTimeout);
}

TEST_P(ClientRetryTest, ServerErrorBecomesTheStatus) {
  ScriptedServer server([](int, const proto::Request& request) {
    return answerWith(
        protocol::makeStatusReply(request.id(), Status::notFound("no movie x.mov under the roots"), "w1"));
  });
  Client client(server.endpoint(), quickOptions(GetParam(), 2, 2000ms));
  auto frame = client.getFrame("x.mov", 3);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(frame.status().message(), "no movie x.mov under the roots");
  EXPECT_EQ(server.requests(), 1) << "a server error is an answer, not a reason to retry";
}

INSTANTIATE_TEST_SUITE_P(SocketTypes, ClientRetryTest, ::testing::Values(SocketType::kReq, SocketType::kDealer),
                         [](const ::testing::TestParamInfo<SocketType>& info) {
                           return info.param == SocketType::kReq ? "Req" : "Dealer";
                         });

// A DEALER keeps its socket after a timeout, so the late answer to the abandoned call arrives
// on it later; the next call must skip it and return its own.
TEST(Client, DealerSkipsTheLateReplyOfAnAbandonedCall) {
  ScriptedServer server([](int n, const proto::Request& request) {
    return answerWith(echoListReply(request), {}, n == 0 ? 400ms : 0ms);
  });
  Client client(server.endpoint(), quickOptions(SocketType::kDealer, 0));
  auto first = client.list("first");
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kTimeout);
  std::this_thread::sleep_for(300ms);  // the late reply is now queued on the client's socket
  auto second = client.list("second");
  ASSERT_TRUE(second.ok()) << second.status().toString();
  EXPECT_EQ((*second)[0].name, "second");
}

TEST(Client, ReqReportsAGarbledReply) {
  ScriptedServer server([](int, const proto::Request&) { return testing::garbageAnswer(); });
  Client client(server.endpoint(), quickOptions(SocketType::kReq, 2));
  auto info = client.info("a.mov");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kInternal);
}

TEST(Client, RequestCarriesEveryOption) {
  ScriptedServer server([](int, const proto::Request& request) {
    std::vector<FrameSpec> specs;
    uint32_t offset = 0;
    for (const int64_t index : *request.frames()) {
      FrameSpec spec;
      spec.index = index;
      spec.width = 2;
      spec.height = 1;
      spec.planes = {{0, offset, 6, 6, 1}};
      offset += 6;
      specs.push_back(spec);
    }
    return answerWith(buildFramesReply(request.id(), specs), {std::vector<uint8_t>(offset, 7)});
  });
  ClientOptions options = quickOptions(SocketType::kDealer, 0);
  options.timeout = 2s;
  options.serverDeadline = 1500ms;
  Client client(server.endpoint(), options);
  FrameOptions frame_options;
  frame_options.format = "gray16";
  frame_options.encoding = "raw";
  frame_options.quality = 77;
  frame_options.crop = CropRect{1, 2, 30, 40};
  frame_options.width = 15;
  frame_options.height = 20;
  auto frames = client.getFrames("dir/m.mov", {9, 2, 9}, frame_options);
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  ASSERT_EQ(frames->size(), 3u);
  EXPECT_EQ((*frames)[0].index(), 9);
  EXPECT_EQ((*frames)[1].index(), 2);
  EXPECT_EQ((*frames)[2].index(), 9);

  const auto bodies = server.receivedBodies();
  ASSERT_EQ(bodies.size(), 1u);
  const proto::Request* request = protocol::verifyRequest(bodies[0].data(), bodies[0].size());
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->kind(), proto::RequestKind::FRAMES);
  EXPECT_EQ(request->movie()->str(), "dir/m.mov");
  ASSERT_EQ(request->frames()->size(), 3u);
  EXPECT_EQ(request->frames()->Get(0), 9);
  EXPECT_EQ(request->frames()->Get(1), 2);
  EXPECT_EQ(request->format()->str(), "gray16");
  EXPECT_EQ(request->encoding()->str(), "raw");
  EXPECT_EQ(request->quality(), 77);
  ASSERT_NE(request->crop(), nullptr);
  EXPECT_EQ(request->crop()->x(), 1);
  EXPECT_EQ(request->crop()->y(), 2);
  EXPECT_EQ(request->crop()->width(), 30);
  EXPECT_EQ(request->crop()->height(), 40);
  EXPECT_EQ(request->width(), 15);
  EXPECT_EQ(request->height(), 20);
  EXPECT_EQ(request->timeout_ms(), 1500u);
}

TEST(Client, WrongFramesFromTheServerAreAnError) {
  ScriptedServer server([](int, const proto::Request& request) {
    FrameSpec spec;
    spec.index = request.frames()->Get(0) + 1;  // not what was asked
    spec.planes = {{0, 0, 3, 3, 1}};
    return answerWith(buildFramesReply(request.id(), {spec}), {std::vector<uint8_t>(3)});
  });
  Client client(server.endpoint(), quickOptions(SocketType::kDealer, 0));
  auto frame = client.getFrame("m.mov", 4);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), StatusCode::kInternal);
  auto frames = client.getFrames("m.mov", {4, 5});
  ASSERT_FALSE(frames.ok());
  EXPECT_EQ(frames.status().code(), StatusCode::kInternal);
}

TEST(Client, BadEndpointIsAnInvalidArgument) {
  Client client("nonsense://nowhere", quickOptions(SocketType::kDealer, 0));
  auto info = client.info("a.mov");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(info.status().message().find("nonsense://nowhere"), std::string::npos);
}

TEST(Client, NoIndicesIsAnInvalidArgument) {
  Client client("tcp://127.0.0.1:1", quickOptions(SocketType::kDealer, 0));
  auto frames = client.getFrames("a.mov", {});
  ASSERT_FALSE(frames.ok());
  EXPECT_EQ(frames.status().code(), StatusCode::kInvalidArgument);
}

TEST(Client, MovesKeepTheConnection) {
  ScriptedServer server([](int, const proto::Request& request) { return answerWith(echoListReply(request)); });
  Client first(server.endpoint(), quickOptions(SocketType::kReq, 0));
  ASSERT_TRUE(first.list("a").ok());
  Client second = std::move(first);
  auto entries = second.list("b");
  ASSERT_TRUE(entries.ok()) << entries.status().toString();
  EXPECT_EQ((*entries)[0].name, "b");
  EXPECT_EQ(second.endpoint(), server.endpoint());
}

}  // namespace
}  // namespace framewire
