// WorkerReply: what a worker sends back for one request, before it becomes ZeroMQ parts.
//
// The header is a finished FlatBuffers `Reply`; each payload part is a view into a buffer
// that someone else owns (a decoder's AVBufferRef, a conversion buffer, a cache entry),
// kept alive by `owner`. The worker loop turns each part into a zero-copy zmq::message_t
// (common/zero_copy.h), so pixel bytes are never copied between decoder and socket.
// A WorkerReply is a plain value: build it on one thread, hand it to another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <flatbuffers/flatbuffers.h>

namespace framewire {

struct PayloadPart {
  std::shared_ptr<const void> owner;  // keeps [data, data + size) alive
  const uint8_t* data = nullptr;
  size_t size = 0;
};

struct WorkerReply {
  flatbuffers::DetachedBuffer header;  // a framewire.proto.Reply
  std::vector<PayloadPart> payload;    // referred to by the header's planes (Plane.part)
};

}  // namespace framewire
