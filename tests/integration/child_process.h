// ChildProcess: a program started for a test (framewire-broker, framewire-worker, framewire)
// that is killed and reaped when the handle goes away, so a failing test never leaves
// servers behind. Standard output and error go to a log file the test can read.
//
// The child also gets SIGKILL if the test process dies first (PR_SET_PDEATHSIG).
// Not thread-safe: one thread owns a handle.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace framewire::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` (a path) with `argv`; output goes to `log_path` (truncated).
  // Check running() or the log when it matters: a failed exec exits with status 127.
  ChildProcess(std::vector<std::string> argv, std::string log_path);
  ~ChildProcess();  // SIGKILL and reap, if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& logPath() const { return log_path_; }
  std::string log() const;  // everything written so far

  bool running();
  void kill9();  // SIGKILL now, and reap
  // SIGTERM, then SIGKILL if it has not exited within `grace`; returns the exit status
  // (or 128 + signal), or nullopt if it had to be killed.
  std::optional<int> terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  // Waits for the process to exit by itself; its exit status, or nullopt after `limit`.
  std::optional<int> wait(std::chrono::milliseconds limit);

  // Waits until the log contains `text`; the log so far, or nullopt after `limit` or if the
  // process exited first.
  std::optional<std::string> waitForLog(const std::string& text, std::chrono::milliseconds limit);

 private:
  bool reap(bool block);

  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> exit_status_;
};

// Runs a program to completion with stdout and stderr captured separately; for CLI tests.
struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by one; -1 when it could not run
  std::string out;
  std::string err;
};
CommandResult runProgram(const std::vector<std::string>& argv,
                         std::chrono::milliseconds limit = std::chrono::milliseconds(30000));

// `framewire COMMAND --server SERVER ARGS...`.
CommandResult runFramewire(const std::string& command, const std::string& server, const std::vector<std::string>& args);

// Exit code, stdout and stderr, for failure messages.
std::string describe(const CommandResult& r);

}  // namespace framewire::testing
