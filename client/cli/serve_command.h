// `framewire serve`: the embedded mode, broker and N worker threads in one process.
#pragma once

namespace framewire::cli {

// argv[0] is "serve"; returns the process exit code.
int runServeCommand(int argc, char** argv);

}  // namespace framewire::cli
