#include "proxy/request_id_source.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hoplite::proxy {

void RequestIdSource::next(policy::RequestId& id) {
  if (used_ + 16 > random_.size()) refill();
  std::array<uint8_t, 16> bits;
  std::memcpy(bits.data(), random_.data() + used_, bits.size());
  used_ += bits.size();
  id.assignFresh(bits);
}

void RequestIdSource::refill() {
  // RAND_bytes fails only when the DRBG cannot be seeded (no entropy source at all), where no
  // request could be given an ID that means anything: stop rather than send predictable ones.
  if (RAND_bytes(random_.data(), static_cast<int>(random_.size())) != 1) {
    std::fprintf(stderr, "hoplite: no random bytes for request IDs (OpenSSL RAND_bytes failed)\n");
    std::abort();
  }
  used_ = 0;
}

}  // namespace hoplite::proxy
