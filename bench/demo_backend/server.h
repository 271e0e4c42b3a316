// The demo backend's listener: accepts connections and owns the set of live ones, so that a signal
// can close everything and the loop can end with no handle left open.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <unordered_set>

namespace hoplite::demo {

class Connection;

class Server {
 public:
  explicit Server(uv_loop_t* loop);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. On success returns 0 and sets `bound` to "host:port" with the real port
  // (the address may ask for port 0); on failure returns the libuv error.
  int listen(const sockaddr* address, std::string& bound);
  // Closes the listener and every connection. The loop ends once their close callbacks have run.
  void stop();

  uv_loop_t* loop() const { return loop_; }
  // Called by a Connection from its last close callback, just before it is freed.
  void forget(Connection* connection);
  // Called by the libuv trampoline.
  void onConnection(int status);

 private:
  uv_loop_t* loop_;
  uv_tcp_t listener_{};
  bool listenerOpen_ = false;
  bool stopping_ = false;
  uint64_t nextConnectionId_ = 1;
  std::unordered_set<Connection*> connections_;
};

}  // namespace hoplite::demo
