// A fake framewire server for the client tests: a ROUTER socket bound to tcp://127.0.0.1:* that
// answers every request from a script, on a thread of its own. An answer is a list of messages,
// each sent a set time after the request arrived, so one script can drop a request, answer it
// late, answer it with garbage, or stream it in several messages (PROTOCOL.md 3).
//
// Thread-safety: the script runs on the server's thread. endpoint(), requests() and
// receivedBodies() may be called from any thread while the server runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/protocol.h"

namespace framewire::testing {

// One message of an answer, sent `at` after the request arrived.
struct ScriptedMessage {
  std::chrono::milliseconds at{0};
  flatbuffers::DetachedBuffer header;
  std::vector<std::vector<uint8_t>> payload;  // the parts after the header
  bool garbage = false;                       // instead: one frame that is not a Reply
};

// The messages answering one request; none drops the request.
using ScriptedAnswer = std::vector<ScriptedMessage>;

// Request number (0-based) and the request -> its answer.
using Script = std::function<ScriptedAnswer(int, const proto::Request&)>;

// Single-message answers. (A vector cannot be brace-initialised from a DetachedBuffer, which
// only moves.)
ScriptedAnswer answerWith(flatbuffers::DetachedBuffer header, std::vector<std::vector<uint8_t>> payload = {},
                          std::chrono::milliseconds delay = std::chrono::milliseconds(0));
ScriptedAnswer garbageAnswer();

class ScriptedServer {
 public:
  explicit ScriptedServer(Script script);
  ~ScriptedServer();  // stops the thread; messages not yet due are never sent
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  int requests() const { return requests_; }
  // The Request flatbuffer of every request received, in arrival order.
  std::vector<std::vector<uint8_t>> receivedBodies();

 private:
  void serve();

  Script script_;
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::mutex mutex_;
  std::vector<std::vector<uint8_t>> bodies_;
  std::thread thread_;
};

}  // namespace framewire::testing
