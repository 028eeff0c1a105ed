#include "broker/stats_report.h"

namespace framewire {
namespace {

// Adds the numbers of `from` into `into`, member by member, recursing into objects.
void addNumbers(JsonValue& into, const JsonValue& from) {
  for (const auto& [name, value] : from.members()) {
    const JsonValue* existing = into.get(name);
    if (value.isObject()) {
      JsonValue sub = existing && existing->isObject() ? *existing : JsonValue::object();
      addNumbers(sub, value);
      into.set(name, std::move(sub));
    } else if (value.isNumber()) {
      const bool ints = value.type() == JsonValue::Type::kInt &&
                        (!existing || existing->type() == JsonValue::Type::kInt);
      if (ints) {
        into.set(name, JsonValue(int64_t((existing ? existing->asInt() : 0) + value.asInt())));
      } else {
        into.set(name, JsonValue((existing && existing->isNumber() ? existing->asDouble() : 0.0) + value.asDouble()));
      }
    }
  }
}

void addHitRates(JsonValue& section) {
  const JsonValue* hits = section.get("hits");
  const JsonValue* misses = section.get("misses");
  if (hits && misses && hits->isNumber() && misses->isNumber()) {
    const double lookups = hits->asDouble() + misses->asDouble();
    section.set("hit_rate", JsonValue(lookups > 0 ? hits->asDouble() / lookups : 0.0));
  }
}

JsonValue u64(uint64_t v) { return JsonValue(v); }

}  // namespace

JsonValue sumWorkerStats(const std::vector<JsonValue>& workers) {
  JsonValue total = JsonValue::object();
  for (const JsonValue& worker : workers) {
    for (const auto& [name, section] : worker.members()) {
      if (!section.isObject()) continue;  // top-level scalars: name, pid, uptime
      JsonValue sum = total.get(name) ? *total.get(name) : JsonValue::object();
      addNumbers(sum, section);
      total.set(name, std::move(sum));
    }
  }
  JsonValue out = JsonValue::object();
  for (const auto& [name, section] : total.members()) {
    JsonValue with_rate = section;
    addHitRates(with_rate);
    out.set(name, std::move(with_rate));
  }
  return out;
}

std::string statsReport(const BrokerStats& broker, RoutingPolicy routing, size_t groups,
                        const std::vector<WorkerGroupStats>& workers) {
  const SchedulerCounters& c = broker.scheduler;
  JsonValue b = JsonValue::object();
  b.set("routing", JsonValue(routingPolicyName(routing)));
  b.set("workers", u64(broker.workers));
  b.set("groups", u64(groups));
  b.set("queued", u64(broker.queued));
  b.set("in_flight", u64(broker.in_flight));
  b.set("requests", u64(c.requests));
  b.set("dispatches", u64(c.dispatches));
  b.set("replies", u64(c.replies));
  b.set("partials", u64(c.partials));
  b.set("affinity_dispatches", u64(c.affinity_dispatches));
  b.set("affinity_spills", u64(c.affinity_spills));
  b.set("busy", u64(c.busy));
  b.set("timeouts", u64(c.timeouts));
  b.set("requeues", u64(c.requeues));
  b.set("unavailable", u64(c.unavailable));
  b.set("worker_errors", u64(c.worker_errors));
  b.set("late_replies", u64(c.late_replies));
  b.set("late_partials", u64(c.late_partials));
  b.set("workers_joined", u64(c.workers_joined));
  b.set("workers_lost", u64(c.workers_lost));
  b.set("stats_requests", u64(c.stats_requests));
  b.set("malformed_client_messages", u64(broker.malformed_client_messages));
  b.set("malformed_worker_messages", u64(broker.malformed_worker_messages));
  b.set("client_send_failures", u64(broker.client_send_failures));
  b.set("worker_send_failures", u64(broker.worker_send_failures));

  std::vector<JsonValue> parsed;
  JsonValue list = JsonValue::array();
  for (const WorkerGroupStats& group : workers) {
    JsonValue entry = JsonValue::object();
    entry.set("group", JsonValue(group.group));
    JsonValue names = JsonValue::array();
    for (const std::string& name : group.workers) names.push(JsonValue(name));
    entry.set("connections", std::move(names));
    if (group.answered) {
      Result<JsonValue> stats = JsonValue::parse(group.stats_json);
      if (stats.ok()) {
        parsed.push_back(*stats);
        entry.set("stats", std::move(stats).value());
      } else {
        entry.set("error", JsonValue("unreadable statistics: " + stats.status().message()));
      }
    } else {
      entry.set("error", JsonValue(group.error));
    }
    list.push(std::move(entry));
  }
  JsonValue doc = JsonValue::object();
  doc.set("broker", std::move(b));
  doc.set("total", sumWorkerStats(parsed));
  doc.set("workers", std::move(list));
  return doc.dump(2);
}

}  // namespace framewire
