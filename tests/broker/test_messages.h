// Builders for the messages the broker tests feed to the Scheduler and to the broker loop.
// They go through the real codec (common/protocol.h) so the tests see what the wire carries.
#pragma once

#include <cstdint>
#include <string>

#include <zmq.hpp>

#include "common/protocol.h"
#include "common/zero_copy.h"

namespace framewire::testing {

// A FRAMES request for frame 0 of "some/movie.mov".
inline flatbuffers::DetachedBuffer makeRequest(uint64_t id, uint32_t timeout_ms = 0) {
  flatbuffers::FlatBufferBuilder builder(256);
  auto movie = builder.CreateString("some/movie.mov");
  auto frames = builder.CreateVector(std::vector<int64_t>{0});
  auto format = builder.CreateString("rgb24");
  proto::RequestBuilder request(builder);
  request.add_id(id);
  request.add_kind(proto::RequestKind::FRAMES);
  request.add_movie(movie);
  request.add_frames(frames);
  request.add_format(format);
  request.add_timeout_ms(timeout_ms);
  builder.Finish(request.Finish());
  return builder.Release();
}

// A header-only reply header with status OK (or another status) naming `worker`.
inline zmq::message_t makeReplyHeader(uint64_t request_id, const std::string& worker,
                                      const Status& status = Status::ok()) {
  return messageOverFlatBuffer(protocol::makeStatusReply(request_id, status, worker));
}

inline zmq::message_t textFrame(const std::string& text) { return zmq::message_t(text.data(), text.size()); }

}  // namespace framewire::testing
