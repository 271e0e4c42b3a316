// closeStopSignal: once a stop signal's handle is closed, the signal is ignored, where a plain
// uv_close would give it back its default action (to kill the process).
#include "proxy/stop_signal.h"

#include <signal.h>
#include <uv.h>

#include <catch2/catch.hpp>

namespace hoplite::proxy {
namespace {

// SIGVTALRM: a signal whose default action is to terminate, and one that hoplite never uses.
constexpr int kSignal = SIGVTALRM;

struct SignalLoop {
  uv_loop_t loop;
  uv_signal_t handle;
  int caught = 0;
  SignalLoop() {
    uv_loop_init(&loop);
    uv_signal_init(&loop, &handle);
    handle.data = this;
    uv_signal_start(
        &handle, [](uv_signal_t* h, int) { ++static_cast<SignalLoop*>(h->data)->caught; }, kSignal);
  }
  ~SignalLoop() { uv_loop_close(&loop); }
};

void (*actionOf(int signum))(int) {
  struct sigaction current = {};
  sigaction(signum, nullptr, &current);
  return current.sa_handler;
}

}  // namespace

TEST_CASE("proxy: a stop signal whose handle was closed is ignored, not fatal", "[proxy][signal]") {
  const auto before = actionOf(kSignal);
  {
    SignalLoop watched;
    // While the handle is open the signal reaches its callback.
    REQUIRE(raise(kSignal) == 0);
    uv_run(&watched.loop, UV_RUN_NOWAIT);
    CHECK(watched.caught == 1);

    closeStopSignal(&watched.handle, nullptr);
    uv_run(&watched.loop, UV_RUN_DEFAULT);  // runs the close callback, then has nothing left
    // A plain uv_close would have restored SIG_DFL here, and the raise below would end the run.
    REQUIRE(actionOf(kSignal) == SIG_IGN);
    REQUIRE(raise(kSignal) == 0);
    CHECK(watched.caught == 1);
  }
  // Leave the test binary as it was found.
  struct sigaction restore = {};
  restore.sa_handler = before;
  sigemptyset(&restore.sa_mask);
  sigaction(kSignal, &restore, nullptr);
}

}  // namespace hoplite::proxy
