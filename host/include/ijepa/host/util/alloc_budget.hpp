#pragma once
// A bound on what the calling thread may allocate on the CPU while it builds something from data it does not trust
// (a model from a checkpoint's recorded config): past the budget the allocation throws AllocationBudgetExceeded
// instead of the process climbing to tens of GB. Outside a budget scope allocations pass straight through.
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ijepa::host::util {

class AllocationBudgetExceeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// While alive, the CPU allocations of this thread (torch's CPU allocator: tensors, parameters) may add up to `bytes`;
// the one that would pass it throws AllocationBudgetExceeded naming `what`. Scopes do not nest.
class AllocationBudget {
 public:
  AllocationBudget(std::uint64_t bytes, std::string what);
  ~AllocationBudget();
  AllocationBudget(const AllocationBudget&) = delete;
  AllocationBudget& operator=(const AllocationBudget&) = delete;
  std::uint64_t used() const;  // bytes allocated in this scope so far
};

}  // namespace ijepa::host::util
