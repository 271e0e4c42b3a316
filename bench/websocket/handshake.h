// The values the RFC 6455 opening handshake computes, for both bench tools: the base64 they are
// written in and the Sec-WebSocket-Accept value derived from the client's key.
// Kept apart from policy/upgrade.h on purpose: a proxy bug must not hide behind the same bug here.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace hoplite::bench::websocket {

// Base64 with padding (RFC 4648 §4), the encoding of the handshake's key and accept value.
std::string base64(std::span<const unsigned char> bytes);

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 §4.2.2 item 5.4: what a
// server sends in Sec-WebSocket-Accept and what a client expects there.
std::string secWebSocketAccept(std::string_view key);

}  // namespace hoplite::bench::websocket
