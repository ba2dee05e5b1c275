#pragma once
// The official I-JEPA schedules (src/utils/schedulers.py, src/train.py), as pure functions of the step.
#include <cstdint>

namespace ijepa::host {

struct Schedules {
  double start_lr = 2e-4;
  double ref_lr = 1e-3;
  double final_lr = 1e-6;
  double ref_wd = 0.04;
  double final_wd = 0.4;
  double ema0 = 0.996;
  double ema1 = 1.0;
  std::int64_t warmup_steps = 0;  // int(warmup_epochs * ipe)
  std::int64_t total_steps = 1;   // T = int(ipe_scale * epochs * ipe)
  double ema_steps = 0.0;          // ipe * epochs * ipe_scale as a float (official momentum denominator); 0: T

  // lr(s), s = 1, 2, ...: linear warmup start_lr -> ref_lr, then cosine to final_lr over T - warmup steps.
  double lr(std::int64_t s) const;
  // wd(s), s = 1, 2, ...: cosine from ref_wd to final_wd over T, clamped toward final_wd.
  double wd(std::int64_t s) const;
  // ema(i), i = 0, 1, ...: linear ema0 -> ema1 over T steps (value used after optimiser step i).
  double ema(std::int64_t i) const;
};

}  // namespace ijepa::host
