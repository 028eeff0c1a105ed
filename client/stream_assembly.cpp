#include "client/stream_assembly.h"

#include <utility>

#include "client/reply_decoding.h"

namespace framewire::client_internal {

StreamAssembly::StreamAssembly(size_t count, std::vector<int64_t> requested, bool streamed)
    : slots_(count), requested_(std::move(requested)), streamed_(streamed) {}

Status StreamAssembly::add(protocol::ClientReply&& message) {
  if (done_) return Status::internal("a message of a FRAMES reply arrived after its last one");
  ++messages_;
  FW_ASSIGN_OR_RETURN(DecodedFrames decoded, decodeFrameFields(std::move(message)));
  const bool more = decoded.header->more();
  const size_t position = decoded.header->position();
  if (more && !streamed_) {
    return Status::internal("the server streamed the reply to a request that did not ask for it");
  }
  const size_t count = decoded.frames.size();
  if (position > slots_.size() || count > slots_.size() - position) {
    return Status::internal("a reply message carries request positions " + std::to_string(position) + ".." +
                            std::to_string(position + count) + " (exclusive); the request has " +
                            std::to_string(slots_.size()) + " frames");
  }
  for (size_t k = 0; k < count; ++k) {
    const size_t slot = position + k;
    Frame::Fields& fields = decoded.frames[k];
    if (!requested_.empty() && fields.index != requested_[slot]) {
      return Status::internal("the server returned frame " + std::to_string(fields.index) + " where frame " +
                              std::to_string(requested_[slot]) + " was requested (position " +
                              std::to_string(slot) + ")");
    }
    // A repeated position (the request was dispatched again) overwrites the earlier copy.
    slots_[slot].filled = true;
    slots_[slot].fields = std::move(fields);
    slots_[slot].parts = decoded.parts;
  }
  if (!more) {
    done_ = true;
    request_timings_ = decoded.requestTimings;
  }
  return Status::ok();
}

std::vector<size_t> StreamAssembly::missing() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].filled) out.push_back(i);
  }
  return out;
}

Result<std::vector<Frame>> StreamAssembly::finish() {
  if (!done_) {
    return Status::internal("the FRAMES reply is incomplete: its last message has not arrived (" +
                            std::to_string(messages_) + " received)");
  }
  const std::vector<size_t> gaps = missing();
  if (!gaps.empty()) {
    return Status::internal("the FRAMES reply ended without request position(s) " + describePositions(gaps) +
                            " (" + std::to_string(gaps.size()) + " of " + std::to_string(slots_.size()) +
                            " frames missing, " + std::to_string(messages_) + " message(s))");
  }
  std::vector<Frame> frames;
  frames.reserve(slots_.size());
  for (Slot& slot : slots_) {
    slot.fields.requestTimings = request_timings_;
    frames.emplace_back(std::move(slot.fields), std::move(slot.parts));
  }
  slots_.clear();
  return frames;
}

std::string describePositions(const std::vector<size_t>& positions) {
  std::string out;
  for (size_t i = 0; i < positions.size();) {
    size_t j = i;
    while (j + 1 < positions.size() && positions[j + 1] == positions[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(positions[i]);
    if (j > i) out += "-" + std::to_string(positions[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace framewire::client_internal
