#include "worker/request_handler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>

#include "worker/decoder_pool.h"
#include "worker/ffmpeg_handles.h"
#include "worker/frame_converter.h"
#include "worker/image_encoder.h"
#include "worker/movie_catalog.h"
#include "worker/movie_index.h"
#include "worker/movie_path.h"
#include "worker/movie_reader.h"
#include "worker/object_pool.h"
#include "worker/output_spec.h"
#include "worker/reply_builder.h"
#include "worker/stage_timings.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace framewire {
namespace {

using Clock = std::chrono::steady_clock;

// Idle converters kept: one per concurrently handled request is plenty.
constexpr size_t kMaxIdleConverters = 16;

std::string frameRangeText(int64_t num_frames) {
  return num_frames > 0 ? "0.." + std::to_string(num_frames - 1) : "none";
}

std::string bytesText(uint64_t bytes) {
  const double mib = double(bytes) / (1024.0 * 1024.0);
  char text[64];
  std::snprintf(text, sizeof(text), "%llu bytes (%.1f MiB)", static_cast<unsigned long long>(bytes), mib);
  return text;
}

}  // namespace

class RequestHandler::Impl {
 public:
  explicit Impl(RequestHandlerConfig config)
      : config_(std::move(config)),
        roots_(config_.roots),
        catalog_(config_.max_movie_infos),
        pool_(config_.max_open_movies,
              [threads = config_.decoder_threads](std::shared_ptr<const MovieIndex> index) {
                return MovieReader::open(std::move(index), threads);
              }),
        converters_(kMaxIdleConverters, [threads = config_.convert_threads] {
          return std::make_unique<FrameConverter>(threads);
        }) {}

  WorkerReply handle(const proto::Request& request, int64_t queue_us, const std::string& worker) {
    const Clock::time_point start = Clock::now();
    ReplyContext context;
    context.request_id = request.id();
    context.worker = worker;
    context.queue_us = queue_us;
    Result<WorkerReply> reply = Status::internal("request not handled");
    try {
      reply = dispatch(request, &context, start);
    } catch (const std::exception& e) {
      reply = Status::internal(std::string("unexpected failure: ") + e.what());
    } catch (...) {
      reply = Status::internal("unexpected failure");
    }
    if (reply.ok()) return std::move(reply).value();
    context.total_us = microsecondsSince(start);
    WorkerReply error;
    error.header = buildErrorReply(context, reply.status());
    return error;
  }

 private:
  Result<WorkerReply> dispatch(const proto::Request& request, ReplyContext* context,
                               Clock::time_point start) {
    switch (request.kind()) {
      case proto::RequestKind::INFO: return info(request, context, start);
      case proto::RequestKind::FRAMES: return frames(request, context, start);
      case proto::RequestKind::LIST: return list(request, context, start);
      case proto::RequestKind::STATS:
        return Status::invalidArgument("STATS is not supported by this worker yet");
    }
    return Status::invalidArgument("unknown request kind " +
                                   std::to_string(static_cast<int>(request.kind())));
  }

  // Resolves the request's movie and gets its index (built, or from the catalog).
  Result<std::shared_ptr<const MovieIndex>> movieIndex(const proto::Request& request,
                                                       StageTimings* stages) {
    StageTimer timer(&stages->read_us);
    const std::string movie = request.movie() ? request.movie()->str() : "";
    FW_ASSIGN_OR_RETURN(std::string path, roots_.resolveMovie(movie));
    FW_ASSIGN_OR_RETURN(FileSignature signature, fileSignature(path));
    auto index = catalog_.get(path, signature);
    if (!index.ok()) return withMovie(request, index.status());
    return index;
  }

  Result<WorkerReply> info(const proto::Request& request, ReplyContext* context,
                           Clock::time_point start) {
    FW_ASSIGN_OR_RETURN(auto index, movieIndex(request, &context->stages));
    context->total_us = microsecondsSince(start);
    WorkerReply reply;
    reply.header = buildInfoReply(*context, request.movie()->str(), *index);
    return reply;
  }

  Result<WorkerReply> list(const proto::Request& request, ReplyContext* context,
                           Clock::time_point start) {
    std::vector<FolderEntry> entries;
    {
      StageTimer timer(&context->stages.read_us);
      const std::string folder = request.movie() ? request.movie()->str() : "";
      FW_ASSIGN_OR_RETURN(entries, roots_.listFolder(folder));
    }
    context->total_us = microsecondsSince(start);
    WorkerReply reply;
    reply.header = buildListReply(*context, entries);
    return reply;
  }

  // The requested frames, in request order: `frames` by index, then `times` by time.
  Result<std::vector<int64_t>> requestedFrames(const proto::Request& request,
                                               const MovieIndex& index) const {
    const size_t by_index = request.frames() ? request.frames()->size() : 0;
    const size_t by_time = request.times() ? request.times()->size() : 0;
    if (by_index + by_time == 0) {
      return Status::invalidArgument("FRAMES request without frames (or times)");
    }
    if (by_index + by_time > config_.max_frames_per_request) {
      return Status::invalidArgument("FRAMES request for " + std::to_string(by_index + by_time) +
                                     " frames; at most " + std::to_string(config_.max_frames_per_request) +
                                     " are allowed per request");
    }
    const int64_t num_frames = index.numFrames();
    std::vector<int64_t> wanted;
    wanted.reserve(by_index + by_time);
    for (size_t i = 0; i < by_index; ++i) {
      const int64_t n = request.frames()->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (n < 0 || n >= num_frames) {
        return Status::outOfRange("frame " + std::to_string(n) + " is out of range: the movie has " +
                                  std::to_string(num_frames) + " frames (" + frameRangeText(num_frames) +
                                  ")");
      }
      wanted.push_back(n);
    }
    for (size_t i = 0; i < by_time; ++i) {
      const double seconds = request.times()->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (!std::isfinite(seconds)) return Status::invalidArgument("frame time is not a number");
      const int64_t n = index.frameAtTime(seconds);
      if (n < 0) {
        char text[160];
        std::snprintf(text, sizeof(text), "time %.6g s is outside the movie (0 <= time < %.6g s)",
                      seconds, index.metadata().duration);
        return Status::outOfRange(text);
      }
      wanted.push_back(n);
    }
    return wanted;
  }

  // Refuses a batch whose output would exceed max_reply_bytes, before decoding anything.
  Status checkReplySize(const OutputSpec& spec, const MovieIndex& index, size_t distinct_frames) const {
    const MovieMetadata& meta = index.metadata();
    FW_ASSIGN_OR_RETURN(OutputGeometry geometry, outputGeometry(spec, meta.width, meta.height));
    const AVPixelFormat native = av_get_pix_fmt(meta.pixel_format.c_str());
    const AVPixelFormat format = targetPixelFormat(spec, native);
    int frame_bytes = format == AV_PIX_FMT_NONE
                          ? -1
                          : av_image_get_buffer_size(format, geometry.width, geometry.height, 1);
    if (frame_bytes < 0) frame_bytes = geometry.width * geometry.height * 8;  // unknown: be generous
    const uint64_t total = uint64_t(frame_bytes) * distinct_frames;
    if (total > config_.max_reply_bytes) {
      return Status::invalidArgument("the reply would hold about " + bytesText(total) + " for " +
                                     std::to_string(distinct_frames) + " frames, over the limit of " +
                                     bytesText(config_.max_reply_bytes) +
                                     "; ask for fewer frames per request or a smaller size");
    }
    return Status::ok();
  }

  Result<WorkerReply> frames(const proto::Request& request, ReplyContext* context,
                             Clock::time_point start) {
    FW_ASSIGN_OR_RETURN(OutputSpec spec, parseOutputSpec(request));
    FW_ASSIGN_OR_RETURN(auto index, movieIndex(request, &context->stages));
    FW_ASSIGN_OR_RETURN(std::vector<int64_t> wanted, requestedFrames(request, *index));

    // Decode each distinct frame once, in presentation order: one forward pass per GOP.
    std::vector<int64_t> distinct = wanted;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    FW_RETURN_IF_ERROR(checkReplySize(spec, *index, distinct.size()));

    Result<DecoderPool::Lease> checked_out = Status::internal("no reader");
    {
      StageTimer timer(&context->stages.read_us);
      checked_out = pool_.checkout(index, distinct.front());
    }
    if (!checked_out.ok()) return withMovie(request, checked_out.status());
    DecoderPool::Lease reader = std::move(checked_out).value();
    ConverterLease converter(&converters_);

    std::vector<FrameOutput> outputs;
    outputs.reserve(distinct.size());
    uint64_t produced = 0;
    for (const int64_t n : distinct) {
      const Clock::time_point frame_start = Clock::now();
      FrameOutput output;
      const IndexedFrame& entry = index->frame(n);
      output.index = n;
      output.pts = entry.pts;
      output.time = index->secondsFromStart(entry.pts);
      output.keyframe = entry.keyframe;
      Result<UniqueAVFrame> decoded = reader->readFrame(n, &output.stages);
      if (!decoded.ok()) {
        reader.discard();  // cheap to reopen, and nothing to gain from trusting its state
        return withMovie(request, decoded.status());
      }
      const AVFrame& frame = *decoded.value();
      FW_ASSIGN_OR_RETURN(OutputGeometry geometry, outputGeometry(spec, frame.width, frame.height));
      if (spec.encoding == ImageEncoding::kRaw) {
        StageTimer timer(&output.stages.convert_us);
        FW_ASSIGN_OR_RETURN(output.image, converter->toRaw(frame, spec, geometry));
      } else {
        const AVPixelFormat format = targetPixelFormat(spec, static_cast<AVPixelFormat>(frame.format));
        UniqueAVFrame picture;
        {
          StageTimer timer(&output.stages.convert_us);
          FW_ASSIGN_OR_RETURN(picture, converter->toFrame(frame, geometry, format));
        }
        StageTimer timer(&output.stages.encode_us);
        FW_ASSIGN_OR_RETURN(output.image, encodeImage(*picture, spec.encoding, spec.quality));
      }
      produced += output.image.size;
      if (produced > config_.max_reply_bytes) {
        return Status::invalidArgument("the reply grew past the limit of " +
                                       bytesText(config_.max_reply_bytes) +
                                       "; ask for fewer frames per request or a smaller size");
      }
      output.total_us = microsecondsSince(frame_start);
      context->stages += output.stages;
      outputs.push_back(std::move(output));
    }

    std::vector<size_t> order;
    order.reserve(wanted.size());
    for (const int64_t n : wanted) {
      order.push_back(static_cast<size_t>(std::lower_bound(distinct.begin(), distinct.end(), n) -
                                          distinct.begin()));
    }
    context->total_us = microsecondsSince(start);
    return buildFramesReply(*context, spec, outputs, order);
  }

  // Puts the movie's name in front of an error message from below.
  static Status withMovie(const proto::Request& request, const Status& status) {
    const std::string movie = request.movie() ? request.movie()->str() : "";
    return Status(status.code(), "'" + movie + "': " + status.message());
  }

  // A converter taken from the pool for one request, and given back at its end.
  class ConverterLease {
   public:
    explicit ConverterLease(ObjectPool<FrameConverter>* pool) : pool_(pool), converter_(pool->take()) {}
    ~ConverterLease() { pool_->give(std::move(converter_)); }
    FrameConverter* operator->() const { return converter_.get(); }

   private:
    ObjectPool<FrameConverter>* pool_;
    std::unique_ptr<FrameConverter> converter_;
  };

  RequestHandlerConfig config_;
  MovieRoots roots_;
  MovieCatalog catalog_;
  DecoderPool pool_;
  ObjectPool<FrameConverter> converters_;
};

RequestHandler::RequestHandler(RequestHandlerConfig config) : impl_(new Impl(std::move(config))) {
  quietFfmpegLogging();
}

RequestHandler::~RequestHandler() = default;

WorkerReply RequestHandler::handle(const proto::Request& request, int64_t queue_us,
                                   const std::string& worker_name) {
  return impl_->handle(request, queue_us, worker_name);
}

}  // namespace framewire
