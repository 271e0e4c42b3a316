#include "load_run.h"

#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdio>

namespace ws_load {

namespace {

constexpr std::size_t kReadBufferBytes = 256 * 1024;
constexpr std::uint64_t kSweepMs = 100;
constexpr std::uint64_t kStuckOpeningMs = 10000;  // one connection's connect + handshake
constexpr std::uint64_t kCloseGraceMs = 2000;     // close handshake answered and TCP closed
constexpr std::uint64_t kShutdownLimitNs = 5'000'000'000ULL;
constexpr std::size_t kMaxLatencySamples = 20'000'000;
constexpr std::size_t kIdleProbeBytes = 16;

const char* modeName(Mode mode) {
  switch (mode) {
    case Mode::Handshake:
      return "handshake";
    case Mode::Echo:
      return "echo";
    case Mode::Bulk:
      return "bulk";
    case Mode::Idle:
      return "idle";
  }
  return "?";
}

double percentileUs(std::vector<std::uint64_t>& samples, double fraction) {
  if (samples.empty()) return 0;
  const std::size_t index = std::min(
      samples.size() - 1, static_cast<std::size_t>(fraction * static_cast<double>(samples.size())));
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(index),
                   samples.end());
  return static_cast<double>(samples[index]) / 1000.0;
}

}  // namespace

LoadRun::LoadRun(uv_loop_t* loop, Options options)
    : loop_(loop), options_(std::move(options)), readBuffer_(kReadBufferBytes) {
  payload_.resize(options_.mode == Mode::Idle ? kIdleProbeBytes : options_.messageBytes);
  for (auto& c : payload_) c = static_cast<char>('a' + random_.next() % 26);
  slots_.assign(static_cast<std::size_t>(options_.connections), nullptr);
}

uv_buf_t LoadRun::readBuffer() {
  return uv_buf_init(readBuffer_.data(), static_cast<unsigned>(readBuffer_.size()));
}

int LoadRun::run() {
  runStart_ = uv_hrtime();
  uv_timer_init(loop_, &sweep_);
  uv_timer_init(loop_, &duration_);
  sweep_.data = duration_.data = this;
  uv_signal_init(loop_, &sigterm_);
  uv_signal_init(loop_, &sigint_);
  sigterm_.data = sigint_.data = this;
  uv_signal_start(&sigterm_, onSignalTrampoline, SIGTERM);
  uv_signal_start(&sigint_, onSignalTrampoline, SIGINT);
  uv_timer_start(&sweep_, onSweepTrampoline, kSweepMs, kSweepMs);
  openDeadline_ = uv_now(loop_) + static_cast<std::uint64_t>(options_.openTimeoutSeconds * 1000);

  if (options_.mode == Mode::Handshake) {
    // Every slot loops open → handshake → close for the whole window; no opening phase.
    startMeasuring();
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) openSlot(slot);
  } else {
    openMore();
  }
  uv_run(loop_, UV_RUN_DEFAULT);
  printResult();
  if (options_.mode == Mode::Idle) return established_ == slots_.size() ? 0 : 1;
  if (options_.mode == Mode::Handshake) return cycles_ > 0 ? 0 : 1;
  return (messages_ > 0 || bytes_ > 0) ? 0 : 1;
}

void LoadRun::openSlot(std::size_t slot) {
  auto* connection = new Connection(*this, loop_, slot);
  const sockaddr_in* source = nullptr;
  if (!options_.sources.empty()) {
    source = &options_.sources[nextSource_++ % options_.sources.size()];
  }
  if (!connection->start(options_.target, source, options_.hostHeader, options_.path)) {
    delete connection;
    ++errors_;
    if (stage_ == Stage::Opening) ++failed_;
    return;  // handshake mode retries this slot from the sweep timer
  }
  slots_[slot] = connection;
  ++live_;
  ++opening_;
}

void LoadRun::openMore() {
  while (stage_ == Stage::Opening && nextSlot_ < slots_.size() &&
         opening_ < static_cast<std::size_t>(options_.openConcurrency)) {
    openSlot(nextSlot_++);
  }
  if (stage_ == Stage::Opening && nextSlot_ == slots_.size() && opening_ == 0) {
    // Everything opened or failed; idle also waits for each tunnel's first echo.
    if (options_.mode != Mode::Idle || established_ + failed_ + lost_ >= slots_.size())
      onOpeningSettled();
  }
}

void LoadRun::onOpeningSettled() {
  openSettled_ = uv_hrtime();
  if (options_.mode == Mode::Idle) {
    stage_ = Stage::Holding;
    printReady();
    uv_timer_start(&duration_, onDurationTrampoline,
                   static_cast<std::uint64_t>(options_.holdSeconds * 1000), 0);
    return;
  }
  if (opened_ == 0) {
    beginShutdown(false);
    return;
  }
  startMeasuring();
  for (Connection* connection : slots_) {
    if (connection == nullptr || connection->phase() != Connection::Phase::Open) continue;
    if (options_.mode == Mode::Echo) {
      connection->messageSentAt = uv_hrtime();
      connection->sendMessage(payload_);
    } else {
      pump(*connection);
    }
  }
}

void LoadRun::startMeasuring() {
  stage_ = Stage::Measuring;
  measureStart_ = uv_hrtime();
  const auto totalMs =
      static_cast<std::uint64_t>((options_.warmupSeconds + options_.durationSeconds) * 1000);
  uv_timer_start(&duration_, onDurationTrampoline, totalMs, 0);
}

bool LoadRun::afterWarmup() const {
  return uv_hrtime() - measureStart_ >= static_cast<std::uint64_t>(options_.warmupSeconds * 1e9);
}

void LoadRun::pump(Connection& connection) {
  while (stage_ == Stage::Measuring && connection.phase() == Connection::Phase::Open &&
         connection.payloadSent - connection.payloadReceived + payload_.size() <=
             options_.windowBytes) {
    connection.sendMessage(payload_);
  }
}

void LoadRun::onOpen(Connection& connection) {
  --opening_;
  if (options_.mode == Mode::Handshake) {
    if (stage_ == Stage::Measuring && afterWarmup()) {
      ++handshakes_;
      if (latenciesNs_.size() < kMaxLatencySamples)
        latenciesNs_.push_back(uv_hrtime() - connection.startedAt());
    }
    connection.sendClose();
    return;
  }
  ++opened_;
  if (options_.mode == Mode::Idle) {
    connection.messageSentAt = uv_hrtime();
    connection.sendMessage(payload_);
  }
  openMore();
}

void LoadRun::onDataBytes(Connection&, std::size_t count) {
  if (options_.mode == Mode::Bulk && stage_ == Stage::Measuring && afterWarmup()) bytes_ += count;
}

void LoadRun::onMessage(Connection& connection, std::uint64_t bytes) {
  switch (options_.mode) {
    case Mode::Echo:
      if (stage_ != Stage::Measuring) return;
      if (bytes != payload_.size()) ++errors_;
      if (afterWarmup()) {
        ++messages_;
        if (latenciesNs_.size() < kMaxLatencySamples)
          latenciesNs_.push_back(uv_hrtime() - connection.messageSentAt);
      }
      connection.messageSentAt = uv_hrtime();
      connection.sendMessage(payload_);
      break;
    case Mode::Bulk:
      if (stage_ == Stage::Measuring && afterWarmup()) ++messages_;
      pump(connection);
      break;
    case Mode::Idle:
      if (!connection.established) break;
      if (connection.messageSentAt != 0) {
        connection.messageSentAt = 0;
        ++established_;
        if (latenciesNs_.size() < kMaxLatencySamples) latenciesNs_.push_back(0);
        openMore();
      }
      break;
    case Mode::Handshake:
      break;
  }
}

void LoadRun::onClosed(Connection& connection, bool clean) {
  const bool wasOpening =
      connection.phase() == Connection::Phase::Closing && !connection.established;
  slots_[connection.slot()] = nullptr;
  --live_;
  if (wasOpening) --opening_;
  if (options_.mode == Mode::Handshake) {
    // Connections cut short by the end of the window are neither cycles nor errors.
    if (stage_ == Stage::Measuring) {
      if (connection.established && clean) {
        ++allCycles_;
        if (afterWarmup()) ++cycles_;
      } else {
        ++errors_;
      }
    }
    // A clean cycle starts the next one at once; after a failure the slot waits for the sweep
    // timer, so a refusing target costs ten attempts a second per slot, not a busy loop.
    if (stage_ == Stage::Measuring && connection.established && clean) openSlot(connection.slot());
  } else if (stage_ == Stage::Opening) {
    if (wasOpening) {
      ++failed_;
      ++errors_;
    } else {
      ++lost_;
    }
    openMore();
  } else if (stage_ == Stage::Measuring || stage_ == Stage::Holding) {
    ++lost_;
    ++errors_;
  }
  maybeFinish();
}

void LoadRun::beginShutdown(bool sendCloseFrames) {
  if (stage_ == Stage::ShuttingDown || stage_ == Stage::Done) return;
  if (stage_ == Stage::Measuring) measureEnd_ = uv_hrtime();
  stage_ = Stage::ShuttingDown;
  shutdownStart_ = uv_hrtime();
  uv_timer_stop(&duration_);
  for (Connection* connection : slots_) {
    if (connection == nullptr) continue;
    if (sendCloseFrames && connection->phase() == Connection::Phase::Open) {
      connection->sendClose();
    } else if (connection->phase() != Connection::Phase::CloseSent) {
      connection->close(true);
    }
  }
  maybeFinish();
}

void LoadRun::maybeFinish() {
  if (stage_ != Stage::ShuttingDown || live_ != 0 || handlesClosed_) return;
  stage_ = Stage::Done;
  handlesClosed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&duration_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
}

void LoadRun::onSweepTrampoline(uv_timer_t* timer) {
  static_cast<LoadRun*>(timer->data)->onSweep();
}

void LoadRun::onDurationTrampoline(uv_timer_t* timer) {
  auto* self = static_cast<LoadRun*>(timer->data);
  // Idle holding ends by closing outright; the timed modes close their tunnels politely.
  self->beginShutdown(self->options_.mode != Mode::Idle);
}

void LoadRun::onSignalTrampoline(uv_signal_t* handle, int) {
  auto* self = static_cast<LoadRun*>(handle->data);
  self->interrupted_ = self->options_.mode != Mode::Idle;
  self->beginShutdown(false);
}

void LoadRun::onSweep() {
  const std::uint64_t now = uv_now(loop_);
  const bool shutdownOverdue =
      stage_ == Stage::ShuttingDown && uv_hrtime() - shutdownStart_ > kShutdownLimitNs;
  if (stage_ == Stage::Opening && now > openDeadline_) {
    // The opening phase is over, whatever is still pending.
    nextSlot_ = slots_.size();
    for (Connection* connection : slots_) {
      if (connection != nullptr && !connection->established) connection->close(false);
    }
    if (options_.mode == Mode::Idle) {
      for (Connection* connection : slots_) {
        if (connection != nullptr && connection->messageSentAt != 0) connection->close(false);
      }
    }
  }
  for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
    Connection* connection = slots_[slot];
    if (connection == nullptr) {
      // Handshake mode: a slot whose socket could not be created is retried here.
      if (options_.mode == Mode::Handshake && stage_ == Stage::Measuring) openSlot(slot);
      continue;
    }
    const auto phase = connection->phase();
    const std::uint64_t age = now - connection->phaseSince();
    if (shutdownOverdue) {
      connection->close(false);
    } else if ((phase == Connection::Phase::Connecting ||
                phase == Connection::Phase::AwaitingHandshake) &&
               age > kStuckOpeningMs) {
      connection->close(false);
    } else if (phase == Connection::Phase::CloseSent && age > kCloseGraceMs) {
      connection->close(false);
    }
  }
  if (stage_ == Stage::Opening) openMore();
  maybeFinish();
}

void LoadRun::printReady() const {
  const double seconds = static_cast<double>(openSettled_ - runStart_) / 1e9;
  std::printf("{\"event\":\"ready\",\"open\":%zu,\"failed\":%zu,\"open_seconds\":%.3f}\n",
              established_, failed_ + lost_, seconds);
  std::fflush(stdout);
}

void LoadRun::printResult() const {
  std::uint64_t end = measureEnd_ != 0 ? measureEnd_ : uv_hrtime();
  const double warmup = options_.warmupSeconds;
  double seconds = 0;
  if (measureStart_ != 0) seconds = static_cast<double>(end - measureStart_) / 1e9 - warmup;
  if (seconds < 0) seconds = 0;
  auto samples = latenciesNs_;
  const double p50 = percentileUs(samples, 0.50);
  const double p99 = percentileUs(samples, 0.99);
  const double p999 = percentileUs(samples, 0.999);
  const auto rate = [seconds](double count) { return seconds > 0 ? count / seconds : 0.0; };
  std::printf(
      "{\"mode\":\"%s\",\"connections\":%d,\"message_bytes\":%zu,\"seconds\":%.3f,"
      "\"opened\":%zu,\"established\":%zu,\"failed\":%zu,\"lost\":%zu,\"errors\":%" PRIu64
      ",\"handshakes\":%" PRIu64 ",\"cycles\":%" PRIu64 ",\"all_cycles\":%" PRIu64
      ",\"cycles_per_s\":%.1f,"
      "\"messages\":%" PRIu64 ",\"messages_per_s\":%.1f,\"bytes\":%" PRIu64
      ",\"bytes_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
      "\"interrupted\":%s}\n",
      modeName(options_.mode), options_.connections,
      options_.mode == Mode::Idle ? kIdleProbeBytes : options_.messageBytes, seconds, opened_,
      established_, failed_, lost_, errors_, handshakes_, cycles_, allCycles_,
      rate(static_cast<double>(cycles_)), messages_, rate(static_cast<double>(messages_)), bytes_,
      rate(static_cast<double>(bytes_)), p50, p99, p999, interrupted_ ? "true" : "false");
  std::fflush(stdout);
}

}  // namespace ws_load
