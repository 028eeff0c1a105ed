// framewire get MOVIE N|--time SECONDS -o FILE: fetches one frame and writes it as PNG, JPEG, BMP or raw
// bytes (planes without row padding, the layout of `ffmpeg -f rawvideo`), then prints the
// frame's header and per-stage timings.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "client/cli/commands.h"
#include "client/cli/get_options.h"
#include "client/cli/server_options.h"

namespace framewire::cli {
namespace {

double ms(int64_t microseconds) { return microseconds / 1000.0; }

// The frame's own stage times when the worker gave them, else the request's totals; the queue
// time is the broker's, which only the request totals may carry.
StageTimings stageTimings(const Frame& frame) {
  StageTimings timings = frame.timings().totalUs > 0 ? frame.timings() : frame.requestTimings();
  timings.queueUs = std::max(frame.timings().queueUs, frame.requestTimings().queueUs);
  return timings;
}

void printSummary(FILE* out, const std::string& movie, const Frame& frame, double round_trip_ms) {
  // "yuv422p10le (native)": the pixels sent, and the format asked for when it is not their name.
  std::string pixels = frame.pixelFormat();
  if (!frame.format().empty() && frame.format() != frame.pixelFormat()) pixels += " (" + frame.format() + ")";
  std::fprintf(out, "frame %" PRId64 " of %s: pts %" PRId64 ", time %.6g s, keyframe %s, %dx%d %s, encoding %s, %" PRIu64 " bytes",
               frame.index(), movie.c_str(), frame.pts(), frame.time(), frame.keyframe() ? "yes" : "no",
               frame.width(), frame.height(), pixels.c_str(), frame.encoding().c_str(), frame.size());
  if (frame.cached() != CacheTier::kNone) std::fprintf(out, ", cached (%s)", frame.cached() == CacheTier::kMemory ? "memory" : "disk");
  if (!frame.worker().empty()) std::fprintf(out, ", worker %s", frame.worker().c_str());
  std::fprintf(out, "\n");
  const StageTimings t = stageTimings(frame);
  std::fprintf(out,
               "timings (ms): queue %.2f, read %.2f, decode %.2f, convert %.2f, encode %.2f, worker total %.2f, "
               "round trip %.2f\n",
               ms(t.queueUs), ms(t.readUs), ms(t.decodeUs), ms(t.convertUs), ms(t.encodeUs), ms(t.totalUs),
               round_trip_ms);
}

// Writes the image file (encoded frames) or every plane's rows without padding (raw frames)
// straight from the received message, without an intermediate copy.
Status writeFrame(const Frame& frame, const std::string& path) {
  const bool to_stdout = path == "-";
  FILE* file = to_stdout ? stdout : std::fopen(path.c_str(), "wb");
  if (!file) return Status::internal("cannot open " + path + " for writing: " + std::strerror(errno));
  bool written = true;
  if (frame.isEncoded()) {
    written = std::fwrite(frame.encodedData(), 1, frame.encodedSize(), file) == frame.encodedSize();
  } else {
    for (const FramePlane& plane : frame.planes()) {
      for (size_t r = 0; r < plane.rows && written; ++r) {
        written = std::fwrite(plane.row(r), 1, plane.rowBytes, file) == plane.rowBytes;
      }
    }
  }
  const int error = errno;
  const bool closed = to_stdout ? std::fflush(file) == 0 : std::fclose(file) == 0;
  if (!written || !closed) return Status::internal("cannot write " + path + ": " + std::strerror(error));
  return Status::ok();
}

}  // namespace

int runGetCommand(int argc, char** argv) {
  ServerOptions server;
  std::string movie, index_text, output, time_text;
  FrameOptions options;
  OutputFlags output_flags;
  ArgParser args("framewire get", "Fetches one frame and writes it as an image or raw pixels.");
  server.addTo(args);
  args.option("-o", "FILE",
              "output file: .png, .jpg/.jpeg, .bmp (encoded by the server) or .raw (planes without "
              "padding, as ffmpeg -f rawvideo); '-' for stdout; none: print the header only",
              &output);
  args.option("--format", "F", "pixel format: native, rgb24 (default), rgba, bgr24, gray8, gray16", &options.format);
  args.option("--encoding", "E", "raw, png, jpeg or bmp (default: from the output name)", &options.encoding);
  args.option("--quality", "Q", "jpeg quality 1..100 (default: the server's)", &output_flags.quality);
  args.option("--crop", "X,Y,W,H", "crop rectangle in pixels, applied before resizing", &output_flags.crop);
  args.option("--width", "W", "output width (0 or unset: keep; one of width/height unset keeps the aspect)", &output_flags.width);
  args.option("--height", "H", "output height", &output_flags.height);
  args.positional("MOVIE", "movie path relative to the server's roots", &movie);
  args.option("--time", "SECONDS",
              "instead of N: the frame displayed at this time, in seconds from the first frame", &time_text);
  args.positional("N", "frame index, 0-based, in presentation order (or give --time)", &index_text,
                  /*required=*/false);
  args.epilog(
      "Examples:\n"
      "  framewire get a/b.mov 100 -o frame100.png\n"
      "  framewire get a/b.mov 100 --format native -o frame100.raw\n"
      "  framewire get a/b.mov --time 12.5 -o at12.5s.png\n"
      "  framewire get a/b.mov 100 --crop 0,0,640,360 --width 320 -o thumb.jpg --quality 85");
  if (auto exit_code = args.parse(argc, argv)) return *exit_code;
  if (auto problem = server.validate(); !problem.empty()) return reportUsageError("get", problem);

  if (index_text.empty() == time_text.empty()) {
    return reportUsageError("get", "give either a frame index N or --time SECONDS");
  }
  Result<int64_t> index = int64_t(0);
  Result<double> seconds = 0.0;
  if (!index_text.empty()) index = parseFrameIndex(index_text);
  if (!index.ok()) return reportUsageError("get", index.status().message());
  if (!time_text.empty()) seconds = parseFrameTime(time_text);
  if (!seconds.ok()) return reportUsageError("get", seconds.status().message());
  Result<std::string> encoding = chooseEncoding(output, options.encoding);
  if (!encoding.ok()) return reportUsageError("get", encoding.status().message());
  options.encoding = *encoding;
  if (Status applied = applyOutputFlags(output_flags, &options); !applied.isOk()) {
    return reportUsageError("get", applied.message());
  }

  Client client = server.makeClient();
  const auto start = std::chrono::steady_clock::now();
  Result<Frame> frame = time_text.empty() ? client.getFrame(movie, *index, options)
                                          : client.getFrameAt(movie, *seconds, options);
  const double round_trip_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!frame.ok()) return reportFailure(frame.status());

  // With the pixels on stdout, the summary goes to stderr.
  FILE* summary = output == "-" ? stderr : stdout;
  printSummary(summary, movie, *frame, round_trip_ms);
  if (!output.empty()) {
    if (Status written = writeFrame(*frame, output); !written.isOk()) {
      // A local failure, not the server's: the message alone says it.
      std::fprintf(stderr, "framewire: %s\n", written.message().c_str());
      return kExitFailed;
    }
    if (output != "-") std::fprintf(summary, "wrote %s (%zu bytes)\n", output.c_str(), frame->packedSize());
  }
  return kExitOk;
}

}  // namespace framewire::cli
