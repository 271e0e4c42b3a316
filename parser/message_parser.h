// Incremental, strict HTTP/1.x parsers over llhttp: RequestParser and ResponseParser.
//
// Contract shared by both (the proxy relies on every line of it):
// - feed(data) parses from the start of `data` and returns at the FIRST of these events, with
//   `consumed` = how many bytes of `data` it used. The caller keeps data[consumed..] and passes it
//   (plus whatever arrives later) to the next feed(). feed() may be called with empty data.
//     NeedMore         every byte was used; nothing else happened (body bytes may have been
//                      delivered to the body handler).
//     HeadComplete     head() is ready; `consumed` ends right after the blank line. No body byte
//                      has been delivered yet.
//     MessageComplete  the message (body included) is over; `consumed` ends right after it. For a
//                      request that llhttp paused on as an upgrade/CONNECT, and for a 101 response,
//                      the bytes after the head are NOT consumed: they belong to another protocol
//                      (see upgradePaused()).
//     Error            error() says why and which status to answer. Sticky: every later feed()
//                      returns Error again with consumed 0.
//   Every message yields exactly HeadComplete, then zero or more body deliveries, then
//   MessageComplete (or Error), even when all of its bytes arrive in one feed().
// - Body bytes are delivered to the body handler during feed(), already de-chunked; the view is
//   valid only during the call. Chunked trailers are collected into trailers(), never into head().
// - Results do not depend on how the input is split across feed() calls.
// - Raw head bytes are validated beyond what llhttp 8.1.0 checks (see the .cc), so a head that
//   reaches HeadComplete is safe to re-serialise field by field.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "parser/http_message.h"

namespace hoplite::parser {

enum class ParseStatus : uint8_t { NeedMore, HeadComplete, MessageComplete, Error };

struct FeedResult {
  ParseStatus status = ParseStatus::NeedMore;
  size_t consumed = 0;
};

struct ParserLimits {
  uint64_t maxHeaderBytes = 16384;          // whole head, start line included: over it is 431
  uint64_t maxHeaderCount = 100;            // over it is 431
  uint64_t maxBodyBytes = 0;                // requests only; 0 = unlimited; over it is 413
  uint64_t maxChunkExtensionBytes = 16384;  // per message; over it is 400
};

using BodyHandler = std::function<void(std::string_view)>;

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  FeedResult feed(std::string_view data);
  // The peer closed its side. Between messages: NeedMore (a clean end). Inside a message: Error.
  FeedResult finish();

  void setBodyHandler(BodyHandler handler);
  // Between messages only (betweenMessages()): the next message is parsed under `limits` (a
  // reloaded config's), by a fresh parser state; the body handler is kept.
  void restartWithLimits(ParserLimits limits);
  RequestHead& head();
  const HeaderList& trailers() const;
  const ParseError& error() const;

  // True after a MessageComplete for a request that llhttp stopped on as an upgrade. If the proxy
  // then feeds more bytes, they are parsed as the next HTTP request (the upgrade did not happen).
  bool upgradePaused() const;
  // True when no byte of the next message has been consumed since the last MessageComplete (or
  // since construction): a peer closing now is a clean end, and an idle timer applies.
  bool betweenMessages() const;
  // Heap bytes the parser holds, its head included. A head larger than usual is freed once
  // built (a caller that moves head() out keeps it), so between messages this stays small.
  size_t heldBytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ResponseParser {
 public:
  explicit ResponseParser(ParserLimits limits = {});
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Tells the parser which request the next response answers: a response to HEAD has no body even
  // when it carries Content-Length or Transfer-Encoding. Call before feeding each response.
  void expectResponseTo(std::string_view requestMethod);

  // Interim 1xx responses (100, 103, ...) other than 101 are reported as HeadComplete +
  // MessageComplete of their own, and the parser then goes on to the final response. After a 101
  // head, MessageComplete is reported with the following bytes left unconsumed, and the parser
  // accepts no further input (feed returns Error).
  FeedResult feed(std::string_view data);
  // The server closed. Ends an UntilClose body with MessageComplete; inside any other message it
  // is an Error (a truncated response); between messages NeedMore.
  FeedResult finish();

  void setBodyHandler(BodyHandler handler);
  ResponseHead& head();
  const HeaderList& trailers() const;
  const ParseError& error() const;
  bool betweenMessages() const;
  // The caller is done with head() (the response is complete): its storage is recycled within a
  // small budget or freed, so a parser kept for the next response holds little while it waits.
  void releaseHead();
  // Heap bytes the parser holds, its head included.
  size_t heldBytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hoplite::parser
