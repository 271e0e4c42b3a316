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
  // A reload made a new config generation current. A connection idle between requests moves to
  // it now; one in the middle of an exchange does so when the exchange ends; a tunnel never does.
  virtual void reloaded() {}

 protected:
  ~ClientConnection() = default;
};

}  // namespace hoplite::proxy
