// demo_backend: the backend of hoplite's demo, end-to-end tests and benchmarks.
//
//   demo_backend [--listen HOST:PORT]     (default 127.0.0.1:3001; port 0 picks a free port)
//
// Prints "demo_backend: listening on HOST:PORT" to stderr once it accepts connections, and exits 0
// on SIGTERM or SIGINT after closing every connection. See connection.h for what it answers.
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "bench/demo_backend/server.h"

namespace {

constexpr std::string_view kUsage =
    "usage: demo_backend [--listen HOST:PORT]\n"
    "  HTTP/1.1: answers every request with its JSON description; GET /bytes/N answers N bytes.\n"
    "  WebSocket: echoes every message; ping gets pong, close gets close.\n"
    "  Default --listen 127.0.0.1:3001; port 0 picks a free port.\n";

// "1.2.3.4:80" or "[::1]:80" into a socket address.
bool parseListenAddress(std::string_view text, sockaddr_storage& out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return false;
  std::string host(text.substr(0, colon));
  const std::string portText(text.substr(colon + 1));
  if (portText.find_first_not_of("0123456789") != std::string::npos || portText.size() > 5) {
    return false;
  }
  const int port = std::stoi(portText);
  if (port > 65535) return false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
  }
  return uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0;
}

struct Signals {
  hoplite::demo::Server* server;
  uv_signal_t term;
  uv_signal_t interrupt;
};

void onSignal(uv_signal_t* handle, int /*signum*/) {
  auto* signals = static_cast<Signals*>(handle->data);
  signals->server->stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&signals->term), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&signals->interrupt), nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:3001";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg.substr(0, 9) == "--listen=") {
      listen = std::string(arg.substr(9));
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage.data(), stdout);
      return 0;
    } else {
      std::fprintf(stderr, "demo_backend: unknown argument '%s'\n%s", argv[i], kUsage.data());
      return 2;
    }
  }
  sockaddr_storage address{};
  if (!parseListenAddress(listen, address)) {
    std::fprintf(stderr, "demo_backend: --listen '%s' is not HOST:PORT\n", listen.c_str());
    return 2;
  }

  // A peer that resets while a write is queued must be an error code, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  uv_loop_t* loop = uv_default_loop();
  hoplite::demo::Server server(loop);
  std::string bound;
  if (const int rc = server.listen(reinterpret_cast<const sockaddr*>(&address), bound); rc != 0) {
    std::fprintf(stderr, "demo_backend: cannot listen on %s: %s\n", listen.c_str(),
                 uv_strerror(rc));
    server.stop();
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 1;
  }

  Signals signals{&server, {}, {}};
  uv_signal_init(loop, &signals.term);
  uv_signal_init(loop, &signals.interrupt);
  signals.term.data = signals.interrupt.data = &signals;
  uv_signal_start(&signals.term, onSignal, SIGTERM);
  uv_signal_start(&signals.interrupt, onSignal, SIGINT);

  std::fprintf(stderr, "demo_backend: listening on %s\n", bound.c_str());
  std::fflush(stderr);
  uv_run(loop, UV_RUN_DEFAULT);
  if (uv_loop_close(loop) != 0) {
    std::fprintf(stderr, "demo_backend: handles still open at exit\n");
    return 1;
  }
  return 0;
}
