// Helpers for the Socket tests: a loop with a loopback listener, and a blocking peer on the other
// end of each accepted connection.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

#include "proxy/buffer_pool.h"
#include "proxy/read_batch.h"
#include "proxy/socket.h"

namespace hoplite::proxy::test {

// A blocking POSIX client; the bytes it sends are written from a thread when they are more than
// the kernel buffers, since the loop that reads them runs on this one.
inline int connectBlocking(const sockaddr_in& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// Waits (at most 5 s) until the kernel holds at least `bytes` unread bytes for `fd`: with the
// low-water mark at `bytes`, poll() reports the socket readable only then.
inline bool awaitReadable(int fd, size_t bytes) {
  int lowWater = static_cast<int>(bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowWater, sizeof lowWater) != 0) return false;
  pollfd polled{fd, POLLIN, 0};
  const bool ready = ::poll(&polled, 1, 5000) == 1;
  lowWater = 1;  // back to the default, for the reads that follow
  setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowWater, sizeof lowWater);
  return ready;
}

inline size_t readableBytes(int fd) {
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

  // Runs `turns` loop turns without waiting for events.
  void runTurns(int turns) {
    for (int turn = 0; turn < turns; ++turn) uv_run(&loop_, UV_RUN_NOWAIT);
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

inline uv_os_fd_t fileOf(Socket& socket) {
  uv_os_fd_t fd = -1;
  REQUIRE(uv_fileno(reinterpret_cast<uv_handle_t*>(socket.tcp()), &fd) == 0);
  return fd;
}

}  // namespace hoplite::proxy::test
