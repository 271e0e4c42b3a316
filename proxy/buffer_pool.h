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
class BufferPool {
 public:
  static constexpr size_t kBufferBytes = 64 * 1024;
  // At most this many free buffers are kept (4 MiB); more are freed at once, so a burst of
  // slow clients does not leave the memory it needed cached forever.
  static constexpr size_t kMaxFree = 64;

  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of kBufferBytes with indeterminate contents.
  std::unique_ptr<char[]> take();
  void give(std::unique_ptr<char[]> buffer);
  // Frees every cached buffer. Called once the loop has been quiet (HeapTrimmer): a burst of
  // handshakes whose reads are batched holds many buffers at once and leaves kMaxFree of them
  // cached, each with the pages its reads touched still resident.
  void releaseCached() { free_.clear(); }
  size_t cached() const { return free_.size(); }

 private:
  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace hoplite::proxy
