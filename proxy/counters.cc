#include "proxy/counters.h"

#include <charconv>

namespace hoplite::proxy {

static_assert(sizeof(Counters) == Counters::kFieldCount * sizeof(uint64_t),
              "every counter needs its entry in Counters::fields()");

const std::array<Counters::Field, Counters::kFieldCount>& Counters::fields() {
  static const std::array<Field, kFieldCount> kFields{{
      {"accepted", &Counters::accepted},
      {"requests", &Counters::requests},
      {"upstream_connects", &Counters::upstreamConnects},
      {"upstream_reused", &Counters::upstreamReused},
      {"upstream_retries", &Counters::upstreamRetries},
      {"tunnels_opened", &Counters::tunnelsOpened},
      {"tunnels_closed", &Counters::tunnelsClosed},
      {"rejected_4xx", &Counters::rejected4xx},
      {"errors_5xx", &Counters::errors5xx},
      {"timeout_client_header", &Counters::timeoutClientHeader},
      {"timeout_client_idle", &Counters::timeoutClientIdle},
      {"timeout_client_body", &Counters::timeoutClientBody},
      {"timeout_upstream_connect", &Counters::timeoutUpstreamConnect},
      {"timeout_upstream_response", &Counters::timeoutUpstreamResponse},
      {"timeout_tunnel_idle", &Counters::timeoutTunnelIdle},
      {"timeout_shutdown_drain", &Counters::timeoutShutdownDrain},
      {"upstream_connect_failures", &Counters::upstreamConnectFailures},
      {"log_lines_dropped", &Counters::logLinesDropped},
  }};
  return kFields;
}

std::string Counters::toText() const {
  std::string out;
  for (const Field& field : fields()) {
    if (!out.empty()) out += ' ';
    out += field.name;
    out += '=';
    out += std::to_string((this->*field.member).load());
  }
  return out;
}

std::optional<Counters> Counters::fromText(std::string_view text) {
  Counters parsed;
  std::array<bool, kFieldCount> seen{};
  // Exactly one space between items: an empty item (two spaces, a space at either end) fails.
  for (bool more = true; more;) {
    const size_t space = text.find(' ');
    const std::string_view item = text.substr(0, space);
    more = space != std::string_view::npos;
    if (more) text.remove_prefix(space + 1);
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    const std::string_view key = item.substr(0, equals);
    const std::string_view digits = item.substr(equals + 1);
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
      return std::nullopt;
    }
    size_t index = 0;
    while (index < kFieldCount && fields()[index].name != key) ++index;
    if (index == kFieldCount || seen[index]) return std::nullopt;
    seen[index] = true;
    parsed.*fields()[index].member = value;
  }
  for (bool found : seen) {
    if (!found) return std::nullopt;
  }
  return parsed;
}

Counters& Counters::operator+=(const Counters& other) {
  for (const Field& field : fields()) (this->*field.member).add((other.*field.member).load());
  return *this;
}

Counters Counters::since(const Counters& earlier) const {
  Counters out;
  for (const Field& field : fields()) {
    (out.*field.member) = (this->*field.member).load() - (earlier.*field.member).load();
  }
  return out;
}

}  // namespace hoplite::proxy
