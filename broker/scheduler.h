// Scheduler: every decision the broker makes, without a socket in sight.
//
// It holds the bounded request queue, the workers (ready or busy, when last heard from, when
// their next heartbeat is due), the in-flight table (token -> request and worker) and the
// request deadlines. The ZeroMQ loop (broker/broker.cpp) feeds it what arrives and the time,
// and carries out the Actions it returns: dispatch a request to a worker, forward a worker's
// reply, answer a client with a status, send a worker HEARTBEAT or DISCONNECT. Time is always
// an argument, so tests drive it with a fake clock and no network (proto/PROTOCOL.md, 6-7).
//
// Streamed replies (PROTOCOL.md 3): a worker may answer a FRAMES request with PARTIAL messages
// before its REPLY. Each PARTIAL whose token is in flight is forwarded to the client at once
// (a ForwardReply action, as received) and the request stays in flight: its worker stays busy,
// its requeue rules are unchanged, and only the REPLY completes it. Each PARTIAL restarts the
// request's deadline (timeout_ms then bounds the wait for the next message, so a long batch
// that keeps arriving is not cut off). A PARTIAL is a sign of life like any message. PARTIALs for tokens no longer in flight (the request timed
// out, or was re-dispatched) are dropped like late REPLYs.
//
// Ownership and copies: a request's client envelope and body are kept as the received
// zmq::message_t objects; a worker's reply parts (megabytes of pixels) are moved from the
// worker message into the ForwardReply action, never copied. A DispatchRequest action holds
// a zmq_msg_copy of the request body, which shares the received buffer rather than copying it.
//
// Complexity: finding a request by token, a worker by identity, the next ready worker (of
// all, or of a group), and removing a request from the queue are O(1); deadlines, worker
// expiries, heartbeat and spill times are ordered sets, so onTick() costs O(log n) per event
// due and O(1) when nothing is due. With affinity routing a dispatch pass walks the queue
// (bounded by max_queue) while some worker is ready, since a request waiting for its busy
// home must not hold up those behind it; a movie's home group is computed once per request
// (O(groups)) and again only when groups come or go.
//
// Routing (RoutingPolicy):
// - kAffinity (default): a request for a movie (FRAMES, INFO) goes to the worker *process*
//   that keeps that movie warm. Connections that announce the same cache group in READY
//   (all connections of one worker process) form a group; each movie has a home group, the
//   one with the highest rendezvous hash score(movie, group) among the live groups, so when
//   a group joins or leaves only the movies whose home it is (or becomes) move. Within the
//   group the least recently used ready connection serves. When every connection of the home
//   group is busy the request waits for one, but not beyond a bound: it spills to the least
//   recently used ready worker of any group when the requests already waiting for that home
//   group number affinity_max_backlog per connection of the group, or when the request has
//   waited affinity_max_wait. A queued request never blocks the ones behind it that can go
//   elsewhere. LIST and other requests without a movie go to the least recently used worker.
// - kLeastRecentlyUsed: every request goes to the worker that has been ready longest.
// Workers that send no cache group are a group of one connection each.
//
// STATS fan-out: a client's STATS request becomes one sub-request per group, each dispatched
// to a ready connection of that group (they queue like other requests, outside the queue
// bound). When every group has answered, or after stats_timeout (or the request's deadline),
// the client gets one AnswerStats action with each group's stats_json, or why it has none.
//
// Thread-safety: none; one thread (the broker loop) owns a Scheduler.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
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

enum class RoutingPolicy { kAffinity, kLeastRecentlyUsed };
const char* routingPolicyName(RoutingPolicy policy);  // "affinity", "lru"

struct SchedulerConfig {
  RoutingPolicy routing = RoutingPolicy::kAffinity;
  // Affinity spills to another worker when this many requests per connection of the movie's
  // home group are already waiting for it ...
  size_t affinity_max_backlog = 2;
  // ... or when the request has waited this long.
  std::chrono::milliseconds affinity_max_wait{100};
  // The longest a STATS request waits for the workers' answers.
  std::chrono::milliseconds stats_timeout{5000};
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
  uint64_t replies = 0;         // worker replies forwarded to clients (final messages)
  uint64_t partials = 0;        // PARTIAL messages of streamed replies forwarded to clients
  uint64_t busy = 0;            // requests answered BUSY
  uint64_t timeouts = 0;        // requests answered TIMEOUT
  uint64_t requeues = 0;        // in-flight requests put back in the queue after their worker was lost
  uint64_t unavailable = 0;     // requests answered UNAVAILABLE (retry cap, broker stopping)
  uint64_t worker_errors = 0;   // requests answered INTERNAL because their worker sent a malformed reply
  uint64_t late_replies = 0;    // replies dropped: token timed out, re-dispatched, or never ours
  uint64_t late_partials = 0;   // PARTIALs dropped for the same reasons
  uint64_t workers_joined = 0;
  uint64_t workers_lost = 0;    // expired, disconnected or unreachable
  uint64_t unknown_workers = 0; // messages from unknown workers answered with DISCONNECT
  uint64_t affinity_dispatches = 0;  // requests dispatched to their movie's home group
  uint64_t affinity_spills = 0;      // requests sent elsewhere because their home group was too busy
  uint64_t stats_requests = 0;       // STATS requests fanned out to the worker groups
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

// Forward a worker's reply (or one PARTIAL message of a streamed reply), [header][payload...]
// as received, to the client behind `envelope`.
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

// One worker group's part of a STATS answer.
struct WorkerGroupStats {
  std::string group;
  std::vector<std::string> workers;  // names of its connections
  bool answered = false;
  std::string stats_json;            // the worker's Reply.stats_json, when answered
  std::string error;                 // why not, otherwise
};

// Answer a STATS request: the broker adds its own numbers and formats the reply.
struct AnswerStats {
  protocol::Multipart envelope;
  uint64_t request_id = 0;
  std::vector<WorkerGroupStats> groups;  // ordered by group name
};

using Action = std::variant<DispatchRequest, SendWorkerCommand, ForwardReply, AnswerClient, AnswerStats>;
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

  // A worker sent a REPLY (or a PARTIAL: `partial`) carrying `token` that was otherwise
  // malformed (a worker bug): the client is answered INTERNAL rather than left to time out (or
  // to miss frames). After a REPLY the worker is ready again; after a PARTIAL it is still
  // working on the request and stays busy until its REPLY.
  Actions onMalformedReply(const std::string& worker, uint64_t token, TimePoint now, bool partial = false);

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
  size_t groupCount() const { return groups_.size(); }
  size_t readyWorkerCount() const { return ready_workers_.size(); }
  size_t queuedCount() const { return queue_.size(); }
  size_t inFlightCount() const { return serial_by_token_.size(); }
  const SchedulerConfig& config() const { return config_; }

 private:
  // One accepted client request, from arrival until it is answered. A STATS sub-request has
  // no envelope: it belongs to an aggregate and must go to `required_group`.
  struct PendingRequest {
    protocol::Multipart envelope;
    zmq::message_t body;
    uint64_t request_id = 0;
    TimePoint received_at;
    TimePoint deadline;
    uint32_t timeout_ms = 0;           // as asked for (0: the default); restarts on each PARTIAL
    int dispatches = 0;
    std::string movie;                 // the routing key; empty: no affinity
    std::string preferred_group;       // the movie's home group, cached ...
    uint64_t preferred_epoch = 0;      // ... while groups_epoch_ is this
    uint64_t aggregate = 0;            // STATS sub-request: its aggregate, else 0
    std::string required_group;
    // Queued: position in queue_. In flight: token and worker.
    bool queued = false;
    std::list<uint64_t>::iterator queue_position;
    uint64_t token = 0;
    std::string worker;
  };

  // The connections sharing one cache (one worker process).
  struct Group {
    uint64_t hash = 0;                // of its name, for rendezvous scores
    size_t members = 0;
    std::vector<std::string> names;   // for STATS
    std::list<std::string> ready;     // its ready connections, least recently used first
  };

  // A STATS request waiting for its groups' answers.
  struct StatsAggregate {
    protocol::Multipart envelope;
    uint64_t request_id = 0;
    std::vector<WorkerGroupStats> groups;
    size_t outstanding = 0;
  };

  struct Worker {
    std::string identity;
    std::string name;
    std::string group;
    std::list<std::string>::iterator group_ready_position;
    TimePoint expires_at;      // last heard from + liveness * interval
    TimePoint heartbeat_due;
    // 0 when ready. Stays set after the request itself timed out (the worker is still
    // working on it) until the worker replies with this token or is lost.
    uint64_t busy_token = 0;
    bool ready = false;
    std::list<std::string>::iterator ready_position;
  };

  void registerWorker(const std::string& identity, const std::string& name, const std::string& cache_group,
                      TimePoint now, Actions& out);
  static std::string groupOf(const std::string& identity, const std::string& cache_group);
  void joinGroup(Worker& worker, const std::string& group);
  void leaveGroup(Worker& worker, TimePoint now, Actions& out);
  void refreshLiveness(Worker& worker, TimePoint now);
  void markReady(Worker& worker);
  void markBusy(Worker& worker, uint64_t token);
  // Forgets a worker; its in-flight request is requeued (or answered UNAVAILABLE at the cap).
  void loseWorker(const std::string& identity, const std::string& why, uint64_t undelivered_token,
                  TimePoint now, Actions& out);
  // Puts the request the worker is serving (if it is still in flight there) back in the queue.
  void releaseInFlight(Worker& worker, uint64_t undelivered_token, TimePoint now, Actions& out);

  void handleReply(Worker& worker, protocol::WorkerMessage&& message, TimePoint now, Actions& out);
  void handlePartial(Worker& worker, protocol::WorkerMessage&& message, TimePoint now, Actions& out);
  void requeueFront(uint64_t serial, TimePoint now, Actions& out);
  void dispatchQueued(TimePoint now, Actions& out);
  // The worker a queued request goes to now, or null when it waits. `waiting` counts, per
  // home group, the requests passed over so far in this pass (the backlog ahead).
  Worker* pickWorker(PendingRequest& request, TimePoint now,
                     std::unordered_map<std::string, size_t>& waiting);
  Worker* leastRecentlyUsed();
  Worker* readyMemberOf(const std::string& group);
  const std::string& homeGroup(PendingRequest& request);
  void dispatch(uint64_t serial, Worker& worker, TimePoint now, Actions& out);

  // STATS.
  void startStats(protocol::ClientRequest&& request, TimePoint now, Actions& out);
  // Records a sub-request's outcome in its aggregate (and forgets the sub-request); answers
  // the client when it was the last one.
  void resolveStats(uint64_t serial, bool answered, std::string text, Actions& out);

  // Removes a request from every index and returns it, for answering.
  PendingRequest takeRequest(uint64_t serial);
  // Answers a client request with `status`; a STATS sub-request records it as its group's error.
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
  std::map<std::string, Group> groups_;    // by name: STATS answers list them in order
  uint64_t groups_epoch_ = 1;              // changes whenever a group appears or goes
  std::unordered_map<uint64_t, StatsAggregate> aggregates_;
  uint64_t next_aggregate_ = 1;
  // Queued affinity requests by when they may spill: nextWakeup() while a worker is idle.
  std::set<std::pair<TimePoint, uint64_t>> spill_times_;
  std::set<std::pair<TimePoint, std::string>> worker_expiries_;
  std::set<std::pair<TimePoint, std::string>> heartbeats_due_;
};

}  // namespace framewire
