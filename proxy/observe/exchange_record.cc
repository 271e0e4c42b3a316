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

void appendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      appendEscapedByte(out, c);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
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

// `out` ends with the object's '{' or a previous value.
void appendKey(std::string& out, std::string_view key) {
  if (out.back() != '{') out.push_back(',');
  out.push_back('"');
  out.append(key);
  out.append("\":");
}

void appendNumber(std::string& out, uint64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// Milliseconds with 3 decimals ("12.345"): microsecond resolution, as the issue asks.
void appendMilliseconds(std::string& out, double ms) {
  char buffer[32];
  const int length = std::snprintf(buffer, sizeof buffer, "%.3f", ms < 0 ? 0.0 : ms);
  out.append(buffer, static_cast<size_t>(length));
}

void appendStringOrNull(std::string& out, std::string_view key, std::string_view value) {
  appendKey(out, key);
  if (value.empty()) {
    out.append("null");
  } else {
    appendJsonString(out, value);
  }
}

}  // namespace

void appendRfc3339(std::string& out, int64_t unixMs) {
  const time_t seconds = static_cast<time_t>(unixMs / 1000);
  struct tm utc;
  gmtime_r(&seconds, &utc);
  char buffer[40];
  const int length = std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                   utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                                   utc.tm_min, utc.tm_sec, static_cast<int>(unixMs % 1000));
  out.append(buffer, static_cast<size_t>(length));
}

void appendJsonLine(std::string& out, const ExchangeRecord& r) {
  out.push_back('{');
  appendKey(out, "ts");
  out.push_back('"');
  appendRfc3339(out, r.startUnixMs);
  out.push_back('"');
  appendKey(out, "type");
  out.append("\"http\"");
  appendStringOrNull(out, "request_id", r.requestId);
  appendKey(out, "client");
  if (r.clientAddress.empty()) {
    out.append("null");
  } else {
    std::string client;
    const bool v6 = r.clientAddress.find(':') != std::string_view::npos;
    if (v6) client.push_back('[');
    client.append(r.clientAddress);
    if (v6) client.push_back(']');
    client.push_back(':');
    appendNumber(client, r.clientPort);
    appendJsonString(out, client);
  }
  appendStringOrNull(out, "listener", r.listener);
  const bool parsed = !r.method.empty();
  appendStringOrNull(out, "method", r.method);
  appendStringOrNull(out, "host", parsed ? r.host : std::string_view());
  appendStringOrNull(out, "target", r.target);
  appendKey(out, "proto");
  if (parsed) {
    out.append("\"HTTP/");
    appendNumber(out, r.versionMajor);
    out.push_back('.');
    appendNumber(out, r.versionMinor);
    out.push_back('"');
  } else {
    out.append("null");
  }
  appendKey(out, "status");
  if (r.status != 0) {
    appendNumber(out, r.status);
  } else {
    out.append("null");
  }
  appendKey(out, "bytes_in");
  appendNumber(out, r.bytesIn);
  appendKey(out, "bytes_out");
  appendNumber(out, r.bytesOut);
  appendKey(out, "duration_ms");
  appendMilliseconds(out, r.durationMs);
  appendKey(out, "route");
  if (r.route) {
    appendNumber(out, *r.route);
  } else {
    out.append("null");
  }
  appendStringOrNull(out, "upstream", r.upstream);
  appendStringOrNull(out, "upstream_addr", r.upstreamAddress);
  appendKey(out, "upstream_status");
  if (r.upstreamStatus != 0) {
    appendNumber(out, r.upstreamStatus);
  } else {
    out.append("null");
  }
  appendKey(out, "upstream_connect_ms");
  if (r.upstreamConnectMs) {
    appendMilliseconds(out, *r.upstreamConnectMs);
  } else {
    out.append("null");
  }
  appendKey(out, "upstream_header_ms");
  if (r.upstreamHeaderMs) {
    appendMilliseconds(out, *r.upstreamHeaderMs);
  } else {
    out.append("null");
  }
  appendKey(out, "reused");
  out.append(r.reused ? "true" : "false");
  appendKey(out, "user_agent");
  if (r.userAgent) {
    appendJsonString(out, *r.userAgent);
  } else {
    out.append("null");
  }
  appendStringOrNull(out, "error", r.error);
  out.append("}\n");
}

}  // namespace hoplite::proxy::observe
