// StreamAssembly: puts the messages of one FRAMES reply back into request order.
//
// A FRAMES request with Request.stream may be answered in several messages (PROTOCOL.md 3,
// "Streamed FRAMES replies"): each carries a run of the request's frames starting at request
// position Reply.position, and Reply.more is true on all but the last. A request whose worker
// died is streamed again from position 0 by another worker, so a repeated position overwrites
// the earlier copy. A reply that is not streamed is the same thing in one message at position 0.
//
// The client feeds every message answering one attempt to add() until done(), then takes the
// frames from finish(). Each Frame keeps its own message's parts alive (its planes point into
// them, without a copy). No sockets: unit tests drive it with hand-built messages.
//
// Thread-safety: none; one assembly belongs to one call on one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"
#include "framewire/frame.h"

namespace framewire::client_internal {

class StreamAssembly {
 public:
  // `count` frames are expected. `requested`: the requested indices (Request.frames), checked
  // against each frame's index at its position; empty for requests by time, where the server
  // picks the frames. `streamed`: the request asked for a streamed reply; a message saying
  // `more` to a request that did not is a protocol error.
  StreamAssembly(size_t count, std::vector<int64_t> requested, bool streamed);

  // Places one message's frames. An error status in the message is returned as is (it ends
  // the call, and the frames received before it do not matter); a message that does not fit
  // the request (positions past its end, another frame than the one requested, a message
  // after the last) is INTERNAL.
  Status add(protocol::ClientReply&& message);

  // True once the last message (more = false) has been added.
  bool done() const { return done_; }
  int messages() const { return messages_; }
  // Request positions no message has filled.
  std::vector<size_t> missing() const;

  // The frames in request order, with the request's totals (Reply.timings of the last
  // message) as their requestTimings. INTERNAL, naming the positions, when the last message
  // came and a position is still empty; INTERNAL before the last message. Call once.
  Result<std::vector<Frame>> finish();

 private:
  struct Slot {
    bool filled = false;
    Frame::Fields fields;
    std::shared_ptr<const void> parts;  // the message the frame came in
  };

  std::vector<Slot> slots_;
  std::vector<int64_t> requested_;
  bool streamed_;
  bool done_ = false;
  int messages_ = 0;
  StageTimings request_timings_;
};

// "0-2, 5, 7-8" for positions {0, 1, 2, 5, 7, 8} (sorted).
std::string describePositions(const std::vector<size_t>& positions);

}  // namespace framewire::client_internal
