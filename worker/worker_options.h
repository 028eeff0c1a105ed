// The command-line flags that configure a worker, shared by `framewire-worker` and
// `framewire serve` so both spell and check them the same way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/arg_parser.h"
#include "common/status.h"
#include "worker/request_handler.h"
#include "worker/worker_connection.h"

namespace framewire {

struct WorkerFlags {
  std::vector<std::string> roots;
  int64_t workers = 1;            // connections (each serving one request at a time)
  int64_t heartbeat_ms = 1000;
  int64_t max_open_movies = 8;
  int64_t read_ahead = 6;          // frames decoded ahead of a forward reader (0: off)
  bool no_shared_memory = false;   // never write frames into a client's shared memory
  int64_t decoder_threads = 0;
  int64_t convert_threads = 0;
  int64_t max_movie_infos = 1024;
  int64_t max_reply_bytes = int64_t(1) << 30;
  int64_t max_frames_per_request = 10000;
  std::string name;               // default: host-pid
  std::string cache_bytes;        // RAM frame cache ("2G"); empty: defaultCacheBytes(); "0": none
  std::string disk_cache;         // disk frame cache folder; empty: none
  std::string disk_cache_bytes = "10G";
  std::string state_dir;          // persisted movie indexes; empty: none
  std::vector<std::string> remote_bases;  // http(s) folders remote movies are read from
  std::vector<std::string> overlays;      // local copies of remote movies, read first
  bool overlay_flatten = false;           // overlays hold the copies by file name, in one folder
  std::string remote_cache_bytes = "256M";
  int64_t remote_timeout_ms = 20000;
  int64_t remote_revalidate_ms = 1000;

  // Checks the flags (roots and overlays exist and are folders, a root or a remote base is
  // given, remote bases are http(s) URLs, counts positive).
  Result<RequestHandlerConfig> handlerConfig() const;
  // `role` names the default worker name ("worker" -> "worker-HOST-PID").
  WorkerConnectionOptions connectionOptions(const std::string& broker_endpoint,
                                            const std::string& role) const;
};

// The RAM frame cache's default size: 1 GiB, but at most a quarter of the machine's memory.
uint64_t defaultCacheBytes();

// Registers --root, --workers, --heartbeat-ms, --max-open-movies, --decoder-threads,
// --convert-threads, --max-movie-infos, --max-reply-bytes, --max-frames-per-request, --name,
// --cache-bytes, --disk-cache, --disk-cache-bytes, --remote-base, --file-overlay,
// --file-overlay-flatten, --remote-cache-bytes, --remote-timeout-ms, --remote-revalidate-ms.
// The defaults shown in --help are the values `flags` holds when this is called.
void addWorkerFlags(ArgParser& args, WorkerFlags* flags);

}  // namespace framewire
