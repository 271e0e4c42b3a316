// Recycled read buffers for the Sockets of one loop.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace hoplite::proxy {

// A Socket holds a read buffer only while it has unconsumed bytes (HAProxy h1_release_buf), so
// an idle connection or tunnel costs no buffer. That means taking and giving back a buffer on
// nearly every read; a free list makes that a pointer move instead of a 64 KiB malloc/free pair
// (HAProxy's pool_alloc, h2o's h2o_buffer_prototype). Buffers are not zeroed: a Socket only ever
// reads the bytes libuv wrote into them. One pool per Server (per loop), never shared across
// threads.
//
// How many to keep: a busy loop needs as many as the sockets of its largest read batch, which
// grows with the connections (every socket of one poll holds its buffer until the batch is
// handed over). A fixed cap below that freed the excess at the end of every batch and allocated
// it again in the next: at 200 keep-alive connections, 0.6 page faults and a third of a brk per
// request (bench/README.md, "Memory on the hot path"). So the pool keeps every buffer given back,
// and trimSurplus(), called once per period, frees only those that no take() needed during the
// whole period (its low-water mark): the working set stays, a burst's surplus goes after one
// period, like HAProxy's pool trimming of unused objects.
class BufferPool {
 public:
  static constexpr size_t kBufferBytes = 64 * 1024;

  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of kBufferBytes with indeterminate contents.
  std::unique_ptr<char[]> take();
  void give(std::unique_ptr<char[]> buffer);
  // Frees the cached buffers that stayed unused since the last call (at most every one of them),
  // and starts a new period.
  void trimSurplus();
  // Frees every cached buffer. Called once the loop has been quiet (HeapTrimmer), before
  // malloc_trim, so that the pages of the buffers go back to the kernel too.
  void releaseCached();
  size_t cached() const { return free_.size(); }

 private:
  std::vector<std::unique_ptr<char[]>> free_;  // the most recently given back last
  size_t unusedSincePeriod_ = 0;               // the low-water mark of free_.size() this period
};

}  // namespace hoplite::proxy
