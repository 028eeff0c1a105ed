#include "tests/integration/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_movies.h"

namespace framewire::testing {
namespace {

using Clock = std::chrono::steady_clock;

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// fork + exec with stdout -> out_fd and stderr -> err_fd. Everything the child runs between
// fork and exec is async-signal-safe (the test process has threads).
pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // Child.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(126);  // the parent died before prctl took effect
  const int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  execv(args[0], args.data());
  _exit(127);
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string log_path) : log_path_(std::move(log_path)) {
  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    std::perror(("cannot open " + log_path_).c_str());
    return;
  }
  pid_ = spawn(argv, log_fd, log_fd);
  close(log_fd);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_status_) kill9();
}

std::string ChildProcess::log() const { return readFile(log_path_); }

bool ChildProcess::reap(bool block) {
  if (pid_ <= 0 || exit_status_) return true;
  int status = 0;
  const pid_t done = waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (done == pid_) {
    exit_status_ = decodeStatus(status);
    return true;
  }
  return done < 0;  // not our child any more: nothing to wait for
}

bool ChildProcess::running() { return pid_ > 0 && !reap(false); }

void ChildProcess::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  reap(true);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_status_;
}

std::optional<int> ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (!running()) return exit_status_;
  ::kill(pid_, SIGTERM);
  if (auto status = wait(grace)) return status;
  kill9();
  return std::nullopt;
}

std::optional<std::string> ChildProcess::waitForLog(const std::string& text, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    std::string so_far = log();
    if (so_far.find(text) != std::string::npos) return so_far;
    if (!running() || Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

CommandResult runProgram(const std::vector<std::string>& argv, std::chrono::milliseconds limit) {
  CommandResult result;
  char out_path[] = "/tmp/fw-cli-out-XXXXXX";
  char err_path[] = "/tmp/fw-cli-err-XXXXXX";
  const int out_fd = mkostemp(out_path, O_CLOEXEC);
  const int err_fd = mkostemp(err_path, O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0) return result;
  const pid_t pid = spawn(argv, out_fd, err_fd);
  close(out_fd);
  close(err_fd);
  const auto deadline = Clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      result.exit_code = decodeStatus(status);
      break;
    }
    if (done < 0) break;
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.exit_code = decodeStatus(status);
      result.err = "(killed after the time limit)\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.out = readFile(out_path);
  result.err += readFile(err_path);
  unlink(out_path);
  unlink(err_path);
  return result;
}

CommandResult runFramewire(const std::string& command, const std::string& server, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {binaryPath("framewire"), command, "--server", server};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProgram(argv);
}

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

}  // namespace framewire::testing
