#include "proxy/stop_signal.h"

#include <signal.h>

namespace hoplite::proxy {

void closeStopSignal(uv_signal_t* handle, uv_close_cb onClosed) {
  const int signum = handle->signum;
  sigset_t blocked;
  sigset_t previous;
  sigemptyset(&blocked);
  sigaddset(&blocked, signum);
  sigprocmask(SIG_BLOCK, &blocked, &previous);
  uv_close(reinterpret_cast<uv_handle_t*>(handle), onClosed);
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(signum, &ignore, nullptr);
  // A signal that came while blocked is discarded now that it is ignored.
  sigprocmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace hoplite::proxy
