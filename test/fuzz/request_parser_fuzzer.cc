// libFuzzer target: the request parser (llhttp in strict mode plus hoplite's head validator) on
// a whole client stream: heads, bodies, chunked, pipelined requests, upgrades.
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
// - the parser's contract that results do not depend on how the input is split: the stream fed
//   whole and fed in pieces (cut where the input's first byte says) gives the same events,
//   heads, bodies and errors;
// - a head that reaches HeadComplete is safe to re-serialise: no CR, LF or NUL in its method,
//   target or any field name or value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parser/message_parser.h"

namespace {

using hoplite::parser::FeedResult;
using hoplite::parser::ParseStatus;
using hoplite::parser::RequestParser;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool clean(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Everything the parser reported, as text, in order.
class Transcript {
 public:
  explicit Transcript(RequestParser& parser) : parser_(parser) {
    // Pieces of a body are joined: how the bytes were cut may cut the deliveries too.
    parser_.setBodyHandler([this](std::string_view bytes) { body_.append(bytes); });
  }

  // Feeds `piece`; false once the parser will take nothing more (an error or an upgrade).
  bool feed(std::string_view piece) {
    pending_.append(piece);
    while (true) {
      const FeedResult result = parser_.feed(pending_);
      require(result.consumed <= pending_.size());
      pending_.erase(0, result.consumed);
      switch (result.status) {
        case ParseStatus::NeedMore:
          require(pending_.empty());  // NeedMore uses every byte
          return true;
        case ParseStatus::HeadComplete:
          onHead();
          break;
        case ParseStatus::MessageComplete:
          log_.append("|M:").append(body_).append("|");
          body_.clear();
          if (parser_.upgradePaused()) return false;  // the rest is another protocol's
          break;
        case ParseStatus::Error:
          log_.append("|E").append(std::to_string(parser_.error().status)).append(":");
          log_.append(body_).append("|");
          return false;
      }
    }
  }

  void finish() {
    const FeedResult result = parser_.finish();
    log_.append(result.status == ParseStatus::Error ? "|end-error|" : "|end|");
  }

  const std::string& log() const { return log_; }

 private:
  void onHead() {
    const auto& head = parser_.head();
    require(clean(head.method) && clean(head.target) && clean(head.host));
    log_.append("|H:").append(head.method).append(" ").append(head.target).append(" ");
    log_.append(std::to_string(static_cast<int>(head.framing))).append(" ");
    for (const auto& field : head.headers) {
      require(clean(field.name) && clean(field.value));
      log_.append(field.name).append("=").append(field.value).append(";");
    }
    log_.append("|");
  }

  RequestParser& parser_;
  std::string pending_;
  std::string body_;  // the current message's body so far
  std::string log_;
};

std::string parseWhole(std::string_view stream) {
  RequestParser parser;
  Transcript transcript(parser);
  if (transcript.feed(stream)) transcript.finish();
  return transcript.log();
}

// Cut points from `seed`: piece lengths 1 to 16 bytes, varied along the stream.
std::string parseInPieces(std::string_view stream, uint8_t seed) {
  RequestParser parser;
  Transcript transcript(parser);
  uint32_t state = seed * 2654435761u + 1;
  size_t at = 0;
  bool open = true;
  while (open && at < stream.size()) {
    state = state * 1103515245u + 12345u;
    const size_t length = 1 + (state >> 16) % 16;
    open = transcript.feed(stream.substr(at, length));
    at += length;
  }
  if (open) transcript.finish();
  return transcript.log();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  require(parseWhole(stream) == parseInPieces(stream, data[0]));
  return 0;
}
