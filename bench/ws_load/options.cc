#include "options.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>

namespace ws_load {

namespace {

bool parseAddress(const std::string& text, std::uint16_t port, sockaddr_in& out) {
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  return inet_pton(AF_INET, text.c_str(), &out.sin_addr) == 1;
}

bool parseHostPort(const std::string& text, sockaddr_in& out) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  int port = 0;
  const std::string portText = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || port <= 0 || port > 65535)
    return false;
  std::string host = text.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  return parseAddress(host, static_cast<std::uint16_t>(port), out);
}

// "127.0.0.2", "127.0.0.2,127.0.0.5" or a range "127.0.0.2-127.0.0.9" (at most 256 addresses).
bool parseSources(const std::string& text, std::vector<sockaddr_in>& out) {
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto dash = item.find('-');
    sockaddr_in first{};
    if (dash == std::string::npos) {
      if (!parseAddress(item, 0, first)) return false;
      out.push_back(first);
    } else {
      sockaddr_in last{};
      if (!parseAddress(item.substr(0, dash), 0, first) ||
          !parseAddress(item.substr(dash + 1), 0, last))
        return false;
      const std::uint32_t a = ntohl(first.sin_addr.s_addr);
      const std::uint32_t b = ntohl(last.sin_addr.s_addr);
      if (b < a || b - a >= 256) return false;
      for (std::uint32_t v = a; v <= b; ++v) {
        sockaddr_in addr = first;
        addr.sin_addr.s_addr = htonl(v);
        out.push_back(addr);
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return !out.empty();
}

bool parseNumber(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end != text.c_str() && *end == '\0' && out >= 0;
}

// Sizes accept a K or M suffix (binary units).
bool parseSize(const std::string& text, std::size_t& out) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return false;
  const std::string suffix(end, text.data() + text.size());
  if (suffix == "K" || suffix == "k") {
    value <<= 10;
  } else if (suffix == "M" || suffix == "m") {
    value <<= 20;
  } else if (!suffix.empty()) {
    return false;
  }
  out = value;
  return true;
}

}  // namespace

std::string usageText() {
  return "usage: ws_load MODE --target HOST:PORT [options]\n"
         "modes:\n"
         "  handshake  each connection loops: connect, RFC 6455 handshake, close handshake\n"
         "  echo       one message in flight per tunnel; round-trip p50/p99\n"
         "  bulk       --window bytes in flight per tunnel; echoed payload bytes/s\n"
         "  idle       open --connections tunnels, print a ready line, hold until SIGTERM\n"
         "options:\n"
         "  --connections N     concurrent connections (default 50)\n"
         "  --duration S        measured seconds (default 5)\n"
         "  --warmup S          seconds at the start whose samples are dropped (default 0)\n"
         "  --size BYTES        message payload, K/M suffixes allowed (default 32)\n"
         "  --window BYTES      bulk: payload in flight per tunnel (default 1M)\n"
         "  --path PATH         request target (default /)\n"
         "  --sources LIST      local addresses to bind, e.g. 127.0.0.2-127.0.0.9\n"
         "  --open-concurrency N  connections opening at once (default 256)\n"
         "  --open-timeout S    limit on the opening phase (default 60)\n"
         "  --hold S            idle: longest hold (default 600)\n"
         "Prints one JSON object on stdout; idle mode prints a JSON ready line first.\n";
}

std::optional<Options> parseOptions(const std::vector<std::string>& args, std::string& error) {
  Options options;
  if (args.empty()) {
    error = "missing MODE";
    return std::nullopt;
  }
  const std::string& mode = args[0];
  if (mode == "handshake") {
    options.mode = Mode::Handshake;
  } else if (mode == "echo") {
    options.mode = Mode::Echo;
  } else if (mode == "bulk") {
    options.mode = Mode::Bulk;
  } else if (mode == "idle") {
    options.mode = Mode::Idle;
  } else {
    error = "unknown mode '" + mode + "'";
    return std::nullopt;
  }
  bool haveTarget = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (i + 1 >= args.size()) {
      error = "option " + flag + " needs a value";
      return std::nullopt;
    }
    const std::string& value = args[++i];
    double number = 0;
    bool ok = true;
    if (flag == "--target") {
      ok = parseHostPort(value, options.target);
      options.hostHeader = value;
      haveTarget = ok;
    } else if (flag == "--connections") {
      ok = parseNumber(value, number) && number >= 1 && number <= 1000000;
      options.connections = static_cast<int>(number);
    } else if (flag == "--duration") {
      ok = parseNumber(value, options.durationSeconds) && options.durationSeconds <= 3600;
    } else if (flag == "--warmup") {
      ok = parseNumber(value, options.warmupSeconds) && options.warmupSeconds <= 600;
    } else if (flag == "--size") {
      ok = parseSize(value, options.messageBytes) && options.messageBytes <= (64u << 20);
    } else if (flag == "--window") {
      ok = parseSize(value, options.windowBytes) && options.windowBytes >= 1;
    } else if (flag == "--path") {
      ok = !value.empty() && value[0] == '/';
      options.path = value;
    } else if (flag == "--sources") {
      ok = parseSources(value, options.sources);
    } else if (flag == "--open-concurrency") {
      ok = parseNumber(value, number) && number >= 1;
      options.openConcurrency = static_cast<int>(number);
    } else if (flag == "--open-timeout") {
      ok = parseNumber(value, options.openTimeoutSeconds) && options.openTimeoutSeconds > 0;
    } else if (flag == "--hold") {
      ok = parseNumber(value, options.holdSeconds) && options.holdSeconds <= 86400;
    } else {
      error = "unknown option " + flag;
      return std::nullopt;
    }
    if (!ok) {
      error = "bad value '" + value + "' for " + flag;
      return std::nullopt;
    }
  }
  if (!haveTarget) {
    error = "--target HOST:PORT (an IPv4 address) is required";
    return std::nullopt;
  }
  if (options.mode == Mode::Bulk && options.windowBytes < options.messageBytes) {
    options.windowBytes = options.messageBytes;
  }
  return options;
}

}  // namespace ws_load
