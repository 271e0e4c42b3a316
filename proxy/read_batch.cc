#include "proxy/read_batch.h"

#include <cassert>

#include "proxy/socket.h"

namespace hoplite::proxy {

ReadBatch::ReadBatch(uv_loop_t* loop) {
  uv_check_init(loop, &check_);
  check_.data = this;
  uv_check_start(&check_, &ReadBatch::onCheck);
  // The batch alone must not keep the loop running once everything else has stopped.
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
}

ReadBatch::~ReadBatch() {
  assert(closed_);
}

bool ReadBatch::add(Socket& socket) {
  if (closed_) return false;
  queued_.push_back(&socket);
  return true;
}

void ReadBatch::close() {
  if (closed_) return;
  closed_ = true;
  queued_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
}

void ReadBatch::onCheck(uv_check_t* handle) {
  ReadBatch& self = *static_cast<ReadBatch*>(handle->data);
  if (self.queued_.empty()) return;
  // A handler may queue nothing new here (reads happen only in the poll phase), but swapping
  // keeps the loop below safe whatever it does.
  self.delivering_.swap(self.queued_);
  for (Socket* socket : self.delivering_) socket->deliverQueuedRead();
  self.delivering_.clear();
}

}  // namespace hoplite::proxy
