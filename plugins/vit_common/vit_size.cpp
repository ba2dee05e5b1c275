#include "vit_size.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace ijepa::plugins::vit {

double vit_parameters(double dim, double depth, double mlp_ratio, double tokens, double extra) {
  const double hidden = std::floor(dim * mlp_ratio);
  const double block = 3 * dim * dim + 3 * dim  // qkv
                       + dim * dim + dim         // projection
                       + 2 * dim * hidden + hidden + dim  // MLP
                       + 4 * dim;                         // two layer norms
  return depth * block + tokens * dim + extra;
}

std::string too_large(const std::string& what, double params, const std::string& keys) {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return "";
  const double memory = static_cast<double>(pages) * static_cast<double>(page);
  const double bytes = params * 4.0;
  if (std::isfinite(bytes) && bytes <= memory) return "";
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                ": the %s would hold %.3g parameters (%.3g GiB in fp32), more than this machine's %.3g GiB of memory",
                what.c_str(), params, bytes / 1073741824.0, memory / 1073741824.0);
  return keys + buf;
}

}  // namespace ijepa::plugins::vit
