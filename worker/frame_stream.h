// FrameStream: splits a streamed FRAMES reply into messages (PROTOCOL.md 3, "Streamed FRAMES
// replies") while its frames are being produced.
//
// A request's frames are produced in presentation order, one distinct frame at a time; the
// reply lists them in request order. Each time a frame is ready, the run of request positions
// that are ready from the first unsent one on grows; once that run holds `chunk_bytes`, it goes
// out as one PARTIAL message (Reply.more = true, Reply.position = its first position). The last
// message, built by finish(), carries whatever was not sent. So a consecutive batch leaves in
// runs of frames while later frames decode, a shuffled batch mostly at the end, and a batch
// under `chunk_bytes` in one message. At most `max_messages` messages are sent in all: the
// last PARTIAL allowed is followed only by the final message.
//
// Why a run size in bytes: a message costs a broker hop and a header (small), and the first
// frames should leave early; but a client reading many small frames must not get thousands of
// messages (its socket's high-water mark counts messages).
//
// The frames' pixels are not copied: messages share the frames' payload buffers, and a frame
// requested at positions in two messages is referred to by both.
//
// Thread-safety: none; used by the thread that produces the request's frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "worker/output/output_spec.h"
#include "worker/reply_builder.h"
#include "worker/worker_reply.h"

namespace framewire {

struct FrameStreamLimits {
  uint64_t chunk_bytes = uint64_t(8) << 20;  // a PARTIAL leaves once its run holds this much
  size_t max_messages = 16;                  // PARTIALs + the final message
};

// The run size for a reply of about `estimated_bytes`: at least `min_chunk_bytes`, and large
// enough that the whole reply fits in `max_messages`.
uint64_t streamChunkBytes(uint64_t estimated_bytes, uint64_t min_chunk_bytes, size_t max_messages);

class FrameStream {
 public:
  using Send = std::function<void(WorkerReply partial)>;

  // `order[i]`: the distinct frame (0..distinct_count-1) at request position i. `context`
  // fills the PARTIALs' headers (id, worker, queue time; their timings are the run's own).
  // `shared` (may be null) places the pixels in the client's shared memory (reply_builder.h).
  FrameStream(std::vector<size_t> order, size_t distinct_count, const OutputSpec& spec, ReplyContext context,
              FrameStreamLimits limits, Send send, SharedPlacement* shared = nullptr);

  // Distinct frame `distinct` is ready: may send a PARTIAL. Outputs no later position needs
  // are let go once sent, so their buffers can be reused while the request goes on.
  void ready(size_t distinct, FrameOutput output);

  // The final message: the frames not sent yet, with `context` (the request's totals). Every
  // distinct frame must have been ready.
  WorkerReply finish(const ReplyContext& context);

  size_t messagesSent() const { return partials_sent_; }

 private:
  // A reply over request positions [begin, end).
  WorkerReply build(size_t begin, size_t end, const ReplyContext& context, bool more) const;

  const std::vector<size_t> order_;
  const OutputSpec spec_;
  const ReplyContext context_;
  const FrameStreamLimits limits_;
  const Send send_;
  SharedPlacement* const shared_;
  std::vector<std::optional<FrameOutput>> outputs_;  // by distinct frame
  std::vector<size_t> last_position_;                // by distinct frame: its last request position
  size_t sent_ = 0;          // positions [0, sent_) went out
  size_t ready_end_ = 0;     // positions [sent_, ready_end_) are ready
  uint64_t ready_bytes_ = 0; // their payload bytes
  size_t partials_sent_ = 0;
};

}  // namespace framewire
