// Hands the reads of one poll to their sockets' handlers together, once the poll is done.
#pragma once

#include <uv.h>

#include <vector>

namespace hoplite::proxy {

class Socket;

// libuv runs a read callback for each readable socket as it walks the events of one epoll_wait.
// Handling each read right there (parse, then write to the other side) wakes the process at the
// other end of that write while the rest of the batch is still unread. On a busy machine the
// kernel tends to run the woken process on the proxy's own CPU (wake-affine placement), where it
// preempts the proxy in the middle of its batch, and every connection after that point waits.
// HAProxy receives from every ready connection first and sends afterwards; a ReadBatch gives
// hoplite the same order. Socket::onRead stores the bytes and queues its Socket here, and a
// uv_check handle, which libuv runs right after the poll phase, hands each queued Socket's bytes
// to its handler. Measured on scenario 1 of bench/ (bench/README.md, "Read batching").
//
// A queued Socket cannot be freed before the check runs: Sockets are freed only in close
// callbacks, which libuv runs after the check phase of the same loop turn.
class ReadBatch {
 public:
  explicit ReadBatch(uv_loop_t* loop);
  ~ReadBatch();
  ReadBatch(const ReadBatch&) = delete;
  ReadBatch& operator=(const ReadBatch&) = delete;

  // Queues `socket` for the end of this poll. False once the batch is closed: the caller then
  // hands the bytes over itself.
  bool add(Socket& socket);
  // Part of the owner's close path: closes the check handle (no handler runs after this). The
  // owner's memory must outlive the loop run, as the Server's does.
  void close();

 private:
  static void onCheck(uv_check_t* handle);

  uv_check_t check_;
  std::vector<Socket*> queued_;
  std::vector<Socket*> delivering_;  // kept between turns so that its capacity is reused
  bool closed_ = false;
};

}  // namespace hoplite::proxy
