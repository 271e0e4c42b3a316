#include "conf/suggest.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string>
#include <vector>

namespace hoplite::conf {

namespace {

// Keys compared for "did you mean": case, "_" and "-" do not count, so "clientIdle" and
// "Client-Idle" both find "client_idle".
std::string normalizeKey(std::string_view key) {
  std::string result;
  for (char c : key) {
    if (c == '_' || c == '-') continue;
    result += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return result;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, the most common
// typo.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

// The known word closest to `word`, when it is close enough to be a plausible typo: one edit for
// short words, two for words of six letters or more.
std::optional<std::string_view> closestWord(std::string_view word,
                                            std::span<const std::string_view> known) {
  const std::string normalized = normalizeKey(word);
  std::optional<std::string_view> best;
  size_t bestDistance = std::numeric_limits<size_t>::max();
  for (std::string_view candidate : known) {
    const std::string target = normalizeKey(candidate);
    const size_t distance = editDistance(normalized, target);
    const size_t allowed = target.size() >= 6 ? 2 : 1;
    if (distance <= allowed && distance < target.size() && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

}  // namespace hoplite::conf
