// Fresh request IDs for one loop.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "policy/request_id.h"

namespace hoplite::proxy {

// IDs are random so that no one can guess another client's (a counter would tell how busy the
// proxy is, and whose request came next). The bytes come from OpenSSL's DRBG, which reseeds
// itself in each forked worker, a batch at a time: one RAND_bytes call per kBatch IDs keeps the
// cost per request to a copy of 16 bytes.
class RequestIdSource {
 public:
  static constexpr size_t kBatch = 256;

  // Writes a fresh ID into `id`.
  void next(policy::RequestId& id);

 private:
  void refill();

  std::array<uint8_t, 16 * kBatch> random_;
  size_t used_ = 16 * kBatch;  // empty until the first ID
};

}  // namespace hoplite::proxy
