#include "ijepa/host/util/stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ijepa::host::util {

double t975(std::int64_t df) {
  static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                 2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) return std::nan("");
  if (df <= 30) return table[df - 1];
  return 1.96 + 2.4 / static_cast<double>(df);
}

MeanCi mean_ci(const std::vector<double>& xs) {
  MeanCi r;
  r.n = xs.size();
  if (xs.empty()) {
    r.mean = r.half = r.sd = std::nan("");
    return r;
  }
  double s = 0.0;
  for (double x : xs) s += x;
  r.mean = s / static_cast<double>(xs.size());
  if (xs.size() < 2) {
    r.half = r.sd = std::nan("");
    return r;
  }
  double ss = 0.0;
  for (double x : xs) ss += (x - r.mean) * (x - r.mean);
  r.sd = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  r.half = t975(static_cast<std::int64_t>(xs.size()) - 1) * r.sd / std::sqrt(static_cast<double>(xs.size()));
  return r;
}

Interval accuracy_bootstrap(double accuracy_percent, std::int64_t n) {
  if (n < 1 || !std::isfinite(accuracy_percent)) return {std::nan(""), std::nan("")};
  const double p = std::clamp(accuracy_percent / 100.0, 0.0, 1.0);
  if (p <= 0.0 || p >= 1.0) return {100.0 * p, 100.0 * p};  // every resample gives the same count
  // Binomial(n, p) pmf in log space, summed in order of k.
  const double lp = std::log(p), lq = std::log1p(-p), lgn = std::lgamma(static_cast<double>(n) + 1.0);
  double cdf = 0.0;
  std::int64_t lo = -1, hi = n;
  for (std::int64_t k = 0; k <= n; ++k) {
    const double kd = static_cast<double>(k);
    cdf += std::exp(lgn - std::lgamma(kd + 1.0) - std::lgamma(static_cast<double>(n - k) + 1.0) + kd * lp +
                    static_cast<double>(n - k) * lq);
    if (lo < 0 && cdf >= 0.025) lo = k;
    if (cdf >= 0.975) {
      hi = k;
      break;
    }
  }
  return {100.0 * static_cast<double>(lo) / static_cast<double>(n), 100.0 * static_cast<double>(hi) / static_cast<double>(n)};
}

namespace {

// The decimal place (as a power of ten exponent) of the second significant digit of h.
int place_of(double half) { return static_cast<int>(std::floor(std::log10(std::fabs(half)))) - 1; }

std::string fixed(double x, int place) {
  const int decimals = std::max(0, -place);
  const double scale = std::pow(10.0, place);
  const double r = std::round(x / scale) * scale;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, r == 0.0 ? 0.0 : r);  // no "-0.0"
  return buf;
}

}  // namespace

std::string round_like(double x, double half) {
  if (!std::isfinite(x)) return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
  if (!std::isfinite(half) || half <= 0.0) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), std::fabs(x) >= 1000.0 ? "%.0f" : "%.4g", x);
    return buf;
  }
  return fixed(x, place_of(half));
}

std::string round_to_uncertainty(double mean, double half) {
  if (!std::isfinite(half) || half <= 0.0 || !std::isfinite(mean)) return round_like(mean, half);
  const int place = place_of(half);
  return fixed(mean, place) + " ± " + fixed(half, place);
}

}  // namespace ijepa::host::util
