// Telling a service manager (systemd's Type=notify) how hoplite is doing: READY=1 once it serves,
// STOPPING=1 once a shutdown has begun, and a STATUS= line for `systemctl status`. Through
// libsystemd's sd_notify, which does nothing when NOTIFY_SOCKET is not in the environment (hoplite
// was not started by a service manager that listens).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace hoplite::proxy {

// Only the process the service manager started may call these: with NotifyAccess=main, systemd
// ignores (and logs) messages from any other, so a supervisor's workers forget the socket at once
// (forgetNotifySocket). Failures are not reported: a service manager that cannot be told is no
// reason to stop serving.

// Listening and serving: READY=1 with STATUS=`status` (e.g. "serving on 127.0.0.1:8080").
void notifyReady(std::string_view status);
// A reload begins: RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC now, which systemd 253 and
// later require with it) and STATUS=`status`. READY=1 (notifyReady) ends it, whatever the outcome.
void notifyReloading(std::string_view status);
// The first stop request: STOPPING=1 with STATUS=`status`.
void notifyStopping(std::string_view status);
// STATUS=`status` alone.
void notifyStatus(std::string_view status);

// In a forked worker, before anything else: unsets NOTIFY_SOCKET, so that nothing the worker does
// can reach the service manager as if the main process had sent it.
void forgetNotifySocket();

// "serving on A, B" for the READY status line, from the bound listener addresses.
std::string servingStatus(const std::vector<std::string>& listeners);
// The periodic STATUS= line while serving: `serving` (servingStatus, maybe " with N workers")
// and "; 12 connections, 3 tunnels open".
std::string liveStatus(std::string_view serving, uint64_t connections, uint64_t tunnels);
// STATUS=`status`, unless it is `last` (then nothing is sent); `last` becomes `status`.
void notifyStatusIfChanged(const std::string& status, std::string& last);
// What a stop request does first, for the STOPPING status line and the log: "draining", or with
// timeouts.shutdown_delay "still serving for 5s (timeouts.shutdown_delay), then draining".
std::string stoppingStatus(const conf::Duration& shutdownDelay);

}  // namespace hoplite::proxy
