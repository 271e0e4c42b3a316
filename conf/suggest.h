// "Did you mean ...?" for config keys and upstream names.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace hoplite::conf {

// The word of `known` nearest to `word`, if it is near enough to be a plausible typo of it; case,
// "_" and "-" are ignored ("clientIdle" finds "client_idle"). std::nullopt when none is.
std::optional<std::string_view> closestWord(std::string_view word,
                                            std::span<const std::string_view> known);

}  // namespace hoplite::conf
