// Scheduler: every decision the broker makes, without a socket in sight.
//
// It holds the bounded request queue, the workers (ready or busy, when last heard from, when
// their next heartbeat is due), the in-flight table (token -> request and worker) and the
// request deadlines. The ZeroMQ loop (broker/broker.cpp) feeds it what arrives and the time,
// and carries out the Actions it returns: dispatch a request to a worker, forward a worker's
// reply, answer a client with a status, send a worker HEARTBEAT or DISCONNECT. Time is always
// an argument, so tests drive it with a fake clock and no network (proto/PROTOCOL.md, 6-7).
//
// Ownership and copies: a request's client envelope and body are kept as the received
// zmq::message_t objects; a worker's reply parts (megabytes of pixels) are moved from the
// worker message into the ForwardReply action, never copied. A DispatchRequest action holds
// a zmq_msg_copy of the request body, which shares the received buffer rather than copying it.
//
// Complexity: finding a request by token, a worker by identity, the next ready worker, and
// removing a request from the queue are O(1); deadlines, worker expiries and heartbeat times
// are ordered sets, so onTick() costs O(log n) per event due and O(1) when nothing is due.
//
// Routing: pickWorker() chooses which ready worker gets the request at the head of the queue
// (the least recently used one today). Cache-aware routing (rendezvous hashing over live
// workers, falling back to the least loaded one) replaces that one function, with a routing
// key (the movie) added to PendingRequest; the queue, the in-flight table and liveness stay.
//
// Thread-safety: none; one thread (the broker loop) owns a Scheduler.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <zmq.hpp>

#include "common/protocol.h"
#include "common/status.h"

namespace framewire {

struct SchedulerConfig {
  std::chrono::milliseconds heartbeat_interval{1000};
  int heartbeat_liveness = 3;  // intervals of silence before a worker is dead
  size_t max_queue = 256;      // queued requests beyond this are answered BUSY
  int max_dispatches = 3;      // dispatches per request before UNAVAILABLE
  std::chrono::milliseconds default_timeout{30000};  // when a request names none
  std::chrono::milliseconds max_timeout{600000};     // upper bound on what a request may ask
};

// Monotonic totals since the Scheduler was made, for logs and (later) metrics.
struct SchedulerCounters {
  uint64_t requests = 0;        // client requests received (accepted or answered BUSY)
  uint64_t dispatches = 0;      // REQUESTs sent to workers (first dispatches and requeues)
  uint64_t replies = 0;         // worker replies forwarded to clients
  uint64_t busy = 0;            // requests answered BUSY
  uint64_t timeouts = 0;        // requests answered TIMEOUT
  uint64_t requeues = 0;        // in-flight requests put back in the queue after their worker was lost
  uint64_t unavailable = 0;     // requests answered UNAVAILABLE (retry cap, broker stopping)
  uint64_t worker_errors = 0;   // requests answered INTERNAL because their worker sent a malformed reply
  uint64_t late_replies = 0;    // replies dropped: token timed out, re-dispatched, or never ours
  uint64_t workers_joined = 0;
  uint64_t workers_lost = 0;    // expired, disconnected or unreachable
  uint64_t unknown_workers = 0; // messages from unknown workers answered with DISCONNECT
};

// ---- actions: what the loop must do, in order ------------------------------------------------

// Send REQUEST [token][queue_us][request] to a worker.
struct DispatchRequest {
  std::string worker;        // ROUTER identity
  uint64_t token = 0;
  int64_t queue_us = 0;      // time since the broker accepted the request
  zmq::message_t request;    // the body the client sent, shared by zmq_msg_copy (not copied)
};

// Send HEARTBEAT or DISCONNECT to a worker.
struct SendWorkerCommand {
  std::string worker;
  protocol::WorkerCommand command = protocol::WorkerCommand::kHeartbeat;
};

// Forward a worker's reply, [header][payload...] as received, to the client behind `envelope`.
struct ForwardReply {
  protocol::Multipart envelope;
  protocol::Multipart header_and_payload;
};

// Answer a client with a header-only reply carrying a status the broker decided
// (BUSY, TIMEOUT, UNAVAILABLE, INTERNAL).
struct AnswerClient {
  protocol::Multipart envelope;
  uint64_t request_id = 0;
  Status status;
};

using Action = std::variant<DispatchRequest, SendWorkerCommand, ForwardReply, AnswerClient>;
using Actions = std::vector<Action>;

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  explicit Scheduler(SchedulerConfig config);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // A well-formed client request (see protocol::parseClientRequest). It is queued (or
  // answered BUSY when the queue is full) and dispatched at once if a worker is ready.
  Actions onClientRequest(protocol::ClientRequest&& request, TimePoint now);

  // A well-formed message from a worker (see protocol::parseWorkerMessage).
  Actions onWorkerMessage(protocol::WorkerMessage&& message, TimePoint now);

  // A worker sent a REPLY carrying `token` that was otherwise malformed (a worker bug): the
  // client is answered INTERNAL rather than left to time out, and the worker is ready again.
  Actions onMalformedReply(const std::string& worker, uint64_t token, TimePoint now);

  // The loop could not deliver to a worker (ROUTER_MANDATORY: gone, or its pipe is full).
  // The worker is forgotten and its in-flight request put back at the front of the queue.
  // `undelivered_token` is the token of the DispatchRequest that failed (0 when the failed
  // send was a command): that dispatch never left the broker, so it does not count against
  // max_dispatches.
  Actions onWorkerUnreachable(const std::string& worker, uint64_t undelivered_token, TimePoint now);

  // Everything that is due at `now`: request deadlines (TIMEOUT), dead workers (requeue or
  // UNAVAILABLE), heartbeats to send. Cheap when nothing is due; call it every loop turn.
  Actions onTick(TimePoint now);

  // When onTick() next has something to do; nullopt when nothing is scheduled.
  std::optional<TimePoint> nextWakeup() const;

  // The broker is stopping: every pending request is answered UNAVAILABLE and every worker
  // is told DISCONNECT. The Scheduler is empty afterwards.
  Actions shutdown(TimePoint now);

  // The deadline of a request received at `now` asking for `timeout_ms` (0: the default),
  // clamped to max_timeout.
  TimePoint deadlineFor(uint32_t timeout_ms, TimePoint now) const;

  const SchedulerCounters& counters() const { return counters_; }
  size_t workerCount() const { return workers_.size(); }
  size_t readyWorkerCount() const { return ready_workers_.size(); }
  size_t queuedCount() const { return queue_.size(); }
  size_t inFlightCount() const { return serial_by_token_.size(); }
  const SchedulerConfig& config() const { return config_; }

 private:
  // One accepted client request, from arrival until it is answered.
  struct PendingRequest {
    protocol::Multipart envelope;
    zmq::message_t body;
    uint64_t request_id = 0;
    TimePoint received_at;
    TimePoint deadline;
    int dispatches = 0;
    // Queued: position in queue_. In flight: token and worker.
    bool queued = false;
    std::list<uint64_t>::iterator queue_position;
    uint64_t token = 0;
    std::string worker;
  };

  struct Worker {
    std::string identity;
    std::string name;
    TimePoint expires_at;      // last heard from + liveness * interval
    TimePoint heartbeat_due;
    // 0 when ready. Stays set after the request itself timed out (the worker is still
    // working on it) until the worker replies with this token or is lost.
    uint64_t busy_token = 0;
    bool ready = false;
    std::list<std::string>::iterator ready_position;
  };

  void registerWorker(const std::string& identity, const std::string& name, TimePoint now,
                      Actions& out);
  void refreshLiveness(Worker& worker, TimePoint now);
  void markReady(Worker& worker);
  void markBusy(Worker& worker, uint64_t token);
  // Forgets a worker; its in-flight request is requeued (or answered UNAVAILABLE at the cap).
  void loseWorker(const std::string& identity, const std::string& why, uint64_t undelivered_token,
                  TimePoint now, Actions& out);
  // Puts the request the worker is serving (if it is still in flight there) back in the queue.
  void releaseInFlight(Worker& worker, uint64_t undelivered_token, TimePoint now, Actions& out);

  void handleReply(Worker& worker, protocol::WorkerMessage&& message, TimePoint now, Actions& out);
  void requeueFront(uint64_t serial, TimePoint now, Actions& out);
  void dispatchQueued(TimePoint now, Actions& out);
  Worker* pickWorker(const PendingRequest& request);
  void dispatch(uint64_t serial, Worker& worker, TimePoint now, Actions& out);

  // Removes a request from every index and returns it, for answering.
  PendingRequest takeRequest(uint64_t serial);
  void answer(uint64_t serial, Status status, Actions& out);

  void expireDeadlines(TimePoint now, Actions& out);
  void expireWorkers(TimePoint now, Actions& out);
  void sendHeartbeats(TimePoint now, Actions& out);

  SchedulerConfig config_;
  SchedulerCounters counters_;
  uint64_t next_serial_ = 1;
  uint64_t next_token_ = 1;

  std::unordered_map<uint64_t, PendingRequest> requests_;   // by serial: queued and in flight
  std::list<uint64_t> queue_;                                // serials, front is next
  std::unordered_map<uint64_t, uint64_t> serial_by_token_;  // the in-flight table
  std::set<std::pair<TimePoint, uint64_t>> deadlines_;      // (deadline, serial)

  std::unordered_map<std::string, Worker> workers_;
  std::list<std::string> ready_workers_;  // front: ready the longest (least recently used)
  std::set<std::pair<TimePoint, std::string>> worker_expiries_;
  std::set<std::pair<TimePoint, std::string>> heartbeats_due_;
};

}  // namespace framewire
