// Socket reads over a real loopback connection: how much one read takes, and that every byte
// arrives once and in order.
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/socket.h"
#include "test/proxy/socket_test_util.h"

namespace hoplite::proxy {
namespace {

using test::awaitReadable;
using test::fileOf;
using test::readableBytes;
using test::TestLoop;

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
