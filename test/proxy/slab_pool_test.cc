// The slab behind Sockets and Tunnels: slots, chunk reuse and giving chunks back.
#include "proxy/slab_pool.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

namespace hoplite::proxy {
namespace {

TEST_CASE("proxy: slab slots are distinct, aligned and writable", "[proxy][slab]") {
  const size_t requested = GENERATE(1, 8, 17, 304, 320, 4000);
  CAPTURE(requested);
  SlabPool pool(requested);
  CHECK(pool.slotBytes() >= requested);
  CHECK(pool.slotBytes() % 16 == 0);
  // Enough slots to need three chunks.
  const size_t count = pool.slotsPerChunk() * 2 + 1;
  std::vector<void*> slots;
  std::set<uintptr_t> seen;
  for (size_t i = 0; i < count; ++i) {
    void* slot = pool.allocate();
    REQUIRE(reinterpret_cast<uintptr_t>(slot) % 16 == 0);
    std::memset(slot, static_cast<int>(i & 0xff), requested);
    seen.insert(reinterpret_cast<uintptr_t>(slot));
    slots.push_back(slot);
  }
  CHECK(seen.size() == count);
  CHECK(pool.chunks() == 3);
  // Each slot still holds its own pattern: no two overlap.
  for (size_t i = 0; i < count; ++i) {
    const auto* bytes = static_cast<const unsigned char*>(slots[i]);
    CHECK(bytes[0] == (i & 0xff));
    CHECK(bytes[requested - 1] == (i & 0xff));
  }
  for (void* slot : slots) pool.release(slot);
}

TEST_CASE("proxy: a released slot is reused before a new chunk is mapped", "[proxy][slab]") {
  SlabPool pool(320);
  std::vector<void*> slots;
  for (size_t i = 0; i < pool.slotsPerChunk(); ++i) slots.push_back(pool.allocate());
  CHECK(pool.chunks() == 1);
  void* freed = slots[7];
  pool.release(freed);
  CHECK(pool.allocate() == freed);
  CHECK(pool.chunks() == 1);
  slots.push_back(pool.allocate());  // the chunk is full: a second one
  CHECK(pool.chunks() == 2);
  for (void* slot : slots) pool.release(slot);
}

TEST_CASE("proxy: empty chunks go back to the kernel, one is kept spare", "[proxy][slab]") {
  SlabPool pool(320);
  const size_t perChunk = pool.slotsPerChunk();
  std::vector<void*> slots;
  for (size_t i = 0; i < perChunk * 4; ++i) slots.push_back(pool.allocate());
  CHECK(pool.chunks() == 4);
  for (void* slot : slots) pool.release(slot);
  CHECK(pool.chunks() == 1);  // the spare
  // The spare serves the next allocation without mapping.
  void* again = pool.allocate();
  CHECK(pool.chunks() == 1);
  pool.release(again);
  CHECK(pool.chunks() == 1);
}

TEST_CASE("proxy: releasing in any order keeps every chunk's count right", "[proxy][slab]") {
  SlabPool pool(304);
  const size_t perChunk = pool.slotsPerChunk();
  std::vector<void*> slots;
  for (size_t i = 0; i < perChunk * 3; ++i) slots.push_back(pool.allocate());
  // Free every other slot: all three chunks become partial, none empty.
  for (size_t i = 0; i < slots.size(); i += 2) pool.release(slots[i]);
  CHECK(pool.chunks() == 3);
  // Refill: the freed slots are found again, no chunk is added.
  std::vector<void*> refill;
  for (size_t i = 0; i < slots.size(); i += 2) refill.push_back(pool.allocate());
  CHECK(pool.chunks() == 3);
  std::set<void*> reused(refill.begin(), refill.end());
  for (size_t i = 0; i < slots.size(); i += 2) CHECK(reused.count(slots[i]) == 1);
  for (void* slot : refill) pool.release(slot);
  for (size_t i = 1; i < slots.size(); i += 2) pool.release(slots[i]);
  CHECK(pool.chunks() == 1);
}

struct Sized : SlabAllocated<Sized> {
  char payload[200];
};

TEST_CASE("proxy: SlabAllocated classes get their memory from the slab", "[proxy][slab]") {
  std::vector<Sized*> objects;
  for (int i = 0; i < 500; ++i) {
    objects.push_back(new Sized);
    objects.back()->payload[0] = static_cast<char>(i);
  }
  // Objects of one chunk share its 64 KiB-aligned block.
  const auto chunkOf = [](const void* p) {
    return reinterpret_cast<uintptr_t>(p) & ~(SlabPool::kChunkBytes - 1);
  };
  CHECK(chunkOf(objects[0]) == chunkOf(objects[1]));
  for (int i = 0; i < 500; ++i) CHECK(objects[i]->payload[0] == static_cast<char>(i));
  for (Sized* object : objects) delete object;
}

}  // namespace
}  // namespace hoplite::proxy
