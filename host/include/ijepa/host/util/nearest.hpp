#pragma once
// "Did you mean ...?" for a mistyped command, option or config key.
#include <string>
#include <vector>

namespace ijepa::host::util {

// nearest(word, candidates) -> the candidate a typo of `word` most likely meant (edit distance at most 1 for a word
// of up to 4 letters, else max(2, |word| / 3); or a candidate `word` begins), or "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace ijepa::host::util
