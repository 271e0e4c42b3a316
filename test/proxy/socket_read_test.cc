// Socket reads over a real loopback connection: how much one read takes, and that every byte
// arrives once and in order.
#include <arpa/inet.h>
#include <netinet/in.h>
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

// A blocking POSIX client; the bytes it sends are written from a thread, since the loop that
// reads them runs on this one.
int connectBlocking(const sockaddr_in& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// The listener's one connection goes into `socket`.
struct Accepting {
  Socket* socket;
  int status = 1;  // 1 until the connection callback ran
};

void acceptInto(uv_stream_t* listener, int status) {
  auto* accepting = static_cast<Accepting*>(listener->data);
  accepting->status = status < 0 ? status : uv_accept(listener, accepting->socket->stream());
}

size_t readableBytes(int fd) {
  int available = 0;
  if (ioctl(fd, FIONREAD, &available) != 0) return 0;
  return static_cast<size_t>(available);
}

TEST_CASE("proxy: a socket reads at most kReadChunkBytes per read, every byte once",
          "[proxy][socket]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  uv_tcp_t listener;
  uv_tcp_init(&loop, &listener);
  sockaddr_in address{};
  uv_ip4_addr("127.0.0.1", 0, &address);
  REQUIRE(uv_tcp_bind(&listener, reinterpret_cast<const sockaddr*>(&address), 0) == 0);
  REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 1, &acceptInto) == 0);
  int length = sizeof address;
  uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&address), &length);

  const int client = connectBlocking(address);
  BufferPool buffers;
  auto socket = std::make_unique<Socket>(&loop, buffers);
  Accepting accepting{socket.get()};
  listener.data = &accepting;
  for (int turn = 0; turn < 100 && accepting.status == 1; ++turn) uv_run(&loop, UV_RUN_ONCE);
  REQUIRE(accepting.status == 0);

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
  uv_os_fd_t fd;
  REQUIRE(uv_fileno(reinterpret_cast<uv_handle_t*>(socket->tcp()), &fd) == 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (readableBytes(fd) <= Socket::kReadChunkBytes &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const size_t queuedBeforeReading = readableBytes(fd);

  RecordingHandler handler;
  socket->setHandler(&handler);
  socket->setReading(true);
  const auto runDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!handler.eof && handler.failure.empty() && std::chrono::steady_clock::now() < runDeadline)
    uv_run(&loop, UV_RUN_ONCE);
  writer.join();
  ::close(client);

  Socket::dispose(std::move(socket));
  uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  REQUIRE(uv_loop_close(&loop) == 0);

  CHECK(handler.failure.empty());
  CHECK(handler.eof);
  REQUIRE(queuedBeforeReading > Socket::kReadChunkBytes);
  REQUIRE_FALSE(handler.reads.empty());
  CHECK(handler.reads.front() == Socket::kReadChunkBytes);
  CHECK(*std::max_element(handler.reads.begin(), handler.reads.end()) <= Socket::kReadChunkBytes);
  CHECK(handler.received == sent);
}

}  // namespace
}  // namespace hoplite::proxy
