// Broker: the ZeroMQ loop that routes client requests to workers.
//
// It owns two ROUTER sockets (frontend for clients, backend for workers), turns what arrives
// into calls on the socket-free Scheduler (broker/scheduler.h) and carries out the actions
// the Scheduler returns. All routing, liveness, retry, BUSY and TIMEOUT decisions live in
// the Scheduler; this class only moves messages, without copying reply payloads (the PARTIAL
// messages of a streamed reply are forwarded as they arrive, like REPLYs). It answers
// STATS requests (fanned out to the workers by the Scheduler) with broker/stats_report.h.
//
// Thread-safety: run() owns the sockets and runs on one thread; requestStop() may be called
// from any thread (and from a signal handler through the flag it sets); stats() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "broker/scheduler.h"
#include "common/status.h"

namespace framewire {

struct BrokerConfig {
  std::string frontend = "tcp://127.0.0.1:5555";  // clients connect here
  std::string backend = "tcp://127.0.0.1:5556";   // workers connect here
  RoutingPolicy routing = RoutingPolicy::kAffinity;  // see broker/scheduler.h
  size_t affinity_max_backlog = 2;                 // per connection of a movie's home group
  std::chrono::milliseconds affinity_max_wait{100};
  std::chrono::milliseconds heartbeat_interval{1000};
  int heartbeat_liveness = 3;             // intervals of silence before a worker is dead
  size_t max_queue = 256;                 // queued requests beyond this are answered BUSY
  int max_dispatches = 3;                 // dispatches per request before UNAVAILABLE
  std::chrono::milliseconds default_timeout{30000};  // when a request names none
  std::chrono::milliseconds max_timeout{600000};     // upper bound on what a request may ask
  int socket_hwm = 32;                    // SNDHWM/RCVHWM on both ROUTERs (messages)

  SchedulerConfig schedulerConfig() const;
};

// A snapshot of what the broker has done, for tests, logs and (later) metrics.
struct BrokerStats {
  SchedulerCounters scheduler;
  size_t workers = 0;          // registered now
  size_t queued = 0;           // requests waiting for a worker now
  size_t in_flight = 0;        // requests at a worker now
  uint64_t malformed_client_messages = 0;  // answered INVALID_ARGUMENT, or dropped without an envelope
  uint64_t malformed_worker_messages = 0;  // dropped
  uint64_t client_send_failures = 0;       // replies dropped: client gone or its pipe full
  uint64_t worker_send_failures = 0;       // worker gone or its pipe full: the worker is forgotten
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

  // Thread-safe; refreshed once per loop turn (so at least every ~100 ms while running).
  BrokerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
};

}  // namespace framewire
