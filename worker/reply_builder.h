// Building the FlatBuffers reply headers (and payload lists) the request handler sends back.
//
// Every reply carries the request id, status, message, worker name and timings. FRAMES replies
// list one FrameHeader per requested frame in request order; frames requested more than once
// share their payload parts (their planes name the same parts).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/index/movie_index.h"
#include "worker/source/movie_path.h"
#include "worker/output/output_image.h"
#include "worker/output/output_spec.h"
#include "worker/shared_memory.h"
#include "worker/stage_timings.h"
#include "worker/worker_reply.h"

namespace framewire {

struct ReplyContext {
  uint64_t request_id = 0;
  std::string worker;
  int64_t queue_us = 0;
  StageTimings stages;   // summed over the request
  int64_t total_us = 0;  // the whole request inside the worker
};

// One decoded and converted frame, as it goes into a FrameHeader.
struct FrameOutput {
  int64_t index = 0;
  int64_t pts = 0;
  double time = 0;  // seconds from the first frame (MovieIndex::secondsFromStart)
  bool keyframe = false;
  OutputImage image;
  StageTimings stages;
  int64_t total_us = 0;
  proto::CacheTier cached = proto::CacheTier::NONE;  // decoded now, or served by a cache tier
  // The image's bytes are good for this request only (they lie in its client's shared memory,
  // which the client may reuse after the reply): never kept in a cache or given to another
  // request. See FrameStore::Decode.
  bool borrowed = false;
};

flatbuffers::DetachedBuffer buildErrorReply(const ReplyContext& context, const Status& status);

flatbuffers::DetachedBuffer buildInfoReply(const ReplyContext& context, const std::string& movie,
                                           const MovieIndex& index);

flatbuffers::DetachedBuffer buildListReply(const ReplyContext& context,
                                           const std::vector<FolderEntry>& entries);

// STATS: the worker's statistics as a JSON document in Reply.stats_json.
flatbuffers::DetachedBuffer buildStatsReply(const ReplyContext& context, const std::string& stats_json);

// Where a FRAMES message sits in a streamed reply (PROTOCOL.md 3): the request position of its
// first frame, and whether more messages follow. The default is a whole reply.
struct ReplyRun {
  uint32_t position = 0;
  bool more = false;
  // The request's distinct frame behind frames[f] (empty: f), by which `shared` places it.
  std::vector<size_t> frame_ids;
};

// `frames` holds each distinct frame once; `order[i]` is the position in `frames` of the i-th
// frame of the reply. With an active `shared` placement the payload parts go into the client's
// shared memory where they fit (in order of first position, so that placement is the same on
// any worker) and the message carries Reply.shared_parts and empty parts in their stead.
WorkerReply buildFramesReply(const ReplyContext& context, const OutputSpec& spec,
                             const std::vector<FrameOutput>& frames,
                             const std::vector<size_t>& order, const ReplyRun& run = {},
                             SharedPlacement* shared = nullptr);

}  // namespace framewire
