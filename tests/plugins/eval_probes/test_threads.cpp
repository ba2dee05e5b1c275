// The test problems are tiny: intra-op threads only add synchronisation overhead (and, on a busy 2-core machine,
// oversubscription stalls), so this binary runs torch single-threaded. The checks do not depend on the thread count.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

namespace {
class SingleThreaded : public ::testing::Environment {
 public:
  void SetUp() override { at::set_num_threads(1); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new SingleThreaded);
}  // namespace
