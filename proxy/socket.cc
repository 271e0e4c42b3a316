#include "proxy/socket.h"

#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

namespace hoplite::proxy {

// A write request travels with the bytes it writes; the callback frees both. The bytes are
// either a copy (`bytes`) or a whole read buffer handed over by writeFrom (`buffer`), which goes
// back to the pool. `counted` is what pendingWriteBytes() holds for it.
struct WriteRequest {
  uv_write_t req;
  std::string bytes;
  std::unique_ptr<char[]> buffer;
  size_t counted = 0;
  Socket* socket;
};

Socket::Socket(uv_loop_t* loop, BufferPool& buffers, ReadBatch& reads)
    : buffers_(buffers), reads_(reads) {
  uv_tcp_init(loop, &tcp_);
  tcp_.data = this;
}

Socket::~Socket() {
  assert(state_ == State::Closed);
  buffers_.give(std::move(buffer_));
}

void Socket::dispose(std::unique_ptr<Socket> socket, SocketCloseListener* listener) {
  if (!socket) return;
  Socket* self = socket.release();  // adopted again in onClosed
  assert(self->state_ == State::Open);
  self->handler_ = nullptr;
  self->readQueued_ = false;  // its entry in the batch is skipped
  self->closeListener_ = listener;
  self->state_ = State::Closing;
  uv_close(reinterpret_cast<uv_handle_t*>(&self->tcp_), &Socket::onClosed);
}

void Socket::onClosed(uv_handle_t* handle) {
  std::unique_ptr<Socket> self(static_cast<Socket*>(handle->data));
  self->state_ = State::Closed;
  SocketCloseListener* listener = self->closeListener_;
  self.reset();
  if (listener != nullptr) listener->onSocketClosed();
}

// The connect and shutdown requests are allocated only while they run and freed in their
// callbacks, which libuv runs (with UV_ECANCELED after uv_close) before the handle's close
// callback: a Socket that never connects or shuts down, like both of an idle tunnel's, carries
// neither (176 bytes each).
int Socket::connect(const struct sockaddr* address) {
  auto req = std::make_unique<uv_connect_t>();
  req->data = this;
  const int rc = uv_tcp_connect(req.get(), &tcp_, address, &Socket::onConnect);
  if (rc == 0) req.release();  // owned by libuv until onConnect
  return rc;
}

void Socket::onConnect(uv_connect_t* req, int status) {
  std::unique_ptr<uv_connect_t> owned(req);
  Socket* self = static_cast<Socket*>(req->data);
  if (self->handler_ == nullptr) return;  // disposed: status is UV_ECANCELED
  if (status < 0) {
    self->handler_->onSocketError(*self, status, "connect");
  } else {
    uv_tcp_nodelay(&self->tcp_, 1);
    self->handler_->onSocketConnected(*self);
  }
}

void Socket::setReading(bool wanted) {
  if (state_ != State::Open || wanted == reading_) return;
  if (wanted) {
    if (uv_read_start(stream(), &Socket::onAlloc, &Socket::onRead) == 0) reading_ = true;
  } else {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void Socket::onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  Socket* self = static_cast<Socket*>(handle->data);
  if (!self->buffer_) {
    self->buffer_ = self->buffers_.take();
    self->begin_ = self->end_ = 0;
  }
  if (self->begin_ > 0) {
    // Keep the unconsumed bytes at the front so the free tail is as large as it can be.
    std::memmove(self->buffer_.get(), self->buffer_.get() + self->begin_, self->buffered());
    self->end_ -= self->begin_;
    self->begin_ = 0;
  }
  if (self->end_ == kReadBufferBytes) {
    *buf = uv_buf_init(nullptr, 0);  // libuv reports UV_ENOBUFS to onRead
    return;
  }
  const size_t room = std::min(kReadBufferBytes - self->end_, kReadChunkBytes);
  *buf = uv_buf_init(self->buffer_.get() + self->end_, static_cast<unsigned int>(room));
}

void Socket::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
  Socket* self = static_cast<Socket*>(stream->data);
  if (self->state_ != State::Open || self->handler_ == nullptr) return;
  if (nread == 0) return;  // EAGAIN
  if (nread > 0) {
    self->end_ += static_cast<size_t>(nread);
    // Handed over after the poll (ReadBatch), unless the buffer has no room left for another
    // whole read: then at once, so that the handler can consume before libuv reads again and a
    // relayed write stays within kReadChunkBytes.
    if (kReadBufferBytes - self->buffered() >= kReadChunkBytes) {
      if (!self->readQueued_) self->readQueued_ = self->reads_.add(*self);
      if (self->readQueued_) return;
    }
    self->readQueued_ = false;  // handed over now; a batch entry left behind is skipped
    self->handOverRead();
    return;
  }
  // The bytes read before an EOF or an error go to the handler first.
  self->deliverQueuedRead();
  if (self->state_ != State::Open || self->handler_ == nullptr) return;
  // Every other outcome ends reading; the handler decides what happens to the socket.
  self->setReading(false);
  if (nread == UV_ENOBUFS) {
    self->handler_->onSocketBufferFull(*self);
  } else if (nread == UV_EOF) {
    self->handler_->onSocketEof(*self);
  } else {
    self->handler_->onSocketError(*self, static_cast<int>(nread), "read");
  }
}

int Socket::write(std::initializer_list<std::string_view> pieces) {
  if (state_ != State::Open) return UV_EBADF;
  if (shutdownStarted_) return UV_EPIPE;  // as uv_write says after uv_shutdown
  constexpr size_t kMaxPieces = 4;
  assert(pieces.size() <= kMaxPieces);
  uv_buf_t bufs[kMaxPieces];
  unsigned int count = 0;
  size_t total = 0;
  for (std::string_view piece : pieces) {
    if (piece.empty()) continue;
    bufs[count++] =
        uv_buf_init(const_cast<char*>(piece.data()), static_cast<unsigned int>(piece.size()));
    total += piece.size();
  }
  if (total == 0) return kWriteSent;
  const int sent = tryWrite(bufs, count);
  size_t skip = 0;
  if (sent > 0) {
    skip = static_cast<size_t>(sent);
    if (skip == total) return kWriteSent;
  } else if (sent != UV_EAGAIN && sent != UV_ENOSYS) {
    return sent;
  }
  auto request = std::make_unique<WriteRequest>();
  request->bytes.reserve(total - skip);
  for (std::string_view piece : pieces) {
    if (skip >= piece.size()) {
      skip -= piece.size();
      continue;
    }
    request->bytes.append(piece.substr(skip));
    skip = 0;
  }
  return queue(std::move(request));
}

int Socket::queue(std::unique_ptr<WriteRequest> request) {
  request->socket = this;
  request->req.data = request.get();
  uv_buf_t buf =
      uv_buf_init(request->bytes.data(), static_cast<unsigned int>(request->bytes.size()));
  const int rc = uv_write(&request->req, stream(), &buf, 1, &Socket::onWriteDone);
  if (rc < 0) return rc;
  request->counted = request->bytes.size();
  pendingWriteBytes_ += request->counted;
  request.release();  // owned by libuv until onWriteDone
  return kWriteQueued;
}

int Socket::tryWrite(const uv_buf_t* bufs, unsigned int count) {
  // Only while nothing is queued: then the kernel probably has room. With writes queued it
  // probably has none, and after a partial try uv_write would try again at once and get EAGAIN,
  // one wasted syscall per write in a bulk transfer. (libuv also refuses, UV_EAGAIN, while
  // earlier bytes are unsent, which keeps the order.)
  if (pendingWriteBytes_ != 0) return UV_EAGAIN;
  return uv_try_write(stream(), bufs, count);
}

int Socket::writeFrom(Socket& source) {
  if (state_ != State::Open) return UV_EBADF;
  if (shutdownStarted_) return UV_EPIPE;
  const size_t total = source.buffered();
  if (total == 0) return kWriteSent;
  // Below this, copying the rest is cheaper than tying up a whole buffer for it.
  constexpr size_t kHandOverMin = kReadBufferBytes / 4;
  uv_buf_t buf =
      uv_buf_init(source.buffer_.get() + source.begin_, static_cast<unsigned int>(total));
  const int sent = tryWrite(&buf, 1);
  if (sent < 0 && sent != UV_EAGAIN && sent != UV_ENOSYS) return sent;
  const size_t skip = sent > 0 ? static_cast<size_t>(sent) : 0;
  if (skip == total || total - skip < kHandOverMin) {
    int rc = kWriteSent;
    if (skip < total) {
      auto request = std::make_unique<WriteRequest>();
      request->bytes.assign(source.data().substr(skip));
      rc = queue(std::move(request));
    }
    if (rc >= 0) source.consume(total);
    return rc;
  }
  // Hand the source's read buffer to the write instead of copying what is left of it: the
  // source takes a fresh one from the pool on its next read. The whole buffer counts against
  // the watermark, so that memory held this way stays bounded like copied bytes.
  auto request = std::make_unique<WriteRequest>();
  request->socket = this;
  request->req.data = request.get();
  buf = uv_buf_init(source.buffer_.get() + source.begin_ + skip,
                    static_cast<unsigned int>(total - skip));
  const int rc = uv_write(&request->req, stream(), &buf, 1, &Socket::onWriteDone);
  if (rc < 0) return rc;
  request->buffer = std::move(source.buffer_);
  source.begin_ = source.end_ = 0;
  request->counted = kReadBufferBytes;
  pendingWriteBytes_ += request->counted;
  request.release();  // owned by libuv until onWriteDone
  return kWriteQueued;
}

void Socket::onWriteDone(uv_write_t* req, int status) {
  std::unique_ptr<WriteRequest> request(static_cast<WriteRequest*>(req->data));
  Socket* self = request->socket;
  self->pendingWriteBytes_ -= request->counted;
  self->buffers_.give(std::move(request->buffer));
  request.reset();
  // Write callbacks run before the close callback, so `self` is alive; a disposed socket has no
  // handler (and a write completed before uv_close reports 0, not UV_ECANCELED: libuv#522).
  if (self->handler_ == nullptr) return;
  if (status < 0) {
    self->handler_->onSocketError(*self, status, "write");
  } else {
    self->handler_->onSocketWritten(*self);
  }
}

int Socket::shutdown() {
  if (state_ != State::Open) return UV_EBADF;
  if (shutdownStarted_) return kShutdownQueued;
  // Every byte written so far is in the kernel: FIN may follow it at once.
  if (allWritten()) {
    const int rc = shutdownNow();
    if (rc < 0) return rc;
    shutdownStarted_ = true;
    return kShutdownSent;
  }
  auto req = std::make_unique<uv_shutdown_t>();
  req->data = this;
  const int rc = uv_shutdown(req.get(), stream(), &Socket::onShutdown);
  if (rc < 0) return rc;
  shutdownStarted_ = true;
  req.release();  // owned by libuv until onShutdown
  return kShutdownQueued;
}

bool Socket::allWritten() const {
  return pendingWriteBytes_ == 0 &&
         uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_)) == 0;
}

int Socket::shutdownNow() {
  uv_os_fd_t fd = -1;
  const int rc = uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd);
  if (rc < 0) return rc;
  if (::shutdown(fd, SHUT_WR) != 0) return uv_translate_sys_error(errno);
  return 0;
}

void Socket::onShutdown(uv_shutdown_t* req, int status) {
  std::unique_ptr<uv_shutdown_t> owned(req);
  Socket* self = static_cast<Socket*>(req->data);
  if (self->handler_ == nullptr) return;
  if (status < 0) {
    self->handler_->onSocketError(*self, status, "shutdown");
  } else {
    self->handler_->onSocketShutdown(*self);
  }
}

void Socket::deliverQueuedRead() {
  if (!readQueued_) return;
  readQueued_ = false;
  handOverRead();
}

void Socket::handOverRead() {
  if (state_ != State::Open || handler_ == nullptr || buffered() == 0) return;
  handler_->onSocketRead(*this);
}

std::string_view Socket::data() const {
  if (!buffer_) return {};
  return std::string_view(buffer_.get() + begin_, end_ - begin_);
}

void Socket::consume(size_t count) {
  assert(count <= buffered());
  begin_ += count;
  if (begin_ == end_) {
    // Empty: give the memory back until the next read needs it.
    buffers_.give(std::move(buffer_));
    begin_ = end_ = 0;
  }
}

bool flowAllows(const Socket& source, const Socket& destination) {
  const size_t pending = destination.pendingWriteBytes();
  if (pending >= kHighWatermark) return false;
  if (pending < kHighWatermark / 2) return true;
  return source.reading();
}

std::string addressText(const struct sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = {0};
  if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const struct sockaddr_in6*>(&address);
    uv_ip6_name(v6, host, sizeof host);
    // Built with append: GCC 12 reports a false -Wrestrict for "[" + std::string(...).
    std::string out("[");
    out.append(host).append("]:").append(std::to_string(ntohs(v6->sin6_port)));
    return out;
  }
  const auto* v4 = reinterpret_cast<const struct sockaddr_in*>(&address);
  uv_ip4_name(v4, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
}

}  // namespace hoplite::proxy
