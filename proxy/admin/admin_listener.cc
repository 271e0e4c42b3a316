#include "proxy/admin/admin_listener.h"

#include <cstdio>
#include <cstring>

#include "proxy/admin/admin_pages.h"
#include "proxy/socket.h"

namespace hoplite::proxy::admin {

// One admin connection: its socket, its request timer, the parser of its one request and the
// response being written. Freed when both handles are closed.
struct AdminListener::Connection {
  AdminListener* owner = nullptr;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t write;
  parser::RequestParser parser{parser::ParserLimits{8192, 50, 0, 1024}};
  char buffer[4096];
  std::string response;
  int openHandles = 2;
  bool answered = false;  // a response is queued; nothing more is read
  bool closing = false;
};

AdminListener::AdminListener(uv_loop_t* loop, const AdminState& state)
    : loop_(loop), state_(state) {}

AdminListener::~AdminListener() {
  // close() ran and the loop ran its callbacks before the owner is destroyed.
}

bool AdminListener::start(const conf::HostPort& address) {
  struct sockaddr_storage bindAddress;
  std::memset(&bindAddress, 0, sizeof bindAddress);
  if (uv_ip4_addr(address.host.c_str(), address.port,
                  reinterpret_cast<sockaddr_in*>(&bindAddress)) != 0 &&
      uv_ip6_addr(address.host.c_str(), address.port,
                  reinterpret_cast<sockaddr_in6*>(&bindAddress)) != 0) {
    std::fprintf(stderr, "hoplite: admin.listen %s is not an IP address\n", address.host.c_str());
    return false;
  }
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listenerOpen_ = true;
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&bindAddress), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, &onConnection);
  if (rc != 0) {
    std::fprintf(stderr, "hoplite: cannot listen on admin.listen %s:%u: %s\n", address.host.c_str(),
                 static_cast<unsigned>(address.port), uv_strerror(rc));
    return false;
  }
  struct sockaddr_storage bound;
  int length = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &length);
  std::fprintf(stderr, "hoplite: admin listening on %s\n", addressText(bound).c_str());
  std::fflush(stderr);
  return true;
}

void AdminListener::close() {
  if (closed_) return;
  closed_ = true;
  if (listenerOpen_) uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  // Closing removes from the set: iterate over a copy.
  const std::unordered_set<Connection*> open = connections_;
  for (Connection* connection : open) closeConnection(*connection);
}

void AdminListener::onConnection(uv_stream_t* stream, int status) {
  auto& self = *static_cast<AdminListener*>(stream->data);
  if (status < 0 || self.closed_) return;
  auto connection = std::make_unique<Connection>();
  connection->owner = &self;
  uv_tcp_init(self.loop_, &connection->tcp);
  uv_timer_init(self.loop_, &connection->timer);
  connection->tcp.data = connection->timer.data = connection.get();
  Connection& accepted = *connection.release();
  self.connections_.insert(&accepted);
  if (uv_accept(stream, reinterpret_cast<uv_stream_t*>(&accepted.tcp)) != 0 ||
      self.connections_.size() > kMaxConnections) {
    self.closeConnection(accepted);
    return;
  }
  uv_timer_start(&accepted.timer, &onTimeout, static_cast<uint64_t>(kRequestTimeout.count()), 0);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&accepted.tcp), &onAllocate, &onRead);
}

void AdminListener::closeConnection(Connection& connection) {
  if (connection.closing) return;
  connection.closing = true;
  connections_.erase(&connection);
  uv_close(reinterpret_cast<uv_handle_t*>(&connection.tcp), &onConnectionHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&connection.timer), &onConnectionHandleClosed);
}

void AdminListener::onConnectionHandleClosed(uv_handle_t* handle) {
  auto* connection = static_cast<Connection*>(handle->data);
  if (--connection->openHandles == 0) delete connection;
}

void AdminListener::onAllocate(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* connection = static_cast<Connection*>(handle->data);
  *buf = uv_buf_init(connection->buffer, sizeof connection->buffer);
}

void AdminListener::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto& connection = *static_cast<Connection*>(stream->data);
  AdminListener& self = *connection.owner;
  if (connection.closing || connection.answered) return;
  if (nread < 0) {
    self.closeConnection(connection);  // EOF or an error before a whole head: nothing to answer
    return;
  }
  const parser::FeedResult result =
      connection.parser.feed(std::string_view(buf->base, static_cast<size_t>(nread)));
  if (result.status == parser::ParseStatus::HeadComplete ||
      result.status == parser::ParseStatus::MessageComplete) {
    self.answer(connection, 0);
  } else if (result.status == parser::ParseStatus::Error) {
    self.answer(connection, 400);
  }
}

void AdminListener::answer(Connection& connection, uint16_t parseErrorStatus) {
  connection.answered = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&connection.tcp));
  uv_timer_stop(&connection.timer);
  if (parseErrorStatus != 0) {
    AdminAnswer bad{parseErrorStatus, "text/plain; charset=utf-8", "bad request\n", false};
    connection.response = serializeAdminAnswer(bad, false);
  } else {
    const parser::RequestHead& head = connection.parser.head();
    connection.response =
        serializeAdminAnswer(answerAdmin(head.method, head.target, state_), head.method == "HEAD");
  }
  connection.write.data = &connection;
  uv_buf_t out =
      uv_buf_init(connection.response.data(), static_cast<unsigned>(connection.response.size()));
  if (uv_write(&connection.write, reinterpret_cast<uv_stream_t*>(&connection.tcp), &out, 1,
               &onWritten) != 0) {
    closeConnection(connection);
  }
}

void AdminListener::onWritten(uv_write_t* req, int /*status*/) {
  auto& connection = *static_cast<Connection*>(req->data);
  // Written or failed, the connection is done (its response says Connection: close).
  connection.owner->closeConnection(connection);
}

void AdminListener::onTimeout(uv_timer_t* timer) {
  auto& connection = *static_cast<Connection*>(timer->data);
  connection.owner->closeConnection(connection);
}

}  // namespace hoplite::proxy::admin
