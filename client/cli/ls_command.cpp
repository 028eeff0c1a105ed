// framewire ls [DIR]: lists the movies and folders in a folder of the server's roots.
#include <cinttypes>
#include <cstdio>

#include "client/cli/commands.h"
#include "client/cli/server_options.h"

namespace framewire::cli {

int runLsCommand(int argc, char** argv) {
  ServerOptions server;
  std::string folder;
  bool long_format = false;
  ArgParser args("framewire ls", "Lists movies and folders under the server's roots (folders end in /).");
  server.addTo(args);
  args.flag("--long", "also print each file's size in bytes", &long_format);
  args.positional("DIR", "folder relative to the roots (default: the top)", &folder, /*required=*/false);
  if (auto exit_code = args.parse(argc, argv)) return *exit_code;
  if (auto problem = server.validate(); !problem.empty()) return reportUsageError("ls", problem);

  Client client = server.makeClient();
  Result<std::vector<ListEntry>> entries = client.list(folder);
  if (!entries.ok()) return reportFailure(entries.status());
  for (const ListEntry& entry : *entries) {
    if (long_format) {
      std::printf("%12" PRIu64 "  %s\n", entry.size, entry.name.c_str());
    } else {
      std::printf("%s\n", entry.name.c_str());
    }
  }
  return kExitOk;
}

}  // namespace framewire::cli
