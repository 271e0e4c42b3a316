// Command line of ws_load. Every run is bounded: a duration for the timed modes, a hold limit
// for `idle`, and a timeout for opening connections.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace ws_load {

enum class Mode {
  Handshake,  // loop open → handshake → close on each connection; report cycles/s
  Echo,       // one small message in flight per tunnel; report round-trip percentiles
  Bulk,       // large messages, a window in flight per tunnel; report echoed bytes/s
  Idle,       // open N tunnels, print a ready line, hold them until SIGTERM or --hold
};

struct Options {
  Mode mode = Mode::Echo;
  sockaddr_in target{};
  std::string hostHeader;  // "host:port" as given with --target
  std::string path = "/";
  int connections = 50;
  double durationSeconds = 5;
  double warmupSeconds = 0;  // samples in the first seconds of the measurement are dropped
  std::size_t messageBytes = 32;
  std::size_t windowBytes = 1 << 20;  // bulk: payload bytes in flight per tunnel
  std::vector<sockaddr_in> sources;   // local addresses to bind, used round-robin
  int openConcurrency = 256;          // connections being opened at once
  double openTimeoutSeconds = 60;     // whole opening phase
  double holdSeconds = 600;           // idle: longest hold
};

std::string usageText();

// Parses argv (without the program name). On error returns nullopt and sets `error`.
std::optional<Options> parseOptions(const std::vector<std::string>& args, std::string& error);

}  // namespace ws_load
