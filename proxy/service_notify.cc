#include "proxy/service_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace hoplite::proxy {

namespace {

// One datagram: sd_notify sends the whole state string in one sendmsg, so the service manager
// sees READY=1 and its STATUS= together. unset_environment is 0: the supervisor notifies twice.
void send(std::string_view first, std::string_view status) {
  std::string message(first);
  if (!message.empty()) message.push_back('\n');
  message.append("STATUS=").append(status);
  sd_notify(0, message.c_str());
}

// "30s" or "1500ms".
std::string durationText(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + "s";
  return std::to_string(duration.count()) + "ms";
}

}  // namespace

void notifyReady(std::string_view status) {
  send("READY=1", status);
}

void notifyReloading(std::string_view status) {
  struct timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t usec =
      static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec), status);
}

void notifyStopping(std::string_view status) {
  send("STOPPING=1", status);
}

void notifyStatus(std::string_view status) {
  send("", status);
}

void forgetNotifySocket() {
  ::unsetenv("NOTIFY_SOCKET");
}

std::string servingStatus(const std::vector<std::string>& listeners) {
  std::string text = "serving on ";
  for (size_t i = 0; i < listeners.size(); ++i) {
    if (i > 0) text.append(", ");
    text.append(listeners[i]);
  }
  return text;
}

std::string liveStatus(std::string_view serving, uint64_t connections, uint64_t tunnels) {
  return std::string(serving) + "; " + std::to_string(connections) + " connections, " +
         std::to_string(tunnels) + " tunnels open";
}

void notifyStatusIfChanged(const std::string& status, std::string& last) {
  if (status == last) return;
  last = status;
  notifyStatus(status);
}

std::string stoppingStatus(const conf::Duration& shutdownDelay) {
  if (!shutdownDelay) return "draining";
  return "still serving for " + durationText(*shutdownDelay) +
         " (timeouts.shutdown_delay), then draining";
}

}  // namespace hoplite::proxy
