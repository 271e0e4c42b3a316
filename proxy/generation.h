// One config generation as one event loop serves it: the immutable config, the metric cells its
// exchanges count into, and the upstream pools its requests take connections from.
//
// The Server holds the current generation; each Session holds the one its exchange started on
// (taken between requests) and each Tunnel the one its handshake was made on, so a generation
// lives exactly as long as the last exchange or tunnel that uses it, and nothing keeps a raw
// pointer into one it does not hold. A reload (Server::reload) builds the next generation
// beside the current one and swaps the pointer: what is in flight finishes untouched.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "conf/config.h"
#include "proxy/observe/metric_layout.h"
#include "proxy/observe/worker_metrics.h"
#include "proxy/upstream/upstream_pool.h"

namespace hoplite::proxy {

struct Generation {
  Generation(uint64_t numberInOrder, std::shared_ptr<const conf::Config> loaded,
             std::shared_ptr<const observe::MetricLayout> cells, Counters& counters,
             CounterCell* slotCells)
      : number(numberInOrder),
        config(std::move(loaded)),
        layout(std::move(cells)),
        metrics(*layout, counters, slotCells) {}
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // conf/ guarantees that every route names a known upstream.
  UpstreamPool& pool(const std::string& upstreamName) const { return *pools.at(upstreamName); }

  const uint64_t number;  // 1 at start, one more for each successful reload
  const std::shared_ptr<const conf::Config> config;
  const std::shared_ptr<const observe::MetricLayout> layout;
  observe::WorkerMetrics metrics;  // this loop's slot, at the layout's cells
  // By upstream name. A reload keeps the pool (its idle connections and its failed-server marks)
  // of an upstream whose settings did not change, so two generations may share it.
  std::map<std::string, std::shared_ptr<UpstreamPool>> pools;
};

}  // namespace hoplite::proxy
