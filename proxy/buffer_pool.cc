#include "proxy/buffer_pool.h"

namespace hoplite::proxy {

std::unique_ptr<char[]> BufferPool::take() {
  if (free_.empty()) return std::make_unique_for_overwrite<char[]>(kBufferBytes);
  std::unique_ptr<char[]> buffer = std::move(free_.back());
  free_.pop_back();
  return buffer;
}

void BufferPool::give(std::unique_ptr<char[]> buffer) {
  if (!buffer || free_.size() >= kMaxFree) return;  // freed here when not kept
  free_.push_back(std::move(buffer));
}

}  // namespace hoplite::proxy
