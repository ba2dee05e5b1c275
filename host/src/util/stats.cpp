#include "ijepa/host/util/stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ijepa::host::util {

double t975(std::int64_t df) {
  if (df < 1) return std::nan("");
  // The t with a two-sided p of 0.05, by bisection on t_two_sided_p (decreasing in t): [1.95, 13] holds the quantile
  // for every df >= 1 (12.706 at df 1, towards 1.95996 as df grows); 80 halvings reach double precision.
  const double d = static_cast<double>(df);
  double lo = 1.95, hi = 13.0;
  for (int i = 0; i < 80; ++i) {
    const double mid = 0.5 * (lo + hi);
    (t_two_sided_p(mid, d) > 0.05 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
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
  // Values equal but for rounding (differences of accuracies such as 40.1 - 39.9 and 41.1 - 40.9, or a mean that is
  // not bit-equal to them) have no spread: sd 0, not 1e-14, which would make an interval of width ~0 "exclude" 0.
  const auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  double scale = 1.0;
  for (double x : xs) scale = std::max(scale, std::fabs(x));
  if (*hi - *lo <= 1e-9 * scale) {
    r.sd = r.half = 0.0;
    return r;
  }
  double ss = 0.0;
  for (double x : xs) ss += (x - r.mean) * (x - r.mean);
  r.sd = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  r.half = t975(static_cast<std::int64_t>(xs.size()) - 1) * r.sd / std::sqrt(static_cast<double>(xs.size()));
  return r;
}

namespace {

// The continued fraction of the incomplete beta function (modified Lentz).
double beta_cf(double a, double b, double x) {
  constexpr int kMaxIter = 500;
  constexpr double kEps = 1e-15, kTiny = 1e-300;
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0, d = 1.0 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= kMaxIter; ++m) {
    const double md = m, m2 = 2.0 * md;
    double aa = md * (b - md) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    c = 1.0 + aa / c;
    d = 1.0 / (std::fabs(d) < kTiny ? kTiny : d);
    c = std::fabs(c) < kTiny ? kTiny : c;
    h *= d * c;
    aa = -(a + md) * (qab + md) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    c = 1.0 + aa / c;
    d = 1.0 / (std::fabs(d) < kTiny ? kTiny : d);
    c = std::fabs(c) < kTiny ? kTiny : c;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < kEps) break;
  }
  return h;
}

// The regularised incomplete beta function I_x(a, b).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_cf(a, b, x) / a;
  return 1.0 - front * beta_cf(b, a, 1.0 - x) / b;
}

}  // namespace

double t_two_sided_p(double t, double df) {
  if (!(df >= 1.0) || std::isnan(t)) return std::nan("");
  if (std::isinf(t)) return 0.0;
  return std::clamp(incomplete_beta(df / 2.0, 0.5, df / (df + t * t)), 0.0, 1.0);
}

double paired_t_p(const MeanCi& d) {
  if (d.n < 2 || std::isnan(d.mean)) return std::nan("");
  if (d.no_spread()) return std::nan("");
  return t_two_sided_p(d.mean / (d.sd / std::sqrt(static_cast<double>(d.n))), static_cast<double>(d.n - 1));
}

double no_spread_sign_p(const MeanCi& d) {
  if (!d.no_spread() || !(d.mean != 0.0)) return std::nan("");
  return std::min(1.0, 2.0 * std::pow(0.5, static_cast<double>(d.n)));
}

double paired_p(const MeanCi& d) { return d.no_spread() ? no_spread_sign_p(d) : paired_t_p(d); }

int paired_verdict(const MeanCi& d) {
  const bool apart = d.no_spread() ? no_spread_sign_p(d) < 0.05 : d.separated_from_zero();
  return !apart ? 0 : d.mean > 0 ? 1 : -1;
}

double t_quantile(double q, std::int64_t df) {
  if (!(q > 0.5 && q < 1.0) || df < 1) return std::nan("");
  const double d = static_cast<double>(df), p = 2.0 * (1.0 - q);  // the two-sided p of that t
  double lo = 0.0, hi = 1.0;
  while (t_two_sided_p(hi, d) > p && hi < 1e12) hi *= 2.0;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (t_two_sided_p(mid, d) > p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

std::int64_t pairs_for_power(const MeanCi& d, double power, std::int64_t cap) {
  if (d.n < 2 || d.no_spread() || !(std::fabs(d.mean) > 0.0) || !std::isfinite(d.sd)) return 0;
  if (!(power > 0.5 && power < 1.0) || cap < 2) return 0;
  const double effect = std::fabs(d.mean) / d.sd;
  auto enough = [&](std::int64_t n) {
    return t975(n - 1) + t_quantile(power, n - 1) <= effect * std::sqrt(static_cast<double>(n));
  };
  if (!enough(cap)) return cap + 1;
  std::int64_t lo = 1, hi = cap;  // enough(hi); the left side shrinks and the right grows with n: bisect
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    (enough(mid) ? hi : lo) = mid;
  }
  return std::max<std::int64_t>(hi, 2);
}

std::vector<bool> holm_reject(const std::vector<double>& p, double alpha) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!std::isnan(p[i])) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<bool> out(p.size(), false);
  const std::size_t m = order.size();
  for (std::size_t k = 0; k < m; ++k) {
    if (p[order[k]] > alpha / static_cast<double>(m - k)) break;  // step down: stop at the first that fails
    out[order[k]] = true;
  }
  return out;
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

double sample_half(double sd, std::int64_t samples) {
  if (samples < 2 || !std::isfinite(sd)) return 0.0;
  return t975(samples - 1) * sd / std::sqrt(static_cast<double>(samples));
}

Interval widen(const Interval& boot, double accuracy_percent, double sample_half) {
  if (!(sample_half > 0.0)) return boot;
  const double x = accuracy_percent;
  return {std::max(0.0, x - std::hypot(x - boot.lo, sample_half)),
          std::min(100.0, x + std::hypot(boot.hi - x, sample_half))};
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
