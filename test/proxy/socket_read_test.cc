// Socket reads over a real loopback connection: how much one read takes, and that every byte
// arrives once and in order.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/buffer_pool.h"
#include "proxy/socket.h"

namespace hoplite::proxy {
namespace {

// Records what each read delivered and consumes it all, as a tunnel's relay does.
class RecordingHandler final : public SocketHandler {
 public:
  std::vector<size_t> reads;
  std::string received;
  bool eof = false;
  std::string failure;

  void onSocketRead(Socket& socket) override {
    reads.push_back(socket.buffered());
    received.append(socket.data());
    socket.consume(socket.buffered());
  }
  void onSocketBufferFull(Socket& /*socket*/) override { failure = "buffer full"; }
  void onSocketEof(Socket& /*socket*/) override { eof = true; }
  void onSocketError(Socket& /*socket*/, int status, const char* what) override {
    failure = std::string(what) + ": " + uv_strerror(status);
  }
  void onSocketWritten(Socket& /*socket*/) override {}
  void onSocketConnected(Socket& /*socket*/) override {}
  void onSocketShutdown(Socket& /*socket*/) override {}
};

// A blocking POSIX client; the bytes it sends are written from a thread when they are more than
// the kernel buffers, since the loop that reads them runs on this one.
int connectBlocking(const sockaddr_in& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// Waits (at most 5 s) until the kernel holds at least `bytes` unread bytes for `fd`: with the
// low-water mark at `bytes`, poll() reports the socket readable only then.
bool awaitReadable(int fd, size_t bytes) {
  int lowWater = static_cast<int>(bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowWater, sizeof lowWater) != 0) return false;
  pollfd polled{fd, POLLIN, 0};
  const bool ready = ::poll(&polled, 1, 5000) == 1;
  lowWater = 1;  // back to the default, for the reads that follow
  setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowWater, sizeof lowWater);
  return ready;
}

size_t readableBytes(int fd) {
  int available = 0;
  if (ioctl(fd, FIONREAD, &available) != 0) return 0;
  return static_cast<size_t>(available);
}

// A uv loop, initialised before the members that use it.
struct InitializedLoop {
  uv_loop_t loop;
  InitializedLoop() { REQUIRE(uv_loop_init(&loop) == 0); }
};

// One loop with a loopback listener, the loop's buffer pool and read batch, as a Server has.
class TestLoop {
 public:
  TestLoop() : reads_(&initialized_.loop) {
    uv_tcp_init(&loop_, &listener_);
    uv_ip4_addr("127.0.0.1", 0, &address_);
    REQUIRE(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&address_), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 8, &TestLoop::onConnection) == 0);
    int length = sizeof address_;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&address_), &length);
    listener_.data = this;
  }

  ~TestLoop() {
    reads_.close();
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }

  // Connects a blocking client and returns the Socket that accepted it.
  std::unique_ptr<Socket> accept(int& clientFd) {
    clientFd = connectBlocking(address_);
    accepting_ = std::make_unique<Socket>(&loop_, buffers_, reads_);
    acceptStatus_ = 1;
    for (int turn = 0; turn < 100 && acceptStatus_ == 1; ++turn) uv_run(&loop_, UV_RUN_ONCE);
    REQUIRE(acceptStatus_ == 0);
    return std::move(accepting_);
  }

  // Runs loop turns until `done` or 10 s.
  template <typename Done>
  void runUntil(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
  }

 private:
  static void onConnection(uv_stream_t* listener, int status) {
    auto& self = *static_cast<TestLoop*>(listener->data);
    if (!self.accepting_) return;
    self.acceptStatus_ = status < 0 ? status : uv_accept(listener, self.accepting_->stream());
  }

  InitializedLoop initialized_;
  uv_loop_t& loop_ = initialized_.loop;
  BufferPool buffers_;
  ReadBatch reads_;
  uv_tcp_t listener_;
  sockaddr_in address_{};
  std::unique_ptr<Socket> accepting_;
  int acceptStatus_ = 1;
};

uv_os_fd_t fileOf(Socket& socket) {
  uv_os_fd_t fd = -1;
  REQUIRE(uv_fileno(reinterpret_cast<uv_handle_t*>(socket.tcp()), &fd) == 0);
  return fd;
}

TEST_CASE("proxy: a socket reads at most kReadChunkBytes per read, every byte once",
          "[proxy][socket]") {
  TestLoop loop;
  int client = -1;
  std::unique_ptr<Socket> socket = loop.accept(client);

  // Four read buffers' worth, so that several full reads are possible.
  std::string sent(4 * Socket::kReadBufferBytes, '\0');
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('a' + i % 23);
  std::thread writer([&] {
    size_t done = 0;
    while (done < sent.size()) {
      const ssize_t n = ::write(client, sent.data() + done, sent.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::shutdown(client, SHUT_WR);
  });

  // Wait (bounded) until the kernel holds more than one read's worth, so that only the cap can
  // keep the first read at kReadChunkBytes.
  const int fd = fileOf(*socket);
  REQUIRE(awaitReadable(fd, Socket::kReadChunkBytes + 1));
  const size_t queuedBeforeReading = readableBytes(fd);

  RecordingHandler handler;
  socket->setHandler(&handler);
  socket->setReading(true);
  loop.runUntil([&] { return handler.eof || !handler.failure.empty(); });
  writer.join();
  ::close(client);
  Socket::dispose(std::move(socket));

  CHECK(handler.failure.empty());
  CHECK(handler.eof);
  REQUIRE(queuedBeforeReading > Socket::kReadChunkBytes);
  REQUIRE_FALSE(handler.reads.empty());
  CHECK(handler.reads.front() == Socket::kReadChunkBytes);
  CHECK(*std::max_element(handler.reads.begin(), handler.reads.end()) <= Socket::kReadChunkBytes);
  CHECK(handler.received == sent);
}

// Notes, when each socket's bytes are handed over, how many bytes the other socket holds.
class PeekingHandler final : public SocketHandler {
 public:
  Socket* other = nullptr;
  std::vector<size_t> otherBuffered;

  void onSocketRead(Socket& socket) override {
    otherBuffered.push_back(&socket == other ? 0 : other->buffered());
    socket.consume(socket.buffered());
  }
  void onSocketBufferFull(Socket& /*socket*/) override {}
  void onSocketEof(Socket& /*socket*/) override {}
  void onSocketError(Socket& /*socket*/, int /*status*/, const char* /*what*/) override {}
  void onSocketWritten(Socket& /*socket*/) override {}
  void onSocketConnected(Socket& /*socket*/) override {}
  void onSocketShutdown(Socket& /*socket*/) override {}
};

TEST_CASE("proxy: the reads of one poll are handed over after all of them are done",
          "[proxy][socket]") {
  TestLoop loop;
  int clientA = -1;
  int clientB = -1;
  std::unique_ptr<Socket> a = loop.accept(clientA);
  std::unique_ptr<Socket> b = loop.accept(clientB);
  // Both sockets are readable before the loop polls them, so one epoll_wait returns both.
  REQUIRE(::write(clientA, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
  REQUIRE(::write(clientB, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
  REQUIRE(awaitReadable(fileOf(*a), 18));
  REQUIRE(awaitReadable(fileOf(*b), 18));

  // The handler of a peeks at b, and the handler of b at a.
  PeekingHandler forA;
  PeekingHandler forB;
  forA.other = b.get();
  forB.other = a.get();
  a->setHandler(&forA);
  b->setHandler(&forB);
  a->setReading(true);
  b->setReading(true);
  loop.runUntil([&] { return !forA.otherBuffered.empty() && !forB.otherBuffered.empty(); });
  ::close(clientA);
  ::close(clientB);
  Socket::dispose(std::move(a));
  Socket::dispose(std::move(b));

  REQUIRE(forA.otherBuffered.size() == 1);
  REQUIRE(forB.otherBuffered.size() == 1);
  // Whichever was handed over first saw the other's 18 bytes already read; the second saw the
  // first's bytes consumed. Without the batch, the first would have seen nothing read yet.
  CHECK(std::max(forA.otherBuffered[0], forB.otherBuffered[0]) == 18);
  CHECK(std::min(forA.otherBuffered[0], forB.otherBuffered[0]) == 0);
}

}  // namespace
}  // namespace hoplite::proxy
