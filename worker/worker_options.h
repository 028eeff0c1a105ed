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
  int64_t decoder_threads = 0;
  int64_t convert_threads = 0;
  int64_t max_movie_infos = 1024;
  int64_t max_reply_bytes = int64_t(1) << 30;
  int64_t max_frames_per_request = 10000;
  std::string name;               // default: host-pid

  // Checks the flags (roots exist and are folders, counts positive).
  Result<RequestHandlerConfig> handlerConfig() const;
  // `role` names the default worker name ("worker" -> "worker-HOST-PID").
  WorkerConnectionOptions connectionOptions(const std::string& broker_endpoint,
                                            const std::string& role) const;
};

// Registers --root, --workers, --heartbeat-ms, --max-open-movies, --decoder-threads,
// --convert-threads, --max-movie-infos, --max-reply-bytes, --max-frames-per-request, --name.
// The defaults shown in --help are the values `flags` holds when this is called.
void addWorkerFlags(ArgParser& args, WorkerFlags* flags);

}  // namespace framewire
