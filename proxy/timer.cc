#include "proxy/timer.h"

#include <cassert>

namespace hoplite::proxy {

Timer::Timer(uv_loop_t* loop, std::function<void()> onExpired, std::function<void()> onClosed)
    : onExpired_(std::move(onExpired)), onClosed_(std::move(onClosed)) {
  uv_timer_init(loop, &handle_);  // cannot fail for timers
  handle_.data = this;
}

Timer::~Timer() {
  assert(state_ == State::Closed);
}

void Timer::start(std::chrono::milliseconds timeout) {
  if (state_ != State::Open) return;
  const uint64_t now = uv_now(handle_.loop);
  deadline_ = now + static_cast<uint64_t>(timeout.count());
  armed_ = true;
  // A handle due no later than the new deadline will fire and re-check; only an earlier
  // deadline needs the heap update.
  if (uv_is_active(reinterpret_cast<const uv_handle_t*>(&handle_)) && handleDue_ <= deadline_)
    return;
  armHandle(now);
}

void Timer::armHandle(uint64_t now) {
  // A zero timeout still expires on the next loop turn, never inside this call.
  handleDue_ = deadline_;
  uv_timer_start(&handle_, &Timer::onTimer, deadline_ - now, 0);
}

void Timer::start(const conf::Duration& timeout) {
  if (timeout) {
    start(*timeout);
  } else {
    stop();
  }
}

void Timer::stop() {
  // The handle stays due; when it fires it finds nothing armed (see the class comment).
  armed_ = false;
}

bool Timer::active() const {
  return state_ == State::Open && armed_;
}

void Timer::close() {
  if (state_ != State::Open) return;
  state_ = State::Closing;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), &Timer::onClose);
}

void Timer::onTimer(uv_timer_t* handle) {
  Timer* self = static_cast<Timer*>(handle->data);
  if (self->state_ != State::Open || !self->armed_) return;
  const uint64_t now = uv_now(handle->loop);
  if (now < self->deadline_) {
    self->armHandle(now);  // re-armed later than the handle was due: sleep for the remainder
    return;
  }
  self->armed_ = false;
  self->onExpired_();
}

void Timer::onClose(uv_handle_t* handle) {
  Timer* self = static_cast<Timer*>(handle->data);
  self->state_ = State::Closed;
  // May free the owner, and this Timer with it: nothing may touch `self` afterwards.
  std::function<void()> closed = std::move(self->onClosed_);
  closed();
}

}  // namespace hoplite::proxy
