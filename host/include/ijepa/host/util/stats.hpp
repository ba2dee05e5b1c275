#pragma once
// The statistics `ijepa report` shows: intervals over seeds (Student t), bootstrap intervals over test images for
// accuracies, and numbers rounded to their uncertainty.
#include <cstdint>
#include <string>
#include <vector>

namespace ijepa::host::util {

// The 0.975 quantile of Student's t with df degrees of freedom, to double precision (the inverse of
// t_two_sided_p at 0.05); NaN for df < 1.
double t975(std::int64_t df);

// Mean and the half-width of its 95 % confidence interval (t over n - 1 degrees of freedom); NaN half-width for n < 2.
struct MeanCi {
  double mean = 0.0, half = 0.0, sd = 0.0;  // sd: the sample standard deviation (n - 1); NaN for n < 2
  std::size_t n = 0;
  // Two or more values, all the same: the t interval has width 0, which is no evidence (accuracies on a finite test
  // set are discrete, so two seeds can tie by chance); such a mean is never "separated".
  bool no_spread() const { return n >= 2 && !(sd > 0.0); }
  bool separated_from_zero() const { return n >= 2 && !no_spread() && (mean - half > 0.0 || mean + half < 0.0); }
};
MeanCi mean_ci(const std::vector<double>& xs);

// The two-sided p-value of Student's t statistic with df degrees of freedom: P(|T| >= |t|), through the regularised
// incomplete beta function, I_{df/(df+t^2)}(df/2, 1/2). NaN for df < 1.
double t_two_sided_p(double t, double df);

// The two-sided p-value of a one-sample t test that the mean of `d` is 0 (d: paired differences). NaN for fewer than
// two values and where every difference is the same (no spread: no test; Holm's correction leaves it out).
double paired_t_p(const MeanCi& d);

// no_spread_sign_p(d): the n paired differences all the same and not 0 (no spread: no t test) -> the exact two-sided
// sign test's p-value, 2 x 0.5^n (all n on one side): six pairs are the fewest that reach p < 0.05. NaN otherwise.
double no_spread_sign_p(const MeanCi& d);
// paired_p(d): paired_t_p, or no_spread_sign_p where the differences have no spread (the p Holm's family takes).
double paired_p(const MeanCi& d);
// paired_verdict(d): +1 / -1 where the mean difference is told apart from 0 (its 95 % t interval excludes 0, or with
// no spread the sign test's p < 0.05), else 0.
int paired_verdict(const MeanCi& d);

// The upper quantile of Student's t with df degrees of freedom: the t with P(T <= t) = q, for q in (0.5, 1) (by
// bisection on t_two_sided_p); NaN outside that range or for df < 1.
double t_quantile(double q, std::int64_t df);

// How many pairs a paired comparison would need for its 95 % interval to exclude 0 with probability `power`, were
// the true difference d.mean and its spread d.sd: the smallest n >= 2 with
// (t_{0.975, n-1} + t_{power, n-1}) * sd / sqrt(n) <= |mean| (the usual approximation to the noncentral t's power).
// A planning figure: the observed mean and sd are themselves uncertain, the more so the fewer pairs they come from.
// 0 where nothing can be said (fewer than two pairs, no spread, mean 0 or NaN, power outside (0.5, 1), cap < 2);
// cap + 1 where more than `cap` would be needed.
std::int64_t pairs_for_power(const MeanCi& d, double power = 0.8, std::int64_t cap = 1000);

// Holm's step-down correction: which of the p-values are rejected at family-wise level alpha (NaN: never).
std::vector<bool> holm_reject(const std::vector<double>& p, double alpha = 0.05);

// The 95 % percentile bootstrap interval of an accuracy (in percent) measured on n test images: resampling the n
// images with replacement makes the number correct Binomial(n, p) with p the measured accuracy, so the interval is
// that distribution's 2.5 % and 97.5 % quantiles (the bootstrap with infinitely many resamples), in percent.
struct Interval {
  double lo = 0.0, hi = 0.0;
  // The larger distance from x to an end: the "±" shown beside x.
  double half_around(double x) const { return x - lo > hi - x ? x - lo : hi - x; }
};
Interval accuracy_bootstrap(double accuracy_percent, std::int64_t n);

// The half-width of the 95 % t interval of a mean over `samples` independent label samples whose accuracies have
// standard deviation `sd` (low_shot with samples >= 2 reports the mean as top1_<p>pct, sd_top1_<p>pct and samples):
// t975(samples - 1) * sd / sqrt(samples). 0 for samples < 2 or a non-finite sd (nothing to add).
double sample_half(double sd, std::int64_t samples);

// An accuracy's 95 % interval with both sources of its uncertainty: the test images (`boot`, accuracy_bootstrap's)
// and, for a mean over label samples, which rows were sampled (`sample_half`). Each side of `boot` is widened to the
// root of the sum of squares of the two (the sources taken as independent), clamped to [0, 100].
Interval widen(const Interval& boot, double accuracy_percent, double sample_half);

// "mean ± half" with the half-width to two significant digits and the mean to the same decimal place
// (0.3124 ± 0.004912 -> "0.3124 ± 0.0049"; 59.7 ± 2.04 -> "59.7 ± 2.0"); "mean" alone to four significant digits
// when half is NaN.
std::string round_to_uncertainty(double mean, double half);
// x rounded at the decimal place `half` sets (as above), without the ± part.
std::string round_like(double x, double half);

}  // namespace ijepa::host::util
