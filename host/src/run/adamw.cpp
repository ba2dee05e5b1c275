#include "ijepa/host/run/adamw.hpp"

#include <cmath>
#include <map>
#include <stdexcept>

namespace ijepa::host {

AdamW::AdamW(std::vector<ParamGroup> groups, double beta1, double beta2, double eps, bool fused)
    : groups_(std::move(groups)), beta1_(beta1), beta2_(beta2), eps_(eps), fused_(fused) {
  for (const auto& g : groups_) {
    std::vector<Slot> s(g.params.size());
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      s[i].exp_avg = at::zeros_like(g.params[i].param, at::MemoryFormat::Preserve);
      s[i].exp_avg_sq = at::zeros_like(g.params[i].param, at::MemoryFormat::Preserve);
    }
    slots_.push_back(std::move(s));
  }
}

void AdamW::zero_grad() {
  for (auto& g : groups_) {
    for (auto& p : g.params) {
      if (p.param.grad().defined()) p.param.mutable_grad() = at::Tensor();
    }
  }
}

void AdamW::step(double lr, double wd) {
  at::NoGradGuard no_grad;
  ++step_;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    const double group_wd = groups_[gi].scheduled_wd ? wd : 0.0;
    auto& params = groups_[gi].params;
    auto& slots = slots_[gi];
    if (fused_) {
      // Fused multi-tensor kernel (same maths as torch.optim.AdamW(fused=True)).
      std::vector<at::Tensor> ps, gs, m, v, vmax, steps;
      for (std::size_t i = 0; i < params.size(); ++i) {
        if (!params[i].param.grad().defined()) continue;
        ++slots[i].steps;
        ps.push_back(params[i].param);
        gs.push_back(params[i].param.grad());
        m.push_back(slots[i].exp_avg);
        v.push_back(slots[i].exp_avg_sq);
        // The kernel reads the step count from a tensor: one per slot, kept on the parameter's device and
        // advanced below by one multi-tensor add (not a new scalar tensor per parameter and step).
        if (!slots[i].step_t.defined()) {
          slots[i].step_t = at::full({}, static_cast<double>(slots[i].steps - 1),
                                     at::TensorOptions().dtype(at::kFloat).device(params[i].param.device()));
        }
        steps.push_back(slots[i].step_t);
      }
      if (!ps.empty()) {
        at::_foreach_add_(steps, 1.0);
        at::_fused_adamw_(ps, gs, m, v, vmax, steps, lr, beta1_, beta2_, group_wd, eps_, /*amsgrad=*/false,
                          /*maximize=*/false);
      }
      continue;
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      at::Tensor p = params[i].param;
      const at::Tensor grad = p.grad();
      if (!grad.defined()) continue;
      Slot& s = slots[i];
      ++s.steps;
      if (group_wd != 0.0) p.mul_(1.0 - lr * group_wd);
      s.exp_avg.lerp_(grad, 1.0 - beta1_);
      s.exp_avg_sq.mul_(beta2_).addcmul_(grad, grad, 1.0 - beta2_);
      const double bc1 = 1.0 - std::pow(beta1_, static_cast<double>(s.steps));
      const double bc2 = 1.0 - std::pow(beta2_, static_cast<double>(s.steps));
      const double step_size = lr / bc1;
      const at::Tensor denom = (s.exp_avg_sq.sqrt() / std::sqrt(bc2)).add_(eps_);
      p.addcdiv_(s.exp_avg, denom, -step_size);
    }
  }
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    for (std::size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const auto& name = groups_[gi].params[i].name;
      out.emplace_back(name + ".exp_avg", slots_[gi][i].exp_avg);
      out.emplace_back(name + ".exp_avg_sq", slots_[gi][i].exp_avg_sq);
      out.emplace_back(name + ".step", at::full({}, slots_[gi][i].steps, at::kLong));
    }
  }
  return out;
}

void AdamW::load_state(const std::vector<std::pair<std::string, at::Tensor>>& state, std::int64_t step) {
  std::map<std::string, at::Tensor> m(state.begin(), state.end());
  at::NoGradGuard no_grad;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    for (std::size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const auto& name = groups_[gi].params[i].name;
      auto get = [&](const std::string& key) -> at::Tensor {
        auto it = m.find(key);
        if (it == m.end()) throw std::runtime_error("optimizer state has no entry '" + key + "'");
        return it->second;
      };
      at::Tensor ea = get(name + ".exp_avg");
      at::Tensor es = get(name + ".exp_avg_sq");
      if (!ea.sizes().equals(slots_[gi][i].exp_avg.sizes()) || !es.sizes().equals(slots_[gi][i].exp_avg_sq.sizes()))
        throw std::runtime_error("optimizer state '" + name + "' has another shape than the parameter");
      slots_[gi][i].exp_avg.copy_(ea);
      slots_[gi][i].exp_avg_sq.copy_(es);
      slots_[gi][i].steps = get(name + ".step").item<std::int64_t>();
      slots_[gi][i].step_t = at::Tensor();  // recreated from the loaded count at the next fused step
    }
  }
  step_ = step;
}

}  // namespace ijepa::host
