// TestServer: a real framewire deployment for one integration test: framewire-broker with
// free ports and N framewire-worker processes over a fresh movie root, all killed when the
// TestServer goes away.
//
// The root holds small generated movies and the bad inputs the tests ask for:
//   prores.mov      320x240 ProRes 422 HQ, 48 frames (tests/support proresMovie())
//   h264.mp4        320x240 H.264 with B-frames, 72 frames (h264BFramesMovie())
//   sub/nested.mov  a copy of prores.mov, one folder down
//   inside-link.mov a symlink to prores.mov (stays inside the root)
//   escape.mov      a symlink to a movie outside the root
//   escape-dir/     a symlink to a folder outside the root
//   bad.mov         a text file
//   truncated.mov   the first 40% of prores.mov
// Heartbeats are short (200 ms, dead after 3 missed) so a killed worker is noticed quickly.
// Not thread-safe: the test's main thread owns it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "framewire/client.h"
#include "tests/integration/child_process.h"

namespace framewire::testing {

inline constexpr const char* kProres = "prores.mov";
inline constexpr const char* kH264 = "h264.mp4";
inline constexpr int kProresFrames = 48;
inline constexpr int kH264Frames = 72;
inline constexpr int kHeartbeatMs = 200;

class TestServer {
 public:
  explicit TestServer(int workers = 2);
  ~TestServer();

  // False (with why() saying what failed) when the processes did not come up.
  bool ok() const { return error_.empty(); }
  const std::string& why() const { return error_; }

  const std::string& frontend() const { return frontend_; }
  const std::string& root() const { return root_; }
  int workerCount() const { return static_cast<int>(workers_.size()); }
  ChildProcess& worker(int i) { return *workers_.at(i); }
  ChildProcess& broker() { return *broker_; }
  static std::string workerName(int i) { return "w" + std::to_string(i); }

  Client client(SocketType type = SocketType::kDealer,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(15000)) const;

  // The tail of every process's log, for failure messages.
  std::string logs() const;

 private:
  void prepareRoot();
  void start(int workers);

  std::string dir_;   // holds root/ and the logs
  std::string root_;
  std::string frontend_, backend_;
  std::unique_ptr<ChildProcess> broker_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
  std::string error_;
};

}  // namespace framewire::testing
