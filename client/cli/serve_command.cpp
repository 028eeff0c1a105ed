#include "client/cli/serve_command.h"

#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "client/cli/embedded_server.h"
#include "common/arg_parser.h"
#include "common/log.h"

namespace framewire::cli {
namespace {
std::atomic<bool> g_stop{false};
void onSignal(int) { g_stop.store(true); }
}  // namespace

int runServeCommand(int argc, char** argv) {
  std::string listen = "tcp://127.0.0.1:5555";
  WorkerFlags flags;
  flags.workers = std::max(1u, std::thread::hardware_concurrency());
  ArgParser args("framewire serve",
                 "Serves frames of the movies under --root: a broker and worker threads in one process.");
  args.option("--listen", "EP", "endpoint clients connect to, default " + listen, &listen);
  addWorkerFlags(args, &flags);
  args.epilog(
      "Example:\n  framewire serve --root /data/movies\n"
      "  framewire get --server tcp://127.0.0.1:5555 some/movie.mov 100 -o frame.png");
  if (auto exit_code = args.parse(argc, argv)) return *exit_code;
  auto handler_config = flags.handlerConfig();
  if (!handler_config.ok()) {
    std::fprintf(stderr, "framewire serve: %s\n", handler_config.status().message().c_str());
    return 2;
  }

  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::unique_ptr<EmbeddedServer> server;
  try {
    server = std::make_unique<EmbeddedServer>(listen, std::move(handler_config).value(), flags);
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "framewire serve: cannot listen on %s: %s\n", listen.c_str(), e.what());
    return 1;
  } catch (const std::invalid_argument& e) {  // the disk cache folder is unusable or taken
    std::fprintf(stderr, "framewire serve: %s\n", e.what());
    return 2;
  }
  server->start();
  // The line scripts wait for: once it is printed, requests are accepted.
  std::printf("framewire serve: listening on %s with %lld workers\n", server->endpoint().c_str(),
              static_cast<long long>(flags.workers));
  std::fflush(stdout);
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  FW_LOG(kInfo, "serve") << "stopping";
  server->stop();
  return 0;
}

}  // namespace framewire::cli
