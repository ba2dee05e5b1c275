#include "ijepa/host/util/nearest.hpp"

#include <algorithm>
#include <vector>

namespace ijepa::host::util {

namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two neighbours ('otp' for
// 'opt', the commonest typo) cost 1 each.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

}  // namespace

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  // A typo, not another word: one edit in a word of up to 4 letters ('mid' is not 'hi'), else max(2, |word| / 3).
  std::size_t best_d = (word.size() <= 4 ? 1 : std::max<std::size_t>(2, word.size() / 3)) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d || (c.rfind(word, 0) == 0 && best.empty())) {
      best = c;
      best_d = std::min(best_d, d);
    }
  }
  return best;
}

}  // namespace ijepa::host::util
