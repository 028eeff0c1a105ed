#include "client/cli/warm_plan.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace framewire::cli {
namespace {

// A non-negative decimal integer, or `fallback` when `text` is empty.
bool parsePart(const std::string& text, int64_t fallback, int64_t* out) {
  if (text.empty()) {
    *out = fallback;
    return true;
  }
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), nullptr, 10);
  if (errno != 0) return false;
  *out = v;
  return true;
}

}  // namespace

Result<FrameRange> parseFrameRange(const std::string& text) {
  const Status bad = Status::invalidArgument("--frames must be START:STOP:STEP (e.g. 0:1000:10, 500:, ::25), not '" +
                                             text + "'");
  std::vector<std::string> parts(1);
  for (char c : text) {
    if (c == ':') {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  if (parts.size() > 3) return bad;
  FrameRange range;
  if (parts.size() == 1 && !parts[0].empty()) {  // "N": that frame alone
    if (!parsePart(parts[0], 0, &range.start)) return bad;
    range.stop = range.start + 1;
    return range;
  }
  if (!parsePart(parts[0], 0, &range.start)) return bad;
  if (parts.size() >= 2 && !parsePart(parts[1], -1, &range.stop)) return bad;
  if (parts.size() == 3 && !parsePart(parts[2], 1, &range.step)) return bad;
  if (range.step <= 0) return Status::invalidArgument("--frames: the step must be at least 1");
  return range;
}

std::vector<int64_t> framesOf(const FrameRange& range, int64_t num_frames) {
  const int64_t stop = range.stop < 0 ? num_frames : std::min(range.stop, num_frames);
  std::vector<int64_t> frames;
  for (int64_t n = range.start; n < stop; n += range.step) frames.push_back(n);
  return frames;
}

uint64_t estimatedFrameBytes(const MovieInfo& info, const FrameOptions& options) {
  int64_t width = info.width, height = info.height;
  if (options.crop) {
    width = options.crop->width;
    height = options.crop->height;
  }
  if (options.width > 0 && options.height > 0) {
    width = options.width;
    height = options.height;
  } else if (options.width > 0 && width > 0) {
    height = std::max<int64_t>(1, height * options.width / width);
    width = options.width;
  } else if (options.height > 0 && height > 0) {
    width = std::max<int64_t>(1, width * options.height / height);
    height = options.height;
  }
  const std::string format = options.format.empty() ? "rgb24" : options.format;
  uint64_t per_pixel = 3;
  if (format == "rgba") per_pixel = 4;
  else if (format == "gray8") per_pixel = 1;
  else if (format == "gray16") per_pixel = 2;
  else if (format == "native") per_pixel = info.bitDepth > 8 ? 8 : 4;  // up to 4:4:4:4, generous
  return std::max<uint64_t>(1, uint64_t(std::max<int64_t>(width, 1)) * uint64_t(std::max<int64_t>(height, 1)) * per_pixel);
}

size_t framesPerBatch(uint64_t frame_bytes, uint64_t max_batch_bytes, size_t max_frames) {
  const uint64_t fit = max_batch_bytes / std::max<uint64_t>(frame_bytes, 1);
  return static_cast<size_t>(std::clamp<uint64_t>(fit, 1, std::max<size_t>(max_frames, 1)));
}

}  // namespace framewire::cli
