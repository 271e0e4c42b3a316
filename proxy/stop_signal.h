// Closing the handle of a stop signal (SIGTERM, SIGINT, the workers' kForceStopSignal) at the end
// of a drain, without giving the signal back its default action.
#pragma once

#include <uv.h>

namespace hoplite::proxy {

// uv_close on the last handle of a signal restores that signal's default action, and the default
// action of every stop signal is to kill the process. Between the end of a drain and the exit,
// a late stop signal (a service manager's second SIGTERM, or the supervisor's kForceStopSignal
// crossing a worker's clean exit) would then turn a clean exit into a death by signal, and the
// supervisor would report the worker killed and exit 1. A stop signal has nothing left to stop
// by then, so from the close on it is ignored: blocked across the close, so that none can land
// in the moment its action is the default, then SIG_IGN.
void closeStopSignal(uv_signal_t* handle, uv_close_cb onClosed);

}  // namespace hoplite::proxy
