#include "proxy/observe/access_log.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hoplite::proxy::observe {

AccessLog::AccessLog(uv_loop_t* loop, std::function<void()> onClosed)
    : timer_(
          loop, [this] { flush(); }, std::move(onClosed)) {}

AccessLog::~AccessLog() {
  if (ownsFd_ && fd_ >= 0) ::close(fd_);
}

bool AccessLog::open(const std::string& target, std::string& error) {
  if (target == "off") return true;
  if (target == "stdout" || target == "stderr") {
    fd_ = target == "stdout" ? STDOUT_FILENO : STDERR_FILENO;
  } else {
    fd_ = ::open(target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) {
      error = target + ": " + std::strerror(errno);
      return false;
    }
    ownsFd_ = true;
    path_ = target;
  }
  struct stat info;
  if (fstat(fd_, &info) == 0 && (S_ISFIFO(info.st_mode) || S_ISSOCK(info.st_mode))) {
    // A pipe nobody drains must not block the loop: its writes fail with EAGAIN instead, and
    // their lines are counted as dropped. The flag is on the pipe hoplite was given as its
    // output, which nothing else in hoplite writes to in large pieces.
    pipe_ = true;
    const int flags = fcntl(fd_, F_GETFL);
    if (flags >= 0) fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  }
  pending_.reserve(kFlushBytes + 4096);
  return true;
}

bool AccessLog::reopen(std::string& error) {
  if (!ownsFd_ || fd_ < 0) return true;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = path_ + ": " + std::strerror(errno);
    return false;
  }
  flush();  // the lines logged before the signal end the old file
  ::close(fd_);
  fd_ = fd;
  return true;
}

void AccessLog::lineAdded() {
  if (pending_.size() >= kFlushBytes) {
    flush();
  } else if (!timer_.active()) {
    timer_.start(kFlushInterval);
  }
}

void AccessLog::flush() {
  timer_.stop();
  if (fd_ < 0 || pending_.empty()) {
    pending_.clear();
    return;
  }
  writeOut();
  pending_.clear();
  // Memory a burst of lines grew the buffer to goes back at once.
  if (pending_.capacity() > 4 * kFlushBytes) std::string().swap(pending_);
}

void AccessLog::writeOut() {
  size_t offset = 0;
  while (offset < pending_.size()) {
    size_t end = pending_.size();
    if (pipe_ && end - offset > PIPE_BUF) {
      // The last line end within PIPE_BUF bytes; a longer line goes out alone.
      const size_t cut = pending_.rfind('\n', offset + PIPE_BUF - 1);
      end = cut != std::string::npos && cut >= offset ? cut + 1 : pending_.find('\n', offset) + 1;
    }
    const ssize_t written = ::write(fd_, pending_.data() + offset, end - offset);
    if (written < 0 && errno == EINTR) continue;
    if (written > 0) offset += static_cast<size_t>(written);
    if (written <= 0 || offset < end) {
      // EAGAIN on a full pipe, ENOSPC, EIO, or a write cut short by a full disk: what is left
      // (the line a short write cut included) is dropped, never waited for.
      droppedLines_ += static_cast<uint64_t>(
          std::count(pending_.begin() + static_cast<std::ptrdiff_t>(offset), pending_.end(), '\n'));
      return;
    }
  }
}

void AccessLog::close() {
  flush();
  timer_.close();
}

}  // namespace hoplite::proxy::observe
