#include "policy/request_rewrite.h"

#include "policy/hop_by_hop.h"
#include "policy/text.h"

namespace hoplite::policy {

namespace {
// Methods whose requests are expected to enclose content: RFC 9110 §8.6 says a user agent SHOULD
// send Content-Length: 0 for them when there is none, and some servers answer 411 without it.
bool expectsContent(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}
}  // namespace

// Contract: see request_rewrite.h. Order of the head: request line, Host, end-to-end fields as
// they arrived (hop-by-hop ones, the client's Host and underscore names removed), the forwarding
// section of applyForwarded, the request ID, the framing field, then Connection + Upgrade for a
// granted upgrade. No Connection field otherwise: HTTP/1.1 persistence is the default (RFC 9112
// §9.3). A Refused upgrade needs nothing special: Upgrade and HTTP2-Settings are hop-by-hop and
// already gone.
UpstreamRequest buildUpstreamRequest(const parser::RequestHead& request,
                                     const UpgradeRequest& upgrade, const PeerInfo& peer,
                                     const conf::ForwardedSettings& forwarded,
                                     std::string_view requestIdName, std::string_view requestId) {
  UpstreamRequest result;
  std::string& head = result.head;
  // Room for the incoming fields plus the ones this function adds, so appending rarely regrows.
  size_t estimate = 512 + request.method.size() + request.target.size() + request.host.size();
  for (const parser::HeaderField& field : request.headers) {
    estimate += field.name.size() + field.value.size() + 4;
  }
  head.reserve(estimate);
  head.append(request.method);
  head.push_back(' ');
  head.append(request.target);
  head.append(" HTTP/1.1\r\n");
  // RFC 9112 §3.2: Host goes first, and is empty when the target URI has no authority (an
  // HTTP/1.0 request without Host).
  appendField(head, "Host", isSafeFieldValue(request.host) ? request.host : std::string());

  // Hop-by-hop fields and the client's Host are filtered on the way, not copied out first.
  const HopByHopFilter filter(request.headers);
  appendForwardedFields(head, request.headers, filter, request.host, peer, forwarded,
                        requestIdName);
  if (!requestIdName.empty() && isSafeFieldValue(requestId)) {
    appendField(head, requestIdName, requestId);
  }

  switch (request.framing) {
    case parser::Framing::Length:
      result.bodyFraming = parser::Framing::Length;
      result.contentLength = request.contentLength;
      appendField(head, "Content-Length", std::to_string(request.contentLength));
      break;
    case parser::Framing::Chunked:
      result.bodyFraming = parser::Framing::Chunked;
      appendField(head, "Transfer-Encoding", "chunked");
      break;
    case parser::Framing::None:
    case parser::Framing::UntilClose:  // not a request framing (RFC 9112 §6.3 item 7)
      // No body to forward; bodyFraming stays None even when Content-Length: 0 is written.
      if (expectsContent(request.method)) appendField(head, "Content-Length", "0");
      break;
  }

  if (upgrade.kind == UpgradeRequest::Kind::Granted) {
    appendField(head, "Connection", "upgrade");
    appendField(head, "Upgrade", upgrade.upgradeValue);
  }
  head.append("\r\n");
  return result;
}

}  // namespace hoplite::policy
