// Every bad input gets a clear status, never a crash, a hang or a wrong frame, and the server
// keeps serving correct frames afterwards.
#include <gtest/gtest.h>

#include <iterator>
#include <thread>

#include <zmq_addon.hpp>

#include "common/protocol.h"
#include "tests/integration/integration_test.h"

namespace framewire::testing {
namespace {

using namespace std::chrono_literals;

class BadInputTest : public IntegrationTest {
 protected:
  // Checks a failed result's status code and that it says something.
  template <typename T>
  static void expectStatus(const Result<T>& result, StatusCode code, const std::string& what) {
    ASSERT_FALSE(result.ok()) << what << " succeeded";
    EXPECT_EQ(result.status().code(), code) << what << ": " << result.status().toString();
    EXPECT_FALSE(result.status().message().empty()) << what;
  }
};

FrameOptions native() {
  FrameOptions options;
  options.format = "native";
  return options;
}

TEST_F(BadInputTest, MissingMovieIsNotFound) {
  Client c = client();
  expectStatus(c.info("missing.mov"), StatusCode::kNotFound, "info missing.mov");
  expectStatus(c.getFrame("missing.mov", 0), StatusCode::kNotFound, "frame of missing.mov");
  expectStatus(c.info("sub/missing.mov"), StatusCode::kNotFound, "info sub/missing.mov");
  expectStatus(c.list("no-such-folder"), StatusCode::kNotFound, "list no-such-folder");
  expectServesCorrectFrames(c);
}

TEST_F(BadInputTest, PathsOutOfTheRootAreForbidden) {
  Client c = client();
  for (const char* path : {"../x", "../root/prores.mov", "sub/../../x.mov", "/etc/passwd", "escape.mov",
                           "escape-dir/prores-320x240.mov"}) {
    expectStatus(c.info(path), StatusCode::kForbidden, std::string("info ") + path);
    expectStatus(c.getFrame(path, 0), StatusCode::kForbidden, std::string("frame of ") + path);
  }
  expectStatus(c.list(".."), StatusCode::kForbidden, "list ..");
  expectStatus(c.list("/etc"), StatusCode::kForbidden, "list /etc");
  expectStatus(c.list("escape-dir"), StatusCode::kForbidden, "list escape-dir");
  expectServesCorrectFrames(c);
}

TEST_F(BadInputTest, IndicesOutsideTheMovieAreOutOfRange) {
  Client c = client();
  expectStatus(c.getFrame(kProres, -1), StatusCode::kOutOfRange, "prores frame -1");
  expectStatus(c.getFrame(kProres, kProresFrames), StatusCode::kOutOfRange, "prores frame num_frames");
  expectStatus(c.getFrame(kH264, kH264Frames, native()), StatusCode::kOutOfRange, "h264 frame num_frames");
  expectStatus(c.getFrame(kH264, INT64_MAX), StatusCode::kOutOfRange, "h264 frame INT64_MAX");
  // One bad index fails the whole batch.
  expectStatus(c.getFrames(kProres, {0, 5, kProresFrames}, native()), StatusCode::kOutOfRange, "batch");
  expectServesCorrectFrames(c);
}

TEST_F(BadInputTest, UnknownFormatOrEncodingIsAnInvalidArgument) {
  Client c = client();
  FrameOptions bad_format;
  bad_format.format = "yuv999";
  expectStatus(c.getFrame(kProres, 0, bad_format), StatusCode::kInvalidArgument, "format yuv999");
  FrameOptions bad_encoding;
  bad_encoding.encoding = "gif";
  expectStatus(c.getFrame(kProres, 0, bad_encoding), StatusCode::kInvalidArgument, "encoding gif");
  FrameOptions bad_crop;
  bad_crop.crop = CropRect{300, 200, 100, 100};  // reaches past 320x240
  expectStatus(c.getFrame(kProres, 0, bad_crop), StatusCode::kInvalidArgument, "crop outside the picture");
  FrameOptions bad_size;
  bad_size.width = -5;
  expectStatus(c.getFrame(kProres, 0, bad_size), StatusCode::kInvalidArgument, "width -5");
  expectServesCorrectFrames(c);
}

TEST_F(BadInputTest, UndecodableFilesAreDecodeErrors) {
  Client c = client();
  expectStatus(c.info("bad.mov"), StatusCode::kDecodeError, "info bad.mov");
  expectStatus(c.getFrame("bad.mov", 0), StatusCode::kDecodeError, "frame of bad.mov");
  expectStatus(c.info("truncated.mov"), StatusCode::kDecodeError, "info truncated.mov");
  expectStatus(c.getFrame("truncated.mov", 0, native()), StatusCode::kDecodeError, "frame of truncated.mov");
  expectServesCorrectFrames(c);
}

// Raw messages that no client library would send, straight onto the frontend.
TEST_F(BadInputTest, MalformedMessagesAreAnsweredOrDropped) {
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(server_->frontend());

  auto valid_request = [](uint64_t id, proto::RequestKind kind) {
    flatbuffers::FlatBufferBuilder builder;
    auto movie = builder.CreateString(kProres);
    std::vector<int64_t> indices = {3};
    auto frames = builder.CreateVector(indices);
    proto::RequestBuilder request(builder);
    request.add_id(id);
    request.add_kind(kind);
    request.add_movie(movie);
    request.add_frames(frames);
    builder.Finish(request.Finish());
    return builder.Release();
  };
  auto text = [](const std::string& s) { return zmq::message_t(s.data(), s.size()); };
  const auto good = valid_request(1, proto::RequestKind::FRAMES);
  const auto bad_kind = valid_request(2, static_cast<proto::RequestKind>(42));

  std::vector<protocol::Multipart> malformed;
  auto add = [&](std::vector<zmq::message_t> parts) { malformed.push_back(std::move(parts)); };
  {
    std::vector<zmq::message_t> m;
    m.emplace_back();
    m.push_back(text("FWC01"));
    m.push_back(text("this is not a flatbuffer"));
    add(std::move(m));
  }
  {
    std::vector<zmq::message_t> m;
    m.emplace_back();
    m.push_back(text("FWC99"));
    m.emplace_back(good.data(), good.size());
    add(std::move(m));
  }
  {
    std::vector<zmq::message_t> m;
    m.emplace_back();
    m.push_back(text("FWC01"));
    add(std::move(m));
  }
  {
    std::vector<zmq::message_t> m;
    m.emplace_back();
    m.push_back(text("FWC01"));
    m.emplace_back(good.data(), good.size());
    m.push_back(text("one part too many"));
    add(std::move(m));
  }
  {
    std::vector<zmq::message_t> m;  // no empty delimiter
    m.push_back(text("FWC01"));
    m.emplace_back(good.data(), good.size());
    add(std::move(m));
  }
  {
    std::vector<zmq::message_t> m;  // only a delimiter
    m.emplace_back();
    add(std::move(m));
  }
  {
    std::vector<zmq::message_t> m;  // a valid Request of an unknown kind
    m.emplace_back();
    m.push_back(text("FWC01"));
    m.emplace_back(bad_kind.data(), bad_kind.size());
    add(std::move(m));
  }
  {
    std::vector<zmq::message_t> m;  // the worker protocol on the client socket
    m.emplace_back();
    m.push_back(text("FWW01"));
    m.push_back(text("\x01"));
    add(std::move(m));
  }
  for (auto& message : malformed) ASSERT_TRUE(zmq::send_multipart(raw, message));

  // Whatever comes back must be a well-formed error reply; silence is allowed too.
  const auto deadline = std::chrono::steady_clock::now() + 800ms;
  int answered = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t item{raw.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 100ms) <= 0) continue;
    protocol::Multipart reply;
    ASSERT_TRUE(zmq::recv_multipart(raw, std::back_inserter(reply)));
    auto parsed = protocol::parseClientReply(std::move(reply));
    ASSERT_TRUE(parsed.ok()) << "the server answered with a malformed reply: " << parsed.status().toString();
    EXPECT_EQ(parsed->reply->status(), proto::StatusCode::INVALID_ARGUMENT)
        << "id " << parsed->reply->id() << ": "
        << (parsed->reply->message() ? parsed->reply->message()->str() : std::string());
    ++answered;
  }
  std::cout << "[ info     ] " << answered << " of " << malformed.size()
            << " malformed messages were answered, the rest dropped\n";

  // The same socket still gets served.
  protocol::Multipart request = protocol::makeClientRequestFrames(good, /*add_delimiter=*/true);
  ASSERT_TRUE(zmq::send_multipart(raw, request));
  zmq::pollitem_t item{raw.handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_GT(zmq::poll(&item, 1, 10000ms), 0) << "no answer to a valid request after the malformed ones";
  protocol::Multipart reply;
  ASSERT_TRUE(zmq::recv_multipart(raw, std::back_inserter(reply)));
  auto parsed = protocol::parseClientReply(std::move(reply));
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  EXPECT_EQ(parsed->reply->id(), 1u);
  EXPECT_EQ(parsed->reply->status(), proto::StatusCode::OK);

  Client c = client();
  expectServesCorrectFrames(c);
}

// All of the above, one after another on one server, then correct frames from every worker.
TEST_F(BadInputTest, ServerKeepsServingAfterEveryKindOfBadInput) {
  Client c = client();
  EXPECT_FALSE(c.info("missing.mov").ok());
  EXPECT_FALSE(c.getFrame("../x", 0).ok());
  EXPECT_FALSE(c.getFrame("/etc/passwd", 0).ok());
  EXPECT_FALSE(c.getFrame("escape.mov", 0).ok());
  EXPECT_FALSE(c.getFrame(kProres, -1).ok());
  EXPECT_FALSE(c.getFrame(kProres, kProresFrames).ok());
  FrameOptions bad_format;
  bad_format.format = "nope";
  EXPECT_FALSE(c.getFrame(kProres, 0, bad_format).ok());
  EXPECT_FALSE(c.getFrame("bad.mov", 0).ok());
  EXPECT_FALSE(c.getFrame("truncated.mov", 0).ok());
  // Several rounds, so both workers (least recently used first) get to show they are fine.
  for (int round = 0; round < 4; ++round) expectServesCorrectFrames(c);
  for (int i = 0; i < server_->workerCount(); ++i) EXPECT_TRUE(server_->worker(i).running()) << "worker " << i;
  EXPECT_TRUE(server_->broker().running());
}

}  // namespace
}  // namespace framewire::testing
