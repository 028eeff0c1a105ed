#include "client/cli/server_options.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace framewire::cli {

ServerOptions::ServerOptions() {
  const char* from_environment = std::getenv(kServerEnvironmentVariable);
  server = (from_environment && *from_environment) ? from_environment : kDefaultServer;
}

void ServerOptions::addTo(ArgParser& args) {
  args.option("--server", "EP",
              std::string("server endpoint (default $") + kServerEnvironmentVariable + ", else " +
                  kDefaultServer + ")",
              &server);
  args.option("--timeout", "SECONDS", "how long to wait for each attempt (default 30)", &timeout_s);
  args.option("--retries", "N", "attempts after the first one times out (default 1)", &retries);
}

std::string ServerOptions::validate() const {
  if (server.empty()) return "--server must not be empty";
  if (!(timeout_s > 0) || timeout_s > 24 * 3600) return "--timeout must be between 0 and 86400 seconds";
  if (retries < 0 || retries > 100) return "--retries must be between 0 and 100";
  return {};
}

Client ServerOptions::makeClient() const {
  ClientOptions options;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000.0 + 0.5));
  options.retries = static_cast<int>(retries);
  // One request per process: REQ is the simplest correct choice, and Lazy Pirate reopens it.
  options.socketType = SocketType::kReq;
  return Client(server, options);
}

int reportFailure(const Status& status) {
  std::fprintf(stderr, "framewire: %s\n", status.toString().c_str());
  return kExitFailed;
}

int reportUsageError(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "framewire %s: %s\nTry 'framewire %s --help'.\n", command.c_str(), message.c_str(),
               command.c_str());
  return kExitUsage;
}

}  // namespace framewire::cli
