// Which answer the admin listener gives to a request: method and path rules, no sockets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/admin/admin_state.h"

namespace hoplite::proxy::admin {

struct AdminAnswer {
  uint16_t status = 200;
  std::string contentType;
  std::string body;
  bool allowHeader = false;  // 405: Allow: GET, HEAD
};

// GET or HEAD of /healthz ("ok", or 503 "draining" once a shutdown started), /status (JSON) and
// /metrics (Prometheus text 0.0.4); a query string is ignored. Any other method is 405, any
// other path 404. HEAD gets GET's answer; the caller leaves the body out.
AdminAnswer answerAdmin(std::string_view method, std::string_view target, const AdminState& state);

// The whole response: status line, Content-Type, Content-Length, Connection: close, and the
// body unless `headOnly`.
std::string serializeAdminAnswer(const AdminAnswer& answer, bool headOnly);

}  // namespace hoplite::proxy::admin
