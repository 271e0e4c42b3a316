#include "parser/head_validator.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace hoplite::parser {

namespace {

bool isDigit(unsigned char c) {
  return c >= '0' && c <= '9';
}

// RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT.
bool isVersionShape(std::string_view v) {
  return v.size() == 8 && v.substr(0, 5) == "HTTP/" && isDigit(static_cast<unsigned char>(v[5])) &&
         v[6] == '.' && isDigit(static_cast<unsigned char>(v[7]));
}

bool isSupportedVersion(std::string_view v) {
  return v == "HTTP/1.1" || v == "HTTP/1.0";
}

// Request targets travel without escaping problems only when they are visible ASCII; a fragment
// is never sent (RFC 9112 §3.2) and is a classic source of cache/routing confusion.
bool isTargetChar(unsigned char c) {
  return c > 0x20 && c < 0x7f && c != '#';
}

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

}  // namespace

// Eight bytes at a time: a word with no byte below 0x20 and no 0x7f holds only field-value chars
// (bytes from 0x80 are obs-text, allowed). The tests are the "has less than" and "has zero byte"
// tricks (Bit Twiddling Hacks); they say whether such a byte exists, and a word where one does
// (an HTAB, say) is looked at byte by byte.
bool isFieldValue(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof w);
    const uint64_t below20 = (w - kOnes * 0x20) & ~w & kHighs;
    const uint64_t x7f = w ^ (kOnes * 0x7f);
    const uint64_t is7f = (x7f - kOnes) & ~x7f & kHighs;
    if ((below20 | is7f) == 0) continue;
    for (size_t i = 0; i < 8; ++i) {
      if (!isFieldValueChar(static_cast<unsigned char>(p[i]))) return false;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!isFieldValueChar(static_cast<unsigned char>(p[i]))) return false;
  }
  return true;
}

HeadValidator::HeadValidator(Kind kind, uint64_t maxHeadBytes, uint64_t maxFieldCount)
    : kind_(kind), maxHeadBytes_(maxHeadBytes), maxFieldCount_(maxFieldCount) {}

void HeadValidator::reset() {
  raw_.clear();
  lineStart_ = 0;
  prevCr_ = false;
  startLineSeen_ = false;
  readingMethod_ = true;
  fieldCount_ = 0;
  error_ = {};
}

void HeadValidator::releaseStorageAbove(size_t bytes) {
  if (raw_.capacity() > bytes) std::string().swap(raw_);
}

bool HeadValidator::fail(uint16_t status, std::string reason) {
  // For a response the proxy answers its client 502 whatever went wrong upstream.
  error_.status = kind_ == Kind::Request ? status : 502;
  error_.reason = std::move(reason);
  return false;
}

HeadValidator::Step HeadValidator::consume(std::string_view data) {
  // Every decision stays at a fixed position in the stream, so any split of the input gives the
  // same verdict. Bytes without a meaning of their own (neither CR nor LF, not in the method, not
  // right after a CR, and within maxHeadBytes_) are appended as whole runs found with memchr; every
  // other byte goes through the one-byte rules below, exactly as a byte-at-a-time loop would.
  // One allocation for a typical head instead of growing 15, 30, 60, ... bytes as lines arrive;
  // the storage then stays for every later head (reset() keeps it).
  if (raw_.capacity() < kInitialHeadBytes) {
    raw_.reserve(static_cast<size_t>(std::min<uint64_t>(kInitialHeadBytes, maxHeadBytes_)));
  }
  size_t i = 0;
  while (i < data.size()) {
    if (!prevCr_ && !(kind_ == Kind::Request && readingMethod_)) {
      // raw_.size() <= maxHeadBytes_ always holds: bytes are only added below the limit.
      const uint64_t room = maxHeadBytes_ - raw_.size();
      const size_t limit = static_cast<size_t>(std::min<uint64_t>(data.size() - i, room));
      const char* begin = data.data() + i;
      size_t run = limit;
      if (const void* cr = std::memchr(begin, '\r', run)) {
        run = static_cast<size_t>(static_cast<const char*>(cr) - begin);
      }
      if (const void* lf = std::memchr(begin, '\n', run)) {
        run = static_cast<size_t>(static_cast<const char*>(lf) - begin);
      }
      raw_.append(begin, run);
      i += run;
      if (i == data.size()) break;
      // data[i] is a CR, a LF, or the first byte beyond maxHeadBytes_.
    }

    const size_t at = i++;
    const char c = data[at];
    if (raw_.size() >= maxHeadBytes_) {
      fail(431, "header section too large");
      return {Status::Error, at};
    }
    raw_.push_back(c);
    if (prevCr_) {
      prevCr_ = false;
      if (c != '\n') {
        fail(400, "bare CR in header section");
        return {Status::Error, at};
      }
      const size_t lineEnd = raw_.size() - 2;
      std::string_view line(raw_.data() + lineStart_, lineEnd - lineStart_);
      if (line.empty()) {
        if (!startLineSeen_) {
          // RFC 9112 §2.2: empty lines before the start line are ignored, not kept.
          raw_.clear();
          lineStart_ = 0;
          continue;
        }
        return {Status::Complete, at + 1};
      }
      if (!onLine(line)) return {Status::Error, at};
      lineStart_ = raw_.size();
    } else if (c == '\r') {
      prevCr_ = true;
    } else if (c == '\n') {
      fail(400, "bare LF in header section");
      return {Status::Error, at};
    } else if (kind_ == Kind::Request && readingMethod_) {
      // A method is a token: refuse the first byte that cannot be part of one, without waiting
      // for a line end that may never come (e.g. WebSocket frames sent behind a refused upgrade).
      if (c == ' ') {
        readingMethod_ = false;
      } else if (!isTokenChar(static_cast<unsigned char>(c))) {
        fail(400, "invalid method");
        return {Status::Error, at};
      }
    }
  }
  return {Status::NeedMore, data.size()};
}

bool HeadValidator::onLine(std::string_view line) {
  if (!startLineSeen_) {
    startLineSeen_ = true;
    return kind_ == Kind::Request ? checkRequestLine(line) : checkStatusLine(line);
  }
  return checkFieldLine(line);
}

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version, single spaces only.
bool HeadValidator::checkRequestLine(std::string_view line) {
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
  const std::string_view method = line.substr(0, sp1);
  if (!isToken(method)) return fail(400, "invalid method");
  const std::string_view rest = line.substr(sp1 + 1);
  const size_t sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos) {
    // "GET /path" with no version is HTTP/0.9, which has no headers and no status line to answer.
    return fail(400, "HTTP/0.9 request line");
  }
  const std::string_view target = rest.substr(0, sp2);
  const std::string_view version = rest.substr(sp2 + 1);
  if (target.empty() || version.find(' ') != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  if (!isSupportedVersion(version)) {
    if (isVersionShape(version) && version != "HTTP/0.9") {
      return fail(505, "HTTP version not supported");
    }
    return fail(400, "invalid HTTP version");
  }
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '#') return fail(400, "fragment in request target");
    if (!isTargetChar(u)) return fail(400, "invalid character in request target");
  }
  return true;
}

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]. The SP before an
// empty reason is commonly omitted by servers, so it is optional here.
bool HeadValidator::checkStatusLine(std::string_view line) {
  if (line.size() < 12 || line[8] != ' ') return fail(502, "malformed status line");
  if (!isSupportedVersion(line.substr(0, 8))) return fail(502, "unsupported HTTP version");
  for (size_t i = 9; i < 12; ++i) {
    if (!isDigit(static_cast<unsigned char>(line[i]))) return fail(502, "malformed status code");
  }
  if (line[9] == '0') return fail(502, "malformed status code");
  if (line.size() > 12) {
    if (line[12] != ' ') return fail(502, "malformed status line");
    for (char c : line.substr(13)) {
      if (!isFieldValueChar(static_cast<unsigned char>(c))) {
        return fail(502, "invalid character in reason phrase");
      }
    }
  }
  return true;
}

// RFC 9112 §5: field-line = field-name ":" OWS field-value OWS; §5.2 obs-fold is refused with
// 400 rather than replaced, so nothing folded is ever forwarded.
bool HeadValidator::checkFieldLine(std::string_view line) {
  // The usual line: a token right up to the colon, found in one pass over the name. Anything else
  // takes the checks below, which name the problem.
  size_t nameEnd = 0;
  while (nameEnd < line.size() && isTokenChar(static_cast<unsigned char>(line[nameEnd]))) {
    ++nameEnd;
  }
  if (nameEnd > 0 && nameEnd < line.size() && line[nameEnd] == ':') {
    if (!isFieldValue(line.substr(nameEnd + 1))) {
      return fail(400, "invalid character in header value");
    }
    if (++fieldCount_ > maxFieldCount_) return fail(431, "too many header fields");
    return true;
  }

  if (line[0] == ' ' || line[0] == '\t') return fail(400, "obsolete line folding");
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return fail(400, "header line without colon");
  if (colon == 0) return fail(400, "empty header name");
  const std::string_view name = line.substr(0, colon);
  const char last = name.back();
  if (last == ' ' || last == '\t') return fail(400, "whitespace before colon");
  if (!isToken(name)) return fail(400, "invalid header name");
  if (!isFieldValue(line.substr(colon + 1))) return fail(400, "invalid character in header value");
  if (++fieldCount_ > maxFieldCount_) return fail(431, "too many header fields");
  return true;
}

}  // namespace hoplite::parser
