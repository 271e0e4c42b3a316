// The access log: lines buffered in memory and written in batches, never blocking the loop.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "proxy/timer.h"

namespace hoplite::proxy::observe {

// Lines are appended to a buffer and written at most every kFlushInterval, or at once when
// kFlushBytes are waiting (nginx's `access_log ... buffer=64k flush=...`), and at close. A write
// that fails or would block (a full disk, a pipe nobody reads) drops the lines it carried and
// counts them: logging never stalls traffic. With workers, each line reaches the file whole:
// files are opened O_APPEND (each write lands at the end, whole), and a pipe gets writes of at
// most PIPE_BUF bytes that end at a line's end (POSIX makes those atomic).
class AccessLog {
 public:
  static constexpr size_t kFlushBytes = 64 * 1024;
  static constexpr std::chrono::milliseconds kFlushInterval{100};

  // `onClosed` runs once the timer handle is closed (see Timer).
  AccessLog(uv_loop_t* loop, std::function<void()> onClosed);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // "stdout", "stderr", "off", or a file path (appended to, created 0640). False, with
  // `error` set, when the file cannot be opened.
  bool open(const std::string& target, std::string& error);
  bool enabled() const { return fd_ >= 0; }
  // Opens the file again by its name (logrotate renamed the old one) after writing what is
  // buffered to the old one. False, with `error` set, when the new open fails: the old file is
  // kept. stdout, stderr and "off" have nothing to reopen.
  bool reopen(std::string& error);

  // The buffer to append one or more complete lines to; call lineAdded() after each line.
  std::string& buffer() { return pending_; }
  void lineAdded();

  // Writes what is buffered now.
  void flush();
  // Part of the owner's close path: flushes, closes the file and the timer.
  void close();

  uint64_t droppedLines() const { return droppedLines_; }

 private:
  // Writes pending_; a failure drops and counts the lines that did not go out.
  void writeOut();

  Timer timer_;
  int fd_ = -1;
  std::string path_;  // a file's name; empty for stdout and stderr
  bool ownsFd_ = false;
  bool pipe_ = false;  // writes are cut at line ends, at most PIPE_BUF each
  std::string pending_;
  uint64_t droppedLines_ = 0;
};

}  // namespace hoplite::proxy::observe
