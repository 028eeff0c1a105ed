// framewire-worker: decodes frames for a broker (distributed mode).
//
//   framewire-worker --broker tcp://broker:5556 --root /data/movies [--root DIR ...]
//
// Connects to the broker's backend (the broker binds, so workers can come and go), announces
// itself and serves requests until SIGINT/SIGTERM.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "common/arg_parser.h"
#include "common/log.h"
#include "worker/worker_options.h"
#include "worker/worker_pool.h"

namespace {
std::atomic<bool> g_stop{false};
void onSignal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  using namespace framewire;
  std::string broker;
  WorkerFlags flags;
  ArgParser args("framewire-worker", "Decodes frames for a framewire broker (distributed mode).");
  args.option("--broker", "EP", "the broker's backend endpoint (required), e.g. tcp://broker:5556", &broker);
  addWorkerFlags(args, &flags);
  args.epilog("Example:\n  framewire-worker --broker tcp://127.0.0.1:5556 --root /data/movies");
  if (auto exit_code = args.parse(argc, argv)) return *exit_code;
  if (broker.empty()) {
    std::fprintf(stderr, "framewire-worker: --broker is required\n");
    return 2;
  }
  auto handler_config = flags.handlerConfig();
  if (!handler_config.ok()) {
    std::fprintf(stderr, "framewire-worker: %s\n", handler_config.status().message().c_str());
    return 2;
  }

  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);

  std::shared_ptr<RequestHandler> handler;
  try {
    handler = std::make_shared<RequestHandler>(std::move(handler_config).value());
  } catch (const std::invalid_argument& e) {  // the disk cache folder is unusable or taken
    std::fprintf(stderr, "framewire-worker: %s\n", e.what());
    return 2;
  }
  zmq::context_t context(1);
  WorkerConnectionOptions options = flags.connectionOptions(broker, "worker");
  WorkerPool pool(context, handler, options, static_cast<int>(flags.workers));
  pool.start();
  FW_LOG(kInfo, "worker") << "framewire-worker " << options.name << ": " << flags.workers
                          << " connection(s) to " << broker;
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  pool.stop();
  return 0;
}
