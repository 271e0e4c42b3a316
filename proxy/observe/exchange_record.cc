#include "proxy/observe/exchange_record.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace hoplite::proxy::observe {

namespace {

// The length of the valid UTF-8 sequence starting at text[i], or 0 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
size_t utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    length = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    length = 3;
    if (c == 0xe0) low = 0xa0;
    if (c == 0xed) high = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    length = 4;
    if (c == 0xf0) low = 0x90;
    if (c == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return length;
}

void appendEscapedByte(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.append("\\u00");
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 0x0f]);
}

// Whether `c` can go into a JSON string as it is: printable ASCII other than '"' and '\\'.
constexpr bool isPlainJsonByte(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

void appendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    // The common case, a run of plain bytes, is appended in one piece.
    size_t run = i;
    while (run < text.size() && isPlainJsonByte(static_cast<unsigned char>(text[run]))) ++run;
    out.append(text.substr(i, run - i));
    i = run;
    if (i == text.size()) break;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x80) {
      appendEscapedByte(out, c);  // a control byte or DEL
      ++i;
    } else if (const size_t length = utf8SequenceLength(text, i)) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      appendEscapedByte(out, c);  // not UTF-8: kept as the Latin-1 character of that byte
      ++i;
    }
  }
  out.push_back('"');
}

void appendNumber(std::string& out, uint64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// Milliseconds with 3 decimals ("12.345", rounded to the microsecond), without printf.
void appendMilliseconds(std::string& out, double ms) {
  const uint64_t micros = ms <= 0 ? 0 : static_cast<uint64_t>(ms * 1000.0 + 0.5);
  appendNumber(out, micros / 1000);
  const unsigned fraction = static_cast<unsigned>(micros % 1000);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + fraction / 100));
  out.push_back(static_cast<char>('0' + fraction / 10 % 10));
  out.push_back(static_cast<char>('0' + fraction % 10));
}

// `null`, or the value as a JSON string.
void appendStringOrNull(std::string& out, std::string_view value) {
  if (value.empty()) {
    out.append("null");
  } else {
    appendJsonString(out, value);
  }
}

// "203.0.113.7:51234" or "[2001:db8::7]:51234"; addresses and ports need no escaping.
void appendClient(std::string& out, std::string_view address, uint16_t port) {
  if (address.empty()) {
    out.append("null");
    return;
  }
  const bool v6 = address.find(':') != std::string_view::npos;
  out.append(v6 ? "\"[" : "\"");
  out.append(address);
  out.append(v6 ? "]:" : ":");
  appendNumber(out, port);
  out.push_back('"');
}

// A route's name as a string, else its index as a number, else null.
void appendRoute(std::string& out, const std::optional<size_t>& index, std::string_view name) {
  if (!name.empty()) {
    appendJsonString(out, name);
  } else if (index) {
    appendNumber(out, *index);
  } else {
    out.append("null");
  }
}

void appendMillisecondsOrNull(std::string& out, const std::optional<double>& ms) {
  if (ms) {
    appendMilliseconds(out, *ms);
  } else {
    out.append("null");
  }
}

void appendCountOrNull(std::string& out, uint64_t value) {
  if (value == 0) {
    out.append("null");
  } else {
    appendNumber(out, value);
  }
}

}  // namespace

int64_t unixMillisecondsNow() {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

void appendRfc3339(std::string& out, int64_t unixMs) {
  // The date and time change once a second: formatted then, reused for every line in between.
  thread_local int64_t cachedSecond = -1;
  thread_local char cached[80];  // room for any int fields, as the compiler checks
  const int64_t second = unixMs / 1000;
  if (second != cachedSecond) {
    const time_t seconds = static_cast<time_t>(second);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
    cachedSecond = second;
  }
  out.append(cached, 19);
  const unsigned ms = static_cast<unsigned>(unixMs % 1000);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + ms / 100));
  out.push_back(static_cast<char>('0' + ms / 10 % 10));
  out.push_back(static_cast<char>('0' + ms % 10));
  out.push_back('Z');
}

void appendJsonLine(std::string& out, const ExchangeRecord& r) {
  // Keys and punctuation are written as literal runs between the values.
  out.append("{\"ts\":\"");
  appendRfc3339(out, r.startUnixMs);
  out.append("\",\"type\":\"http\",\"request_id\":");
  appendStringOrNull(out, r.requestId);
  out.append(",\"client\":");
  appendClient(out, r.clientAddress, r.clientPort);
  out.append(",\"listener\":");
  appendStringOrNull(out, r.listener);
  const bool parsed = !r.method.empty();
  out.append(",\"method\":");
  appendStringOrNull(out, r.method);
  out.append(",\"host\":");
  appendStringOrNull(out, parsed ? r.host : std::string_view());
  out.append(",\"target\":");
  appendStringOrNull(out, r.target);
  out.append(",\"proto\":");
  if (parsed) {
    out.append("\"HTTP/");
    appendNumber(out, r.versionMajor);
    out.push_back('.');
    appendNumber(out, r.versionMinor);
    out.push_back('"');
  } else {
    out.append("null");
  }
  out.append(",\"status\":");
  appendCountOrNull(out, r.status);
  out.append(",\"bytes_in\":");
  appendNumber(out, r.bytesIn);
  out.append(",\"bytes_out\":");
  appendNumber(out, r.bytesOut);
  out.append(",\"duration_ms\":");
  appendMilliseconds(out, r.durationMs);
  out.append(",\"route\":");
  appendRoute(out, r.route, r.routeName);
  out.append(",\"upstream\":");
  appendStringOrNull(out, r.upstream);
  out.append(",\"upstream_addr\":");
  appendStringOrNull(out, r.upstreamAddress);
  out.append(",\"upstream_status\":");
  appendCountOrNull(out, r.upstreamStatus);
  out.append(",\"upstream_connect_ms\":");
  appendMillisecondsOrNull(out, r.upstreamConnectMs);
  out.append(",\"upstream_header_ms\":");
  appendMillisecondsOrNull(out, r.upstreamHeaderMs);
  out.append(r.reused ? ",\"reused\":true,\"user_agent\":" : ",\"reused\":false,\"user_agent\":");
  if (r.userAgent) {
    appendJsonString(out, *r.userAgent);
  } else {
    out.append("null");
  }
  out.append(",\"error\":");
  appendStringOrNull(out, r.error);
  out.append("}\n");
}

namespace {

// Inside a quoted field of the elb line: '"' and '\\' escaped, bytes outside printable ASCII
// as \xNN.
void appendElbQuoted(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7f) {
      out.append("\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    } else {
      out.push_back(ch);
    }
  }
}

// Whether a Host value carries a port: a ':' after an IPv6 literal's ']', or anywhere in
// another host.
bool hasPort(std::string_view host) {
  const size_t bracket = host.rfind(']');
  return host.find(':', bracket == std::string_view::npos ? 0 : bracket) != std::string_view::npos;
}

// Seconds with 6 decimals, as that load balancer writes them.
void appendSeconds(std::string& out, double ms) {
  const uint64_t micros = ms <= 0 ? 0 : static_cast<uint64_t>(ms * 1000.0 + 0.5);
  appendNumber(out, micros / 1000000);
  out.push_back('.');
  char digits[6];
  uint64_t fraction = micros % 1000000;
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  out.append(digits, sizeof digits);
}

}  // namespace

void appendElbLine(std::string& out, const ExchangeRecord& r) {
  appendRfc3339(out, r.startUnixMs);
  out.insert(out.size() - 1, "000");  // microseconds, of which hoplite knows the milliseconds
  out.append(" hoplite ");
  if (r.clientAddress.empty()) {
    out.append("-");
  } else {
    const bool v6 = r.clientAddress.find(':') != std::string_view::npos;
    if (v6) out.push_back('[');
    out.append(r.clientAddress);
    if (v6) out.push_back(']');
    out.push_back(':');
    appendNumber(out, r.clientPort);
  }
  out.push_back(' ');
  out.append(r.upstreamAddress.empty() ? std::string_view("-") : r.upstreamAddress);
  // Dispatched: the time to send it, the backend's time to its response head, and the rest.
  if (r.requestSentMs && r.upstreamHeaderMs) {
    const double response = r.durationMs - *r.requestSentMs - *r.upstreamHeaderMs;
    out.push_back(' ');
    appendSeconds(out, *r.requestSentMs);
    out.push_back(' ');
    appendSeconds(out, *r.upstreamHeaderMs);
    out.push_back(' ');
    appendSeconds(out, response);
  } else {
    out.append(" -1 -1 -1");
  }
  out.push_back(' ');
  if (r.status != 0) {
    appendNumber(out, r.status);
  } else {
    out.push_back('-');
  }
  out.push_back(' ');
  if (r.upstreamStatus != 0) {
    appendNumber(out, r.upstreamStatus);
  } else {
    out.push_back('-');
  }
  out.push_back(' ');
  appendNumber(out, r.bytesIn);
  out.push_back(' ');
  appendNumber(out, r.bytesOut);
  out.append(" \"");
  if (r.method.empty()) {
    out.append("- - - ");  // what that load balancer writes for a request it could not parse
  } else {
    // "GET http://host:port/target HTTP/1.1": the host with the listener's port when the
    // request named none.
    appendElbQuoted(out, r.method);
    out.append(" http://");
    appendElbQuoted(out, r.host);
    const bool hostHasPort = hasPort(r.host);
    const size_t colon = r.listener.rfind(':');
    if (!hostHasPort && colon != std::string_view::npos) out.append(r.listener.substr(colon));
    appendElbQuoted(out, r.target);
    out.append(" HTTP/");
    appendNumber(out, r.versionMajor);
    out.push_back('.');
    appendNumber(out, r.versionMinor);
  }
  out.append("\" \"");
  if (r.userAgent) {
    appendElbQuoted(out, *r.userAgent);
  } else {
    out.push_back('-');
  }
  out.append("\" - -\n");
}

void appendTunnelJsonLine(std::string& out, const TunnelRecord& r, int64_t closedUnixMs,
                          double durationMs, std::string_view closedBy,
                          std::string_view closeReason) {
  out.append("{\"ts\":\"");
  appendRfc3339(out, closedUnixMs);
  out.append("\",\"type\":\"tunnel\",\"request_id\":");
  appendStringOrNull(out, r.requestId);
  out.append(",\"client\":");
  appendClient(out, r.clientAddress, r.clientPort);
  out.append(",\"host\":");
  appendStringOrNull(out, r.host);
  out.append(",\"target\":");
  appendStringOrNull(out, r.target);
  out.append(",\"route\":");
  appendRoute(out, r.route, r.routeName);
  out.append(",\"upstream_addr\":");
  appendStringOrNull(out, r.upstreamAddress);
  out.append(",\"protocol\":");
  appendStringOrNull(out, r.protocol);
  out.append(",\"opened\":\"");
  appendRfc3339(out, r.openedUnixMs);
  out.append("\",\"duration_ms\":");
  appendMilliseconds(out, durationMs);
  out.append(",\"bytes_from_client\":");
  appendNumber(out, r.bytesFromClient);
  out.append(",\"bytes_from_upstream\":");
  appendNumber(out, r.bytesFromUpstream);
  out.append(",\"closed_by\":");
  appendStringOrNull(out, closedBy);
  out.append(",\"close_reason\":");
  appendStringOrNull(out, closeReason);
  out.append("}\n");
}

}  // namespace hoplite::proxy::observe
