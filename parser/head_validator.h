// HeadValidator: checks the raw bytes of one HTTP/1.x message head, line by line, before llhttp
// sees them.
//
// llhttp 8.1.0 (even strict) accepts things a proxy must refuse: obs-fold, HTTP/0.9 request lines,
// textual versions such as HTTP/2.0, '#' in targets. This class enforces the RFC 9112 grammar on
// the start line and every field line, bounds the head size and field count, and finds the end of
// the head. It owns the head bytes it accepted, so llhttp can parse the whole head in one call.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parser/http_message.h"

namespace hoplite::parser {

// RFC 9110 §5.5: field-value chars are VCHAR, obs-text, SP and HTAB; every other CTL is refused.
inline bool isFieldValueChar(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

// True when every byte of `s` is a field-value char (isFieldValueChar). Empty is true.
bool isFieldValue(std::string_view s);

class HeadValidator {
 public:
  enum class Kind : uint8_t { Request, Response };
  enum class Status : uint8_t { NeedMore, Complete, Error };
  struct Step {
    Status status = Status::NeedMore;
    size_t used = 0;  // bytes of the input that belong to the head (or precede the error)
  };

  HeadValidator(Kind kind, uint64_t maxHeadBytes, uint64_t maxFieldCount);

  // Forgets the previous head; the next consume() starts a new one.
  void reset();

  // Appends `data` to the head being read. Returns Complete with `used` ending right after the
  // blank line, NeedMore when every byte was taken, or Error (error() says why). Empty lines
  // before the start line are skipped (RFC 9112 §2.2) and not kept. Result is independent of how
  // the input is split across calls.
  Step consume(std::string_view data);

  // The accepted head, start line to blank line inclusive (valid after Complete).
  std::string_view head() const { return raw_; }
  // Frees the head storage if one large head grew it past `bytes` (call between heads).
  void releaseStorageAbove(size_t bytes);
  // Bytes of heap this validator holds.
  size_t heldBytes() const { return raw_.capacity(); }
  // True once a byte of the start line has been seen.
  bool started() const { return !raw_.empty(); }
  const ParseError& error() const { return error_; }

 private:
  bool onLine(std::string_view line);  // false: error_ is set
  bool checkRequestLine(std::string_view line);
  bool checkStatusLine(std::string_view line);
  bool checkFieldLine(std::string_view line);
  bool fail(uint16_t status, std::string reason);

  // What raw_ reserves before the first byte of a head: most heads fit, cookies aside.
  static constexpr uint64_t kInitialHeadBytes = 1024;

  Kind kind_;
  uint64_t maxHeadBytes_;
  uint64_t maxFieldCount_;
  std::string raw_;
  size_t lineStart_ = 0;
  bool prevCr_ = false;
  bool startLineSeen_ = false;
  bool readingMethod_ = true;  // request start line, before its first SP
  uint64_t fieldCount_ = 0;
  ParseError error_;
};

}  // namespace hoplite::parser
