#include "ijepa/host/util/alloc_budget.hpp"

#include <mutex>

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

namespace ijepa::host::util {

namespace {

struct Scope {
  bool active = false;
  std::uint64_t budget = 0, used = 0;
  std::string what;
};
thread_local Scope t_scope;

// Delegates every call to the allocator torch had; counts (and bounds) what a thread in a budget scope allocates.
// The DataPtrs are the delegate's own, so nothing changes for memory allocated outside a scope or freed later.
class BudgetAllocator final : public c10::Allocator {
 public:
  explicit BudgetAllocator(c10::Allocator* base) : base_(base) {}
  c10::DataPtr allocate(size_t n) override {
    Scope& s = t_scope;
    if (s.active) {
      if (n > s.budget - s.used) {
        throw AllocationBudgetExceeded(s.what + " would need more than " + std::to_string(s.budget >> 20) +
                                       " MiB (refused at " + std::to_string((s.used + n) >> 20) + " MiB)");
      }
      s.used += n;
    }
    return base_->allocate(n);
  }
  c10::DeleterFnPtr raw_deleter() const override { return base_->raw_deleter(); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { base_->copy_data(dest, src, count); }

 private:
  c10::Allocator* base_;
};

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    static BudgetAllocator alloc(c10::GetCPUAllocator());
    c10::SetCPUAllocator(&alloc, /*priority=*/200);
  });
}

}  // namespace

AllocationBudget::AllocationBudget(std::uint64_t bytes, std::string what) {
  install_once();
  t_scope = Scope{true, bytes, 0, std::move(what)};
}

AllocationBudget::~AllocationBudget() { t_scope = Scope{}; }

std::uint64_t AllocationBudget::used() const { return t_scope.used; }

}  // namespace ijepa::host::util
