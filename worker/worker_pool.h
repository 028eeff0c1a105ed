// WorkerPool: N WorkerConnections, each on its own thread, sharing one RequestHandler (and
// so one set of caches). `framewire-worker --workers N` runs one; `framewire serve` runs one
// over inproc next to its broker.
//
// Thread-safety: construct, start() and stop() from one thread; stop() joins the threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "worker/request_handler.h"
#include "worker/worker_connection.h"

namespace framewire {

class WorkerPool {
 public:
  // Connection i is named `options.name + "-" + i` (just `options.name` when count is 1);
  // all of them announce the same `options.cache_group`, since they share `handler`'s caches.
  WorkerPool(zmq::context_t& context, std::shared_ptr<RequestHandler> handler,
             WorkerConnectionOptions options, int count);
  ~WorkerPool();  // stops and joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start();
  void stop();

 private:
  std::vector<std::unique_ptr<WorkerConnection>> connections_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
};

}  // namespace framewire
