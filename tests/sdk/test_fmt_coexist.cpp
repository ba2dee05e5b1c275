// Two fmt copies live in one process: Debian's fmt 9 behind spdlog (host/src/log, compiled without torch's
// include directories) and the fmt bundled in the torch wheel, which `<fmt/format.h>` resolves to in any
// translation unit that sees torch's include directories (like this one, and every plugin). Both must work,
// side by side, with their own symbols (inline namespaces fmt::v9 / fmt::v1x).
//
// This file is compiled without the torch precompiled header (see CMakeLists.txt) so FMT_HEADER_ONLY takes
// effect: the torch wheel ships fmt's headers but exports no fmt symbols.
#define FMT_HEADER_ONLY 1
#include <fmt/format.h>

#include <string>

#include <gtest/gtest.h>
#include <torch/version.h>

#include "ijepa/host/log/logging.hpp"

namespace {

TEST(FmtCoexist, SpdlogsFmtAndTorchsFmtFormatTheSame) {
  const std::string via_spdlog = ijepa::host::logging::format_with_spdlog_fmt(42, 3.14159);
  const std::string via_torch = fmt::format("{:05d}|{:.3f}", 42, 3.14159);
  EXPECT_EQ(via_spdlog, "00042|3.142");
  EXPECT_EQ(via_torch, "00042|3.142");
}

TEST(FmtCoexist, ThisTranslationUnitSeesTorchsFmt) {
#ifdef IJEPA_TORCH_FMT_VERSION
  // CMake read FMT_VERSION from the wheel's fmt headers; the header included above must be that copy.
  EXPECT_EQ(FMT_VERSION, IJEPA_TORCH_FMT_VERSION);
#else
  GTEST_SKIP() << "this torch wheel ships no fmt headers; <fmt/format.h> is the system copy";
#endif
#ifdef IJEPA_SYSTEM_FMT_VERSION
  if (IJEPA_SYSTEM_FMT_VERSION != FMT_VERSION) {
    SUCCEED() << "two different fmt versions: torch " << FMT_VERSION << ", system " << IJEPA_SYSTEM_FMT_VERSION;
  }
#endif
}

TEST(FmtCoexist, LoggingStillWorksAfterTorchsFmtWasUsed) {
  (void)fmt::format("{}", 1);
  ijepa::host::logging::debug(fmt::format("fmt {} from a torch TU through spdlog", FMT_VERSION));
  EXPECT_EQ(ijepa::host::logging::format_with_spdlog_fmt(-7, 0.5), "-0007|0.500");
}

}  // namespace
