#include "proxy/admin/admin_pages.h"

#include "proxy/observe/prometheus_text.h"

namespace hoplite::proxy::admin {

namespace {

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

AdminAnswer text(uint16_t status, std::string body) {
  return AdminAnswer{status, std::string(kTextPlain), std::move(body) + "\n", false};
}

std::string_view reasonPhrase(uint16_t status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Bad Request";
  }
}

}  // namespace

AdminAnswer answerAdmin(std::string_view method, std::string_view target, const AdminState& state) {
  if (method != "GET" && method != "HEAD") {
    AdminAnswer answer = text(405, "method not allowed: the admin listener answers GET and HEAD");
    answer.allowHeader = true;
    return answer;
  }
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/healthz") {
    return state.draining() ? text(503, "draining") : text(200, "ok");
  }
  if (path == "/status") {
    return AdminAnswer{200, "application/json", state.statusJson(), false};
  }
  if (path == "/metrics") {
    return AdminAnswer{200, std::string(observe::kPrometheusContentType), state.metricsText(),
                       false};
  }
  return text(404, "not found: the admin listener serves /healthz, /status and /metrics");
}

std::string serializeAdminAnswer(const AdminAnswer& answer, bool headOnly) {
  std::string out = "HTTP/1.1 ";
  out.append(std::to_string(answer.status)).append(" ").append(reasonPhrase(answer.status));
  out.append("\r\nContent-Type: ").append(answer.contentType);
  out.append("\r\nContent-Length: ").append(std::to_string(answer.body.size()));
  if (answer.allowHeader) out.append("\r\nAllow: GET, HEAD");
  out.append("\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
  if (!headOnly) out.append(answer.body);
  return out;
}

}  // namespace hoplite::proxy::admin
