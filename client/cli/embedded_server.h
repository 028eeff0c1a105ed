// EmbeddedServer: the one-process framewire — a Broker and a WorkerPool whose connections
// reach it over inproc, sharing one ZeroMQ context. What `framewire serve` runs.
//
// Thread-safety: construct, start() and stop() from one thread. stop() returns once the
// broker thread and every worker thread have finished.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "broker/broker.h"
#include "worker/worker_options.h"
#include "worker/worker_pool.h"

namespace framewire {

class EmbeddedServer {
 public:
  // Binds `listen` (throws zmq::error_t if it cannot: startup only).
  EmbeddedServer(std::string listen, RequestHandlerConfig handler_config, const WorkerFlags& flags);
  ~EmbeddedServer();

  void start();
  void stop();
  std::string endpoint() const { return broker_->frontendEndpoint(); }

 private:
  zmq::context_t context_{1};
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<WorkerPool> workers_;
  std::thread broker_thread_;
};

}  // namespace framewire
