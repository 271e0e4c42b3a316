// The loop's read-buffer cache: reuse, its cap, and giving everything back after a burst.
#include "proxy/buffer_pool.h"

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

namespace hoplite::proxy {
namespace {

TEST_CASE("proxy: the buffer pool reuses, caps and releases its cached buffers",
          "[proxy][buffer_pool]") {
  BufferPool pool;
  // A cached buffer is handed out again rather than a new one allocated.
  std::unique_ptr<char[]> buffer = pool.take();
  const char* address = buffer.get();
  pool.give(std::move(buffer));
  CHECK(pool.cached() == 1);
  buffer = pool.take();
  CHECK(buffer.get() == address);
  CHECK(pool.cached() == 0);
  pool.give(std::move(buffer));

  // A burst: more buffers in use at once than the pool keeps; the rest are freed at once.
  std::vector<std::unique_ptr<char[]>> inUse;
  for (size_t i = 0; i < BufferPool::kMaxFree + 6; ++i) inUse.push_back(pool.take());
  for (auto& used : inUse) pool.give(std::move(used));
  CHECK(pool.cached() == BufferPool::kMaxFree);

  // Once the loop is quiet, the cache goes back to the heap.
  pool.releaseCached();
  CHECK(pool.cached() == 0);
  CHECK(pool.take() != nullptr);  // still usable afterwards
}

}  // namespace
}  // namespace hoplite::proxy
