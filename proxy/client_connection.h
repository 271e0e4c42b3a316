// What the Server needs from every object that owns a client connection (Session, Tunnel), so
// that a shutdown can drain them without knowing their types.
#pragma once

namespace hoplite::proxy {

class ClientConnection {
 public:
  // Shutdown began: close now if idle between requests, otherwise finish the exchange in flight
  // and close after it.
  virtual void beginDrain() = 0;
  // shutdown_drain expired (or a second signal): close now.
  virtual void forceClose() = 0;

 protected:
  ~ClientConnection() = default;
};

}  // namespace hoplite::proxy
