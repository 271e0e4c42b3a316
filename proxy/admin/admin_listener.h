// The admin listener: its own TCP socket, apart from every proxy listener, answering
// /healthz, /status and /metrics (admin_pages.h) with one response per connection.
//
// It is small on purpose: a scrape or a health check every few seconds, from loopback or a
// management network. Each connection gets one request, answered as soon as its head is read,
// then closed; at most kMaxConnections are open at once (more are closed at accept), and one
// that sends no complete head within kRequestTimeout is closed.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <string>
#include <unordered_set>

#include "conf/config.h"
#include "parser/message_parser.h"
#include "proxy/admin/admin_state.h"

namespace hoplite::proxy::admin {

class AdminListener {
 public:
  AdminListener(uv_loop_t* loop, const AdminState& state);
  ~AdminListener();
  AdminListener(const AdminListener&) = delete;
  AdminListener& operator=(const AdminListener&) = delete;

  // Binds and listens on `address` (an IP literal), printing "hoplite: admin listening on ADDR";
  // false after printing why.
  bool start(const conf::HostPort& address);
  // Stops listening and closes every admin connection; the loop ends once their close callbacks
  // ran. Idempotent.
  void close();

  static constexpr size_t kMaxConnections = 32;
  static constexpr std::chrono::milliseconds kRequestTimeout{10000};

 private:
  struct Connection;
  static void onConnection(uv_stream_t* stream, int status);
  void closeConnection(Connection& connection);
  void answer(Connection& connection, uint16_t parseErrorStatus);
  static void onAllocate(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWritten(uv_write_t* req, int status);
  static void onTimeout(uv_timer_t* timer);
  static void onConnectionHandleClosed(uv_handle_t* handle);

  uv_loop_t* loop_;
  const AdminState& state_;
  uv_tcp_t listener_;
  bool listenerOpen_ = false;
  bool closed_ = false;
  std::unordered_set<Connection*> connections_;
};

}  // namespace hoplite::proxy::admin
