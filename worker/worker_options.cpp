#include "worker/worker_options.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/byte_size.h"
#include "worker/source/remote/url_policy.h"

namespace framewire {

void addWorkerFlags(ArgParser& args, WorkerFlags* flags) {
  args.repeated("--root", "DIR",
                "folder of movies, repeatable; paths are relative to it (required unless --remote-base is given)",
                &flags->roots);
  args.option("--workers", "N",
              "concurrent requests (worker connections), default " + std::to_string(flags->workers),
              &flags->workers);
  args.option("--heartbeat-ms", "MS", "heartbeat interval, default 1000", &flags->heartbeat_ms);
  args.option("--max-open-movies", "N", "open demuxers+decoders kept (LRU), default 8", &flags->max_open_movies);
  args.option("--read-ahead", "N",
              "frames decoded ahead of a client reading forward one frame per request (0 = off), default 6",
              &flags->read_ahead);
  args.flag("--no-shared-memory",
            "always send frames through the socket, even to a client on this host that offers shared memory",
            &flags->no_shared_memory);
  args.option("--decoder-threads", "N", "FFmpeg threads per decoder, default 0 = FFmpeg's choice (one per core plus one)", &flags->decoder_threads);
  args.option("--convert-threads", "N", "swscale threads per conversion, default 0 = one per core",
              &flags->convert_threads);
  args.option("--max-movie-infos", "N", "movie indexes kept in memory (LRU), default 1024", &flags->max_movie_infos);
  args.option("--max-reply-bytes", "BYTES", "largest FRAMES reply; bigger batches are refused, default 1 GiB",
              &flags->max_reply_bytes);
  args.option("--max-frames-per-request", "N", "frames one request may ask for, default 10000",
              &flags->max_frames_per_request);
  args.option("--name", "NAME",
              "worker name in logs and replies, default HOST-PID; also the cache group the broker routes "
              "movies by, so a worker restarted with the same name gets the same movies",
              &flags->name);
  args.option("--cache-bytes", "SIZE",
              "RAM frame cache of this process (e.g. 512M, 4G; 0 = none), default " +
                  byteSizeText(defaultCacheBytes()) + " (1 GiB, at most a quarter of RAM)",
              &flags->cache_bytes);
  args.option("--disk-cache", "DIR",
              "persistent frame cache in DIR (one process per folder), default none", &flags->disk_cache);
  args.option("--disk-cache-bytes", "SIZE", "size of the disk frame cache, default 10G", &flags->disk_cache_bytes);
  args.option("--state-dir", "DIR",
              "keep movie indexes in DIR so a restart does not index movies again (shared safely by "
              "several processes), default none",
              &flags->state_dir);
  args.repeated("--remote-base", "URL",
                "http(s) folder of movies, repeatable: a path no --root holds is read from URL/path with "
                "HTTP range requests; full http(s) movie names must lie under one of these",
                &flags->remote_bases);
  args.repeated("--file-overlay", "DIR",
                "folder of local copies of remote movies (same paths), repeatable; a local copy wins", &flags->overlays);
  args.flag("--file-overlay-flatten", "the --file-overlay folders hold the copies by file name, not by path",
            &flags->overlay_flatten);
  args.option("--remote-cache-bytes", "SIZE", "block cache of remote movie bytes in this process, default 256M",
              &flags->remote_cache_bytes);
  args.option("--remote-timeout-ms", "MS", "limit for one HTTP request to a remote base, default 20000",
              &flags->remote_timeout_ms);
  args.option("--remote-revalidate-ms", "MS",
              "how long a remote movie's version (size, ETag, Last-Modified) is trusted before it is "
              "checked again, default 1000",
              &flags->remote_revalidate_ms);
}

uint64_t defaultCacheBytes() {
  const uint64_t gib = uint64_t(1) << 30;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return gib;
  return std::min(gib, uint64_t(pages) * uint64_t(page_size) / 4);
}

Result<RequestHandlerConfig> WorkerFlags::handlerConfig() const {
  if (roots.empty() && remote_bases.empty()) {
    return Status::invalidArgument("at least one --root DIR or --remote-base URL is required");
  }
  for (const auto& root : roots) {
    std::error_code error;
    if (!std::filesystem::is_directory(root, error)) {
      return Status::invalidArgument("--root " + root + " is not a folder");
    }
  }
  for (const auto& overlay : overlays) {
    std::error_code error;
    if (!std::filesystem::is_directory(overlay, error)) {
      return Status::invalidArgument("--file-overlay " + overlay + " is not a folder");
    }
  }
  if (overlay_flatten && overlays.empty()) {
    return Status::invalidArgument("--file-overlay-flatten needs a --file-overlay DIR");
  }
  FW_RETURN_IF_ERROR(UrlPolicy::create(remote_bases).status());
  if (remote_timeout_ms < 1) return Status::invalidArgument("--remote-timeout-ms must be at least 1");
  if (remote_revalidate_ms < 0) return Status::invalidArgument("--remote-revalidate-ms must be 0 or more");
  if (workers < 1) return Status::invalidArgument("--workers must be at least 1");
  if (heartbeat_ms < 10) return Status::invalidArgument("--heartbeat-ms must be at least 10");
  if (max_open_movies < 1) return Status::invalidArgument("--max-open-movies must be at least 1");
  if (read_ahead < 0 || read_ahead > 64) return Status::invalidArgument("--read-ahead must be 0..64");
  if (decoder_threads < 0) return Status::invalidArgument("--decoder-threads must be 0 or more");
  if (convert_threads < 0) return Status::invalidArgument("--convert-threads must be 0 or more");
  if (max_movie_infos < 1) return Status::invalidArgument("--max-movie-infos must be at least 1");
  if (max_reply_bytes < 1) return Status::invalidArgument("--max-reply-bytes must be at least 1");
  if (max_frames_per_request < 1) return Status::invalidArgument("--max-frames-per-request must be at least 1");
  RequestHandlerConfig config;
  if (cache_bytes.empty()) {
    config.cache_bytes = defaultCacheBytes();
  } else {
    FW_ASSIGN_OR_RETURN(config.cache_bytes, parseByteSize(cache_bytes, "--cache-bytes"));
  }
  FW_ASSIGN_OR_RETURN(config.disk_cache_bytes, parseByteSize(disk_cache_bytes, "--disk-cache-bytes"));
  if (!disk_cache.empty() && config.disk_cache_bytes == 0) {
    return Status::invalidArgument("--disk-cache-bytes must be more than 0 (or leave out --disk-cache)");
  }
  config.disk_cache_dir = disk_cache;
  config.state_dir = state_dir;
  config.roots = roots;
  config.overlays = overlays;
  config.overlay_flatten = overlay_flatten;
  config.remote_bases = remote_bases;
  FW_ASSIGN_OR_RETURN(config.remote_cache_bytes, parseByteSize(remote_cache_bytes, "--remote-cache-bytes"));
  config.remote_timeout_ms = remote_timeout_ms;
  config.remote_revalidate_ms = remote_revalidate_ms;
  config.max_open_movies = static_cast<size_t>(max_open_movies);
  config.read_ahead_frames = static_cast<int>(read_ahead);
  config.shared_memory = !no_shared_memory;
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
  // All connections of this process share its caches: the broker routes by this group.
  options.cache_group = options.name;
  return options;
}

}  // namespace framewire
