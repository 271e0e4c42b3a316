#include "proxy/observe/metrics_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

namespace hoplite::proxy::observe {

std::unique_ptr<MetricsTable> MetricsTable::create(size_t slots, size_t cellCount, size_t capacity,
                                                   size_t reserved) {
  reserved = std::max(reserved, slots);
  if (cellCount > capacity) {
    std::fprintf(stderr,
                 "hoplite: the metrics need %zu cells, more than the %zu there is room for\n",
                 cellCount, capacity);
    return nullptr;
  }
  const size_t slotBytes = sizeof(Counters) + capacity * sizeof(CounterCell);
  const size_t bytes = reserved * slotBytes;
  // Anonymous shared memory is zeroed, which is what a CounterCell starts as; NORESERVE: the
  // room for later generations costs nothing until it is used.
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    std::fprintf(stderr, "hoplite: cannot map %zu bytes for the metrics: %s\n", bytes,
                 std::strerror(errno));
    return nullptr;
  }
  std::unique_ptr<MetricsTable> table(new MetricsTable(memory, bytes, slots, reserved, capacity));
  for (size_t slot = 0; slot < slots; ++slot) table->prepare(slot, 0, cellCount);
  return table;
}

MetricsTable::MetricsTable(void* memory, size_t bytes, size_t slots, size_t reserved,
                           size_t capacity)
    : memory_(memory),
      bytes_(bytes),
      slots_(slots),
      reserved_(reserved),
      capacity_(capacity),
      slotBytes_(sizeof(Counters) + capacity * sizeof(CounterCell)) {
  static_assert(alignof(Counters) == alignof(CounterCell));
  for (size_t slot = 0; slot < reserved_; ++slot) {
    new (static_cast<char*>(memory_) + slot * slotBytes_) Counters();
  }
}

std::optional<size_t> MetricsTable::addSlot(size_t cellCount) {
  if (slots_ == reserved_) return std::nullopt;
  prepare(slots_, 0, cellCount);
  return slots_++;
}

void MetricsTable::prepare(size_t slot, size_t begin, size_t end) {
  CounterCell* first = reinterpret_cast<CounterCell*>(static_cast<char*>(memory_) +
                                                      slot * slotBytes_ + sizeof(Counters));
  for (size_t i = begin; i < end && i < capacity_; ++i) new (first + i) CounterCell();
}

MetricsTable::~MetricsTable() {
  // The cells are trivially destructible atomics: unmapping is enough.
  ::munmap(memory_, bytes_);
}

Counters& MetricsTable::counters(size_t slot) {
  return *std::launder(
      reinterpret_cast<Counters*>(static_cast<char*>(memory_) + slot * slotBytes_));
}

CounterCell* MetricsTable::cells(size_t slot) {
  return std::launder(reinterpret_cast<CounterCell*>(static_cast<char*>(memory_) +
                                                     slot * slotBytes_ + sizeof(Counters)));
}

const Counters& MetricsTable::countersAt(size_t slot) const {
  return const_cast<MetricsTable*>(this)->counters(slot);
}

const CounterCell* MetricsTable::cellsAt(size_t slot) const {
  return const_cast<MetricsTable*>(this)->cells(slot);
}

Counters MetricsTable::sumCounters() const {
  Counters sum;
  for (size_t slot = 0; slot < slots_; ++slot) sum += countersAt(slot);
  return sum;
}

std::vector<uint64_t> MetricsTable::sumCells(size_t count) const {
  count = std::min(count, capacity_);
  std::vector<uint64_t> sum(count, 0);
  for (size_t slot = 0; slot < slots_; ++slot) {
    const CounterCell* cells = cellsAt(slot);
    for (size_t i = 0; i < count; ++i) sum[i] += cells[i].load();
  }
  return sum;
}

uint64_t MetricsTable::maxCell(size_t cell) const {
  uint64_t most = 0;
  for (size_t slot = 0; slot < slots_; ++slot) most = std::max(most, cellsAt(slot)[cell].load());
  return most;
}

}  // namespace hoplite::proxy::observe
