#include "common/zero_copy.h"

namespace framewire {

zmq::message_t messageOverSharedBuffer(std::shared_ptr<const void> owner, const void* data,
                                       size_t size) {
  if (size == 0) return zmq::message_t();
  auto* hint = new std::shared_ptr<const void>(std::move(owner));
  return zmq::message_t(
      const_cast<void*>(data), size,
      [](void*, void* h) { delete static_cast<std::shared_ptr<const void>*>(h); }, hint);
}

zmq::message_t messageOverFlatBuffer(flatbuffers::DetachedBuffer buffer) {
  auto* owned = new flatbuffers::DetachedBuffer(std::move(buffer));
  return zmq::message_t(
      owned->data(), owned->size(),
      [](void*, void* h) { delete static_cast<flatbuffers::DetachedBuffer*>(h); }, owned);
}

}  // namespace framewire
