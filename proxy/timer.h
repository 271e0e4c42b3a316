// A uv_timer_t embedded in its owner, with the owner's expiry and close callbacks.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

#include "conf/config.h"

namespace hoplite::proxy {

// The owner embeds the Timer, calls close() from its one close path, and is told through
// `onClosed` (on a later loop turn) when libuv no longer uses the handle; only then may the owner
// free the memory. The destructor asserts that this happened.
class Timer {
 public:
  Timer(uv_loop_t* loop, std::function<void()> onExpired, std::function<void()> onClosed);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer for one expiry `timeout` from now. A Duration of "off" stops it instead.
  void start(std::chrono::milliseconds timeout);
  void start(const conf::Duration& timeout);
  void stop();
  bool active() const;
  // Idempotent; onExpired never runs after this.
  void close();

 private:
  static void onTimer(uv_timer_t* handle);
  static void onClose(uv_handle_t* handle);

  uv_timer_t handle_;
  std::function<void()> onExpired_;
  std::function<void()> onClosed_;
  enum class State { Open, Closing, Closed } state_ = State::Open;
};

}  // namespace hoplite::proxy
