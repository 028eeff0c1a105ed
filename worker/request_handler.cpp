#include "worker/request_handler.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>

#include "common/byte_size.h"
#include "worker/decode/decoder_pool.h"
#include "worker/decode/ffmpeg_handles.h"
#include "worker/output/frame_buffer_pool.h"
#include "worker/cache/frame_cache_key.h"
#include "worker/output/frame_converter.h"
#include "worker/decode/frame_prefetcher.h"
#include "worker/cache/frame_store.h"
#include "worker/output/image_encoder.h"
#include "worker/index/index_store.h"
#include "worker/index/movie_catalog.h"
#include "worker/index/movie_index.h"
#include "worker/source/movie_path.h"
#include "worker/source/movie_source.h"
#include "worker/decode/movie_reader.h"
#include "worker/output/object_pool.h"
#include "worker/output/output_spec.h"
#include "worker/decode/read_ahead.h"
#include "worker/frame_stream.h"
#include "worker/reply_builder.h"
#include "worker/shared_memory.h"
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
// One request keeps at most this share of the RAM cache (worker/cache/frame_store.h, Admission).
constexpr uint64_t kRequestCacheShare = 8;
// The longest a forward reader's request waits for the read-ahead job to decode its frame
// (ReadAhead::take); a frame takes milliseconds, so this is only a guard.
constexpr std::chrono::milliseconds kReadAheadWaitLimit{500};

std::string frameRangeText(int64_t num_frames) {
  return num_frames > 0 ? "0.." + std::to_string(num_frames - 1) : "none";
}

// The movie sources the config names. A bad remote base is a startup error, thrown like an
// unusable disk cache.
std::unique_ptr<MovieSources> makeSources(const RequestHandlerConfig& config) {
  MovieSourcesConfig sources;
  sources.roots = config.roots;
  sources.overlays = config.overlays;
  sources.overlay_flatten = config.overlay_flatten;
  sources.remote.bases = config.remote_bases;
  sources.remote.cache_bytes = config.remote_cache_bytes;
  sources.remote.http.timeout_ms = config.remote_timeout_ms;
  sources.remote.revalidate_ms = config.remote_revalidate_ms;
  auto created = MovieSources::create(std::move(sources));
  if (!created.ok()) throw std::invalid_argument(created.status().message());
  return std::move(created).value();
}

// The index store of --state-dir (null without one). An unusable folder is a startup error.
std::shared_ptr<IndexStore> openIndexStore(const std::string& state_dir) {
  if (state_dir.empty()) return nullptr;
  auto opened = IndexStore::open(state_dir);
  if (!opened.ok()) throw std::invalid_argument(opened.status().message());
  return std::move(opened).value();
}

}  // namespace

class RequestHandler::Impl {
 public:
  explicit Impl(RequestHandlerConfig config)
      : config_(std::move(config)),
        sources_(makeSources(config_)),
        index_store_(openIndexStore(config_.state_dir)),
        catalog_(config_.max_movie_infos,
                 IndexStore::cachingBuilder(index_store_, [this](const std::string& key, const FileSignature& signature) -> MovieCatalog::IndexResult {
                   // Remote movies are read through the version resolve() just checked.
                   IndexBuildOptions options;
                   options.bytes = sources_->bytesFor(key, signature);
                   if (!options.bytes && looksLikeUrl(key)) {
                     return Status::unavailable(key + " changed on the server while it was being opened; try again");
                   }
                   return MovieIndex::build(key, signature, options);
                 })),
        pool_(config_.max_open_movies,
              [threads = config_.decoder_threads](std::shared_ptr<const MovieIndex> index) {
                return MovieReader::open(std::move(index), threads);
              }),
        converters_(kMaxIdleConverters, [threads = config_.convert_threads] {
          return std::make_unique<FrameConverter>(threads);
        }),
        started_(Clock::now()),
        read_ahead_(config_.read_ahead_frames) {
    if (config_.cache_bytes > 0 || !config_.disk_cache_dir.empty()) {
      FrameStoreConfig store;
      store.memory_bytes = config_.cache_bytes;
      store.disk_dir = config_.disk_cache_dir;
      store.disk_bytes = config_.disk_cache_bytes;
      auto opened = FrameStore::open(store);
      if (!opened.ok()) throw std::invalid_argument(opened.status().message());
      store_ = std::move(opened).value();
    }
  }

  // The socket thread's shortcut: see RequestHandler::answerFromMemory().
  std::optional<WorkerReply> answerFromMemory(const proto::Request& request, int64_t queue_us,
                                              const std::string& worker) {
    try {
      if (!store_ || request.kind() != proto::RequestKind::FRAMES) return std::nullopt;
      const size_t count = request.frames() ? request.frames()->size() : 0;
      const size_t by_time = request.times() ? request.times()->size() : 0;
      // Times need the movie's index; errors need the slow path's words.
      if (count == 0 || by_time != 0 || count > config_.max_frames_per_request) return std::nullopt;
      const Clock::time_point start = Clock::now();
      ReplyContext context;
      context.request_id = request.id();
      context.worker = worker;
      context.queue_us = queue_us;
      Result<OutputSpec> spec = parseOutputSpec(request);
      if (!spec.ok()) return std::nullopt;
      std::string prefix;
      std::optional<ResolvedMovie> movie;
      {
        StageTimer timer(&context.stages.read_us);
        // Remote movies only when their version was checked recently: no waiting for a server.
        movie = sources_->resolveWithoutNetwork(request.movie() ? request.movie()->str() : "");
        if (!movie) return std::nullopt;
        prefix = frameCacheKeyPrefix(movie->key, movie->signature, *spec);
      }
      std::vector<int64_t> wanted(request.frames()->begin(), request.frames()->end());
      std::vector<int64_t> distinct = wanted;
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
      std::optional<std::vector<FrameOutput>> outputs = store_->fromMemory(prefix, distinct);
      if (!outputs) return std::nullopt;
      // Placed as the decoding path places them (reserveConvertedFrames), which needs the index.
      const std::shared_ptr<const MovieIndex> index = catalog_.peek(movie->key, movie->signature);
      if (!index) return std::nullopt;
      uint64_t bytes = 0;
      for (const FrameOutput& output : *outputs) bytes += output.image.size;
      if (bytes > config_.max_reply_bytes) return std::nullopt;
      ++answered_from_memory_;
      context.total_us = microsecondsSince(start);
      const std::vector<size_t> order = requestOrder(wanted, distinct);
      const std::shared_ptr<SharedPlacement> shared = sharedPlacementFor(request);
      reserveConvertedFrames(shared.get(), *spec, *index, order);
      WorkerReply reply = buildFramesReply(context, *spec, *outputs, order, {}, shared.get());
      shared_segments_.account(*shared);
      if (wanted.size() == 1) {
        maybeReadAhead(index, movieVersionKey(index->path(), index->signature()), prefix, wanted.front());
      }
      return reply;
    } catch (...) {
      return std::nullopt;  // handle() will answer it, with a proper status if it fails again
    }
  }

  void flushCaches() {
    if (store_) store_->flush();
  }

  WorkerReply handle(const proto::Request& request, int64_t queue_us, const std::string& worker,
                     const RequestHandler::SendPartial& send_partial) {
    const Clock::time_point start = Clock::now();
    ReplyContext context;
    context.request_id = request.id();
    context.worker = worker;
    context.queue_us = queue_us;
    Result<WorkerReply> reply = Status::internal("request not handled");
    try {
      reply = dispatch(request, &context, start, send_partial);
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
                               Clock::time_point start, const RequestHandler::SendPartial& send_partial) {
    switch (request.kind()) {
      case proto::RequestKind::INFO: return info(request, context, start);
      case proto::RequestKind::FRAMES: return frames(request, context, start, send_partial);
      case proto::RequestKind::LIST: return list(request, context, start);
      case proto::RequestKind::STATS: return stats(context, start);
    }
    return Status::invalidArgument("unknown request kind " +
                                   std::to_string(static_cast<int>(request.kind())));
  }

  // Resolves the request's movie and gets its index (built, or from the catalog).
  Result<std::shared_ptr<const MovieIndex>> movieIndex(const proto::Request& request,
                                                       StageTimings* stages) {
    StageTimer timer(&stages->read_us);
    const std::string movie = request.movie() ? request.movie()->str() : "";
    FW_ASSIGN_OR_RETURN(ResolvedMovie resolved, sources_->resolve(movie));
    auto index = catalog_.get(resolved.key, resolved.signature);
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
      FW_ASSIGN_OR_RETURN(entries, sources_->list(folder));
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

  // The bytes of one raw frame of `spec` from `native` pixels with `geometry`, packed (as
  // FrameConverter::toRaw lays out converted formats); -1 when the format is not known.
  static int64_t packedFrameBytes(const OutputSpec& spec, AVPixelFormat native, const OutputGeometry& geometry) {
    const AVPixelFormat format = targetPixelFormat(spec, native);
    return format == AV_PIX_FMT_NONE ? -1 : av_image_get_buffer_size(format, geometry.width, geometry.height, 1);
  }

  // The output bytes of `frames` frames (raw size; encoded images are smaller).
  static Result<uint64_t> estimatedReplyBytes(const OutputSpec& spec, const MovieIndex& index, size_t frames) {
    const MovieMetadata& meta = index.metadata();
    FW_ASSIGN_OR_RETURN(OutputGeometry geometry, outputGeometry(spec, meta.width, meta.height));
    int64_t frame_bytes = packedFrameBytes(spec, av_get_pix_fmt(meta.pixel_format.c_str()), geometry);
    if (frame_bytes < 0) frame_bytes = int64_t(geometry.width) * geometry.height * 8;  // unknown: be generous
    return uint64_t(frame_bytes) * frames;
  }

  // Converted raw frames go straight into the client's shared memory: each distinct frame gets
  // its place now, in order of first request position, for the size the movie's frames have
  // (placement must not depend on which frames turn out to be cached). A frame of another size
  // is placed nowhere and goes in the message.
  static void reserveConvertedFrames(SharedPlacement* shared, const OutputSpec& spec, const MovieIndex& index,
                                     const std::vector<size_t>& order) {
    if (!shared->active() || spec.encoding != ImageEncoding::kRaw || spec.format == OutputFormat::kNative) return;
    const MovieMetadata& meta = index.metadata();
    const Result<OutputGeometry> geometry = outputGeometry(spec, meta.width, meta.height);
    if (!geometry.ok()) return;
    const int64_t frame_bytes = packedFrameBytes(spec, av_get_pix_fmt(meta.pixel_format.c_str()), *geometry);
    if (frame_bytes <= 0) return;
    for (const size_t position : order) shared->reserve(position, uint64_t(frame_bytes), RawTarget::kSlack);
  }

  // Where the conversion of distinct frame `position` writes besides (or, when `may_borrow`:
  // no cache keeps it, instead of) a buffer of the worker's own: the frame's reserved place in
  // the client's shared memory, if it has one of the frame's size. Then the reply copies nothing.
  static RawTarget placeInSharedMemory(SharedPlacement* shared, size_t position, const OutputSpec& spec,
                                       const AVFrame& frame, const OutputGeometry& geometry, bool may_borrow) {
    RawTarget target;
    if (spec.format == OutputFormat::kNative) return target;
    const int64_t bytes = packedFrameBytes(spec, static_cast<AVPixelFormat>(frame.format), geometry);
    target.data = bytes > 0 ? shared->reservedFor(position, uint64_t(bytes)) : nullptr;
    target.only = target.data && may_borrow;
    if (target.only) target.owner = shared->segment();
    return target;
  }

  // Refuses a batch whose output would exceed max_reply_bytes, before decoding anything.
  Status checkReplySize(const OutputSpec& spec, const MovieIndex& index, size_t distinct_frames) const {
    FW_ASSIGN_OR_RETURN(const uint64_t total, estimatedReplyBytes(spec, index, distinct_frames));
    if (total > config_.max_reply_bytes) {
      return Status::invalidArgument("the reply would hold about " + byteSizeText(total) + " for " +
                                     std::to_string(distinct_frames) + " frames, over the limit of " +
                                     byteSizeText(config_.max_reply_bytes) +
                                     "; ask for fewer frames per request or a smaller size");
    }
    return Status::ok();
  }

  Result<WorkerReply> frames(const proto::Request& request, ReplyContext* context,
                             Clock::time_point start, const RequestHandler::SendPartial& send_partial = nullptr) {
    FW_ASSIGN_OR_RETURN(OutputSpec spec, parseOutputSpec(request));
    FW_ASSIGN_OR_RETURN(auto index, movieIndex(request, &context->stages));
    FW_ASSIGN_OR_RETURN(std::vector<int64_t> wanted, requestedFrames(request, *index));

    // Decode each distinct frame once, in presentation order: one forward pass per GOP.
    std::vector<int64_t> distinct = wanted;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    FW_RETURN_IF_ERROR(checkReplySize(spec, *index, distinct.size()));

    const std::vector<size_t> order = requestOrder(wanted, distinct);
    const std::shared_ptr<SharedPlacement> shared = sharedPlacementFor(request);
    reserveConvertedFrames(shared.get(), spec, *index, order);

    // A forward reader's frame was decoded ahead (worker/decode/read_ahead.h), or is about to be.
    // Read-ahead follows single-frame requests only: batches need no movie key.
    const std::string movie_key = wanted.size() == 1 ? movieVersionKey(index->path(), index->signature()) : "";
    const bool forward_reader = wanted.size() == 1 && read_ahead_.continues(movie_key, wanted.front());

    // A reader is checked out only when some frame has to be decoded: cache hits need none.
    std::optional<DecoderPool::Lease> reader;
    std::optional<ConverterLease> converter;
    // Decodes the next frame while this one is converted; declared after `reader`, so it stops
    // before the reader goes back to the pool.
    std::optional<FramePrefetcher> prefetcher;
    auto decodedFrame = [&](int64_t n, StageTimings* stages) -> Result<UniqueAVFrame> {
      if (forward_reader) {
        StageTimer timer(&stages->decode_us);  // waiting for the decoder
        if (UniqueAVFrame ahead = read_ahead_.take(movie_key, n, kReadAheadWaitLimit)) return ahead;
      }
      if (!reader) {
        Result<DecoderPool::Lease> checked_out = Status::internal("no reader");
        {
          StageTimer timer(&stages->read_us);
          checked_out = pool_.checkout(index, n);
        }
        if (!checked_out.ok()) return withMovie(request, checked_out.status());
        reader.emplace(std::move(checked_out).value());
        prefetcher.emplace(&**reader, distinct);
      }
      Result<UniqueAVFrame> decoded = prefetcher->read(n, stages);
      if (!decoded.ok()) {
        reader->discard();  // cheap to reopen, and nothing to gain from trusting its state
        return withMovie(request, decoded.status());
      }
      return decoded;
    };
    auto decode = [&](int64_t n, bool may_borrow) -> Result<FrameOutput> {
      const Clock::time_point frame_start = Clock::now();
      FrameOutput output;
      const IndexedFrame& entry = index->frame(n);
      output.index = n;
      output.pts = entry.pts;
      output.time = index->secondsFromStart(entry.pts);
      output.keyframe = entry.keyframe;
      FW_ASSIGN_OR_RETURN(const UniqueAVFrame decoded, decodedFrame(n, &output.stages));
      if (!converter) converter.emplace(&converters_);
      const AVFrame& frame = *decoded;
      FW_ASSIGN_OR_RETURN(OutputGeometry geometry, outputGeometry(spec, frame.width, frame.height));
      if (spec.encoding == ImageEncoding::kRaw) {
        StageTimer timer(&output.stages.convert_us);
        const size_t position = static_cast<size_t>(std::lower_bound(distinct.begin(), distinct.end(), n) - distinct.begin());
        const RawTarget target = placeInSharedMemory(shared.get(), position, spec, frame, geometry, may_borrow);
        FW_ASSIGN_OR_RETURN(output.image, (*converter)->toRaw(frame, spec, geometry, target));
        if (target.data) shared->writtenInPlace(position);
        output.borrowed = target.only;
      } else {
        const AVPixelFormat format = targetPixelFormat(spec, static_cast<AVPixelFormat>(frame.format));
        UniqueAVFrame picture;
        {
          StageTimer timer(&output.stages.convert_us);
          FW_ASSIGN_OR_RETURN(picture, (*converter)->toFrame(frame, geometry, format));
        }
        StageTimer timer(&output.stages.encode_us);
        FW_ASSIGN_OR_RETURN(output.image, encodeImage(*picture, spec.encoding, spec.quality));
      }
      output.total_us = microsecondsSince(frame_start);
      return output;
    };

    // A streamed request sends runs of ready frames as they come (PROTOCOL.md 3) and holds
    // only those not sent yet; otherwise the outputs are collected for one reply.
    std::optional<FrameStream> stream;
    if (send_partial && request.stream() && wanted.size() > 1) {
      FW_ASSIGN_OR_RETURN(const uint64_t estimate, estimatedReplyBytes(spec, *index, wanted.size()));
      FrameStreamLimits limits;
      limits.chunk_bytes = streamChunkBytes(estimate, config_.stream_chunk_bytes, limits.max_messages);
      stream.emplace(order, distinct.size(), spec, *context, limits, send_partial, shared.get());
    }
    std::vector<FrameOutput> outputs(stream ? 0 : distinct.size());
    uint64_t produced = 0;
    auto ready = [&](size_t position, FrameOutput output) {
      produced += output.image.size;
      context->stages += output.stages;
      if (stream) {
        stream->ready(position, std::move(output));
      } else {
        outputs[position] = std::move(output);
      }
    };

    std::string prefix;  // of the frames' cache keys, when there is a cache
    if (store_) {
      // Hits from RAM or disk, the rest decoded (once, even when other requests want them too).
      prefix = frameCacheKeyPrefix(index->path(), index->signature(), spec);
      Admission admission;
      // A forward reader will not ask for its frame again: keeping it would cost a copy.
      admission.max_bytes = forward_reader ? 0 : std::max<uint64_t>(config_.cache_bytes / kRequestCacheShare, 1);
      FW_RETURN_IF_ERROR(
          store_->produce(prefix, distinct, spec.format == OutputFormat::kNative, decode, ready, admission).status());
    } else {
      for (size_t position = 0; position < distinct.size(); ++position) {
        FW_ASSIGN_OR_RETURN(FrameOutput output, decode(distinct[position], /*may_borrow=*/true));
        ready(position, std::move(output));
      }
    }
    if (produced > config_.max_reply_bytes) {
      return Status::invalidArgument("the reply grew past the limit of " + byteSizeText(config_.max_reply_bytes) +
                                     "; ask for fewer frames per request or a smaller size");
    }
    context->total_us = microsecondsSince(start);
    WorkerReply reply = stream ? stream->finish(*context)
                               : buildFramesReply(*context, spec, outputs, order, {}, shared.get());
    shared_segments_.account(*shared);
    if (stream) return reply;
    if (wanted.size() == 1) {
      // The reader goes back to the pool first: positioned right before the window, it is the
      // one the read-ahead job should get, not a second one that has to seek.
      prefetcher.reset();
      converter.reset();
      reader.reset();
      maybeReadAhead(index, movie_key, prefix, wanted.front());
    }
    return reply;
  }

  // Records a single-frame request for frame n; a forward reader (frame n after n-1 and n-2)
  // gets the next frames decoded in the background (worker/decode/read_ahead.h). `movie_key`:
  // movieVersionKey() of the index's movie; `prefix`: of the request's cache keys ("" without
  // a cache): frames already in the cache are not decoded.
  void maybeReadAhead(const std::shared_ptr<const MovieIndex>& index, const std::string& movie_key,
                      const std::string& prefix, int64_t n) {
    if (!read_ahead_.served(movie_key, n)) return;
    read_ahead_.submit(movie_key, [this, index, movie_key, prefix] { return readAhead(index, movie_key, prefix); });
  }

  // A read-ahead job: decodes what is missing of the reader's window, as it is at each step,
  // frame after frame with one reader. True when it made way for other jobs and goes on later.
  bool readAhead(const std::shared_ptr<const MovieIndex>& index, const std::string& movie_key,
                 const std::string& prefix) {
    auto cached = [&](int64_t f) { return !prefix.empty() && store_->holds(prefix, f); };
    try {
      std::optional<DecoderPool::Lease> reader;
      for (int decoded = 0;; ++decoded) {
        if (decoded >= read_ahead_.depth() && read_ahead_.othersWaiting()) return true;
        const int64_t n = read_ahead_.nextToDecode(movie_key, index->numFrames(), cached);
        if (n < 0) return false;
        // Interleaved forward readers of one movie: each window has its own positioned reader.
        if (reader && !(*reader)->canContinueTo(n)) reader.reset();
        if (!reader) {
          Result<DecoderPool::Lease> checked_out = pool_.checkout(index, n);
          if (!checked_out.ok()) break;
          reader.emplace(std::move(checked_out).value());
        }
        StageTimings timings;
        Result<UniqueAVFrame> frame = (*reader)->readFrame(n, &timings);
        if (!frame.ok()) {
          reader->discard();
          break;  // a bet that did not pay; the client's own request will say what is wrong
        }
        read_ahead_.put(movie_key, n, std::move(frame).value());
      }
    } catch (...) {
    }
    read_ahead_.failed(movie_key);
    return false;
  }

  // Where this request's pixels go: its client's shared memory when it offers some that checks
  // out (worker/shared_memory.h), else the message.
  std::shared_ptr<SharedPlacement> sharedPlacementFor(const proto::Request& request) {
    if (!config_.shared_memory) return std::make_shared<SharedPlacement>();
    return shared_segments_.placementFor(request);
  }

  // order[i]: the position in `distinct` (sorted, unique) of the i-th requested frame.
  static std::vector<size_t> requestOrder(const std::vector<int64_t>& wanted, const std::vector<int64_t>& distinct) {
    std::vector<size_t> order;
    order.reserve(wanted.size());
    for (const int64_t n : wanted) {
      order.push_back(static_cast<size_t>(std::lower_bound(distinct.begin(), distinct.end(), n) - distinct.begin()));
    }
    return order;
  }

  // STATS: this worker process's statistics as JSON (PROTOCOL.md, STATS).
  Result<WorkerReply> stats(ReplyContext* context, Clock::time_point start) {
    JsonValue json = JsonValue::object();
    json.set("worker", JsonValue(context->worker));
    json.set("pid", JsonValue(int64_t(::getpid())));
    json.set("uptime_s", JsonValue(std::chrono::duration<double>(Clock::now() - started_).count()));
    JsonValue caches = store_ ? store_->statsJson() : FrameStore::disabledStatsJson();
    json.set("memory", *caches.get("memory"));
    json.set("disk", *caches.get("disk"));
    JsonValue movies = JsonValue::object();
    movies.set("indexes", JsonValue(uint64_t(catalog_.size())));
    movies.set("open_readers", JsonValue(uint64_t(pool_.openReaders())));
    movies.set("idle_readers", JsonValue(uint64_t(pool_.idleReaders())));
    if (index_store_) {
      const IndexStore::Counters stored = index_store_->counters();
      JsonValue store = JsonValue::object();
      store.set("loaded", JsonValue(stored.loaded));
      store.set("saved", JsonValue(stored.saved));
      store.set("rejected", JsonValue(stored.rejected));
      store.set("save_failures", JsonValue(stored.save_failures));
      movies.set("index_store", store);
    }
    json.set("movies", movies);
    JsonValue requests = JsonValue::object();
    requests.set("answered_from_memory_on_socket_thread", JsonValue(answered_from_memory_.load()));
    const ReadAhead::Counters read_ahead = read_ahead_.counters();
    requests.set("read_ahead_frames", JsonValue(read_ahead.frames_decoded));
    requests.set("read_ahead_frames_taken", JsonValue(read_ahead.frames_taken));
    requests.set("read_ahead_dropped", JsonValue(read_ahead.jobs_dropped));
    requests.set("read_ahead_waits", JsonValue(read_ahead.waits));
    requests.set("read_ahead_waits_cut_short", JsonValue(read_ahead.waits_cut_short));
    json.set("requests", requests);
    const SharedSegments::Counters shared = shared_segments_.counters();
    JsonValue shared_json = JsonValue::object();
    shared_json.set("enabled", JsonValue(config_.shared_memory));
    shared_json.set("segments_mapped", JsonValue(uint64_t(shared_segments_.mapped())));
    shared_json.set("segments_opened", JsonValue(shared.opened));
    shared_json.set("parts_placed", JsonValue(shared.parts_placed));
    shared_json.set("bytes_placed", JsonValue(shared.bytes_placed));
    shared_json.set("parts_written_in_place", JsonValue(shared.parts_written_in_place));
    shared_json.set("offers_refused", JsonValue(shared.refused));
    shared_json.set("last_refusal", JsonValue(shared.last_refusal));
    json.set("shared_memory", shared_json);
    if (sources_->hasRemote()) json.set("remote", sources_->remoteStatsJson());
    context->total_us = microsecondsSince(start);
    WorkerReply reply;
    reply.header = buildStatsReply(*context, json.dump(2));
    return reply;
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
  std::unique_ptr<MovieSources> sources_;  // before catalog_: its builder reads through it
  std::shared_ptr<IndexStore> index_store_;  // null without --state-dir
  MovieCatalog catalog_;
  DecoderPool pool_;
  ObjectPool<FrameConverter> converters_;
  std::unique_ptr<FrameStore> store_;  // null when no cache tier is configured
  SharedSegments shared_segments_;     // clients' shared memory, mapped
  const Clock::time_point started_;
  std::atomic<uint64_t> answered_from_memory_{0};  // requests answered by answerFromMemory()
  ReadAhead read_ahead_;  // last: its thread stops before anything it uses goes away
};

RequestHandler::RequestHandler(RequestHandlerConfig config) : impl_(new Impl(std::move(config))) {
  quietFfmpegLogging();
}

RequestHandler::~RequestHandler() = default;

WorkerReply RequestHandler::handle(const proto::Request& request, int64_t queue_us,
                                   const std::string& worker_name, const SendPartial& send_partial) {
  return impl_->handle(request, queue_us, worker_name, send_partial);
}

std::optional<WorkerReply> RequestHandler::answerFromMemory(const proto::Request& request, int64_t queue_us,
                                                            const std::string& worker_name) {
  return impl_->answerFromMemory(request, queue_us, worker_name);
}

void RequestHandler::flushCaches() { impl_->flushCaches(); }

}  // namespace framewire
