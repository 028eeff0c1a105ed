// Zero-copy ZeroMQ messages over buffers that other code owns.
//
// zmq::message_t(data, size, free_fn, hint) makes ZeroMQ send `data` in place and call
// free_fn when the last reference to the message is gone (possibly on a ZeroMQ I/O thread).
// These helpers tie that callback to a std::shared_ptr, so a buffer (a decoder's AVBufferRef,
// a cache entry) lives exactly as long as some message still points into it.
#pragma once

#include <memory>

#include <flatbuffers/flatbuffers.h>
#include <zmq.hpp>

namespace framewire {

// A message over [data, data + size) that keeps `owner` alive until ZeroMQ is done with it.
zmq::message_t messageOverSharedBuffer(std::shared_ptr<const void> owner, const void* data,
                                       size_t size);

// A message over a finished FlatBuffers buffer, without copying it.
zmq::message_t messageOverFlatBuffer(flatbuffers::DetachedBuffer buffer);

}  // namespace framewire
