#include "proxy/buffer_pool.h"

#include <algorithm>

namespace hoplite::proxy {

std::unique_ptr<char[]> BufferPool::take() {
  if (free_.empty()) {
    unusedSincePeriod_ = 0;
    return std::make_unique_for_overwrite<char[]>(kBufferBytes);
  }
  // The most recently used buffer: its pages are the likeliest to be resident and in cache.
  std::unique_ptr<char[]> buffer = std::move(free_.back());
  free_.pop_back();
  unusedSincePeriod_ = std::min(unusedSincePeriod_, free_.size());
  return buffer;
}

void BufferPool::give(std::unique_ptr<char[]> buffer) {
  if (buffer) free_.push_back(std::move(buffer));
}

void BufferPool::trimSurplus() {
  // The buffers at the front were given back longest ago; the low-water mark says that this many
  // of them were not taken once in the period.
  const size_t unused = std::min(unusedSincePeriod_, free_.size());
  free_.erase(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(unused));
  unusedSincePeriod_ = free_.size();
}

void BufferPool::releaseCached() {
  free_.clear();
  unusedSincePeriod_ = 0;
}

}  // namespace hoplite::proxy
