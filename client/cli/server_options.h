// The options every client command shares (--server, --timeout, --retries), the Client they
// configure, and how a command reports a failed request.
//
// Exit codes of every client command: 0 success, 1 the request failed (the server's status,
// or no reply; "framewire: NOT_FOUND: ..." on stderr), 2 a usage error.
// Not thread-safe; used once per command at startup.
#pragma once

#include <cstdint>
#include <string>

#include "common/arg_parser.h"
#include "common/status.h"
#include "framewire/client.h"

namespace framewire::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

inline constexpr const char* kDefaultServer = "tcp://127.0.0.1:5555";
inline constexpr const char* kServerEnvironmentVariable = "FRAMEWIRE_SERVER";

struct ServerOptions {
  std::string server;     // $FRAMEWIRE_SERVER, else kDefaultServer
  double timeout_s = 30;  // per attempt
  int64_t retries = 1;

  ServerOptions();
  // Adds --server, --timeout and --retries to `args`, bound to this object.
  void addTo(ArgParser& args);
  // After parsing: a usage message when a value is out of range, else empty.
  std::string validate() const;
  Client makeClient() const;
};

// Prints "framewire: CODE: message" to stderr and returns kExitFailed.
int reportFailure(const Status& status);

// Prints "framewire <command>: <message>" and a --help hint to stderr; returns kExitUsage.
int reportUsageError(const std::string& command, const std::string& message);

}  // namespace framewire::cli
