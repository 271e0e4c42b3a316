// One timer for the idle timeouts of every tunnel of a loop.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>

#include "proxy/timer.h"

namespace hoplite::proxy {

class IdleSweeper;
class IdleWatched;

// The tunnels that share one timeout, least recently active first.
struct IdleList {
  IdleWatched* front = nullptr;
  IdleWatched* back = nullptr;
};

// What a tunnel embeds (by inheriting it) to be watched for idleness: 40 bytes, where a timer of
// its own cost about 250 (a uv_timer_t and its callbacks), for every one of thousands of tunnels.
class IdleWatched {
 public:
  IdleWatched(const IdleWatched&) = delete;
  IdleWatched& operator=(const IdleWatched&) = delete;

 protected:
  IdleWatched() = default;
  virtual ~IdleWatched() = default;  // virtual only because IdleSweeper, a friend, could see it
  // Idle for the whole timeout. It has already been taken off the sweeper.
  virtual void onIdleExpired() = 0;

 private:
  friend class IdleSweeper;
  IdleWatched* prev_ = nullptr;
  IdleWatched* next_ = nullptr;
  IdleList* list_ = nullptr;  // the sweeper's list for this timeout; null when not watched
  uint64_t lastActivity_ = 0;
};

// Entries with the same timeout sit in one list ordered by their last activity: touch() moves an
// entry to the back, so the front is always the next to expire, and the one timer is due at the
// earliest front. Activity costs a few pointer writes and never a timer-heap update (as nginx's
// and HAProxy's timers, activity only moves a deadline later, which is checked when the timer
// fires). There are as many lists as distinct tunnel_idle values in the config: a handful.
class IdleSweeper {
 public:
  // `onClosed` runs once the timer handle is closed (see Timer).
  IdleSweeper(uv_loop_t* loop, std::function<void()> onClosed);
  ~IdleSweeper();

  // Starts watching `entry`, idle from now; it expires after `timeout` without touch().
  void add(IdleWatched& entry, std::chrono::milliseconds timeout);
  // Activity on `entry`: its idle time starts again.
  void touch(IdleWatched& entry);
  // Stops watching `entry`; harmless if it is not watched.
  void remove(IdleWatched& entry);
  // Part of the owner's close path; nothing expires after it.
  void close() { timer_.close(); }

  size_t watched() const { return watched_; }

 private:
  void sweep();
  // Arms the timer for the earliest front, if any.
  void rearm();
  static void unlink(IdleList& list, IdleWatched& entry);
  static void append(IdleList& list, IdleWatched& entry);

  uv_loop_t* loop_;
  Timer timer_;
  uint64_t due_ = 0;  // uv_now() at which the timer is armed to fire, when timer_.active()
  std::map<uint64_t, IdleList> lists_;  // by timeout in ms; nodes never move, entries point at them
  size_t watched_ = 0;
};

}  // namespace hoplite::proxy
