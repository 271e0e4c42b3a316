#include "proxy/slab_pool.h"

#include <sys/mman.h>

#include <cassert>
#include <cstdint>

// Under AddressSanitizer, free slots are poisoned, so a use after release is still reported.
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define HOPLITE_POISON(address, bytes) ASAN_POISON_MEMORY_REGION(address, bytes)
#define HOPLITE_UNPOISON(address, bytes) ASAN_UNPOISON_MEMORY_REGION(address, bytes)
#else
#define HOPLITE_POISON(address, bytes) ((void)(address), (void)(bytes))
#define HOPLITE_UNPOISON(address, bytes) ((void)(address), (void)(bytes))
#endif

namespace hoplite::proxy {

// The header at the start of every chunk; the slots follow it.
struct SlabPool::Chunk {
  Chunk* prev = nullptr;  // in partial_, when it has a free slot and is not the spare
  Chunk* next = nullptr;
  FreeSlot* free = nullptr;
  size_t used = 0;
  bool inPartial = false;
};

namespace {

constexpr size_t kSlotAlign = 16;

constexpr size_t roundUp(size_t value, size_t to) {
  return (value + to - 1) / to * to;
}

constexpr size_t headerBytes() {
  return roundUp(sizeof(void*) * 4 + sizeof(size_t), kSlotAlign);
}

}  // namespace

SlabPool::SlabPool(size_t slotBytes)
    : slotBytes_(roundUp(slotBytes < sizeof(FreeSlot) ? sizeof(FreeSlot) : slotBytes, kSlotAlign)),
      slotsPerChunk_((kChunkBytes - headerBytes()) / slotBytes_) {
  static_assert(sizeof(Chunk) <= headerBytes());
  assert(slotsPerChunk_ > 0);
}

SlabPool::~SlabPool() {
  // Only reached at thread exit, after the loop closed every handle and so freed every slot.
  while (partial_ != nullptr) {
    Chunk* chunk = partial_;
    unlinkPartial(chunk);
    unmapChunk(chunk);
  }
  if (spare_ != nullptr) unmapChunk(spare_);
}

SlabPool::Chunk* SlabPool::chunkOf(void* slot) {
  return reinterpret_cast<Chunk*>(reinterpret_cast<uintptr_t>(slot) & ~(kChunkBytes - 1));
}

SlabPool::Chunk* SlabPool::mapChunk() {
  // Map twice the size and cut the ends off, to get a chunk aligned to its size.
  void* raw =
      mmap(nullptr, 2 * kChunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = roundUp(start, kChunkBytes);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + 2 * kChunkBytes;
  if (end > aligned + kChunkBytes)
    munmap(reinterpret_cast<void*>(aligned + kChunkBytes), end - aligned - kChunkBytes);

  auto* chunk = new (reinterpret_cast<void*>(aligned)) Chunk();
  // Thread the free list from the first slot on, so that the pages are touched in order.
  char* slots = reinterpret_cast<char*>(aligned) + headerBytes();
  for (size_t i = slotsPerChunk_; i-- > 0;) {
    auto* slot = reinterpret_cast<FreeSlot*>(slots + i * slotBytes_);
    slot->next = chunk->free;
    chunk->free = slot;
  }
  HOPLITE_POISON(slots, slotsPerChunk_ * slotBytes_);
  ++chunks_;
  return chunk;
}

void SlabPool::unmapChunk(Chunk* chunk) {
  HOPLITE_UNPOISON(chunk, kChunkBytes);
  munmap(chunk, kChunkBytes);
}

void SlabPool::linkPartial(Chunk* chunk) {
  chunk->prev = nullptr;
  chunk->next = partial_;
  if (partial_ != nullptr) partial_->prev = chunk;
  partial_ = chunk;
  chunk->inPartial = true;
}

void SlabPool::unlinkPartial(Chunk* chunk) {
  if (chunk->prev != nullptr) chunk->prev->next = chunk->next;
  if (chunk->next != nullptr) chunk->next->prev = chunk->prev;
  if (partial_ == chunk) partial_ = chunk->next;
  chunk->prev = chunk->next = nullptr;
  chunk->inPartial = false;
}

void* SlabPool::allocate() {
  if (partial_ == nullptr) {
    Chunk* chunk = spare_ != nullptr ? spare_ : mapChunk();
    spare_ = nullptr;
    linkPartial(chunk);
  }
  Chunk* chunk = partial_;
  FreeSlot* slot = chunk->free;
  HOPLITE_UNPOISON(slot, slotBytes_);
  chunk->free = slot->next;
  ++chunk->used;
  if (chunk->free == nullptr) unlinkPartial(chunk);
  return slot;
}

void SlabPool::release(void* pointer) {
  if (pointer == nullptr) return;
  Chunk* chunk = chunkOf(pointer);
  assert(chunk->used > 0);
  auto* slot = static_cast<FreeSlot*>(pointer);
  slot->next = chunk->free;
  chunk->free = slot;
  HOPLITE_POISON(slot, slotBytes_);
  --chunk->used;
  if (chunk->used > 0) {
    if (!chunk->inPartial) linkPartial(chunk);
    return;
  }
  // Empty: keep it as the spare, or give it back if there is one already.
  if (chunk->inPartial) unlinkPartial(chunk);
  if (spare_ == nullptr) {
    spare_ = chunk;
  } else {
    unmapChunk(chunk);
    --chunks_;
  }
}

}  // namespace hoplite::proxy
