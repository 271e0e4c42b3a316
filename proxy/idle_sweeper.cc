#include "proxy/idle_sweeper.h"

#include <cassert>

namespace hoplite::proxy {

IdleSweeper::IdleSweeper(uv_loop_t* loop, std::function<void()> onClosed)
    : loop_(loop),
      timer_(
          loop, [this] { sweep(); }, std::move(onClosed)) {}

IdleSweeper::~IdleSweeper() {
  // Every watched tunnel removed itself when it closed, before the loop stopped.
  assert(watched_ == 0);
}

void IdleSweeper::unlink(IdleList& list, IdleWatched& entry) {
  if (entry.prev_ != nullptr) entry.prev_->next_ = entry.next_;
  if (entry.next_ != nullptr) entry.next_->prev_ = entry.prev_;
  if (list.front == &entry) list.front = entry.next_;
  if (list.back == &entry) list.back = entry.prev_;
  entry.prev_ = entry.next_ = nullptr;
}

void IdleSweeper::append(IdleList& list, IdleWatched& entry) {
  entry.prev_ = list.back;
  entry.next_ = nullptr;
  if (list.back != nullptr) list.back->next_ = &entry;
  list.back = &entry;
  if (list.front == nullptr) list.front = &entry;
}

void IdleSweeper::add(IdleWatched& entry, std::chrono::milliseconds timeout) {
  assert(entry.list_ == nullptr);
  const auto timeoutMs = static_cast<uint64_t>(timeout.count());
  IdleList& list = lists_[timeoutMs];
  entry.lastActivity_ = uv_now(loop_);
  entry.list_ = &list;
  append(list, entry);
  ++watched_;
  const uint64_t due = entry.lastActivity_ + timeoutMs;
  if (!timer_.active() || due < due_) {
    due_ = due;
    timer_.start(std::chrono::milliseconds(timeoutMs));
  }
}

void IdleSweeper::touch(IdleWatched& entry) {
  if (entry.list_ == nullptr) return;
  entry.lastActivity_ = uv_now(loop_);
  IdleList& list = *entry.list_;
  if (list.back == &entry) return;
  unlink(list, entry);
  append(list, entry);
}

void IdleSweeper::remove(IdleWatched& entry) {
  if (entry.list_ == nullptr) return;
  unlink(*entry.list_, entry);
  entry.list_ = nullptr;
  --watched_;
  // The timer may now fire with nothing due; sweep() then re-arms or stops.
}

void IdleSweeper::sweep() {
  const uint64_t now = uv_now(loop_);
  for (auto& [timeoutMs, list] : lists_) {
    // Fronts are the least recently active: stop at the first one still within its timeout.
    while (list.front != nullptr && list.front->lastActivity_ + timeoutMs <= now) {
      IdleWatched& expired = *list.front;
      remove(expired);
      expired.onIdleExpired();  // closes the tunnel; may remove others, never add to a list
    }
  }
  rearm();
}

void IdleSweeper::rearm() {
  bool any = false;
  uint64_t earliest = 0;
  for (const auto& [timeoutMs, list] : lists_) {
    if (list.front == nullptr) continue;
    const uint64_t due = list.front->lastActivity_ + timeoutMs;
    if (!any || due < earliest) earliest = due;
    any = true;
  }
  if (!any) return;  // the timer stays disarmed until the next add()
  const uint64_t now = uv_now(loop_);
  due_ = earliest;
  timer_.start(std::chrono::milliseconds(earliest > now ? earliest - now : 0));
}

}  // namespace hoplite::proxy
