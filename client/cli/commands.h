// The client subcommands of the `framewire` command line. Each takes the arguments from the
// subcommand's name on (argv[0] is "info", "get", "ls", "warm" or "stats") and returns the
// process exit code: 0 success, 1 the request failed (status on stderr), 2 usage error.
// `serve` lives in serve_command.h.
#pragma once

namespace framewire::cli {

int runInfoCommand(int argc, char** argv);  // framewire info MOVIE: metadata as JSON
int runGetCommand(int argc, char** argv);   // framewire get MOVIE N -o FILE: one frame
int runLsCommand(int argc, char** argv);    // framewire ls [DIR]: movies and folders
int runWarmCommand(int argc, char** argv);  // framewire warm MOVIE --frames A:B:C: fill the caches
int runStatsCommand(int argc, char** argv); // framewire stats: server statistics as JSON

}  // namespace framewire::cli
