// framewire stats: prints the server's statistics (broker counters, each worker process's
// caches and their totals) as JSON; see PROTOCOL.md, STATS.
#include <cstdio>

#include "client/cli/commands.h"
#include "client/cli/server_options.h"

namespace framewire::cli {

int runStatsCommand(int argc, char** argv) {
  ServerOptions server;
  ArgParser args("framewire stats",
                 "Prints the server's statistics as JSON: the broker's routing counters, every worker\n"
                 "process's RAM and disk cache (hits, misses, bytes, entries, evictions) and the totals.");
  server.addTo(args);
  args.epilog(
      "Example:\n  framewire stats --server tcp://127.0.0.1:5555\n"
      "  framewire stats | jq .total.memory.hit_rate");
  if (auto exit_code = args.parse(argc, argv)) return *exit_code;
  if (auto problem = server.validate(); !problem.empty()) return reportUsageError("stats", problem);

  Client client = server.makeClient();
  Result<std::string> stats = client.stats();
  if (!stats.ok()) return reportFailure(stats.status());
  std::printf("%s\n", stats->c_str());
  return kExitOk;
}

}  // namespace framewire::cli
