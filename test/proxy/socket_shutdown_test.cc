// Socket::shutdown over a real loopback connection: FIN goes out after every byte written, and its
// completion is reported exactly once, by the result when nothing was queued, else by the event.
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>

#include "proxy/socket.h"
#include "test/proxy/socket_test_util.h"

namespace hoplite::proxy {
namespace {

using test::TestLoop;

// Counts the events a shutdown may cause.
class ShutdownHandler final : public SocketHandler {
 public:
  int shutdowns = 0;
  int written = 0;
  std::string failure;

  void onSocketRead(Socket& socket) override { socket.consume(socket.buffered()); }
  void onSocketBufferFull(Socket& /*socket*/) override {}
  void onSocketEof(Socket& /*socket*/) override {}
  void onSocketError(Socket& /*socket*/, int status, const char* what) override {
    failure = std::string(what) + ": " + uv_strerror(status);
  }
  void onSocketWritten(Socket& /*socket*/) override { ++written; }
  void onSocketConnected(Socket& /*socket*/) override {}
  void onSocketShutdown(Socket& /*socket*/) override { ++shutdowns; }
};

// What the peer reads up to EOF; `eof` says whether EOF came (each read waits at most 5 s).
std::string readUntilEof(int fd, bool& eof) {
  std::string received;
  eof = false;
  char chunk[64 * 1024];
  while (test::awaitReadable(fd, 1)) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) {
      eof = n == 0;
      break;
    }
    received.append(chunk, static_cast<size_t>(n));
  }
  return received;
}

TEST_CASE("proxy: a shutdown with nothing queued sends FIN at once and says so once",
          "[proxy][socket]") {
  TestLoop loop;
  int peer = -1;
  std::unique_ptr<Socket> socket = loop.accept(peer);
  ShutdownHandler handler;
  socket->setHandler(&handler);
  socket->setReading(true);

  REQUIRE(socket->write("the last response") == Socket::kWriteSent);
  const int rc = socket->shutdown();
  CHECK(socket->shutdown() == Socket::kShutdownQueued);  // started: a second call adds nothing
  CHECK(socket->write("too late") == UV_EPIPE);
  // FIN left with the call: the peer sees every byte, then EOF, before the loop runs again.
  bool eof = false;
  CHECK(readUntilEof(peer, eof) == "the last response");
  CHECK(eof);
  loop.runTurns(3);  // an event, had one been queued, would arrive here
  ::close(peer);
  Socket::dispose(std::move(socket));

  CHECK(rc == Socket::kShutdownSent);
  // One completion in all: the result, and no onSocketShutdown after it.
  CHECK((rc == Socket::kShutdownSent ? 1 : 0) + handler.shutdowns == 1);
  CHECK(handler.failure.empty());
}

TEST_CASE("proxy: a shutdown behind queued writes sends FIN after them and reports it once",
          "[proxy][socket]") {
  TestLoop loop;
  int peer = -1;
  std::unique_ptr<Socket> socket = loop.accept(peer);
  ShutdownHandler handler;
  socket->setHandler(&handler);

  // More than the loopback socket buffers take while the peer reads nothing.
  std::string sent(16 * 1024 * 1024, '\0');
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('a' + i % 23);
  REQUIRE(socket->write(sent) == Socket::kWriteQueued);
  REQUIRE(socket->pendingWriteBytes() > 0);
  const int rc = socket->shutdown();
  CHECK(rc == Socket::kShutdownQueued);

  bool eof = false;
  std::string received;
  std::thread reader([&] { received = readUntilEof(peer, eof); });
  loop.runUntil([&] { return handler.shutdowns > 0 || !handler.failure.empty(); });
  reader.join();
  loop.runTurns(3);  // a second event would arrive here
  ::close(peer);
  Socket::dispose(std::move(socket));

  CHECK(handler.failure.empty());
  CHECK(handler.written == 1);
  CHECK((rc == Socket::kShutdownSent ? 1 : 0) + handler.shutdowns == 1);
  CHECK(eof);
  CHECK(received.size() == sent.size());
  CHECK(received == sent);
}

}  // namespace
}  // namespace hoplite::proxy
