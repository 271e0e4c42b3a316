// Parsed HTTP/1.x message heads and parse errors, as plain values.
//
// These are what parser/ produces, what policy/ transforms and re-serialises, and what proxy/
// hands between the two. They own their strings: nothing here points into a read buffer.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parser/header_id.h"

namespace hoplite::parser {

// One header field as it arrived: original name case, value with surrounding OWS removed.
// `id` is classifyHeaderName(name), computed once by the constructor and by assign(); code that
// changes `name` itself must go through assign() so that the two never disagree.
struct HeaderField {
  HeaderField() = default;
  HeaderField(std::string fieldName, std::string fieldValue)
      : name(std::move(fieldName)), value(std::move(fieldValue)), id(classifyHeaderName(name)) {}

  // Replaces name and value, reusing the strings' storage (the parser recycles fields).
  void assign(std::string_view fieldName, std::string_view fieldValue) {
    // clear + append rather than assign: same work, and GCC 12 reports a false -Wrestrict on an
    // inlined basic_string::assign (GCC bug 105329).
    name.clear();
    name.append(fieldName);
    value.clear();
    value.append(fieldValue);
    id = classifyHeaderName(name);
  }

  // Equal name and value; the id follows from the name.
  bool operator==(const HeaderField& other) const {
    return name == other.name && value == other.value;
  }

  std::string name;
  std::string value;
  HeaderId id = HeaderId::Other;
};
using HeaderList = std::vector<HeaderField>;

// How a message body is delimited on the wire.
enum class Framing : uint8_t {
  None,        // no body at all (also: HEAD responses, 1xx, 204, 304)
  Length,      // Content-Length: contentLength bytes (may be 0)
  Chunked,     // Transfer-Encoding: chunked (final coding)
  UntilClose,  // responses only: read until the server closes
};

struct RequestHead {
  std::string method;  // e.g. "GET"; as sent (methods are case-sensitive)
  // Origin-form target ("/path?query"), or "*" for OPTIONS *. An absolute-form target has already
  // been rewritten: its path lands here and its authority in `host`.
  std::string target;
  uint8_t versionMajor = 1;
  uint8_t versionMinor = 1;
  HeaderList headers;  // in arrival order, every field (Host included)
  // The effective host: the absolute-form authority if there was one, else the Host field value.
  // Keeps the port if one was given ("example.com:8080"); empty only for HTTP/1.0 without Host.
  std::string host;
  Framing framing = Framing::None;
  uint64_t contentLength = 0;  // meaningful when framing == Length
  bool keepAlive = true;       // per HTTP/1.0 / 1.1 rules and Connection tokens
  // llhttp stopped at the end of this head because it carries Upgrade + Connection: upgrade (or is
  // CONNECT). A signal only: policy/ decides whether the upgrade is granted.
  bool upgradeSignalled = false;
  // Set when the request had an "Expect: 100-continue" field.
  bool expectsContinue = false;

  bool isHttp11OrLater() const {
    return versionMajor > 1 || (versionMajor == 1 && versionMinor >= 1);
  }
};

struct ResponseHead {
  uint16_t status = 0;
  std::string reason;  // as sent; may be empty
  uint8_t versionMajor = 1;
  uint8_t versionMinor = 1;
  HeaderList headers;
  Framing framing = Framing::None;  // already accounts for HEAD / 1xx / 204 / 304
  uint64_t contentLength = 0;
  bool keepAlive = true;
  bool upgradeSignalled = false;  // llhttp saw a 101 with Upgrade + Connection: upgrade
};

// Why a message was refused, and which status the peer should get for it. For a request the
// status is sent to the client (400, 405, 413, 431, 501, 505); for a response the proxy answers
// the client 502 and `status` is informational.
struct ParseError {
  uint16_t status = 400;
  std::string reason;  // short, human readable, safe to send in a plain-text body
};

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
// "`" / "|" / "~" / DIGIT / ALPHA. One table entry per byte value, as h2o and nginx do.
inline constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[static_cast<size_t>(c)] =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

// RFC 9110 §5.6.2: tchar, and token = 1*tchar (method names, field names, Connection options).
inline bool isTokenChar(unsigned char c) {
  return kTokenChar[c];
}
inline bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// Case-insensitive ASCII comparison, as header names and most tokens need. Lengths first.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (kLowerAscii[static_cast<unsigned char>(a[i])] !=
        kLowerAscii[static_cast<unsigned char>(b[i])]) {
      return false;
    }
  }
  return true;
}

// Value of the first field named `name` (case-insensitive), or nullptr.
const std::string* findHeader(const HeaderList& headers, std::string_view name);
// Value of the first field with this id, or nullptr. `id` must not be Other or XForwardedOther.
const std::string* findHeader(const HeaderList& headers, HeaderId id);

}  // namespace hoplite::parser
