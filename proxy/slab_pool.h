// Fixed-size slots for the objects that live as long as a connection (Socket, Tunnel).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace hoplite::proxy {

// Why not malloc: a WebSocket handshake allocates a few KiB that die with it (the Session, its
// parsers, the rewritten heads) between the allocations that outlive it (two Sockets and the
// Tunnel). From the malloc heap, each long-lived object then pins a page among freed ones, and
// the memory a burst of handshakes needed stays resident for as long as the tunnels do (measured:
// 2.1 KiB per idle tunnel at 1,000 tunnels, of which 1 KiB was objects in use). Slots from their
// own chunks keep the long-lived objects together, so the heap behind them can shrink again.
//
// Chunks are 64 KiB, mapped from the kernel and aligned to their size, so a slot finds its chunk
// by masking its address. A chunk whose slots are all free goes back to the kernel, except one
// kept spare so that a connection opening and closing at a chunk's edge does not map and unmap
// each time (HAProxy's pools and the kernel's slab cache keep spare memory in the same way).
// Not thread-safe: one pool per loop thread.
class SlabPool {
 public:
  static constexpr size_t kChunkBytes = 64 * 1024;

  explicit SlabPool(size_t slotBytes);
  ~SlabPool();  // unmaps every chunk; every slot must have been released
  SlabPool(const SlabPool&) = delete;
  SlabPool& operator=(const SlabPool&) = delete;

  // A slot of slotBytes, 16-byte aligned; throws std::bad_alloc when the kernel has no memory.
  void* allocate();
  void release(void* slot);

  size_t slotBytes() const { return slotBytes_; }
  size_t slotsPerChunk() const { return slotsPerChunk_; }
  // Chunks currently mapped, full, partial or spare.
  size_t chunks() const { return chunks_; }

 private:
  struct FreeSlot {
    FreeSlot* next;
  };
  struct Chunk;

  Chunk* mapChunk();
  static void unmapChunk(Chunk* chunk);
  static Chunk* chunkOf(void* slot);
  void linkPartial(Chunk* chunk);
  void unlinkPartial(Chunk* chunk);

  size_t slotBytes_;
  size_t slotsPerChunk_;
  Chunk* partial_ = nullptr;  // chunks with at least one free slot; allocation takes the first
  Chunk* spare_ = nullptr;    // at most one chunk with no slot in use, kept mapped
  size_t chunks_ = 0;
};

// Gives a class slots from one SlabPool per thread: `class Socket : public SlabAllocated<Socket>`.
// The pool is created on first use and destroyed when the thread exits.
template <typename T>
class SlabAllocated {
 public:
  static void* operator new(size_t bytes) {
    SlabPool& slabs = pool();
    if (bytes > slabs.slotBytes()) return ::operator new(bytes);  // a larger subclass
    return slabs.allocate();
  }
  static void operator delete(void* slot, size_t bytes) {
    SlabPool& slabs = pool();
    if (bytes > slabs.slotBytes()) {
      ::operator delete(slot);
      return;
    }
    slabs.release(slot);
  }

 protected:
  SlabAllocated() = default;
  ~SlabAllocated() = default;

 private:
  static SlabPool& pool() {
    thread_local SlabPool slabs(sizeof(T));
    return slabs;
  }
};

}  // namespace hoplite::proxy
