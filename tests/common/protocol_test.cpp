// The framing codec and the FlatBuffers schema: round trips and malformed input.
#include "common/protocol.h"

#include <gtest/gtest.h>

namespace framewire::protocol {
namespace {

flatbuffers::DetachedBuffer sampleRequest() {
  flatbuffers::FlatBufferBuilder builder;
  auto movie = builder.CreateString("RS03ASHS/PN03B/CAMHDA301-20160724T030000Z.mov");
  auto frames = builder.CreateVector(std::vector<int64_t>{5, 1, 9, 1});
  auto format = builder.CreateString("yuv");
  proto::Rect crop(10, 20, 300, 200);
  proto::RequestBuilder request(builder);
  request.add_id(42);
  request.add_kind(proto::RequestKind::FRAMES);
  request.add_movie(movie);
  request.add_frames(frames);
  request.add_format(format);
  request.add_crop(&crop);
  request.add_timeout_ms(1500);
  builder.Finish(request.Finish());
  return builder.Release();
}

zmq::message_t text(const std::string& s) { return zmq::message_t(s.data(), s.size()); }

TEST(Schema, RequestRoundTrip) {
  auto buffer = sampleRequest();
  const proto::Request* request = verifyRequest(buffer.data(), buffer.size());
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->id(), 42u);
  EXPECT_EQ(request->kind(), proto::RequestKind::FRAMES);
  EXPECT_EQ(request->movie()->str(), "RS03ASHS/PN03B/CAMHDA301-20160724T030000Z.mov");
  ASSERT_EQ(request->frames()->size(), 4u);
  EXPECT_EQ(request->frames()->Get(2), 9);
  EXPECT_EQ(request->crop()->width(), 300);
  EXPECT_EQ(request->timeout_ms(), 1500u);
  EXPECT_EQ(request->width(), 0);  // defaults hold for absent fields
}

TEST(Schema, ReplyRoundTrip) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<proto::Plane> planes = {proto::Plane(0, 0, 704, 640, 240), proto::Plane(1, 64, 352, 320, 240)};
  auto plane_vector = builder.CreateVectorOfStructs(planes);
  auto pixel_format = builder.CreateString("yuv422p10le");
  proto::Timings timings(10, 20, 30, 40, 0, 100);
  proto::FrameHeaderBuilder frame(builder);
  frame.add_index(7);
  frame.add_pts(3584);
  frame.add_time(0.29);
  frame.add_keyframe(true);
  frame.add_width(320);
  frame.add_height(240);
  frame.add_pixel_format(pixel_format);
  frame.add_sample_bytes(2);
  frame.add_planes(plane_vector);
  frame.add_timings(&timings);
  auto frame_offset = frame.Finish();
  auto frames = builder.CreateVector(std::vector<flatbuffers::Offset<proto::FrameHeader>>{frame_offset});
  proto::ReplyBuilder reply(builder);
  reply.add_id(9);
  reply.add_frames(frames);
  builder.Finish(reply.Finish());

  const proto::Reply* parsed = verifyReply(builder.GetBufferPointer(), builder.GetSize());
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(parsed->status(), proto::StatusCode::OK);
  const auto* header = parsed->frames()->Get(0);
  EXPECT_EQ(header->index(), 7);
  EXPECT_TRUE(header->keyframe());
  EXPECT_EQ(header->pixel_format()->str(), "yuv422p10le");
  EXPECT_EQ(header->planes()->Get(1)->offset(), 64u);
  EXPECT_EQ(header->planes()->Get(1)->row_bytes(), 320u);
  EXPECT_EQ(header->timings()->decode_us(), 30);
}

TEST(Schema, GarbageIsNotARequest) {
  const std::string garbage = "definitely not a flatbuffer";
  EXPECT_EQ(verifyRequest(garbage.data(), garbage.size()), nullptr);
  EXPECT_EQ(verifyRequest(nullptr, 0), nullptr);
  auto buffer = sampleRequest();
  EXPECT_EQ(verifyRequest(buffer.data(), buffer.size() / 2), nullptr);  // truncated
}

TEST(ClientFraming, ParsesWhatAClientSends) {
  auto request = sampleRequest();
  Multipart frames;
  frames.push_back(text("client-identity"));
  for (auto& f : makeClientRequestFrames(request, /*add_delimiter=*/true)) frames.push_back(std::move(f));
  ClientRequest parsed;
  ASSERT_TRUE(parseClientRequest(std::move(frames), &parsed).isOk());
  ASSERT_EQ(parsed.envelope.size(), 1u);
  EXPECT_EQ(parsed.envelope[0].to_string(), "client-identity");
  EXPECT_EQ(parsed.request->id(), 42u);
}

TEST(ClientFraming, MalformedRequestsKeepTheEnvelopeForTheErrorReply) {
  Multipart frames;
  frames.push_back(text("id"));
  frames.emplace_back();
  frames.push_back(text("HTTP/1.1"));
  frames.push_back(text("junk"));
  ClientRequest parsed;
  Status status = parseClientRequest(std::move(frames), &parsed);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(parsed.envelope.size(), 1u);

  Multipart bad_body;
  bad_body.push_back(text("id"));
  bad_body.emplace_back();
  bad_body.push_back(text(std::string(kClientProtocol)));
  bad_body.push_back(text("not flatbuffers"));
  EXPECT_EQ(parseClientRequest(std::move(bad_body), &parsed).code(), StatusCode::kInvalidArgument);

  Multipart no_delimiter;
  no_delimiter.push_back(text("id"));
  EXPECT_FALSE(parseClientRequest(std::move(no_delimiter), &parsed).isOk());
  EXPECT_TRUE(parsed.envelope.empty());

  Multipart extra;
  extra.push_back(text("id"));
  extra.emplace_back();
  extra.push_back(text(std::string(kClientProtocol)));
  auto request = sampleRequest();
  extra.emplace_back(request.data(), request.size());
  extra.push_back(text("extra"));
  EXPECT_FALSE(parseClientRequest(std::move(extra), &parsed).isOk());
}

TEST(ClientFraming, ReplyRoundTripWithoutCopyingPayload) {
  auto header = makeStatusReply(7, Status::notFound("no movie x.mov"), "w1");
  std::string pixels(1 << 20, 'p');
  Multipart body;
  body.emplace_back(header.data(), header.size());
  body.emplace_back(pixels.data(), pixels.size());
  const void* payload_data = body[1].data();
  Multipart envelope;
  envelope.push_back(text("client"));
  Multipart reply = makeClientReply(std::move(envelope), std::move(body));
  ASSERT_EQ(reply.size(), 5u);
  EXPECT_EQ(reply[4].data(), payload_data);  // moved, not copied

  reply.erase(reply.begin());  // what a DEALER client receives: [""][FWC01][header][payload]
  auto parsed = parseClientReply(std::move(reply));
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  EXPECT_EQ(parsed->reply->id(), 7u);
  EXPECT_EQ(parsed->reply->status(), proto::StatusCode::NOT_FOUND);
  EXPECT_EQ(parsed->reply->message()->str(), "no movie x.mov");
  EXPECT_EQ(parsed->reply->worker()->str(), "w1");
  ASSERT_EQ(parsed->parts.size(), 2u);
  EXPECT_EQ(parsed->parts[1].data(), payload_data);
}

TEST(WorkerFraming, ReadyHeartbeatReplyAtTheBroker) {
  auto withIdentity = [](Multipart frames) {
    frames.insert(frames.begin(), text("worker-1"));
    return frames;
  };
  auto ready = parseWorkerMessage(withIdentity(makeWorkerReady("w-a")));
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->command, WorkerCommand::kReady);
  EXPECT_EQ(ready->identity, "worker-1");
  EXPECT_EQ(ready->name, "w-a");

  auto heartbeat = parseWorkerMessage(withIdentity(makeWorkerCommand(WorkerCommand::kHeartbeat)));
  ASSERT_TRUE(heartbeat.ok());
  EXPECT_EQ(heartbeat->command, WorkerCommand::kHeartbeat);

  auto header = makeStatusReply(3, Status::ok());
  Multipart body;
  body.emplace_back(header.data(), header.size());
  body.push_back(text("pixels"));
  auto reply = parseWorkerMessage(withIdentity(makeWorkerReply(0x1122334455667788ull, std::move(body))));
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(reply->token, 0x1122334455667788ull);
  ASSERT_EQ(reply->header_and_payload.size(), 2u);
  EXPECT_EQ(reply->header_and_payload[1].to_string(), "pixels");
}

TEST(WorkerFraming, PartialCarriesTokenHeaderAndPayloadLikeAReply) {
  // A streamed reply's message before the last: [token][header with more = true][payload...].
  flatbuffers::FlatBufferBuilder builder;
  proto::ReplyBuilder header(builder);
  header.add_id(9);
  header.add_more(true);
  builder.Finish(header.Finish());
  auto buffer = builder.Release();
  Multipart body;
  body.emplace_back(buffer.data(), buffer.size());
  zmq::message_t pixels(1 << 20);
  const void* pixel_data = pixels.data();
  body.push_back(std::move(pixels));
  Multipart frames = makeWorkerPartial(0xabcdefull, std::move(body));
  EXPECT_EQ(*frames[2].data<uint8_t>(), 0x06);
  frames.insert(frames.begin(), text("worker-1"));
  auto parsed = parseWorkerMessage(std::move(frames));
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  EXPECT_EQ(parsed->command, WorkerCommand::kPartial);
  EXPECT_STREQ(workerCommandName(parsed->command), "PARTIAL");
  EXPECT_TRUE(carriesReply(parsed->command));
  EXPECT_EQ(parsed->token, 0xabcdefull);
  ASSERT_EQ(parsed->header_and_payload.size(), 2u);
  EXPECT_EQ(parsed->header_and_payload[1].data(), pixel_data);  // moved, not copied
  const proto::Reply* reply = verifyReply(parsed->header_and_payload[0].data(), parsed->header_and_payload[0].size());
  ASSERT_NE(reply, nullptr);
  EXPECT_TRUE(reply->more());
  EXPECT_EQ(reply->id(), 9u);

  // Without a token and a valid header it is malformed, like a REPLY.
  Multipart bare = makeWorkerCommand(WorkerCommand::kPartial);
  bare.insert(bare.begin(), text("w"));
  bare.push_back(encodeU64(1));
  EXPECT_FALSE(parseWorkerMessage(std::move(bare)).ok());
  Multipart bad_header = makeWorkerPartial(1, Multipart{});
  bad_header.push_back(text("not a flatbuffer"));
  bad_header.insert(bad_header.begin(), text("w"));
  EXPECT_FALSE(parseWorkerMessage(std::move(bad_header)).ok());
  // A worker never receives one.
  Multipart at_worker = makeWorkerCommand(WorkerCommand::kPartial);
  EXPECT_FALSE(parseBrokerMessage(std::move(at_worker)).ok());
}

TEST(Schema, StreamAndMoreDefaultToFalse) {
  // Requests and replies from before streaming leave the fields out: unstreamed, final.
  auto request_buffer = sampleRequest();
  EXPECT_FALSE(verifyRequest(request_buffer.data(), request_buffer.size())->stream());
  auto reply_buffer = makeStatusReply(1, Status::ok());
  EXPECT_FALSE(verifyReply(reply_buffer.data(), reply_buffer.size())->more());
  flatbuffers::FlatBufferBuilder builder;
  proto::RequestBuilder request(builder);
  request.add_kind(proto::RequestKind::FRAMES);
  request.add_stream(true);
  builder.Finish(request.Finish());
  auto streamed = builder.Release();
  EXPECT_TRUE(verifyRequest(streamed.data(), streamed.size())->stream());
}

TEST(WorkerFraming, ReadyCarriesAnOptionalCacheGroup) {
  Multipart with_group = makeWorkerReady("w-a-0", "w-a");
  ASSERT_EQ(with_group.size(), 5u);  // ["" FWW01 READY name group]
  with_group.insert(with_group.begin(), text("worker-1"));
  auto ready = parseWorkerMessage(std::move(with_group));
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->name, "w-a-0");
  EXPECT_EQ(ready->cache_group, "w-a");
  // Without one the frame is left out: what workers before the cache group sent.
  EXPECT_EQ(makeWorkerReady("w-b").size(), 4u);
  Multipart without = makeWorkerReady("w-b");
  without.insert(without.begin(), text("worker-2"));
  auto old_ready = parseWorkerMessage(std::move(without));
  ASSERT_TRUE(old_ready.ok());
  EXPECT_EQ(old_ready->cache_group, "");
}

TEST(WorkerFraming, RejectsMalformedWorkerMessages) {
  Multipart short_message;
  short_message.push_back(text("w"));
  EXPECT_FALSE(parseWorkerMessage(std::move(short_message)).ok());

  Multipart bad_command;
  bad_command.push_back(text("w"));
  bad_command.emplace_back();
  bad_command.push_back(text(std::string(kWorkerProtocol)));
  bad_command.push_back(text("\x09"));
  EXPECT_FALSE(parseWorkerMessage(std::move(bad_command)).ok());

  Multipart reply_without_header = makeWorkerCommand(WorkerCommand::kReply);
  reply_without_header.insert(reply_without_header.begin(), text("w"));
  reply_without_header.push_back(encodeU64(1));
  EXPECT_FALSE(parseWorkerMessage(std::move(reply_without_header)).ok());

  Multipart request_from_worker = makeWorkerCommand(WorkerCommand::kRequest);
  request_from_worker.insert(request_from_worker.begin(), text("w"));
  EXPECT_FALSE(parseWorkerMessage(std::move(request_from_worker)).ok());
}

TEST(WorkerFraming, RequestAtTheWorker) {
  auto request = sampleRequest();
  zmq::message_t body(request.data(), request.size());
  Multipart frames = makeWorkerRequest("worker-1", 77, 1234, body);
  EXPECT_EQ(frames[0].to_string(), "worker-1");
  frames.erase(frames.begin());  // the ROUTER strips the identity
  auto parsed = parseBrokerMessage(std::move(frames));
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  EXPECT_EQ(parsed->command, WorkerCommand::kRequest);
  EXPECT_EQ(parsed->token, 77u);
  EXPECT_EQ(parsed->queue_us, 1234);
  EXPECT_EQ(parsed->request->id(), 42u);

  Multipart heartbeat = makeBrokerCommand("worker-1", WorkerCommand::kHeartbeat);
  heartbeat.erase(heartbeat.begin());
  auto parsed_heartbeat = parseBrokerMessage(std::move(heartbeat));
  ASSERT_TRUE(parsed_heartbeat.ok());
  EXPECT_EQ(parsed_heartbeat->command, WorkerCommand::kHeartbeat);

  Multipart truncated = makeWorkerRequest("w", 1, 0, body);
  truncated.erase(truncated.begin());
  truncated.pop_back();
  EXPECT_FALSE(parseBrokerMessage(std::move(truncated)).ok());
}

TEST(Integers, LittleEndianRoundTrip) {
  uint64_t value = 0;
  EXPECT_TRUE(decodeU64(encodeU64(0xdeadbeefcafef00dull), &value));
  EXPECT_EQ(value, 0xdeadbeefcafef00dull);
  EXPECT_EQ(*encodeU64(1).data<uint8_t>(), 1);
  EXPECT_FALSE(decodeU64(zmq::message_t(4), &value));
}

}  // namespace
}  // namespace framewire::protocol
