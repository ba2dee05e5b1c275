#include "ijepa/host/run/schedules.hpp"

#include <algorithm>
#include <cmath>

namespace ijepa::host {

double Schedules::lr(std::int64_t s) const {
  if (s < warmup_steps) {
    const double progress = static_cast<double>(s) / static_cast<double>(std::max<std::int64_t>(1, warmup_steps));
    return start_lr + progress * (ref_lr - start_lr);
  }
  const std::int64_t t_max = total_steps - warmup_steps;
  const double progress =
      static_cast<double>(s - warmup_steps) / static_cast<double>(std::max<std::int64_t>(1, t_max));
  return std::max(final_lr, final_lr + (ref_lr - final_lr) * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

double Schedules::wd(std::int64_t s) const {
  const double progress = static_cast<double>(s) / static_cast<double>(total_steps);
  const double v = final_wd + (ref_wd - final_wd) * 0.5 * (1.0 + std::cos(M_PI * progress));
  return final_wd <= ref_wd ? std::max(final_wd, v) : std::min(final_wd, v);
}

double Schedules::ema(std::int64_t i) const {
  const double den = ema_steps > 0.0 ? ema_steps : static_cast<double>(total_steps);
  return ema0 + static_cast<double>(i) * (ema1 - ema0) / den;
}

}  // namespace ijepa::host
