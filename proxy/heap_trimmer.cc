#include "proxy/heap_trimmer.h"

#include <cstdio>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace hoplite::proxy {

HeapTrimmer::HeapTrimmer(uv_loop_t* loop, bool debugLog, BufferPool& buffers,
                         std::function<void()> onClosed)
    : timer_(
          loop, [this] { trim(); }, std::move(onClosed)),
      debugLog_(debugLog),
      buffers_(buffers) {}

void HeapTrimmer::connectionFreed() {
  // Pushing the deadline back costs no timer-heap update (Timer re-arms lazily), so this is
  // cheap enough to call for every connection that ends.
  timer_.start(kQuietPeriod);
}

void HeapTrimmer::trim() {
  buffers_.releaseCached();
#if defined(__GLIBC__)
  const int released = malloc_trim(0);
  if (debugLog_) {
    std::fprintf(stderr, "hoplite: heap trimmed after a quiet period (%s)\n",
                 released ? "memory released" : "nothing to release");
  }
#endif
}

}  // namespace hoplite::proxy
