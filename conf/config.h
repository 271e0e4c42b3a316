// The validated configuration of one hoplite process, as plain values.
//
// This header is the contract between conf/ (which fills it from JSON), policy/ (which reads the
// forwarded, upgrade and routing parts) and proxy/ (which reads everything). It includes no JSON
// library and no libuv, so every layer may use it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conf/cidr.h"

namespace hoplite::conf {

// A timeout. std::nullopt means "off": the proxy never arms that timer.
using Duration = std::optional<std::chrono::milliseconds>;

// "host:port" or "[v6]:port", split. `host` has no brackets. For `servers`, host may be a name that
// is resolved at connect time.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};

// Every timeout hoplite has, each named after its config key under "timeouts".
struct Timeouts {
  Duration clientHeader = std::chrono::seconds(10);      // "client_header"
  Duration clientIdle = std::chrono::seconds(60);        // "client_idle"
  Duration clientBody = std::chrono::seconds(60);        // "client_body"
  Duration upstreamConnect = std::chrono::seconds(5);    // "upstream_connect"
  Duration upstreamResponse = std::chrono::seconds(60);  // "upstream_response"
  Duration tunnelIdle = std::chrono::hours(1);           // "tunnel_idle"
  Duration shutdownDrain = std::chrono::seconds(30);     // "shutdown_drain"
  // "shutdown_delay": after the first SIGTERM or SIGINT, how long hoplite goes on serving as
  // usual (listeners open, keep-alive as usual) while the admin /healthz already says
  // "draining", so that a load balancer's health check takes it out first; then the drain
  // begins. Global only: no route can override it. Off by default: the drain begins at once.
  Duration shutdownDelay = std::nullopt;
  bool operator==(const Timeouts&) const = default;
};

// A route's partial override of Timeouts: only the keys it names are set. shutdown_delay is
// global only, so it has no member here.
struct TimeoutOverrides {
  std::optional<Duration> clientHeader, clientIdle, clientBody, upstreamConnect, upstreamResponse,
      tunnelIdle, shutdownDrain;
  // The global values with this route's overrides applied.
  Timeouts applyTo(const Timeouts& base) const;
};

struct Limits {
  uint64_t maxHeaderBytes = 16384;  // "max_header_bytes": the whole head, request line included
  uint64_t maxHeaderCount = 100;    // "max_header_count"
  uint64_t maxBodyBytes = 0;        // "max_body_bytes": 0 means unlimited
  uint64_t maxConnections = 10000;  // "max_connections": accepted client connections
  // "listen_backlog": connections the kernel queues on each listening socket before hoplite
  // accepts them (listen(2)'s backlog; Linux caps it at net.core.somaxconn). 511 as in nginx.
  uint64_t listenBacklog = 511;
  bool operator==(const Limits&) const = default;
};

struct ForwardedSettings {
  std::vector<Cidr> trustedProxies;  // "trusted_proxies"
  bool xForwarded = true;            // "x_forwarded": X-Forwarded-For/-Proto/-Port/-Host
  bool forwarded = false;            // "forwarded": RFC 7239 Forwarded
  bool via = false;                  // "via": Via: 1.1 hoplite
};

struct UpgradeSettings {
  // Lower-case protocol names (the token before any "/version"), e.g. "websocket".
  std::vector<std::string> allow = {"websocket"};
  bool operator==(const UpgradeSettings&) const = default;
};

// "log": where the access log goes and in which form.
struct LogSettings {
  // "access": "stdout" (the default), "stderr", "off", or a file path (appended to).
  std::string access = "stdout";
  // "format": "json", one object per line, or "elb", the classic cloud load balancer's line
  // (docs: conf/README.md, `log`).
  enum class Format { Json, Elb } format = Format::Json;
  // "errors": where hoplite's own lines (start-up, errors, counters) go: "stderr" (the default)
  // or a file path (appended to).
  std::string errors = "stderr";
  bool operator==(const LogSettings&) const = default;
};

// "admin": the listener for /healthz, /status and /metrics (proxy/admin/). Off when `listen` is
// unset, as it is by default.
struct AdminSettings {
  std::optional<HostPort> listen;  // "listen": "127.0.0.1:9901"
  bool operator==(const AdminSettings&) const = default;
};

// A server's options: the object form of a "servers" entry ({"address": ..., "weight": 3}).
struct ServerOptions {
  uint32_t weight = 1;          // "weight": 1 to kMaxServerWeight; counts in every algorithm
  bool backup = false;          // "backup": used only when no other server is available
  uint32_t maxConnections = 0;  // "max_connections": requests in flight plus tunnels; 0: no limit
  bool operator==(const ServerOptions&) const = default;
};
constexpr uint32_t kMaxServerWeight = 1000;

// "balance": how an upstream picks the server for a new connection.
enum class Balance {
  RoundRobin,        // "round_robin": smooth weighted round robin (nginx's)
  LeastConnections,  // "least_connections": fewest requests in flight plus tunnels per weight
  RandomTwo,         // "random_two": the less loaded of two servers drawn by weight
  Hash,              // "hash": consistent hashing of hash_key
};

// "hash_key": what "balance": "hash" hashes. A request without it is balanced round robin.
struct HashKey {
  enum class Kind { None, ClientIp, Header, Cookie };
  Kind kind = Kind::None;
  std::string name;  // the header (lower-case) or cookie name
  bool operator==(const HashKey&) const = default;
};

// "passive_health": connect failures eject a server for a while (Envoy's outlier detection).
struct PassiveHealth {
  uint32_t maxFails = 1;                        // "max_fails" within fail_window
  std::chrono::milliseconds failWindow{10000};  // "fail_window"
  std::chrono::milliseconds ejectFor{10000};    // "eject_for", doubled per ejection
  bool operator==(const PassiveHealth&) const = default;
};

// "health_check": an HTTP GET sent to each server on a fresh connection every `interval`.
struct HealthCheck {
  std::string path;                          // "path": required, starts with "/"
  std::chrono::milliseconds interval{5000};  // "interval", jittered by 10% either way
  std::chrono::milliseconds timeout{2000};   // "timeout": for the connect and the status line
  uint32_t healthyAfter = 2;                 // "healthy_after": passes in a row to be up again
  uint32_t unhealthyAfter = 3;               // "unhealthy_after": failures in a row to be down
  // "expect_status": the statuses that pass, as inclusive ranges ("2xx" is 200-299).
  std::vector<std::pair<uint16_t, uint16_t>> expectStatus{{200, 299}};
  std::string host;  // "host": the Host field; empty: the server's address
  bool operator==(const HealthCheck&) const = default;
};

struct Upstream {
  std::string name;
  std::vector<HostPort> servers;
  std::vector<ServerOptions> serverOptions;  // one per server, in the same order
  uint32_t keepalive = 32;                   // idle keep-alive connections kept per upstream
  Balance balance = Balance::RoundRobin;
  HashKey hashKey;
  PassiveHealth passiveHealth;
  std::optional<HealthCheck> healthCheck;  // off unless set
  bool operator==(const Upstream&) const = default;
};

struct Route {
  // "name": how logs (and later metrics) call this route; empty: by its index in "routes".
  std::string name;
  // Lower-case. "*" (or absent) matches any host; "*.example.com" matches any subdomain of
  // example.com (not example.com itself); anything else matches exactly.
  std::string host = "*";
  std::string pathPrefix = "/";
  std::string upstream;  // a key of Config::upstreams
  TimeoutOverrides timeouts;
  std::optional<UpgradeSettings> upgrade;  // overrides Config::upgrade when set
};

// "workers": at most this many processes; "auto" is one per CPU.
constexpr uint32_t kMaxWorkers = 256;

struct Config {
  std::vector<HostPort> listen;
  // "workers": processes that each accept and serve their share of the connections. 1 (the
  // default) is a single process with no supervisor; "auto" is read as the number of CPUs.
  uint32_t workers = 1;
  std::map<std::string, Upstream> upstreams;
  std::vector<Route> routes;
  Timeouts timeouts;
  Limits limits;
  ForwardedSettings forwarded;
  UpgradeSettings upgrade;
  // "request_id": the field that carries each request's ID upstream and back to the client
  // (policy/request_id.h); empty when "off".
  std::string requestIdField = "X-Request-Id";
  LogSettings log;
  AdminSettings admin;
};

}  // namespace hoplite::conf
