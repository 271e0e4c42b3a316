// The request head hoplite sends upstream, re-serialised canonically from a parsed head.
#pragma once

#include <string>

#include "conf/config.h"
#include "parser/http_message.h"
#include "policy/forwarded.h"
#include "policy/upgrade.h"

namespace hoplite::policy {

struct UpstreamRequest {
  // "METHOD target HTTP/1.1\r\nHost: ...\r\n...\r\n\r\n": origin-form target, Host first, then
  // the end-to-end fields in arrival order, the forwarding fields, the framing field
  // (Content-Length, or Transfer-Encoding: chunked when the body is re-chunked), and for a granted
  // upgrade "Connection: upgrade" + "Upgrade". CRLF everywhere.
  std::string head;
  // How the proxy must frame the body it forwards: None, Length (contentLength bytes, copied as
  // is) or Chunked (the proxy writes chunk framing around each body piece, then "0\r\n\r\n").
  // A body-less POST/PUT/PATCH gets "Content-Length: 0" in the head but stays None here.
  parser::Framing bodyFraming = parser::Framing::None;
  uint64_t contentLength = 0;
};

// `upgrade` is the result of classifyUpgradeRequest for this head; it must not be Invalid.
// Fields with an invalid name or a CR/LF/NUL in the value are never written (the parser refuses
// them already). An empty `request.host` (HTTP/1.0 without Host) is sent as an empty Host field.
// With a `requestIdName`, every incoming field of that name is replaced by one
// "requestIdName: requestId" after the forwarding section (see policy/request_id.h for which ID).
UpstreamRequest buildUpstreamRequest(const parser::RequestHead& request,
                                     const UpgradeRequest& upgrade, const PeerInfo& peer,
                                     const conf::ForwardedSettings& forwarded,
                                     std::string_view requestIdName = {},
                                     std::string_view requestId = {});

}  // namespace hoplite::policy
