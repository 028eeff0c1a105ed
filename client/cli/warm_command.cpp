// framewire warm MOVIE --frames START:STOP:STEP: fills the server's frame caches ahead of time
// by fetching those frames (in the output format later reads will use: the caches are keyed by
// it) in batches that respect the worker's limits, with a progress bar on a terminal.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "client/cli/commands.h"
#include "client/cli/get_options.h"
#include "client/cli/progress_bar.h"
#include "client/cli/server_options.h"
#include "client/cli/warm_plan.h"

namespace framewire::cli {
namespace {

constexpr uint64_t kMaxBatchBytes = uint64_t(64) << 20;  // per reply: little memory on both sides

// The worker refused the batch as too big (PROTOCOL.md: limits): worth retrying smaller.
bool overLimit(const Status& status) {
  return status.code() == StatusCode::kInvalidArgument &&
         (status.message().find("limit") != std::string::npos || status.message().find("at most") != std::string::npos);
}

}  // namespace

int runWarmCommand(int argc, char** argv) {
  ServerOptions server;
  std::string movie, frames_text;
  FrameOptions options;
  int64_t batch = 0;
  OutputFlags output_flags;
  ArgParser args("framewire warm",
                 "Fills the server's frame caches with frames of a movie ahead of time, so later reads of\n"
                 "them are cache hits. Use the output options later reads will use: the caches keep\n"
                 "each format, encoding, crop and size apart.");
  server.addTo(args);
  args.option("--frames", "START:STOP:STEP", "frames to warm, STOP exclusive (default: every frame)", &frames_text);
  args.option("--format", "F", "pixel format: native, rgb24 (default), rgba, bgr24, gray8, gray16", &options.format);
  args.option("--encoding", "E", "raw (default), png, jpeg or bmp", &options.encoding);
  args.option("--quality", "Q", "jpeg quality 1..100 (default: the server's)", &output_flags.quality);
  args.option("--crop", "X,Y,W,H", "crop rectangle in pixels, applied before resizing", &output_flags.crop);
  args.option("--width", "W", "output width", &output_flags.width);
  args.option("--height", "H", "output height", &output_flags.height);
  args.option("--batch", "N", "frames per request (default: as many as fit in 64 MiB)", &batch);
  args.positional("MOVIE", "movie path relative to the server's roots", &movie);
  args.epilog(
      "Progress goes to standard error as a bar when it is a terminal; a summary line goes to\n"
      "standard output. Frames already cached are counted as such and cost little.\n\n"
      "Examples:\n"
      "  framewire warm a/b.mov                       # every frame, rgb24\n"
      "  framewire warm a/b.mov --frames 0:25000:100  # every 100th frame\n"
      "  framewire warm a/b.mov --frames 5000:6000 --format gray8 --width 480");
  if (auto exit_code = args.parse(argc, argv)) return *exit_code;
  if (auto problem = server.validate(); !problem.empty()) return reportUsageError("warm", problem);
  Result<FrameRange> range = parseFrameRange(frames_text);
  if (!range.ok()) return reportUsageError("warm", range.status().message());
  if (Status applied = applyOutputFlags(output_flags, &options); !applied.isOk()) {
    return reportUsageError("warm", applied.message());
  }
  if (batch < 0) return reportUsageError("warm", "--batch must be positive");

  Client client = server.makeClient();
  Result<MovieInfo> info = client.info(movie);
  if (!info.ok()) return reportFailure(info.status());
  const std::vector<int64_t> frames = framesOf(*range, info->numFrames);
  size_t per_batch = batch > 0 ? static_cast<size_t>(batch)
                               : framesPerBatch(estimatedFrameBytes(*info, options), kMaxBatchBytes);

  const auto start = std::chrono::steady_clock::now();
  ProgressBar bar(stderr, isatty(STDERR_FILENO) != 0, frames.size(), "frames");
  uint64_t decoded = 0, from_memory = 0, from_disk = 0;
  size_t done = 0;
  while (done < frames.size()) {
    const size_t count = std::min(per_batch, frames.size() - done);
    const std::vector<int64_t> wanted(frames.begin() + done, frames.begin() + done + count);
    Result<std::vector<Frame>> got = client.getFrames(movie, wanted, options);
    if (!got.ok() && overLimit(got.status()) && per_batch > 1) {
      per_batch = std::max<size_t>(1, count / 2);  // the worker's limits are lower: smaller batches
      continue;
    }
    if (!got.ok()) {
      bar.finish();
      std::fprintf(stderr, "framewire warm: %zu of %zu frames warmed before a request failed\n", done, frames.size());
      return reportFailure(got.status());
    }
    for (const Frame& frame : *got) {
      switch (frame.cached()) {
        case CacheTier::kNone: ++decoded; break;
        case CacheTier::kMemory: ++from_memory; break;
        case CacheTier::kDisk: ++from_disk; break;
      }
    }
    done += count;
    bar.update(done);
  }
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("warmed %zu frames of %s in %.1f s (%.1f frames/s): %llu decoded, %llu already in memory, %llu from disk\n",
              frames.size(), movie.c_str(), seconds, seconds > 0 ? frames.size() / seconds : 0.0,
              static_cast<unsigned long long>(decoded), static_cast<unsigned long long>(from_memory),
              static_cast<unsigned long long>(from_disk));
  return kExitOk;
}

}  // namespace framewire::cli
