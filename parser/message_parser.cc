// RequestParser and ResponseParser over llhttp 8.1.0 (strict build).
//
// How a message flows through here:
//  1. Head: the raw bytes go to HeadValidator first (CRLF only, no obs-fold, token names, CTL-free
//     values, exact start line, size and count limits). Only a complete, valid head is handed to
//     llhttp, in one llhttp_execute() over the validator's copy. So every head verdict is taken on
//     the whole head and cannot depend on how the input was split.
//  2. on_headers_complete builds the head, applies the semantic rules (Host, Content-Length,
//     Transfer-Encoding, target form, body limit) and returns HPE_PAUSED: llhttp stops exactly at
//     the end of the head and feed() reports HeadComplete.
//  3. Body: caller bytes go straight to llhttp; on_body delivers de-chunked spans; trailers land
//     in trailers_. on_message_complete returns HPE_PAUSED so feed() reports MessageComplete at the
//     message's last byte, even when the next message is in the same buffer.
// llhttp errors are sticky until llhttp_init (llhttp README), and so are ours: phase_ = Failed.
#include "parser/message_parser.h"

#include <llhttp.h>

#include <optional>
#include <string>
#include <utility>

#include "parser/head_validator.h"
#include "parser/request_target.h"

namespace hoplite::parser {

namespace {

// Harmless non-null pointer for llhttp_execute() on empty input: error_pos arithmetic stays
// defined.
constexpr char kEmpty[1] = {0};

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 §8.6: Content-Length = 1*DIGIT. Returns nullopt on anything else or on overflow.
std::optional<uint64_t> parseContentLength(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;  // 19 digits always fit in uint64_t
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

// What the Transfer-Encoding fields of a message amount to.
enum class TransferCoding : uint8_t { Absent, Chunked, ChunkedNotFinal, OtherCodingThenChunked };

// RFC 9112 §6.1/§6.3: all Transfer-Encoding fields form one list. hoplite decodes only chunked.
TransferCoding classifyTransferEncoding(const HeaderList& headers) {
  bool present = false;
  int chunkedCount = 0;
  bool lastIsChunked = false;
  bool otherCoding = false;
  for (const HeaderField& field : headers) {
    if (field.id != HeaderId::TransferEncoding) continue;
    present = true;
    std::string_view rest = field.value;
    while (true) {
      const size_t comma = rest.find(',');
      const std::string_view element = trimOws(rest.substr(0, comma));
      if (!element.empty()) {
        lastIsChunked = equalsIgnoreCase(element, "chunked");
        if (lastIsChunked) {
          ++chunkedCount;
        } else {
          otherCoding = true;
        }
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (!present) return TransferCoding::Absent;
  if (!lastIsChunked || chunkedCount != 1) return TransferCoding::ChunkedNotFinal;
  return otherCoding ? TransferCoding::OtherCodingThenChunked : TransferCoding::Chunked;
}

// Checks every Content-Length field: plain decimal, all equal (RFC 9112 §6.3 item 5).
// Returns false on a bad or conflicting value; `value` is set when at least one is present.
bool checkContentLength(const HeaderList& headers, std::optional<uint64_t>& value) {
  value.reset();
  for (const HeaderField& field : headers) {
    if (field.id != HeaderId::ContentLength) continue;
    const std::optional<uint64_t> n = parseContentLength(field.value);
    if (!n || (value && *value != *n)) return false;
    value = n;
  }
  return true;
}

bool hasToken(std::string_view list, std::string_view token) {
  while (true) {
    const size_t comma = list.find(',');
    if (equalsIgnoreCase(trimOws(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

struct ParserCallbacks;

// The machinery both parsers share; `isRequest_` selects the few rules that differ.
class ParserCore {
 public:
  ParserCore(llhttp_type_t type, ParserLimits limits)
      : isRequest_(type == HTTP_REQUEST),
        limits_(limits),
        validator_(isRequest_ ? HeadValidator::Kind::Request : HeadValidator::Kind::Response,
                   limits.maxHeaderBytes, limits.maxHeaderCount) {
    llhttp_init(&parser_, type, &kSettings);
    parser_.data = this;
  }

  FeedResult feed(std::string_view data);
  FeedResult finishInput();

  RequestHead request_;
  ResponseHead response_;
  HeaderList trailers_;
  ParseError error_;
  BodyHandler body_;
  std::string expectedMethod_;
  bool upgradePaused_ = false;

  // The heap this parser holds: what stays allocated while its connection idles.
  size_t heldBytes() const;
  // After a head is built: storage that one large head (a long cookie or URL) grew is freed, so
  // that it does not stay with the connection for the rest of its life.
  void releaseLargeStorage();
  // The caller is done with response_: its fields become spares (within the budget), the rest
  // is freed.
  void releaseResponseHead();

  bool betweenMessages() const {
    return (phase_ == Phase::Head && !validator_.started()) || phase_ == Phase::Switched ||
           phase_ == Phase::Closed;
  }

 private:
  enum class Phase : uint8_t {
    Head,      // reading a head through the validator
    Body,      // llhttp is positioned after a head; body bytes (if any) go to it
    Switched,  // a 101 was parsed: the bytes that follow are another protocol
    Closed,    // finish() ended the stream
    Failed,    // error_ is set; sticky
  };

  friend struct ParserCallbacks;
  static const llhttp_settings_t kSettings;

  // llhttp callbacks (see kSettings). Each returns 0, HPE_PAUSED, or -1 with pending_ set.
  int onMessageBegin();
  int onUrl(std::string_view s);
  int onStatus(std::string_view s);
  int onHeaderField(std::string_view s);
  int onHeaderValue(std::string_view s);
  int onHeaderValueComplete();
  int onHeadersComplete();
  int onBody(std::string_view s);
  int onMessageComplete();
  int onChunkExtension(std::string_view s);

  bool buildRequestHead();   // false: pending_ set
  bool buildResponseHead();  // false: pending_ set
  // A field to fill: one of the previous head's, whose strings keep their storage, or a new one.
  HeaderField takeSpareField();
  // Called once `replaced` (the previous head's fields) is no longer visible through head(): its
  // fields become spares, and its storage becomes the next head's field list.
  void recycleFields(HeaderList&& replaced);
  int reject(uint16_t status, std::string reason);

  // Resumes llhttp from our own pauses, then runs it over [data, data+len).
  llhttp_errno_t execute(const char* data, size_t len);
  FeedResult fail(ParseError error, size_t consumed);
  FeedResult failFromLlhttp(llhttp_errno_t err, size_t consumed);
  FeedResult feedHead(std::string_view data);
  FeedResult feedBody(std::string_view data);

  bool isRequest_;
  ParserLimits limits_;
  llhttp_t parser_{};
  HeadValidator validator_;
  Phase phase_ = Phase::Head;

  // Span accumulators: llhttp may hand a field in several pieces; they are copied here at once
  // (the caller's buffer is only valid during feed()).
  std::string url_;
  std::string reason_;
  std::string field_;
  std::string value_;
  HeaderList fields_;
  // Fields of earlier heads, reused so that a steady stream of similar heads allocates no strings
  // and no list. Bounded by kMaxSpareFields, so a connection idles with little memory held.
  HeaderList spareFields_;
  size_t spareBytes_ = 0;  // string capacity held by spareFields_
  static constexpr size_t kMaxSpareFields = 32;
  // What a parser may keep between heads: spare field strings up to this many bytes in all, and
  // each accumulator (and the validator's head copy) up to kKeptStorageBytes; beyond that, one
  // large head would stay allocated with every idle keep-alive connection that once saw it.
  static constexpr size_t kMaxSpareBytes = 2048;
  static constexpr size_t kKeptStorageBytes = 1024;
  static constexpr size_t kInitialFields = 16;
  // Where the current llhttp_execute() input starts and ends, to tell a value continued across
  // two buffers from an unfolded obs-fold (see onHeaderValue).
  const char* executeBegin_ = nullptr;
  const char* executeEnd_ = nullptr;
  bool valueSpanSeen_ = false;
  bool lastSpanAtBufferEnd_ = false;

  std::optional<ParseError> pending_;  // set by a callback that made llhttp stop with an error
  bool headDone_ = false;
  bool messageDone_ = false;
  // The last MessageComplete was reported on a message llhttp flagged as upgrade: llhttp will
  // answer the next execute() with HPE_PAUSED_UPGRADE before reading anything.
  bool upgradeBounce_ = false;
  uint64_t bodyBytes_ = 0;
  uint64_t chunkExtensionBytes_ = 0;
  uint64_t trailerBytes_ = 0;
};

namespace {

int onMessageBeginCb(llhttp_t* p);
int onUrlCb(llhttp_t* p, const char* at, size_t len);
int onStatusCb(llhttp_t* p, const char* at, size_t len);
int onHeaderFieldCb(llhttp_t* p, const char* at, size_t len);
int onHeaderValueCb(llhttp_t* p, const char* at, size_t len);
int onChunkExtensionCb(llhttp_t* p, const char* at, size_t len);
int onHeadersCompleteCb(llhttp_t* p);
int onBodyCb(llhttp_t* p, const char* at, size_t len);
int onMessageCompleteCb(llhttp_t* p);
int onHeaderValueCompleteCb(llhttp_t* p);

}  // namespace

// Designated initializers: the compiler checks every slot against llhttp 8.1.0's field order.
const llhttp_settings_t ParserCore::kSettings = {
    .on_message_begin = onMessageBeginCb,
    .on_url = onUrlCb,
    .on_status = onStatusCb,
    .on_method = nullptr,   // the method is taken from the validated start line
    .on_version = nullptr,  // http_major/http_minor are read at headers complete
    .on_header_field = onHeaderFieldCb,
    .on_header_value = onHeaderValueCb,
    .on_chunk_extension_name = onChunkExtensionCb,   // counted against the extension limit
    .on_chunk_extension_value = onChunkExtensionCb,  // likewise
    .on_headers_complete = onHeadersCompleteCb,
    .on_body = onBodyCb,
    .on_message_complete = onMessageCompleteCb,
    .on_url_complete = nullptr,     // the URL is used whole at headers complete
    .on_status_complete = nullptr,  // likewise for the reason phrase
    .on_method_complete = nullptr,
    .on_version_complete = nullptr,
    .on_header_field_complete = nullptr,  // the value callback closes the pair
    .on_header_value_complete = onHeaderValueCompleteCb,
    .on_chunk_extension_name_complete = nullptr,
    .on_chunk_extension_value_complete = nullptr,
    .on_chunk_header = nullptr,  // the body limit is applied per delivered byte
    .on_chunk_complete = nullptr,
    .on_reset = nullptr,
};

namespace {

// C trampolines: llhttp's data pointer is the ParserCore.
ParserCore& core(llhttp_t* p) {
  return *static_cast<ParserCore*>(p->data);
}

}  // namespace

// The C trampolines below reach ParserCore's private callbacks through this one friend.
struct ParserCallbacks {
  static int messageBegin(ParserCore& c) { return c.onMessageBegin(); }
  static int url(ParserCore& c, std::string_view s) { return c.onUrl(s); }
  static int status(ParserCore& c, std::string_view s) { return c.onStatus(s); }
  static int headerField(ParserCore& c, std::string_view s) { return c.onHeaderField(s); }
  static int headerValue(ParserCore& c, std::string_view s) { return c.onHeaderValue(s); }
  static int headerValueComplete(ParserCore& c) { return c.onHeaderValueComplete(); }
  static int chunkExtension(ParserCore& c, std::string_view s) { return c.onChunkExtension(s); }
  static int headersComplete(ParserCore& c) { return c.onHeadersComplete(); }
  static int body(ParserCore& c, std::string_view s) { return c.onBody(s); }
  static int messageComplete(ParserCore& c) { return c.onMessageComplete(); }
};

namespace {

int onMessageBeginCb(llhttp_t* p) {
  return ParserCallbacks::messageBegin(core(p));
}
int onUrlCb(llhttp_t* p, const char* at, size_t len) {
  return ParserCallbacks::url(core(p), {at, len});
}
int onStatusCb(llhttp_t* p, const char* at, size_t len) {
  return ParserCallbacks::status(core(p), {at, len});
}
int onHeaderFieldCb(llhttp_t* p, const char* at, size_t len) {
  return ParserCallbacks::headerField(core(p), {at, len});
}
int onHeaderValueCb(llhttp_t* p, const char* at, size_t len) {
  return ParserCallbacks::headerValue(core(p), {at, len});
}
int onHeaderValueCompleteCb(llhttp_t* p) {
  return ParserCallbacks::headerValueComplete(core(p));
}
int onChunkExtensionCb(llhttp_t* p, const char* at, size_t len) {
  return ParserCallbacks::chunkExtension(core(p), {at, len});
}
int onHeadersCompleteCb(llhttp_t* p) {
  return ParserCallbacks::headersComplete(core(p));
}
int onBodyCb(llhttp_t* p, const char* at, size_t len) {
  return ParserCallbacks::body(core(p), {at, len});
}
int onMessageCompleteCb(llhttp_t* p) {
  return ParserCallbacks::messageComplete(core(p));
}

}  // namespace

int ParserCore::reject(uint16_t status, std::string reason) {
  pending_ = ParseError{isRequest_ ? status : static_cast<uint16_t>(502), std::move(reason)};
  return -1;
}

int ParserCore::onMessageBegin() {
  url_.clear();
  reason_.clear();
  field_.clear();
  value_.clear();
  valueSpanSeen_ = false;
  fields_.clear();
  // A caller that moved the last head out took the list's storage with it: one allocation for a
  // typical head, instead of growing 1, 2, 4, 8, 16.
  if (fields_.capacity() == 0) fields_.reserve(kInitialFields);
  trailers_.clear();
  bodyBytes_ = 0;
  chunkExtensionBytes_ = 0;
  trailerBytes_ = 0;
  return 0;
}

int ParserCore::onUrl(std::string_view s) {
  url_.append(s);
  return 0;
}

int ParserCore::onStatus(std::string_view s) {
  reason_.append(s);
  return 0;
}

int ParserCore::onHeaderField(std::string_view s) {
  field_.append(s);
  return 0;
}

int ParserCore::onHeaderValue(std::string_view s) {
  // llhttp hands a value in several spans only when the input was split across execute() calls,
  // or when it unfolds an obs-fold (RFC 9112 §5.2). Head bytes were already checked for folds;
  // for trailers, a second span that does not simply continue at the start of a new buffer is a
  // fold, refused as in the head.
  if (valueSpanSeen_ && !(lastSpanAtBufferEnd_ && s.data() == executeBegin_)) {
    return reject(400, "obsolete line folding in trailer");
  }
  valueSpanSeen_ = true;
  lastSpanAtBufferEnd_ = s.data() + s.size() == executeEnd_;
  value_.append(s);
  return 0;
}

namespace {

size_t fieldCapacity(const HeaderField& field) {
  return field.name.capacity() + field.value.capacity();
}

size_t listCapacity(const HeaderList& list) {
  size_t bytes = list.capacity() * sizeof(HeaderField);
  for (const HeaderField& field : list) bytes += fieldCapacity(field);
  return bytes;
}

void releaseIfAbove(std::string& text, size_t bytes) {
  if (text.capacity() > bytes) std::string().swap(text);
}

}  // namespace

HeaderField ParserCore::takeSpareField() {
  if (spareFields_.empty()) return {};
  HeaderField field = std::move(spareFields_.back());
  spareFields_.pop_back();
  spareBytes_ -= fieldCapacity(field);
  return field;
}

void ParserCore::recycleFields(HeaderList&& replaced) {
  for (HeaderField& field : replaced) {
    if (spareFields_.size() >= kMaxSpareFields) break;
    const size_t bytes = fieldCapacity(field);
    if (spareBytes_ + bytes > kMaxSpareBytes) continue;  // freed with `replaced` below
    spareBytes_ += bytes;
    spareFields_.push_back(std::move(field));
  }
  replaced.clear();
  if (fields_.capacity() == 0) fields_ = std::move(replaced);
}

void ParserCore::releaseLargeStorage() {
  validator_.releaseStorageAbove(kKeptStorageBytes);
  releaseIfAbove(url_, kKeptStorageBytes);
  releaseIfAbove(reason_, kKeptStorageBytes);
  releaseIfAbove(field_, kKeptStorageBytes);
  releaseIfAbove(value_, kKeptStorageBytes);
}

void ParserCore::releaseResponseHead() {
  HeaderList replaced = std::move(response_.headers);
  response_ = ResponseHead{};
  recycleFields(std::move(replaced));
  // A list that held a very long head is not worth keeping either.
  if (fields_.capacity() * sizeof(HeaderField) > kKeptStorageBytes) HeaderList().swap(fields_);
}

size_t ParserCore::heldBytes() const {
  size_t bytes = validator_.heldBytes() + url_.capacity() + reason_.capacity() + field_.capacity() +
                 value_.capacity() + listCapacity(fields_) + listCapacity(spareFields_) +
                 listCapacity(trailers_) + listCapacity(request_.headers) +
                 listCapacity(response_.headers);
  bytes += request_.method.capacity() + request_.target.capacity() + request_.host.capacity();
  bytes += response_.reason.capacity();
  return bytes;
}

int ParserCore::onHeaderValueComplete() {
  HeaderField field = takeSpareField();
  field.assign(field_, trimOws(value_));
  field_.clear();
  value_.clear();
  valueSpanSeen_ = false;
  if (!headDone_) {
    fields_.push_back(std::move(field));
    return 0;
  }
  // A trailer field: these bytes did not pass through HeadValidator, so check them here.
  if (!isToken(field.name)) return reject(400, "invalid trailer name");
  if (!isFieldValue(field.value)) return reject(400, "invalid character in trailer value");
  trailerBytes_ += field.name.size() + field.value.size() + 4;
  if (trailerBytes_ > limits_.maxHeaderBytes) return reject(400, "trailer section too large");
  if (trailers_.size() >= limits_.maxHeaderCount) return reject(400, "too many trailer fields");
  trailers_.push_back(std::move(field));
  return 0;
}

int ParserCore::onChunkExtension(std::string_view s) {
  chunkExtensionBytes_ += s.size();
  if (chunkExtensionBytes_ > limits_.maxChunkExtensionBytes) {
    return reject(400, "chunk extensions too large");
  }
  return 0;
}

int ParserCore::onHeadersComplete() {
  // llhttp 8.1.0 does not call this for a trailer section; a second head in one message would
  // mean our phase tracking is wrong, so refuse it rather than overwrite the head.
  if (headDone_) return reject(400, "unexpected second header section");
  const bool ok = isRequest_ ? buildRequestHead() : buildResponseHead();
  if (!ok) return -1;
  headDone_ = true;
  // Pause so that feed() returns HeadComplete right after the blank line; llhttp resumes at its
  // after_headers_complete step, which honours F_SKIPBODY set by the builders.
  return HPE_PAUSED;
}

bool ParserCore::buildRequestHead() {
  RequestHead head;
  const std::string_view startLine = validator_.head().substr(0, validator_.head().find(' '));
  head.method = std::string(startLine);
  head.versionMajor = parser_.http_major;
  head.versionMinor = parser_.http_minor;
  head.headers = std::move(fields_);
  fields_.clear();

  if (parser_.method == HTTP_CONNECT) {
    reject(405, "CONNECT is not supported");
    return false;
  }
  NormalisedTarget target;
  if (std::optional<ParseError> err = normaliseTarget(head.method, url_, target)) {
    pending_ = std::move(err);
    return false;
  }
  head.target = std::move(target.target);

  // RFC 9112 §3.2: exactly one Host in HTTP/1.1; never several.
  const std::string* host = nullptr;
  int hostCount = 0;
  for (const HeaderField& field : head.headers) {
    if (field.id == HeaderId::Host) {
      host = &field.value;
      ++hostCount;
    }
  }
  if (hostCount > 1) {
    reject(400, "multiple Host fields");
    return false;
  }
  if (hostCount == 0 && head.isHttp11OrLater()) {
    reject(400, "missing Host field");
    return false;
  }
  if (host && !isValidHostValue(*host)) {
    reject(400, "invalid Host field");
    return false;
  }
  // RFC 9112 §3.2.2: with absolute-form the target's authority wins over Host.
  if (target.absoluteForm) {
    head.host = std::move(target.authority);
  } else if (host) {
    head.host = *host;
  }

  std::optional<uint64_t> contentLength;
  if (!checkContentLength(head.headers, contentLength)) {
    reject(400, "invalid Content-Length");
    return false;
  }
  const TransferCoding coding = classifyTransferEncoding(head.headers);
  if (coding != TransferCoding::Absent && contentLength) {
    // RFC 9112 §6.3 item 3: a classic request-smuggling vector; refuse instead of picking one.
    reject(400, "both Content-Length and Transfer-Encoding");
    return false;
  }
  if (coding != TransferCoding::Absent && !head.isHttp11OrLater()) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
    reject(400, "Transfer-Encoding in an HTTP/1.0 request");
    return false;
  }
  switch (coding) {
    case TransferCoding::Absent:
      break;
    case TransferCoding::Chunked:
      head.framing = Framing::Chunked;
      break;
    case TransferCoding::ChunkedNotFinal:
      reject(400, "chunked is not the final transfer coding");
      return false;
    case TransferCoding::OtherCodingThenChunked:
      reject(501, "unsupported transfer coding");
      return false;
  }
  if (contentLength) {
    head.framing = Framing::Length;
    head.contentLength = *contentLength;
    if (limits_.maxBodyBytes != 0 && *contentLength > limits_.maxBodyBytes) {
      reject(413, "request body too large");
      return false;
    }
  }

  const bool close = (parser_.flags & F_CONNECTION_CLOSE) != 0;
  head.keepAlive = !close && (head.isHttp11OrLater() || (parser_.flags & F_CONNECTION_KEEP_ALIVE));
  head.upgradeSignalled = parser_.upgrade != 0;
  // RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
  if (head.isHttp11OrLater()) {
    for (const HeaderField& field : head.headers) {
      if (field.id == HeaderId::Expect && hasToken(field.value, "100-continue")) {
        head.expectsContinue = true;
      }
    }
  }
  HeaderList replaced = std::move(request_.headers);
  request_ = std::move(head);
  recycleFields(std::move(replaced));
  return true;
}

bool ParserCore::buildResponseHead() {
  ResponseHead head;
  head.status = static_cast<uint16_t>(parser_.status_code);
  head.reason = std::string(trimOws(reason_));
  head.versionMajor = parser_.http_major;
  head.versionMinor = parser_.http_minor;
  head.headers = std::move(fields_);
  fields_.clear();

  std::optional<uint64_t> contentLength;
  if (!checkContentLength(head.headers, contentLength)) {
    reject(502, "invalid Content-Length");
    return false;
  }
  const TransferCoding coding = classifyTransferEncoding(head.headers);
  if (coding != TransferCoding::Absent && contentLength) {
    reject(502, "both Content-Length and Transfer-Encoding");
    return false;
  }
  // The proxy re-frames bodies and strips Transfer-Encoding as hop-by-hop, so a coding it cannot
  // undo (gzip without chunked, or before it) would reach the client mislabelled: refuse.
  if (coding == TransferCoding::ChunkedNotFinal ||
      coding == TransferCoding::OtherCodingThenChunked) {
    reject(502, "unsupported transfer coding");
    return false;
  }

  // RFC 9112 §6.3 items 1-2: these never have a body, whatever they announce.
  const bool noBody = expectedMethod_ == "HEAD" || head.status / 100 == 1 || head.status == 204 ||
                      head.status == 304;
  if (noBody) {
    parser_.flags |= F_SKIPBODY;
    head.framing = Framing::None;
  } else if (coding == TransferCoding::Chunked) {
    head.framing = Framing::Chunked;
  } else if (contentLength) {
    head.framing = Framing::Length;
    head.contentLength = *contentLength;
  } else {
    head.framing = Framing::UntilClose;
  }

  const bool close = (parser_.flags & F_CONNECTION_CLOSE) != 0;
  const bool http11 = head.versionMajor > 1 || (head.versionMajor == 1 && head.versionMinor >= 1);
  head.keepAlive = !close && (http11 || (parser_.flags & F_CONNECTION_KEEP_ALIVE)) &&
                   head.framing != Framing::UntilClose;
  head.upgradeSignalled = parser_.upgrade != 0;
  HeaderList replaced = std::move(response_.headers);
  response_ = std::move(head);
  recycleFields(std::move(replaced));
  return true;
}

int ParserCore::onBody(std::string_view s) {
  // Deliver exactly up to the limit before refusing, so the bytes delivered do not depend on how
  // the input was split.
  if (isRequest_ && limits_.maxBodyBytes != 0 && bodyBytes_ + s.size() > limits_.maxBodyBytes) {
    const uint64_t allowed = limits_.maxBodyBytes - bodyBytes_;
    if (allowed > 0 && body_) body_(s.substr(0, allowed));
    bodyBytes_ = limits_.maxBodyBytes;
    return reject(413, "request body too large");
  }
  bodyBytes_ += s.size();
  if (body_ && !s.empty()) body_(s);
  return 0;
}

int ParserCore::onMessageComplete() {
  messageDone_ = true;
  return HPE_PAUSED;
}

llhttp_errno_t ParserCore::execute(const char* data, size_t len) {
  if (llhttp_get_errno(&parser_) == HPE_PAUSED) llhttp_resume(&parser_);
  executeBegin_ = data;
  executeEnd_ = data + len;
  llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  if (err == HPE_PAUSED_UPGRADE && upgradeBounce_ && llhttp_get_error_pos(&parser_) == data) {
    // llhttp's own upgrade pause, one step after our message-complete pause: the caller chose
    // to go on in HTTP, so parse the following bytes as a new message.
    upgradeBounce_ = false;
    llhttp_resume_after_upgrade(&parser_);
    err = llhttp_execute(&parser_, data, len);
  }
  return err;
}

FeedResult ParserCore::fail(ParseError error, size_t consumed) {
  error_ = std::move(error);
  phase_ = Phase::Failed;
  return {ParseStatus::Error, consumed};
}

FeedResult ParserCore::failFromLlhttp(llhttp_errno_t err, size_t consumed) {
  if (pending_) {
    ParseError e = std::move(*pending_);
    pending_.reset();
    return fail(std::move(e), consumed);
  }
  const char* why = llhttp_get_error_reason(&parser_);
  std::string reason = why ? why : llhttp_errno_name(err);
  uint16_t status = 400;
  switch (err) {
    case HPE_INVALID_METHOD:
      // The validator already saw a well-formed token, so this is a method llhttp does not know.
      status = 501;
      reason = "method not implemented";
      break;
    case HPE_INVALID_VERSION:
      status = 505;
      break;
    case HPE_CLOSED_CONNECTION:
      reason = "data after the last message of a non-persistent connection";
      break;
    default:
      break;
  }
  return fail(ParseError{isRequest_ ? status : static_cast<uint16_t>(502), std::move(reason)},
              consumed);
}

FeedResult ParserCore::feedHead(std::string_view data) {
  const HeadValidator::Step step = validator_.consume(data);
  if (step.status == HeadValidator::Status::Error) return fail(validator_.error(), step.used);
  if (step.status == HeadValidator::Status::NeedMore) return {ParseStatus::NeedMore, data.size()};

  // The whole head is known good at the byte level: llhttp parses it in one call and must stop
  // exactly at its end, paused by onHeadersComplete.
  const std::string_view head = validator_.head();
  headDone_ = false;
  messageDone_ = false;
  const llhttp_errno_t err = execute(head.data(), head.size());
  if (err == HPE_PAUSED && headDone_ && !messageDone_ &&
      llhttp_get_error_pos(&parser_) == head.data() + head.size()) {
    phase_ = Phase::Body;
    validator_.reset();
    releaseLargeStorage();
    return {ParseStatus::HeadComplete, step.used};
  }
  if (err == HPE_OK || err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    return fail(ParseError{static_cast<uint16_t>(isRequest_ ? 400 : 502), "malformed head"},
                step.used);
  }
  return failFromLlhttp(err, step.used);
}

FeedResult ParserCore::feedBody(std::string_view data) {
  const char* begin = data.empty() ? kEmpty : data.data();
  const llhttp_errno_t err = execute(begin, data.size());
  if (err == HPE_OK) return {ParseStatus::NeedMore, data.size()};
  const size_t consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - begin);
  if (err != HPE_PAUSED || !messageDone_) return failFromLlhttp(err, consumed);

  messageDone_ = false;
  headDone_ = false;
  if (isRequest_) {
    upgradePaused_ = parser_.upgrade != 0;
    upgradeBounce_ = upgradePaused_;
    phase_ = Phase::Head;
  } else if (response_.status == 101) {
    // Whatever follows a 101 is the new protocol's; it never goes through this parser.
    phase_ = Phase::Switched;
  } else {
    phase_ = Phase::Head;  // next response: the final one after an interim 1xx, or pipelined
  }
  return {ParseStatus::MessageComplete, consumed};
}

FeedResult ParserCore::feed(std::string_view data) {
  switch (phase_) {
    case Phase::Failed:
      return {ParseStatus::Error, 0};
    case Phase::Switched:
      return fail(ParseError{502, "data after 101 Switching Protocols"}, 0);
    case Phase::Closed:
      return fail(ParseError{static_cast<uint16_t>(isRequest_ ? 400 : 502), "data after close"}, 0);
    case Phase::Head:
      if (data.empty()) return {ParseStatus::NeedMore, 0};
      upgradePaused_ = false;
      return feedHead(data);
    case Phase::Body:
      return feedBody(data);
  }
  return {ParseStatus::Error, 0};
}

FeedResult ParserCore::finishInput() {
  switch (phase_) {
    case Phase::Failed:
      return {ParseStatus::Error, 0};
    case Phase::Switched:
    case Phase::Closed:
      return {ParseStatus::NeedMore, 0};
    case Phase::Head:
      if (!validator_.started()) {
        phase_ = Phase::Closed;
        return {ParseStatus::NeedMore, 0};
      }
      return fail(ParseError{static_cast<uint16_t>(isRequest_ ? 400 : 502), "truncated head"}, 0);
    case Phase::Body: {
      // A bodyless message whose completion the caller has not collected yet: collect it now.
      const FeedResult pendingEnd = feedBody({});
      if (pendingEnd.status != ParseStatus::NeedMore) return pendingEnd;
      if (!isRequest_ && response_.framing == Framing::UntilClose) {
        // RFC 9112 §6.3 item 8: the close is the end of this body.
        phase_ = Phase::Closed;
        return {ParseStatus::MessageComplete, 0};
      }
      return fail(ParseError{static_cast<uint16_t>(isRequest_ ? 400 : 502), "truncated body"}, 0);
    }
  }
  return {ParseStatus::Error, 0};
}

// ---------------------------------------------------------------------------------------------

struct RequestParser::Impl : ParserCore {
  explicit Impl(ParserLimits limits) : ParserCore(HTTP_REQUEST, limits) {}
};

RequestParser::RequestParser(ParserLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
RequestParser::~RequestParser() = default;
FeedResult RequestParser::feed(std::string_view data) {
  return impl_->feed(data);
}
FeedResult RequestParser::finish() {
  return impl_->finishInput();
}
void RequestParser::setBodyHandler(BodyHandler handler) {
  impl_->body_ = std::move(handler);
}
void RequestParser::restartWithLimits(ParserLimits limits) {
  auto fresh = std::make_unique<Impl>(limits);
  fresh->body_ = std::move(impl_->body_);
  impl_ = std::move(fresh);
}
RequestHead& RequestParser::head() {
  return impl_->request_;
}
size_t RequestParser::heldBytes() const {
  return impl_->heldBytes();
}
const HeaderList& RequestParser::trailers() const {
  return impl_->trailers_;
}
const ParseError& RequestParser::error() const {
  return impl_->error_;
}
bool RequestParser::upgradePaused() const {
  return impl_->upgradePaused_;
}
bool RequestParser::betweenMessages() const {
  return impl_->betweenMessages();
}

struct ResponseParser::Impl : ParserCore {
  explicit Impl(ParserLimits limits) : ParserCore(HTTP_RESPONSE, limits) {}
};

ResponseParser::ResponseParser(ParserLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
ResponseParser::~ResponseParser() = default;
void ResponseParser::expectResponseTo(std::string_view requestMethod) {
  impl_->expectedMethod_ = std::string(requestMethod);
}
FeedResult ResponseParser::feed(std::string_view data) {
  return impl_->feed(data);
}
FeedResult ResponseParser::finish() {
  return impl_->finishInput();
}
void ResponseParser::setBodyHandler(BodyHandler handler) {
  impl_->body_ = std::move(handler);
}
ResponseHead& ResponseParser::head() {
  return impl_->response_;
}
const HeaderList& ResponseParser::trailers() const {
  return impl_->trailers_;
}
const ParseError& ResponseParser::error() const {
  return impl_->error_;
}
bool ResponseParser::betweenMessages() const {
  return impl_->betweenMessages();
}
void ResponseParser::releaseHead() {
  impl_->releaseResponseHead();
}
size_t ResponseParser::heldBytes() const {
  return impl_->heldBytes();
}

}  // namespace hoplite::parser
