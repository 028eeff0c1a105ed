#include "client/cli/embedded_server.h"

#include <unistd.h>

namespace framewire {

EmbeddedServer::EmbeddedServer(std::string listen, RequestHandlerConfig handler_config,
                               const WorkerFlags& flags) {
  BrokerConfig broker_config;
  broker_config.frontend = std::move(listen);
  // One inproc name per process: several embedded servers in one process (tests) stay apart.
  broker_config.backend = "inproc://framewire-backend-" + std::to_string(getpid()) + "-" +
                          std::to_string(reinterpret_cast<uintptr_t>(this));
  broker_config.heartbeat_interval = std::chrono::milliseconds(flags.heartbeat_ms);
  broker_ = std::make_unique<Broker>(context_, broker_config);

  auto handler = std::make_shared<RequestHandler>(std::move(handler_config));
  workers_ = std::make_unique<WorkerPool>(context_, handler,
                                          flags.connectionOptions(broker_config.backend, "serve"),
                                          static_cast<int>(flags.workers));
}

EmbeddedServer::~EmbeddedServer() { stop(); }

void EmbeddedServer::start() {
  broker_thread_ = std::thread([this] { broker_->run(); });
  workers_->start();
}

void EmbeddedServer::stop() {
  if (workers_) workers_->stop();
  if (broker_thread_.joinable()) {
    broker_->requestStop();
    broker_thread_.join();
  }
}

}  // namespace framewire
