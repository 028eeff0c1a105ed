// framewire-broker: the standalone broker of distributed mode. Clients connect to the
// frontend, workers to the backend; see proto/PROTOCOL.md.
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "broker/broker.h"
#include "common/arg_parser.h"
#include "common/log.h"

namespace {

framewire::Broker* g_broker = nullptr;

void onStopSignal(int) {
  // requestStop() is a lock-free atomic store: safe in a signal handler.
  if (g_broker != nullptr) g_broker->requestStop();
}

void installStopHandlers() {
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: interrupt the poll so the stop is seen at once
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int usageError(const char* what) {
  std::fprintf(stderr, "framewire-broker: %s\nTry 'framewire-broker --help'.\n", what);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using std::chrono::milliseconds;
  framewire::BrokerConfig config;
  int64_t heartbeat_ms = config.heartbeat_interval.count();
  int64_t liveness = config.heartbeat_liveness;
  int64_t max_queue = static_cast<int64_t>(config.max_queue);
  int64_t max_dispatches = config.max_dispatches;
  int64_t timeout_ms = config.default_timeout.count();
  int64_t max_timeout_ms = config.max_timeout.count();
  int64_t hwm = config.socket_hwm;
  std::string routing = framewire::routingPolicyName(config.routing);
  int64_t affinity_backlog = static_cast<int64_t>(config.affinity_max_backlog);
  int64_t affinity_wait_ms = config.affinity_max_wait.count();

  framewire::ArgParser args("framewire-broker",
                            "Routes framewire client requests to decode workers (a movie to the worker "
                            "process that has it\ncached), re-queues the requests of workers that die, and "
                            "answers BUSY and TIMEOUT.");
  args.option("--frontend", "EP", "endpoint clients connect to (default " + config.frontend + ")",
              &config.frontend);
  args.option("--backend", "EP", "endpoint workers connect to (default " + config.backend + ")",
              &config.backend);
  args.option("--heartbeat-ms", "N", "heartbeat interval (default 1000)", &heartbeat_ms);
  args.option("--liveness", "N", "missed heartbeats before a worker is dead (default 3)", &liveness);
  args.option("--max-queue", "N", "queued requests before BUSY (default 256)", &max_queue);
  args.option("--max-dispatches", "N", "dispatches per request before UNAVAILABLE (default 3)",
              &max_dispatches);
  args.option("--timeout-ms", "N", "deadline of requests that name none (default 30000)", &timeout_ms);
  args.option("--max-timeout-ms", "N", "longest deadline a request may ask for (default 600000)",
              &max_timeout_ms);
  args.option("--hwm", "N", "high-water mark of both sockets, in messages (default 32)", &hwm);
  args.option("--routing", "POLICY",
              "affinity (default): a movie's requests go to the worker process that caches it "
              "(rendezvous hashing), unless it is too busy; lru: to the least recently used worker",
              &routing);
  args.option("--affinity-backlog", "N",
              "affinity: requests waiting per connection of a movie's worker before the next goes to "
              "another worker (default 2)",
              &affinity_backlog);
  args.option("--affinity-wait-ms", "MS",
              "affinity: longest wait for a movie's busy worker before another takes the request "
              "(default 100)",
              &affinity_wait_ms);
  args.epilog(
      "A port of 0 (tcp://127.0.0.1:0) binds a free port. The bound endpoints are printed on\n"
      "standard output at startup:\n"
      "  framewire-broker: frontend tcp://127.0.0.1:5555 backend tcp://127.0.0.1:5556\n"
      "SIGINT or SIGTERM stops the broker: queued requests are answered UNAVAILABLE and\n"
      "workers are told DISCONNECT.\n\n"
      "Example:\n"
      "  framewire-broker --frontend tcp://*:5555 --backend tcp://*:5556");
  if (auto exit_code = args.parse(argc, argv)) return *exit_code;

  if (heartbeat_ms < 1) return usageError("--heartbeat-ms must be at least 1");
  if (liveness < 1) return usageError("--liveness must be at least 1");
  if (max_queue < 0) return usageError("--max-queue must not be negative");
  if (max_dispatches < 1) return usageError("--max-dispatches must be at least 1");
  if (timeout_ms < 1) return usageError("--timeout-ms must be at least 1");
  if (max_timeout_ms < 1) return usageError("--max-timeout-ms must be at least 1");
  if (hwm < 1) return usageError("--hwm must be at least 1");
  if (routing == "affinity") {
    config.routing = framewire::RoutingPolicy::kAffinity;
  } else if (routing == "lru") {
    config.routing = framewire::RoutingPolicy::kLeastRecentlyUsed;
  } else {
    return usageError("--routing must be affinity or lru");
  }
  if (affinity_backlog < 0) return usageError("--affinity-backlog must not be negative");
  if (affinity_wait_ms < 0) return usageError("--affinity-wait-ms must not be negative");
  config.affinity_max_backlog = static_cast<size_t>(affinity_backlog);
  config.affinity_max_wait = milliseconds(affinity_wait_ms);
  config.heartbeat_interval = milliseconds(heartbeat_ms);
  config.heartbeat_liveness = static_cast<int>(liveness);
  config.max_queue = static_cast<size_t>(max_queue);
  config.max_dispatches = static_cast<int>(max_dispatches);
  config.default_timeout = milliseconds(timeout_ms);
  config.max_timeout = milliseconds(max_timeout_ms);
  config.socket_hwm = static_cast<int>(hwm);

  zmq::context_t context(1);
  std::unique_ptr<framewire::Broker> broker;
  try {
    broker = std::make_unique<framewire::Broker>(context, config);
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "framewire-broker: cannot bind: %s\n", e.what());
    return 1;
  }
  std::printf("framewire-broker: frontend %s backend %s\n", broker->frontendEndpoint().c_str(),
              broker->backendEndpoint().c_str());
  std::fflush(stdout);

  g_broker = broker.get();
  installStopHandlers();
  broker->run();
  g_broker = nullptr;
  return 0;
}
