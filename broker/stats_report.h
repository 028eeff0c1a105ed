// The JSON document a STATS request gets from the broker: the broker's own numbers, each
// worker process's statistics as it reported them, and their totals.
//
//   {"broker":  {"routing": "affinity", "workers": 4, "groups": 2, "queued": 0, ... counters},
//    "total":   {"memory": {"hits": ..., "hit_rate": 0.97, ...}, "disk": {...}, ...},
//    "workers": [{"group": "worker-a", "connections": ["worker-a-0", "worker-a-1"],
//                 "stats": { ... the worker's stats_json ... }},
//                {"group": "worker-b", "connections": ["worker-b"], "error": "TIMEOUT: ..."}]}
//
// "total" sums every number found in the sections (objects) of the workers' statistics, by
// name ("memory", "disk", "movies", ...), and adds "hit_rate" = hits / (hits + misses) to each
// section that counts both. Workers' top-level scalars (name, pid, uptime) are not summed.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/scheduler.h"
#include "common/json_value.h"

namespace framewire {

std::string statsReport(const BrokerStats& broker, RoutingPolicy routing, size_t groups,
                        const std::vector<WorkerGroupStats>& workers);

// The totals over workers' statistics documents (see above); exposed for tests.
JsonValue sumWorkerStats(const std::vector<JsonValue>& workers);

}  // namespace framewire
