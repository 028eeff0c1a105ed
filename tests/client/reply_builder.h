// Hand-built framewire replies for the client unit tests: a Reply header with frames whose
// planes point wherever a test wants, so the decoder can be checked without a server.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/protocol.h"

namespace framewire::testing {

struct PlaneSpec {
  uint32_t part = 0;
  uint64_t offset = 0;
  uint32_t stride = 0;
  uint32_t row_bytes = 0;
  uint32_t rows = 0;
};

struct FrameSpec {
  int64_t index = 0;
  int64_t pts = 0;
  double time = 0;
  bool keyframe = false;
  int width = 0;
  int height = 0;
  std::string format = "rgb24";
  std::string pixel_format = "rgb24";
  std::string encoding = "raw";
  uint8_t sample_bytes = 1;
  uint64_t size = 0;
  std::vector<PlaneSpec> planes;
  int64_t decode_us = 0;
};

// A FRAMES reply header: status OK unless given, one FrameHeader per spec.
// `more` and `position` make it one message of a streamed reply (PROTOCOL.md 3); `totals` are
// the request's Reply.timings (queue_us, total_us).
inline flatbuffers::DetachedBuffer buildFramesReply(uint64_t id, const std::vector<FrameSpec>& specs,
                                                    proto::StatusCode status = proto::StatusCode::OK,
                                                    const std::string& message = "",
                                                    const std::string& worker = "test-worker",
                                                    bool more = false, uint32_t position = 0,
                                                    std::pair<int64_t, int64_t> totals_us = {123, 456}) {
  flatbuffers::FlatBufferBuilder builder(1024);
  std::vector<flatbuffers::Offset<proto::FrameHeader>> headers;
  for (const FrameSpec& spec : specs) {
    std::vector<proto::Plane> planes;
    for (const PlaneSpec& p : spec.planes) planes.emplace_back(p.part, p.offset, p.stride, p.row_bytes, p.rows);
    const proto::Timings timings(0, 0, spec.decode_us, 0, 0, spec.decode_us);
    headers.push_back(proto::CreateFrameHeaderDirect(
        builder, spec.index, spec.pts, spec.time, spec.keyframe, spec.width, spec.height, spec.format.c_str(),
        spec.pixel_format.c_str(), spec.encoding.c_str(), spec.sample_bytes, &planes, spec.size,
        proto::CacheTier::NONE, &timings));
  }
  const proto::Timings totals(totals_us.first, 0, 0, 0, 0, totals_us.second);
  auto reply = proto::CreateReplyDirect(builder, id, status, message.c_str(), 0, &headers, nullptr, nullptr,
                                        &totals, worker.c_str(), more, position);
  builder.Finish(reply);
  return builder.Release();
}

inline zmq::message_t toMessage(const flatbuffers::DetachedBuffer& buffer) {
  return zmq::message_t(buffer.data(), buffer.size());
}

inline zmq::message_t toMessage(const std::vector<uint8_t>& bytes) {
  return zmq::message_t(bytes.data(), bytes.size());
}

// What a DEALER client receives: [""]["FWC01"][header][payload...], through the real parser.
inline protocol::ClientReply receivedReply(const flatbuffers::DetachedBuffer& header,
                                           const std::vector<std::vector<uint8_t>>& payload) {
  protocol::Multipart frames;
  frames.emplace_back();
  frames.emplace_back(protocol::kClientProtocol.data(), protocol::kClientProtocol.size());
  frames.push_back(toMessage(header));
  for (const auto& part : payload) frames.push_back(toMessage(part));
  Result<protocol::ClientReply> parsed = protocol::parseClientReply(std::move(frames));
  return std::move(parsed).value();
}

}  // namespace framewire::testing
