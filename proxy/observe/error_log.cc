#include "proxy/observe/error_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hoplite::proxy::observe {

bool openErrorLog(const std::string& destination, std::string& error) {
  if (destination == "stderr") return true;
  const int fd = ::open(destination.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = destination + ": " + std::strerror(errno);
    return false;
  }
  std::fflush(stderr);
  // dup2 replaces fd 2 in one step: no moment without a standard error.
  const bool moved = ::dup2(fd, STDERR_FILENO) == STDERR_FILENO;
  const int dupError = errno;
  ::close(fd);
  if (!moved) {
    error = destination + ": " + std::strerror(dupError);
    return false;
  }
  return true;
}

}  // namespace hoplite::proxy::observe
