#include "broker/scheduler.h"

#include <algorithm>
#include <cctype>

#include "common/log.h"
#include "common/xxhash64.h"

namespace framewire {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr const char* kLog = "broker";

// ROUTER-assigned identities are binary (a zero byte and four random bytes): show them as hex.
std::string printable(const std::string& identity) {
  const bool text = !identity.empty() && std::all_of(identity.begin(), identity.end(), [](char c) {
    return std::isprint(static_cast<unsigned char>(c)) != 0;
  });
  if (text) return identity;
  static const char* digits = "0123456789abcdef";
  std::string hex = "0x";
  for (unsigned char c : identity) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  return hex;
}

long long millisecondsBetween(Scheduler::TimePoint from, Scheduler::TimePoint to) {
  return static_cast<long long>(duration_cast<milliseconds>(to - from).count());
}

// splitmix64's finaliser: spreads the XOR of two hashes into an independent-looking score.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// The rendezvous (highest random weight) score of `group` for a movie.
uint64_t rendezvousScore(uint64_t movie_hash, uint64_t group_hash) { return mix(movie_hash ^ group_hash); }

// The key affinity routes by: the movie of FRAMES and INFO requests; LIST and the rest have none.
std::string routingKeyOf(const proto::Request* request) {
  if (!request || !request->movie()) return {};
  switch (request->kind()) {
    case proto::RequestKind::FRAMES:
    case proto::RequestKind::INFO: return request->movie()->str();
    default: return {};
  }
}

}  // namespace

const char* routingPolicyName(RoutingPolicy policy) {
  return policy == RoutingPolicy::kAffinity ? "affinity" : "lru";
}

Scheduler::Scheduler(SchedulerConfig config) : config_(std::move(config)) {
  config_.heartbeat_liveness = std::max(config_.heartbeat_liveness, 1);
  config_.max_dispatches = std::max(config_.max_dispatches, 1);
}

Scheduler::TimePoint Scheduler::deadlineFor(uint32_t timeout_ms, TimePoint now) const {
  milliseconds timeout = timeout_ms == 0 ? config_.default_timeout : milliseconds(timeout_ms);
  return now + std::min(timeout, config_.max_timeout);
}

// ---- events -----------------------------------------------------------------------------------

Actions Scheduler::onClientRequest(protocol::ClientRequest&& request, TimePoint now) {
  Actions out;
  ++counters_.requests;
  if (request.request && request.request->kind() == proto::RequestKind::STATS) {
    startStats(std::move(request), now, out);
    return out;
  }
  // Read the view before moving the body: a small body lives inside the message object.
  const uint64_t request_id = request.request ? request.request->id() : 0;
  const uint32_t timeout_ms = request.request ? request.request->timeout_ms() : 0;
  std::string movie = routingKeyOf(request.request);

  const uint64_t serial = next_serial_++;
  PendingRequest& pending = requests_[serial];
  pending.envelope = std::move(request.envelope);
  pending.body = std::move(request.body);
  pending.request_id = request_id;
  pending.received_at = now;
  pending.deadline = deadlineFor(timeout_ms, now);
  pending.timeout_ms = timeout_ms;
  pending.movie = std::move(movie);
  deadlines_.emplace(pending.deadline, serial);
  pending.queued = true;
  pending.queue_position = queue_.insert(queue_.end(), serial);
  if (config_.routing == RoutingPolicy::kAffinity && !pending.movie.empty()) {
    spill_times_.emplace(now + config_.affinity_max_wait, serial);
  }
  dispatchQueued(now, out);

  // Requests that can be dispatched at once are never refused, whatever max_queue says; one
  // that would have to wait beyond the queue bound is answered BUSY.
  auto still = requests_.find(serial);
  if (still != requests_.end() && still->second.queued && queue_.size() > config_.max_queue) {
    ++counters_.busy;
    FW_LOG(kDebug, kLog) << "queue full (" << queue_.size() - 1 << "): request " << request_id << " BUSY";
    PendingRequest refused = takeRequest(serial);
    out.push_back(AnswerClient{std::move(refused.envelope), request_id,
                               Status::busy("the broker's queue is full (" + std::to_string(queue_.size()) +
                                            " requests); retry later")});
  }
  return out;
}

Actions Scheduler::onWorkerMessage(protocol::WorkerMessage&& message, TimePoint now) {
  using protocol::WorkerCommand;
  Actions out;
  auto found = workers_.find(message.identity);
  if (found == workers_.end()) {
    switch (message.command) {
      case WorkerCommand::kReady:
        registerWorker(message.identity, message.name, message.cache_group, now, out);
        dispatchQueued(now, out);
        break;
      case WorkerCommand::kDisconnect:
        break;  // already forgotten; answering would only echo DISCONNECTs back and forth
      case WorkerCommand::kReply:
      case WorkerCommand::kPartial:
      case WorkerCommand::kHeartbeat:
      case WorkerCommand::kRequest:
        // A worker we declared dead (or never met): tell it to reconnect and register again.
        if (message.command == WorkerCommand::kReply) ++counters_.late_replies;
        if (message.command == WorkerCommand::kPartial) ++counters_.late_partials;
        ++counters_.unknown_workers;
        FW_LOG(kDebug, kLog) << protocol::workerCommandName(message.command) << " from unknown worker "
                             << printable(message.identity) << ": DISCONNECT";
        out.push_back(SendWorkerCommand{message.identity, WorkerCommand::kDisconnect});
        break;
    }
    return out;
  }

  Worker& worker = found->second;
  refreshLiveness(worker, now);
  switch (message.command) {
    case WorkerCommand::kReady:
      // READY again on the same connection: the worker restarted its side of the protocol
      // and forgot what it was doing, so its request goes back to the queue.
      FW_LOG(kWarn, kLog) << "worker " << printable(worker.identity) << " (" << message.name
                          << ") sent READY again";
      worker.name = message.name;
      releaseInFlight(worker, 0, now, out);
      if (const std::string group = groupOf(worker.identity, message.cache_group); group != worker.group) {
        leaveGroup(worker, now, out);
        if (worker.ready) {  // leaveGroup took it off its old group's ready list
          ready_workers_.erase(worker.ready_position);
          worker.ready = false;
        }
        joinGroup(worker, group);
      }
      if (!worker.ready) markReady(worker);
      break;
    case WorkerCommand::kReply:
      handleReply(worker, std::move(message), now, out);
      break;
    case WorkerCommand::kPartial:
      handlePartial(worker, std::move(message), now, out);
      break;
    case WorkerCommand::kDisconnect:
      loseWorker(message.identity, "disconnected", 0, now, out);
      break;
    case WorkerCommand::kHeartbeat:
    case WorkerCommand::kRequest:  // never parsed from a worker; liveness is all it gives
      break;
  }
  dispatchQueued(now, out);
  return out;
}

Actions Scheduler::onMalformedReply(const std::string& worker_identity, uint64_t token, TimePoint now,
                                    bool partial) {
  Actions out;
  auto found = workers_.find(worker_identity);
  if (found == workers_.end()) {
    ++counters_.unknown_workers;
    out.push_back(SendWorkerCommand{worker_identity, protocol::WorkerCommand::kDisconnect});
    return out;
  }
  Worker& worker = found->second;
  refreshLiveness(worker, now);
  // After a bad PARTIAL the worker is still producing the rest of the request: it stays busy
  // (and its REPLY, when it comes, is dropped as late).
  if (!partial && token != 0 && worker.busy_token == token) markReady(worker);
  auto in_flight = serial_by_token_.find(token);
  if (in_flight != serial_by_token_.end()) {
    ++counters_.worker_errors;
    FW_LOG(kWarn, kLog) << "worker " << printable(worker.identity) << " (" << worker.name
                        << ") sent a malformed " << (partial ? "PARTIAL" : "reply") << "; answering INTERNAL";
    answer(in_flight->second,
           Status::internal("worker '" + worker.name + "' sent a malformed reply"), out);
  }
  dispatchQueued(now, out);
  return out;
}

Actions Scheduler::onWorkerUnreachable(const std::string& worker, uint64_t undelivered_token,
                                       TimePoint now) {
  Actions out;
  loseWorker(worker, "unreachable", undelivered_token, now, out);
  dispatchQueued(now, out);
  return out;
}

Actions Scheduler::onTick(TimePoint now) {
  Actions out;
  // Deadlines first, so a request whose deadline passed is not requeued by a worker's death.
  expireDeadlines(now, out);
  expireWorkers(now, out);
  dispatchQueued(now, out);
  sendHeartbeats(now, out);
  return out;
}

std::optional<Scheduler::TimePoint> Scheduler::nextWakeup() const {
  std::optional<TimePoint> next;
  auto consider = [&next](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  if (!deadlines_.empty()) consider(deadlines_.begin()->first);
  if (!worker_expiries_.empty()) consider(worker_expiries_.begin()->first);
  // A request waiting for its busy home group may spill to an idle worker at its time. (With
  // no worker idle, the next ready worker triggers dispatching anyway.)
  if (!ready_workers_.empty() && !spill_times_.empty()) consider(spill_times_.begin()->first);
  if (!heartbeats_due_.empty()) consider(heartbeats_due_.begin()->first);
  return next;
}

Actions Scheduler::shutdown(TimePoint now) {
  Actions out;
  std::vector<uint64_t> serials;
  serials.reserve(requests_.size());
  for (const auto& entry : requests_) serials.push_back(entry.first);
  std::sort(serials.begin(), serials.end());  // oldest first, for a predictable order
  for (uint64_t serial : serials) {
    ++counters_.unavailable;
    answer(serial, Status::unavailable("the broker is stopping"), out);
  }
  for (const auto& entry : workers_) {
    out.push_back(SendWorkerCommand{entry.first, protocol::WorkerCommand::kDisconnect});
  }
  workers_.clear();
  ready_workers_.clear();
  groups_.clear();
  ++groups_epoch_;
  worker_expiries_.clear();
  heartbeats_due_.clear();
  return out;
}

// ---- workers ----------------------------------------------------------------------------------

void Scheduler::registerWorker(const std::string& identity, const std::string& name,
                               const std::string& cache_group, TimePoint now, Actions& out) {
  Worker& worker = workers_[identity];
  worker.identity = identity;
  worker.name = name;
  joinGroup(worker, groupOf(identity, cache_group));
  worker.expires_at = now + config_.heartbeat_interval * config_.heartbeat_liveness;
  worker.heartbeat_due = now + config_.heartbeat_interval;
  worker_expiries_.emplace(worker.expires_at, identity);
  heartbeats_due_.emplace(worker.heartbeat_due, identity);
  markReady(worker);
  ++counters_.workers_joined;
  FW_LOG(kInfo, kLog) << "worker " << printable(identity) << " (" << name << ", group " << worker.group
                      << ") joined; " << workers_.size() << " workers in " << groups_.size() << " groups";
}

std::string Scheduler::groupOf(const std::string& identity, const std::string& cache_group) {
  // Without a cache group a connection is a group of its own (its identity is unique).
  return cache_group.empty() ? "connection " + printable(identity) : cache_group;
}

void Scheduler::joinGroup(Worker& worker, const std::string& name) {
  auto [it, created] = groups_.try_emplace(name);
  Group& group = it->second;
  if (created) {
    group.hash = xxhash64(name);
    ++groups_epoch_;  // movies may have a new home
  }
  ++group.members;
  group.names.push_back(worker.name);
  worker.group = name;
}

void Scheduler::leaveGroup(Worker& worker, TimePoint now, Actions& out) {
  auto found = groups_.find(worker.group);
  if (found == groups_.end()) return;
  Group& group = found->second;
  if (worker.ready) group.ready.erase(worker.group_ready_position);
  auto name = std::find(group.names.begin(), group.names.end(), worker.name);
  if (name != group.names.end()) group.names.erase(name);
  if (--group.members > 0) return;
  const std::string gone = worker.group;
  groups_.erase(found);
  ++groups_epoch_;  // its movies move to their next home
  // STATS sub-requests waiting for this group will get no answer from it.
  std::vector<uint64_t> orphans;
  for (uint64_t serial : queue_) {
    const PendingRequest& pending = requests_.at(serial);
    if (pending.aggregate != 0 && pending.required_group == gone) orphans.push_back(serial);
  }
  for (uint64_t serial : orphans) answer(serial, Status::unavailable("the worker process left"), out);
}

void Scheduler::refreshLiveness(Worker& worker, TimePoint now) {
  const TimePoint expires_at = now + config_.heartbeat_interval * config_.heartbeat_liveness;
  if (expires_at == worker.expires_at) return;
  // Re-key the set node in place: no allocation per message.
  auto node = worker_expiries_.extract({worker.expires_at, worker.identity});
  worker.expires_at = expires_at;
  if (node.empty()) {
    worker_expiries_.emplace(expires_at, worker.identity);
  } else {
    node.value().first = expires_at;
    worker_expiries_.insert(std::move(node));
  }
}

void Scheduler::markReady(Worker& worker) {
  worker.busy_token = 0;
  if (worker.ready) return;
  worker.ready = true;
  worker.ready_position = ready_workers_.insert(ready_workers_.end(), worker.identity);
  Group& group = groups_.at(worker.group);
  worker.group_ready_position = group.ready.insert(group.ready.end(), worker.identity);
}

void Scheduler::markBusy(Worker& worker, uint64_t token) {
  if (worker.ready) {
    ready_workers_.erase(worker.ready_position);
    groups_.at(worker.group).ready.erase(worker.group_ready_position);
    worker.ready = false;
  }
  worker.busy_token = token;
}

void Scheduler::loseWorker(const std::string& identity, const std::string& why,
                           uint64_t undelivered_token, TimePoint now, Actions& out) {
  auto found = workers_.find(identity);
  if (found == workers_.end()) return;
  Worker& worker = found->second;
  leaveGroup(worker, now, out);
  if (worker.ready) ready_workers_.erase(worker.ready_position);
  worker.ready = false;
  worker_expiries_.erase({worker.expires_at, identity});
  heartbeats_due_.erase({worker.heartbeat_due, identity});
  ++counters_.workers_lost;
  FW_LOG(kInfo, kLog) << "worker " << printable(identity) << " (" << worker.name << ") lost: " << why
                      << "; " << workers_.size() - 1 << " workers";
  releaseInFlight(worker, undelivered_token, now, out);
  workers_.erase(found);
}

void Scheduler::releaseInFlight(Worker& worker, uint64_t undelivered_token, TimePoint now,
                                Actions& out) {
  if (worker.busy_token == 0) return;
  const uint64_t token = worker.busy_token;
  worker.busy_token = 0;
  auto in_flight = serial_by_token_.find(token);
  if (in_flight == serial_by_token_.end()) return;  // already answered (timed out)
  const uint64_t serial = in_flight->second;
  PendingRequest& pending = requests_.at(serial);
  if (pending.worker != worker.identity) return;
  if (token == undelivered_token) --pending.dispatches;  // it never reached the worker
  requeueFront(serial, now, out);
}

// ---- requests ---------------------------------------------------------------------------------

void Scheduler::handleReply(Worker& worker, protocol::WorkerMessage&& message, TimePoint now,
                            Actions& out) {
  if (message.token == worker.busy_token) markReady(worker);
  auto in_flight = serial_by_token_.find(message.token);
  if (in_flight == serial_by_token_.end()) {
    // Its request timed out, or was re-dispatched after this worker was thought lost.
    ++counters_.late_replies;
    FW_LOG(kDebug, kLog) << "dropping late reply (token " << message.token << ") from worker "
                         << printable(worker.identity);
    return;
  }
  // A token still in flight is answered whichever of our workers sends it: a worker that
  // reconnected (new identity) may finish what it began on its old connection. The old
  // connection stays busy until it replies itself or expires, so nothing is sent to it.
  PendingRequest& pending = requests_.at(in_flight->second);
  if (pending.aggregate != 0) {  // a group's part of a STATS answer
    const proto::Reply* header = message.header_and_payload.empty()
                                     ? nullptr
                                     : protocol::verifyReply(message.header_and_payload[0].data(),
                                                             message.header_and_payload[0].size());
    if (header && header->status() == proto::StatusCode::OK && header->stats_json()) {
      resolveStats(in_flight->second, true, header->stats_json()->str(), out);
    } else {
      const std::string why = !header ? "no reply header"
                              : header->message() ? header->message()->str()
                                                  : "no statistics in the reply";
      resolveStats(in_flight->second, false, "the worker answered: " + why, out);
    }
    return;
  }
  PendingRequest done = takeRequest(in_flight->second);
  ++counters_.replies;
  out.push_back(ForwardReply{std::move(done.envelope), std::move(message.header_and_payload)});
}

void Scheduler::handlePartial(Worker& worker, protocol::WorkerMessage&& message, TimePoint now, Actions& out) {
  auto in_flight = serial_by_token_.find(message.token);
  if (in_flight == serial_by_token_.end()) {
    // The request timed out (its client has its answer) or was re-dispatched: the new dispatch
    // sends every frame again.
    ++counters_.late_partials;
    FW_LOG(kDebug, kLog) << "dropping late PARTIAL (token " << message.token << ") from worker "
                         << printable(worker.identity);
    return;
  }
  PendingRequest& pending = requests_.at(in_flight->second);
  if (pending.aggregate != 0) {
    // Workers stream FRAMES only; a STATS answer comes in one REPLY.
    ++counters_.late_partials;
    FW_LOG(kWarn, kLog) << "dropping a PARTIAL for a STATS request from worker " << printable(worker.identity);
    return;
  }
  // The envelope stays with the request for the messages still to come. Its frames are a few
  // bytes of identity; copy() shares rather than copies anything larger.
  protocol::Multipart envelope;
  envelope.reserve(pending.envelope.size());
  for (zmq::message_t& frame : pending.envelope) {
    envelope.emplace_back();
    envelope.back().copy(frame);
  }
  deadlines_.erase({pending.deadline, in_flight->second});
  pending.deadline = deadlineFor(pending.timeout_ms, now);
  deadlines_.emplace(pending.deadline, in_flight->second);
  ++counters_.partials;
  out.push_back(ForwardReply{std::move(envelope), std::move(message.header_and_payload)});
}

void Scheduler::requeueFront(uint64_t serial, TimePoint now, Actions& out) {
  PendingRequest& pending = requests_.at(serial);
  serial_by_token_.erase(pending.token);
  const std::string lost_worker = std::move(pending.worker);
  pending.token = 0;
  pending.worker.clear();
  if (pending.dispatches >= config_.max_dispatches) {
    ++counters_.unavailable;
    FW_LOG(kInfo, kLog) << "request " << pending.request_id << " lost its worker "
                        << pending.dispatches << " times: UNAVAILABLE";
    answer(serial,
           Status::unavailable("workers were lost " + std::to_string(pending.dispatches) +
                               " times while serving this request"),
           out);
    return;
  }
  if (pending.aggregate != 0 && groups_.count(pending.required_group) == 0) {
    answer(serial, Status::unavailable("the worker process left"), out);
    return;
  }
  ++counters_.requeues;
  FW_LOG(kInfo, kLog) << "request " << pending.request_id << " requeued after losing worker "
                      << printable(lost_worker) << " (" << pending.dispatches << " of "
                      << config_.max_dispatches << " dispatches used)";
  // Back to the front: it has waited longest. The queue bound does not apply, since the
  // request was accepted already and must not be lost. It has waited its affinity time too.
  pending.queued = true;
  pending.queue_position = queue_.insert(queue_.begin(), serial);
  if (config_.routing == RoutingPolicy::kAffinity && !pending.movie.empty() && pending.aggregate == 0) {
    spill_times_.emplace(pending.received_at + config_.affinity_max_wait, serial);
  }
}

void Scheduler::dispatchQueued(TimePoint now, Actions& out) {
  if (ready_workers_.empty()) return;
  std::unordered_map<std::string, size_t> waiting;
  // In queue order; a request that waits for its home group lets later ones go elsewhere.
  for (auto it = queue_.begin(); it != queue_.end() && !ready_workers_.empty();) {
    const uint64_t serial = *it;
    ++it;  // dispatch() erases the current position
    Worker* worker = pickWorker(requests_.at(serial), now, waiting);
    if (worker != nullptr) dispatch(serial, *worker, now, out);
  }
}

Scheduler::Worker* Scheduler::leastRecentlyUsed() {
  // The worker that has been waiting longest: spreads load evenly and lets a slow worker fall
  // behind without holding anything up.
  return ready_workers_.empty() ? nullptr : &workers_.at(ready_workers_.front());
}

Scheduler::Worker* Scheduler::readyMemberOf(const std::string& group) {
  auto found = groups_.find(group);
  if (found == groups_.end() || found->second.ready.empty()) return nullptr;
  return &workers_.at(found->second.ready.front());
}

const std::string& Scheduler::homeGroup(PendingRequest& request) {
  if (request.preferred_epoch != groups_epoch_) {
    const uint64_t movie_hash = xxhash64(request.movie);
    uint64_t best = 0;
    request.preferred_group.clear();
    for (const auto& [name, group] : groups_) {
      const uint64_t score = rendezvousScore(movie_hash, group.hash);
      if (request.preferred_group.empty() || score > best) {
        best = score;
        request.preferred_group = name;
      }
    }
    request.preferred_epoch = groups_epoch_;
  }
  return request.preferred_group;
}

Scheduler::Worker* Scheduler::pickWorker(PendingRequest& request, TimePoint now,
                                         std::unordered_map<std::string, size_t>& waiting) {
  if (request.aggregate != 0) return readyMemberOf(request.required_group);
  if (config_.routing == RoutingPolicy::kLeastRecentlyUsed || request.movie.empty()) return leastRecentlyUsed();
  const std::string& home = homeGroup(request);
  if (Worker* worker = readyMemberOf(home)) {
    ++counters_.affinity_dispatches;
    return worker;
  }
  // The home group is busy: wait for it, within the bound.
  size_t& ahead = waiting[home];
  const auto group = groups_.find(home);
  const size_t members = group == groups_.end() ? 1 : std::max<size_t>(group->second.members, 1);
  const bool backlog_full = ahead >= config_.affinity_max_backlog * members;
  const bool waited_enough = now - request.received_at >= config_.affinity_max_wait;
  if (backlog_full || waited_enough) {
    ++counters_.affinity_spills;
    return leastRecentlyUsed();
  }
  ++ahead;
  return nullptr;
}

void Scheduler::dispatch(uint64_t serial, Worker& worker, TimePoint now, Actions& out) {
  PendingRequest& pending = requests_.at(serial);
  queue_.erase(pending.queue_position);
  pending.queued = false;
  spill_times_.erase({pending.received_at + config_.affinity_max_wait, serial});
  const uint64_t token = next_token_++;
  pending.token = token;
  pending.worker = worker.identity;
  ++pending.dispatches;
  serial_by_token_.emplace(token, serial);
  markBusy(worker, token);
  ++counters_.dispatches;

  DispatchRequest action;
  action.worker = worker.identity;
  action.token = token;
  action.queue_us = duration_cast<microseconds>(now - pending.received_at).count();
  action.request.copy(pending.body);  // shares the buffer; the original stays for a requeue
  out.push_back(std::move(action));
}

Scheduler::PendingRequest Scheduler::takeRequest(uint64_t serial) {
  auto node = requests_.extract(serial);
  PendingRequest& pending = node.mapped();
  if (pending.queued) {
    queue_.erase(pending.queue_position);
    spill_times_.erase({pending.received_at + config_.affinity_max_wait, serial});
  }
  if (pending.token != 0) serial_by_token_.erase(pending.token);
  deadlines_.erase({pending.deadline, serial});
  return std::move(pending);
}

void Scheduler::answer(uint64_t serial, Status status, Actions& out) {
  PendingRequest& pending = requests_.at(serial);
  if (pending.aggregate != 0) {
    resolveStats(serial, false, std::string(statusCodeName(status.code())) + ": " + status.message(), out);
    return;
  }
  PendingRequest done = takeRequest(serial);
  out.push_back(AnswerClient{std::move(done.envelope), done.request_id, std::move(status)});
}

// ---- STATS ------------------------------------------------------------------------------------

void Scheduler::startStats(protocol::ClientRequest&& request, TimePoint now, Actions& out) {
  ++counters_.stats_requests;
  StatsAggregate aggregate;
  aggregate.envelope = std::move(request.envelope);
  aggregate.request_id = request.request->id();
  const TimePoint deadline = std::min(deadlineFor(request.request->timeout_ms(), now), now + config_.stats_timeout);
  if (groups_.empty()) {
    out.push_back(AnswerStats{std::move(aggregate.envelope), aggregate.request_id, {}});
    return;
  }
  const uint64_t id = next_aggregate_++;
  for (const auto& [name, group] : groups_) {
    WorkerGroupStats entry;
    entry.group = name;
    entry.workers = group.names;
    aggregate.groups.push_back(std::move(entry));
  }
  aggregate.outstanding = aggregate.groups.size();
  // One sub-request per group, sharing the client's request body.
  for (const auto& [name, group] : groups_) {
    const uint64_t serial = next_serial_++;
    PendingRequest& sub = requests_[serial];
    sub.body.copy(request.body);
    sub.request_id = aggregate.request_id;
    sub.received_at = now;
    sub.deadline = deadline;
    sub.aggregate = id;
    sub.required_group = name;
    deadlines_.emplace(deadline, serial);
    sub.queued = true;
    sub.queue_position = queue_.insert(queue_.end(), serial);
  }
  aggregates_.emplace(id, std::move(aggregate));
  dispatchQueued(now, out);
}

void Scheduler::resolveStats(uint64_t serial, bool answered, std::string text, Actions& out) {
  const PendingRequest sub = takeRequest(serial);
  const uint64_t id = sub.aggregate;
  const std::string& group = sub.required_group;
  auto found = aggregates_.find(id);
  if (found == aggregates_.end()) return;
  StatsAggregate& aggregate = found->second;
  for (WorkerGroupStats& entry : aggregate.groups) {
    if (entry.group != group || entry.answered || !entry.error.empty()) continue;
    entry.answered = answered;
    (answered ? entry.stats_json : entry.error) = std::move(text);
    --aggregate.outstanding;
    break;
  }
  if (aggregate.outstanding > 0) return;
  out.push_back(AnswerStats{std::move(aggregate.envelope), aggregate.request_id, std::move(aggregate.groups)});
  aggregates_.erase(found);
}

// ---- timers -----------------------------------------------------------------------------------

void Scheduler::expireDeadlines(TimePoint now, Actions& out) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const uint64_t serial = deadlines_.begin()->second;
    const PendingRequest& pending = requests_.at(serial);
    const long long waited_ms = millisecondsBetween(pending.received_at, now);
    ++counters_.timeouts;
    if (pending.queued) {
      FW_LOG(kInfo, kLog) << "request " << pending.request_id << " timed out in the queue after "
                          << waited_ms << " ms";
    } else {
      // The worker keeps working on it and stays busy until it replies; the reply is dropped.
      FW_LOG(kInfo, kLog) << "request " << pending.request_id << " timed out at worker "
                          << printable(pending.worker) << " after " << waited_ms << " ms";
    }
    answer(serial,
           Status::timeout("no worker answered within " + std::to_string(waited_ms) + " ms"),
           out);
  }
}

void Scheduler::expireWorkers(TimePoint now, Actions& out) {
  while (!worker_expiries_.empty() && worker_expiries_.begin()->first <= now) {
    const std::string identity = worker_expiries_.begin()->second;
    const auto silence = config_.heartbeat_interval * config_.heartbeat_liveness;
    loseWorker(identity, "silent for " + std::to_string(silence.count()) + " ms", 0, now, out);
  }
}

void Scheduler::sendHeartbeats(TimePoint now, Actions& out) {
  while (!heartbeats_due_.empty() && heartbeats_due_.begin()->first <= now) {
    auto node = heartbeats_due_.extract(heartbeats_due_.begin());
    Worker& worker = workers_.at(node.value().second);
    out.push_back(SendWorkerCommand{worker.identity, protocol::WorkerCommand::kHeartbeat});
    // Keep the beat regular; after a stall, start again from now instead of sending a burst.
    worker.heartbeat_due += config_.heartbeat_interval;
    if (worker.heartbeat_due <= now) worker.heartbeat_due = now + config_.heartbeat_interval;
    node.value().first = worker.heartbeat_due;
    heartbeats_due_.insert(std::move(node));
  }
}

}  // namespace framewire
