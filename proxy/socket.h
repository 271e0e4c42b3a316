// A TCP socket with one bounded read buffer, a counted write queue and a replaceable handler.
//
// A Socket moves between owners (a Session, the upstream pool, a Tunnel) as a
// std::unique_ptr<Socket>; whoever holds it sets itself as the handler. Closing is a hand-over
// too: Socket::dispose() takes the unique_ptr, detaches the handler and calls uv_close, and the
// close callback frees the Socket. So a Socket has exactly one close path, its memory is released
// only in its close callback, and no callback ever reaches an owner that has let it go.
#pragma once

#include <uv.h>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/buffer_pool.h"
#include "proxy/read_batch.h"
#include "proxy/slab_pool.h"

namespace hoplite::proxy {

class Socket;
struct WriteRequest;

// Events of a Socket, delivered to its current handler. A handler must not assume that the
// Socket is still its own after it calls anything that may hand it on or dispose of it.
class SocketHandler {
 public:
  // New bytes were appended to socket.data(). The handler consumes what it used. Called after
  // the loop's poll phase (ReadBatch), so it may come after the handler stopped reading: the
  // bytes arrived before that.
  virtual void onSocketRead(Socket& socket) = 0;
  // The read buffer is full (nothing consumed for kReadBufferBytes); reading has been stopped.
  virtual void onSocketBufferFull(Socket& socket) = 0;
  // The peer finished sending (EOF); reading has been stopped.
  virtual void onSocketEof(Socket& socket) = 0;
  // A read, write, connect or shutdown failed. `what` names the operation.
  virtual void onSocketError(Socket& socket, int status, const char* what) = 0;
  // A write completed; pendingWriteBytes() has dropped.
  virtual void onSocketWritten(Socket& socket) = 0;
  virtual void onSocketConnected(Socket& socket) = 0;
  // A shutdown() that returned kShutdownQueued completed: every queued write was flushed and FIN
  // was sent.
  virtual void onSocketShutdown(Socket& socket) = 0;

 protected:
  ~SocketHandler() = default;
};

// Told when a disposed Socket's handle has closed and its memory is freed: an owner that must
// outlive every callback of its sockets (a Tunnel) frees itself when the last one has closed.
class SocketCloseListener {
 public:
  virtual void onSocketClosed() = 0;

 protected:
  ~SocketCloseListener() = default;
};

// Allocated from a slab (SlabAllocated): a Socket can live as long as a tunnel.
class Socket : public SlabAllocated<Socket> {
 public:
  // The read buffer's capacity. It also bounds the client bytes held behind an upgrade request
  // (issue 3: 64 KiB, beyond that the connection is closed).
  static constexpr size_t kReadBufferBytes = BufferPool::kBufferBytes;
  // At most this many bytes are read per syscall, so at most this many go out per relayed write.
  // A write a little larger than the path's segment size leaves a runt segment behind it: on
  // loopback (MSS 65483) every 64 KiB write became two segments, two softirq passes and two
  // wake-ups of the reader, and a tunnel spent about 1.7 times the CPU per byte that it does with
  // 48 KiB reads (bench/README.md, "Read size"). HAProxy and nginx read 16 KiB at a time.
  static constexpr size_t kReadChunkBytes = 48 * 1024;
  static_assert(kReadChunkBytes <= kReadBufferBytes);

  // `buffers` and `reads` (the loop's) must outlive the Socket.
  Socket(uv_loop_t* loop, BufferPool& buffers, ReadBatch& reads);
  ~Socket();  // asserts that the close callback ran
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // The one close path: detaches the handler, cancels pending requests (their callbacks still
  // run, and find no handler) and frees the Socket in the close callback, then tells `listener`.
  static void dispose(std::unique_ptr<Socket> socket, SocketCloseListener* listener = nullptr);

  uv_tcp_t* tcp() { return &tcp_; }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  void setHandler(SocketHandler* handler) { handler_ = handler; }

  int connect(const struct sockaddr* address);
  // Starts or stops reading; cheap when nothing changes.
  void setReading(bool wanted);
  bool reading() const { return reading_; }

  // Sends `pieces` in order. When nothing is queued, they go out at once in one writev
  // (uv_try_write), straight from the caller's memory; whatever the kernel did not take is
  // copied into one queued write, counted by pendingWriteBytes() until its callback.
  // Returns kWriteSent (all sent; no onSocketWritten follows), kWriteQueued (onSocketWritten
  // follows), or a negative libuv error (the caller closes).
  static constexpr int kWriteSent = 1;
  static constexpr int kWriteQueued = 0;
  int write(std::initializer_list<std::string_view> pieces);
  int write(std::string_view bytes) { return write({bytes}); }
  // Sends every unconsumed byte of `source` (a tunnel's relay) and consumes them. Like write(),
  // but a large remainder is not copied: the source's read buffer itself is queued.
  int writeFrom(Socket& source);
  size_t pendingWriteBytes() const { return pendingWriteBytes_; }
  // Every byte written so far is in the kernel: nothing of ours in flight (pendingWriteBytes
  // counts each write until its callback) and nothing in libuv's queue.
  bool allWritten() const;
  // Sends FIN after every byte written so far. With no write queued, FIN goes out at once and
  // the caller is told so by the result, as write() does, rather than by a handler event from
  // inside this call (callers are in the middle of a state change): kShutdownSent (FIN is out;
  // no onSocketShutdown follows). Otherwise libuv sends it once the queue is flushed:
  // kShutdownQueued (onSocketShutdown follows). Or a negative libuv error (the caller closes).
  // Once started, further calls do nothing and return kShutdownQueued; writes fail with UV_EPIPE.
  static constexpr int kShutdownSent = 1;
  static constexpr int kShutdownQueued = 0;
  int shutdown();
  bool shutdownStarted() const { return shutdownStarted_; }

  // Unconsumed bytes read so far.
  std::string_view data() const;
  size_t buffered() const { return end_ - begin_; }
  void consume(size_t count);

  // Called by the ReadBatch: hands bytes read in this poll to the handler, if any are still
  // waiting for it.
  void deliverQueuedRead();

 private:
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  // Gives the unconsumed bytes to the handler, if the Socket is still open and has one.
  void handOverRead();
  // Queues the bytes of `request` (a copy); the write callback frees it.
  int queue(std::unique_ptr<WriteRequest> request);
  // uv_try_write when nothing is queued, else UV_EAGAIN.
  int tryWrite(const uv_buf_t* bufs, unsigned int count);
  static void onWriteDone(uv_write_t* req, int status);
  static void onConnect(uv_connect_t* req, int status);
  // FIN now, with shutdown(2) itself. uv_shutdown defers it to the next loop turn, and then
  // libuv re-registers a socket that is still read with epoll (an EPOLL_CTL_MOD with unchanged
  // events, libuv 1.44): one syscall per WebSocket handshake of 27.
  int shutdownNow();
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onClosed(uv_handle_t* handle);

  uv_tcp_t tcp_;
  SocketHandler* handler_ = nullptr;
  SocketCloseListener* closeListener_ = nullptr;
  BufferPool& buffers_;
  ReadBatch& reads_;
  // Taken from the pool on a read and given back whenever it is empty, so idle connections cost
  // no buffer (HAProxy h1_release_buf).
  std::unique_ptr<char[]> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t pendingWriteBytes_ = 0;
  bool reading_ = false;
  bool readQueued_ = false;  // bytes read in this poll wait in reads_ for onSocketRead
  bool shutdownStarted_ = false;
  enum class State { Open, Closing, Closed } state_ = State::Open;
};

// Whether `source` may be read, given the write queue of the socket its bytes go to: stop above
// kHighWatermark, resume below half of it, and keep the current state in between (hysteresis,
// as in Envoy's flow control and h2o's update_read_state).
constexpr size_t kHighWatermark = 256 * 1024;
bool flowAllows(const Socket& source, const Socket& destination);

// "127.0.0.1:8080" or "[::1]:8080" for a sockaddr.
std::string addressText(const struct sockaddr_storage& address);

}  // namespace hoplite::proxy
