// ws_load: a WebSocket load generator for hoplite's benchmarks. Real RFC 6455 handshakes (the
// server's Sec-WebSocket-Accept is checked) and masked client frames, on one libuv loop.
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "load_run.h"
#include "options.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::fputs(ws_load::usageText().c_str(), stdout);
    return 0;
  }
  std::string error;
  auto options = ws_load::parseOptions(args, error);
  if (!options) {
    std::fprintf(stderr, "ws_load: %s\n%s", error.c_str(), ws_load::usageText().c_str());
    return 2;
  }
  // A peer that resets while we write must cost an error count, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = 0;
  {
    ws_load::LoadRun run(&loop, std::move(*options));
    code = run.run();
  }
  if (uv_loop_close(&loop) != 0) {
    std::fprintf(stderr, "ws_load: handles left open at exit\n");
    return 3;
  }
  return code;
}
