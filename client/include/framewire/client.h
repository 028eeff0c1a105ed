// framewire::Client: the C++ client of a framewire server (a broker, or `framewire serve`).
//
//   framewire::Client client("tcp://127.0.0.1:5555");
//   auto info = client.info("RS03ASHS/PN03B/CAMHDA301-20160724T030000Z.mov");
//   if (!info.ok()) { std::cerr << info.status().toString(); return; }
//   framewire::FrameOptions rgb24;
//   rgb24.format = "rgb24";
//   auto frame = client.getFrame(info->movie, 5000, rgb24);
//   const framewire::FramePlane& rgb = frame->planes()[0];  // points into the received message
//
// Requests are synchronous and follow the Lazy Pirate pattern (PROTOCOL.md section 5): the
// client waits up to `timeout` for each attempt, resends up to `retries` more times (each
// attempt under a new request id), and then returns a TIMEOUT status. A REQ socket is closed
// (linger 0) and reopened after a timed-out attempt; a DEALER keeps its socket and skips
// replies to requests it no longer waits for (matched on the request id). Errors the server
// reports come back as the Result's Status (code and message); nothing here throws.
//
// Over a DEALER, getFrames/getFramesAt with more than one frame ask for a streamed reply
// (PROTOCOL.md 3): the frames arrive in several messages while later ones are still being
// decoded, and `timeout` counts from the last message received, so a long batch that keeps
// arriving is not cut off (the broker restarts its deadline, `serverDeadline`, on each message
// too). A REQ socket takes every reply in one message.
//
// Thread-safety: a Client is used by one thread at a time (it owns one ZeroMQ socket, and
// ZeroMQ sockets are not thread-safe). Use one Client per thread for parallel requests. A
// Client may be moved to another thread between calls. Frames and MovieInfos it returns are
// independent values that any thread may use.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framewire/status.h"
#include "framewire/frame.h"
#include "framewire/movie_info.h"

namespace framewire {

enum class SocketType {
  kReq,     // strict request/reply; reopened after every timeout
  kDealer,  // asynchronous; survives timeouts and drops stale replies
};

struct ClientOptions {
  // How long one attempt waits for its reply (for a streamed reply: for each message).
  std::chrono::milliseconds timeout{10000};
  // Attempts after the first one times out (so at most 1 + retries sends per call).
  int retries = 2;
  SocketType socketType = SocketType::kDealer;
  // The deadline the broker enforces per request (Request.timeout_ms); zero sends `timeout`,
  // so the broker stops working on a request about when this client stops waiting for it.
  std::chrono::milliseconds serverDeadline{0};
  // Replies waiting in the socket's receive queue, in messages. Frames are megabytes, and a
  // synchronous client never has more than one reply it wants, so keep this low. (The send
  // queue gets the same bound: requests are small and only pile up while the broker is away.)
  int receiveHighWaterMark = 4;
};

// A crop rectangle in pixels of the decoded picture, applied before resizing.
struct CropRect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

struct FrameOptions {
  std::string format;    // "native", "rgb24", "rgba", "bgr24", "gray8", "gray16"; empty = rgb24
  std::string encoding;  // "raw", "png", "jpeg", "bmp"; empty = raw
  int quality = 0;       // jpeg quality 1..100; 0 = server default
  std::optional<CropRect> crop;
  int width = 0;         // output size; 0 keeps the (cropped) size, one 0 keeps the aspect
  int height = 0;
};

class Client {
 public:
  // Does not connect yet: the socket is opened by the first request, and a bad endpoint is
  // reported by that request's Status (INVALID_ARGUMENT).
  explicit Client(std::string endpoint, ClientOptions options = {});
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& endpoint() const;
  const ClientOptions& options() const;

  // Metadata of a movie (a path relative to the server's roots).
  Result<MovieInfo> info(const std::string& movie);

  // Frame `index` (0-based, presentation order).
  Result<Frame> getFrame(const std::string& movie, int64_t index, const FrameOptions& options = {});

  // Several frames in one request, returned in the order of `indices` (duplicates allowed).
  // Each frame keeps the reply message it came in alive (frames of one message share it);
  // over a DEALER the reply may be several messages (streamed). All succeed, or the first
  // failure is returned; a streamed reply that leaves a position empty is INTERNAL.
  Result<std::vector<Frame>> getFrames(const std::string& movie, const std::vector<int64_t>& indices,
                                       const FrameOptions& options = {});

  // The frame displayed at `seconds` (counted from frame 0, as Frame::time() is: the last
  // frame whose time is <= seconds); Frame::index() says which. Before 0 or at/after the
  // movie's end: OUT_OF_RANGE.
  Result<Frame> getFrameAt(const std::string& movie, double seconds, const FrameOptions& options = {});

  // The frames displayed at each of `seconds`, in one request, in that order (streamed over a
  // DEALER, as getFrames is).
  Result<std::vector<Frame>> getFramesAt(const std::string& movie, const std::vector<double>& seconds,
                                         const FrameOptions& options = {});

  // Movies and folders in a folder of the roots ("" = the top); folders end in "/".
  Result<std::vector<ListEntry>> list(const std::string& folder = "");

  // The server's statistics as a JSON document (PROTOCOL.md, STATS): the broker's counters,
  // each worker process's caches, and their totals.
  Result<std::string> stats();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace framewire
