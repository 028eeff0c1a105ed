#include "worker/worker_options.h"

#include <unistd.h>

#include <filesystem>

namespace framewire {

void addWorkerFlags(ArgParser& args, WorkerFlags* flags) {
  args.repeated("--root", "DIR", "folder of movies, repeatable; paths are relative to it (required)", &flags->roots);
  args.option("--workers", "N",
              "concurrent requests (worker connections), default " + std::to_string(flags->workers),
              &flags->workers);
  args.option("--heartbeat-ms", "MS", "heartbeat interval, default 1000", &flags->heartbeat_ms);
  args.option("--max-open-movies", "N", "open demuxers+decoders kept (LRU), default 8", &flags->max_open_movies);
  args.option("--decoder-threads", "N", "FFmpeg threads per decoder, default 0 = one per core", &flags->decoder_threads);
  args.option("--convert-threads", "N", "swscale threads per conversion, default 0 = one per core",
              &flags->convert_threads);
  args.option("--max-movie-infos", "N", "movie indexes kept in memory (LRU), default 1024", &flags->max_movie_infos);
  args.option("--max-reply-bytes", "BYTES", "largest FRAMES reply; bigger batches are refused, default 1 GiB",
              &flags->max_reply_bytes);
  args.option("--max-frames-per-request", "N", "frames one request may ask for, default 10000",
              &flags->max_frames_per_request);
  args.option("--name", "NAME", "worker name in logs and replies, default HOST-PID", &flags->name);
}

Result<RequestHandlerConfig> WorkerFlags::handlerConfig() const {
  if (roots.empty()) return Status::invalidArgument("at least one --root DIR is required");
  for (const auto& root : roots) {
    std::error_code error;
    if (!std::filesystem::is_directory(root, error)) {
      return Status::invalidArgument("--root " + root + " is not a folder");
    }
  }
  if (workers < 1) return Status::invalidArgument("--workers must be at least 1");
  if (heartbeat_ms < 10) return Status::invalidArgument("--heartbeat-ms must be at least 10");
  if (max_open_movies < 1) return Status::invalidArgument("--max-open-movies must be at least 1");
  if (decoder_threads < 0) return Status::invalidArgument("--decoder-threads must be 0 or more");
  if (convert_threads < 0) return Status::invalidArgument("--convert-threads must be 0 or more");
  if (max_movie_infos < 1) return Status::invalidArgument("--max-movie-infos must be at least 1");
  if (max_reply_bytes < 1) return Status::invalidArgument("--max-reply-bytes must be at least 1");
  if (max_frames_per_request < 1) return Status::invalidArgument("--max-frames-per-request must be at least 1");
  RequestHandlerConfig config;
  config.roots = roots;
  config.max_open_movies = static_cast<size_t>(max_open_movies);
  config.decoder_threads = static_cast<int>(decoder_threads);
  config.convert_threads = static_cast<int>(convert_threads);
  config.max_movie_infos = static_cast<size_t>(max_movie_infos);
  config.max_reply_bytes = static_cast<uint64_t>(max_reply_bytes);
  config.max_frames_per_request = static_cast<size_t>(max_frames_per_request);
  return config;
}

WorkerConnectionOptions WorkerFlags::connectionOptions(const std::string& broker_endpoint,
                                                       const std::string& role) const {
  WorkerConnectionOptions options;
  options.broker_endpoint = broker_endpoint;
  options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.name = name;
  if (options.name.empty()) {
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    options.name = role + "-" + host + "-" + std::to_string(getpid());
  }
  return options;
}

}  // namespace framewire
