#include "worker/worker_pool.h"

namespace framewire {

WorkerPool::WorkerPool(zmq::context_t& context, std::shared_ptr<RequestHandler> handler,
                       WorkerConnectionOptions options, int count) {
  for (int i = 0; i < count; ++i) {
    WorkerConnectionOptions mine = options;
    if (count > 1) mine.name += "-" + std::to_string(i);
    connections_.push_back(std::make_unique<WorkerConnection>(context, handler, std::move(mine)));
  }
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  for (auto& connection : connections_) {
    threads_.emplace_back([this, c = connection.get()] { c->run(stop_); });
  }
}

void WorkerPool::stop() {
  stop_.store(true);
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

}  // namespace framewire
