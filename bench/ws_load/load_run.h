// One run of the load tool: opens the connections a mode needs, drives them for the measured
// window, closes them, and prints the result as one JSON object. Every stage is bounded in time:
// the opening phase by --open-timeout, the measurement by --duration, idle holding by --hold,
// and the shutdown by a fixed grace after which connections are closed outright.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "connection.h"
#include "options.h"

namespace ws_load {

class LoadRun : public ConnectionOwner {
 public:
  LoadRun(uv_loop_t* loop, Options options);

  // Runs the loop to completion, prints the result, and returns the process exit code.
  int run();

  // ConnectionOwner
  uv_buf_t readBuffer() override;
  Random& random() override { return random_; }
  void onOpen(Connection& connection) override;
  void onDataBytes(Connection& connection, std::size_t count) override;
  void onMessage(Connection& connection, std::uint64_t bytes) override;
  void onClosed(Connection& connection, bool clean) override;

 private:
  enum class Stage { Opening, Measuring, Holding, ShuttingDown, Done };

  static void onSweepTrampoline(uv_timer_t* timer);
  static void onDurationTrampoline(uv_timer_t* timer);
  static void onSignalTrampoline(uv_signal_t* handle, int signum);

  void openSlot(std::size_t slot);
  void openMore();
  void onOpeningSettled();
  void startMeasuring();
  void beginShutdown(bool sendCloseFrames);
  void onSweep();
  void maybeFinish();
  void pump(Connection& connection);
  bool afterWarmup() const;
  void printReady() const;
  void printResult() const;

  uv_loop_t* loop_;
  Options options_;
  Random random_;
  std::vector<char> readBuffer_;
  std::string payload_;
  std::vector<Connection*> slots_;
  std::size_t nextSlot_ = 0;
  std::size_t nextSource_ = 0;
  std::size_t live_ = 0;
  std::size_t opening_ = 0;
  std::size_t opened_ = 0;       // handshakes completed during the opening phase
  std::size_t established_ = 0;  // idle: tunnels that echoed their first message
  std::size_t failed_ = 0;       // connections that never opened
  std::size_t lost_ = 0;         // open connections that ended before shutdown
  Stage stage_ = Stage::Opening;
  bool interrupted_ = false;
  bool handlesClosed_ = false;

  std::uint64_t runStart_ = 0;      // hrtime
  std::uint64_t openSettled_ = 0;   // hrtime
  std::uint64_t measureStart_ = 0;  // hrtime
  std::uint64_t measureEnd_ = 0;    // hrtime
  std::uint64_t shutdownStart_ = 0;
  std::uint64_t openDeadline_ = 0;  // uv_now ms

  // Figures.
  std::uint64_t handshakes_ = 0;
  std::uint64_t cycles_ = 0;
  // Cycles of the warm-up too: what a target's CPU time over the whole run is divided by.
  std::uint64_t allCycles_ = 0;
  std::uint64_t errors_ = 0;
  std::uint64_t messages_ = 0;
  std::uint64_t bytes_ = 0;
  std::vector<std::uint64_t> latenciesNs_;

  uv_timer_t sweep_{};
  uv_timer_t duration_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
};

}  // namespace ws_load
