#include "worker/frame_stream.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace framewire {

uint64_t streamChunkBytes(uint64_t estimated_bytes, uint64_t min_chunk_bytes, size_t max_messages) {
  // max_messages - 1 PARTIALs of this size leave room for the rest in the final message.
  const uint64_t parts = std::max<uint64_t>(max_messages > 1 ? max_messages - 1 : 1, 1);
  return std::max(min_chunk_bytes, (estimated_bytes + parts - 1) / parts);
}

FrameStream::FrameStream(std::vector<size_t> order, size_t distinct_count, const OutputSpec& spec,
                         ReplyContext context, FrameStreamLimits limits, Send send, SharedPlacement* shared)
    : order_(std::move(order)),
      spec_(spec),
      context_(std::move(context)),
      limits_(limits),
      send_(std::move(send)),
      shared_(shared),
      outputs_(distinct_count),
      last_position_(distinct_count, 0) {
  for (size_t i = 0; i < order_.size(); ++i) last_position_.at(order_[i]) = i;
}

void FrameStream::ready(size_t distinct, FrameOutput output) {
  outputs_.at(distinct) = std::move(output);
  while (ready_end_ < order_.size() && outputs_[order_[ready_end_]]) {
    ready_bytes_ += outputs_[order_[ready_end_]]->image.size;
    ++ready_end_;
  }
  // The final message always remains: never send the whole request as PARTIALs.
  const bool room = partials_sent_ + 1 < limits_.max_messages && ready_end_ < order_.size();
  if (!room || ready_end_ == sent_ || ready_bytes_ < limits_.chunk_bytes) return;
  ReplyContext run_context = context_;
  run_context.stages = {};
  run_context.total_us = 0;
  for (size_t i = sent_; i < ready_end_; ++i) {
    run_context.stages += outputs_[order_[i]]->stages;
    run_context.total_us += outputs_[order_[i]]->total_us;
  }
  send_(build(sent_, ready_end_, run_context, /*more=*/true));
  ++partials_sent_;
  for (size_t i = sent_; i < ready_end_; ++i) {
    if (last_position_[order_[i]] < ready_end_) outputs_[order_[i]].reset();
  }
  sent_ = ready_end_;
  ready_bytes_ = 0;
}

WorkerReply FrameStream::finish(const ReplyContext& context) {
  for (size_t i = sent_; i < order_.size(); ++i) {
    if (!outputs_[order_[i]]) throw std::logic_error("FrameStream::finish before every frame was ready");
  }
  return build(sent_, order_.size(), context, /*more=*/false);
}

WorkerReply FrameStream::build(size_t begin, size_t end, const ReplyContext& context, bool more) const {
  // The run's distinct frames, each once, in order of first use.
  std::vector<FrameOutput> frames;
  std::vector<size_t> order;
  ReplyRun run{static_cast<uint32_t>(begin), more, {}};
  std::vector<size_t> slot(outputs_.size(), SIZE_MAX);
  order.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    const size_t distinct = order_[i];
    if (slot[distinct] == SIZE_MAX) {
      slot[distinct] = frames.size();
      frames.push_back(*outputs_[distinct]);
      run.frame_ids.push_back(distinct);
    }
    order.push_back(slot[distinct]);
  }
  return buildFramesReply(context, spec_, frames, order, run, shared_);
}

}  // namespace framewire
