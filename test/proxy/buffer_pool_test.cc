// The loop's read-buffer cache: reuse, keeping the working set, and freeing what a period left
// unused.
#include "proxy/buffer_pool.h"

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

namespace hoplite::proxy {
namespace {

std::vector<std::unique_ptr<char[]>> takeMany(BufferPool& pool, size_t count) {
  std::vector<std::unique_ptr<char[]>> taken;
  for (size_t i = 0; i < count; ++i) taken.push_back(pool.take());
  return taken;
}

void giveAll(BufferPool& pool, std::vector<std::unique_ptr<char[]>>& taken) {
  for (auto& buffer : taken) pool.give(std::move(buffer));
  taken.clear();
}

TEST_CASE("proxy: the buffer pool hands out the buffer given back last", "[proxy][buffer_pool]") {
  BufferPool pool;
  std::unique_ptr<char[]> buffer = pool.take();
  const char* address = buffer.get();
  pool.give(std::move(buffer));
  CHECK(pool.cached() == 1);
  buffer = pool.take();
  CHECK(buffer.get() == address);
  CHECK(pool.cached() == 0);
  pool.give(nullptr);  // a Socket that held no buffer
  CHECK(pool.cached() == 0);
}

TEST_CASE("proxy: the buffer pool keeps what every batch needs, however large",
          "[proxy][buffer_pool]") {
  BufferPool pool;
  // A busy loop: each batch holds 300 buffers at once, and the periods pass in between.
  std::vector<std::unique_ptr<char[]>> batch = takeMany(pool, 300);
  giveAll(pool, batch);
  for (int period = 0; period < 3; ++period) {
    for (int i = 0; i < 5; ++i) {
      batch = takeMany(pool, 300);
      CHECK(pool.cached() == 0);
      giveAll(pool, batch);
    }
    pool.trimSurplus();
    CHECK(pool.cached() == 300);  // nothing freed: every buffer was used in the period
  }
}

TEST_CASE("proxy: the buffer pool frees what a whole period left unused", "[proxy][buffer_pool]") {
  BufferPool pool;
  std::vector<std::unique_ptr<char[]>> burst = takeMany(pool, 100);
  giveAll(pool, burst);
  pool.trimSurplus();  // the burst's period: all 100 were in use
  CHECK(pool.cached() == 100);

  // Next period, at most 10 at once: the other 90 go at its end, the 10 stay.
  for (int i = 0; i < 4; ++i) {
    std::vector<std::unique_ptr<char[]>> batch = takeMany(pool, 10);
    giveAll(pool, batch);
  }
  pool.trimSurplus();
  CHECK(pool.cached() == 10);
  // A quiet period frees the rest.
  pool.trimSurplus();
  CHECK(pool.cached() == 0);

  // The loop's quiet-period release frees everything at once.
  burst = takeMany(pool, 5);
  giveAll(pool, burst);
  pool.releaseCached();
  CHECK(pool.cached() == 0);
  CHECK(pool.take() != nullptr);  // still usable afterwards
}

}  // namespace
}  // namespace hoplite::proxy
