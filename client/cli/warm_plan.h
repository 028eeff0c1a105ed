// What `framewire warm` asks for: the frames of a START:STOP:STEP range, cut into batches
// that stay under the worker's limits. Stateless functions, apart from the command so unit
// tests reach them; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "framewire/client.h"
#include "framewire/movie_info.h"

namespace framewire::cli {

// A Python-like slice of frame indices: START:STOP:STEP, STOP exclusive; any part may be left
// out (START 0, STOP the end, STEP 1), so "" and ":" mean every frame, "100:" from 100 on,
// "::25" every 25th, and a lone "N" means frame N. Negative numbers and a step of 0 are
// refused (INVALID_ARGUMENT).
struct FrameRange {
  int64_t start = 0;
  int64_t stop = -1;  // -1: the movie's end
  int64_t step = 1;
};
Result<FrameRange> parseFrameRange(const std::string& text);

// The range's frames in a movie of `num_frames` frames.
std::vector<int64_t> framesOf(const FrameRange& range, int64_t num_frames);

// About how many payload bytes one frame of `info` costs with `options` (an upper bound for
// encoded images), to size batches.
uint64_t estimatedFrameBytes(const MovieInfo& info, const FrameOptions& options);

// Frames per request: as many as fit in `max_batch_bytes`, at least 1 and at most
// `max_frames` (the worker's --max-frames-per-request).
size_t framesPerBatch(uint64_t frame_bytes, uint64_t max_batch_bytes, size_t max_frames = 10000);

}  // namespace framewire::cli
