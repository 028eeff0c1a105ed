// framewire: the command line. Dispatches to one subcommand per file (commands.h) and to the
// embedded server (`serve`, serve_command.h).
#include <cstdio>
#include <cstring>
#include <string>

#include "client/cli/commands.h"
#include "client/cli/serve_command.h"
#include "client/cli/server_options.h"

namespace {

constexpr const char* kUsage =
    "Usage: framewire COMMAND [options] [arguments]\n"
    "\n"
    "Serves and fetches single frames of large movies over ZeroMQ.\n"
    "\n"
    "Commands:\n"
    "  serve     run a server here: a broker and decode workers in one process\n"
    "  info      print a movie's metadata as JSON\n"
    "  get       fetch one frame and write it as PNG, JPEG, BMP or raw pixels\n"
    "  ls        list movies and folders under the server's roots\n"
    "  warm      fill the server's frame caches with frames of a movie ahead of time\n"
    "  stats     print the server's statistics (caches, routing) as JSON\n"
    "\n"
    "Options:\n"
    "  --help    show this help; 'framewire COMMAND --help' shows a command's options\n"
    "  --version print the version\n"
    "\n"
    "Environment:\n"
    "  FRAMEWIRE_SERVER   default --server endpoint of info, get, ls, warm and stats (else tcp://127.0.0.1:5555)\n"
    "  FRAMEWIRE_LOG      log level: debug, info, warn, error\n"
    "\n"
    "Examples:\n"
    "  framewire serve --root /data/movies\n"
    "  framewire ls\n"
    "  framewire info camhd/CAMHDA301-20160724T030000Z.mov\n"
    "  framewire get camhd/CAMHDA301-20160724T030000Z.mov 5000 -o frame.png\n"
    "\n"
    "Exit codes: 0 success, 1 the request failed, 2 usage error.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return framewire::cli::kExitUsage;
  }
  const std::string command = argv[1];
  // Each subcommand sees its own name as argv[0].
  const int sub_argc = argc - 1;
  char** sub_argv = argv + 1;
  if (command == "serve") return framewire::cli::runServeCommand(sub_argc, sub_argv);
  if (command == "info") return framewire::cli::runInfoCommand(sub_argc, sub_argv);
  if (command == "get") return framewire::cli::runGetCommand(sub_argc, sub_argv);
  if (command == "ls") return framewire::cli::runLsCommand(sub_argc, sub_argv);
  if (command == "warm") return framewire::cli::runWarmCommand(sub_argc, sub_argv);
  if (command == "stats") return framewire::cli::runStatsCommand(sub_argc, sub_argv);
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return framewire::cli::kExitOk;
  }
  if (command == "--version") {
    std::printf("framewire %s\n", FRAMEWIRE_VERSION);
    return framewire::cli::kExitOk;
  }
  std::fprintf(stderr, "framewire: unknown command '%s'\nTry 'framewire --help'.\n", command.c_str());
  return framewire::cli::kExitUsage;
}
