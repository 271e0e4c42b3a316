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
//
// Gap timers are re-armed on nearly every read and write, and uv_timer_start/stop are heap
// operations. So the Timer keeps its own deadline and touches the uv handle only when the new
// deadline is earlier than the one the handle is already due at: on expiry, a handle that fired
// before the deadline just sleeps again for the remainder, and one that fires after stop() does
// nothing (h2o's and the Linux kernel's lazy timer pattern; Tunnel's idle check does the same).
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

  void armHandle(uint64_t now);

  uv_timer_t handle_;
  uint64_t deadline_ = 0;   // uv_now() at which onExpired runs, when armed_
  uint64_t handleDue_ = 0;  // uv_now() at which the handle fires, when it is active
  bool armed_ = false;
  std::function<void()> onExpired_;
  std::function<void()> onClosed_;
  enum class State { Open, Closing, Closed } state_ = State::Open;
};

}  // namespace hoplite::proxy
