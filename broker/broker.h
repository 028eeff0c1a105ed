// Broker: the ZeroMQ loop that routes client requests to workers.
//
// It owns two ROUTER sockets (frontend for clients, backend for workers), turns what arrives
// into calls on the socket-free Scheduler (broker/scheduler.h) and carries out the actions
// the Scheduler returns. All routing, liveness, retry, BUSY and TIMEOUT decisions live in
// the Scheduler; this class only moves messages, without copying reply payloads.
//
// Thread-safety: run() owns the sockets and runs on one thread; requestStop() may be called
// from any thread (and from a signal handler through the flag it sets).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "common/status.h"

namespace framewire {

struct BrokerConfig {
  std::string frontend = "tcp://127.0.0.1:5555";  // clients connect here
  std::string backend = "tcp://127.0.0.1:5556";   // workers connect here
  std::chrono::milliseconds heartbeat_interval{1000};
  int heartbeat_liveness = 3;             // intervals of silence before a worker is dead
  size_t max_queue = 256;                 // queued requests beyond this are answered BUSY
  int max_dispatches = 3;                 // dispatches per request before UNAVAILABLE
  std::chrono::milliseconds default_timeout{30000};  // when a request names none
  std::chrono::milliseconds max_timeout{600000};     // upper bound on what a request may ask
  int socket_hwm = 32;                    // SNDHWM/RCVHWM on both ROUTERs (messages)
};

class Broker {
 public:
  // Binds both endpoints (throws zmq::error_t when an endpoint cannot be bound: startup only).
  Broker(zmq::context_t& context, BrokerConfig config);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // The endpoints actually bound (resolves tcp://...:0 and "*" to the real port).
  std::string frontendEndpoint() const;
  std::string backendEndpoint() const;

  // Serves until requestStop(); then tells connected workers DISCONNECT and returns.
  void run();
  void requestStop() { stop_.store(true); }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
};

}  // namespace framewire
