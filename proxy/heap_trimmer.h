// Gives the heap memory that a burst of connections freed back to the kernel once it is over.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>

#include "proxy/buffer_pool.h"
#include "proxy/timer.h"

namespace hoplite::proxy {

// glibc's free() returns memory to the kernel only from the top of the heap. After a burst (a
// thousand WebSocket handshakes at once, say), the memory those sessions used is free but stays
// resident for as long as anything above it lives: in a proxy holding idle tunnels, for hours.
// malloc_trim() releases the free pages wherever they are. It walks the whole heap, so it runs
// only once the loop has been quiet for kQuietPeriod: no connection ended in that time. Under a
// steady load it never runs (the freed memory is about to be used again anyway); after a burst
// it runs once, after the loop's BufferPool has freed its cached read buffers. Without
// malloc_trim (a C library other than glibc) only the buffers are freed.
class HeapTrimmer {
 public:
  static constexpr std::chrono::milliseconds kQuietPeriod{1000};

  // `buffers` (the loop's pool) must outlive the trimmer. `onClosed` runs once the timer handle
  // is closed (see Timer).
  HeapTrimmer(uv_loop_t* loop, bool debugLog, BufferPool& buffers, std::function<void()> onClosed);

  // A connection ended and its memory went back to the heap.
  void connectionFreed();
  // Part of the owner's close path; no trim runs after it.
  void close() { timer_.close(); }

 private:
  void trim();

  Timer timer_;
  bool debugLog_;
  BufferPool& buffers_;
};

}  // namespace hoplite::proxy
