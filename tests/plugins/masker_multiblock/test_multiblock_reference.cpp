// Exact parity: `ijepa masks` (the built plugin) against tests/fixtures/masks/reference_multiblock.py, a
// transcription of the official MaskCollator using the same two torch generators.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

const fs::path kScript = fs::path(IJEPA_TEST_SOURCE_DIR) / "fixtures/masks/reference_multiblock.py";

struct Case {
  const char* name;
  std::string args;  // shared by both programs
};

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

int run(const std::string& cmd) { return std::system(cmd.c_str()); }

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }  // test listings show the case name

std::string case_name(const ::testing::TestParamInfo<Case>& p) { return p.param.name; }

class MultiBlockReference : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(MultiBlockReference, CliMatchesThePythonReferenceExactly) {
  if (!fs::exists(IJEPA_PYTHON)) GTEST_SKIP() << "no Python interpreter at " << IJEPA_PYTHON;
  const Case& c = GetParam();
  const fs::path dir = fs::path(IJEPA_TEST_BINARY_DIR) / "masks_reference" / c.name;
  fs::create_directories(dir);
  const fs::path ours = dir / "ijepa.json", ref = dir / "reference.json";
  fs::remove(ours);
  fs::remove(ref);
  ASSERT_EQ(run(std::string("\"") + IJEPA_PYTHON + "\" \"" + kScript.string() + "\" " + c.args + " --out \"" +
                ref.string() + "\""),
            0)
      << "reference_multiblock.py failed";
  ASSERT_EQ(run(std::string("\"") + IJEPA_CLI_EXE + "\" masks --masker multiblock " + c.args + " --out \"" +
                ours.string() + "\" > \"" + (dir / "summary.txt").string() + "\""),
            0)
      << "ijepa masks failed";
  const nlohmann::json a = read_json(ours)["steps"];
  const nlohmann::json b = read_json(ref)["steps"];
  ASSERT_EQ(a.size(), b.size());
  std::int64_t fallbacks = 0;
  for (std::size_t s = 0; s < a.size(); ++s) {
    ASSERT_EQ(a[s]["step"], b[s]["step"]);
    for (const char* key : {"pred", "enc"}) {
      ASSERT_EQ(a[s][key].size(), b[s][key].size()) << "step " << s << " " << key << ": number of masks";
      for (std::size_t m = 0; m < a[s][key].size(); ++m) {
        const auto& x = a[s][key][m];
        const auto& y = b[s][key][m];
        ASSERT_EQ(x.size(), y.size()) << "step " << s << " " << key << "[" << m << "]: batch size";
        for (std::size_t i = 0; i < x.size(); ++i)
          ASSERT_EQ(x[i], y[i]) << "step " << s << " " << key << "[" << m << "] image " << i << "\n ijepa: "
                                << x[i].dump() << "\n   ref: " << y[i].dump();
      }
    }
    ASSERT_EQ(a[s]["fallbacks"], b[s]["fallbacks"]) << "step " << s;
    fallbacks += a[s]["fallbacks"].get<std::int64_t>();
  }
  if (std::string(c.name).rfind("crowded", 0) == 0) {
    EXPECT_GT(fallbacks, 0) << "the case should exercise the fallback";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, MultiBlockReference,
    ::testing::Values(
        Case{"released_16x16", "--image-size 224 --patch-size 14 --batch 8 --steps 6 --seed 0"},
        Case{"released_14x14_seed", "--image-size 224 --patch-size 16 --batch 6 --steps 4 --seed 18446744073709"},
        Case{"fixed_two_contexts",
             "--image-size 224 --patch-size 14 --batch 6 --steps 5 --seed 7 --set variant=fixed --set num_enc_masks=2"},
        Case{"overlap_independent_12x12",
             "--image-size 96 --patch-size 8 --batch 8 --steps 4 --seed 3 --set min_keep=4 --set allow_overlap=true "
             "--set independent_scale_aspect=true --set aspect_ratio=[0.3,3.0]"},
        Case{"crowded_fallbacks",
             "--image-size 32 --patch-size 4 --batch 8 --steps 6 --seed 11 --set pred_mask_scale=[0.3,0.4] "
             "--set num_pred_masks=6 --set num_enc_masks=2"},
        Case{"crowded_fallbacks_fixed",
             "--image-size 32 --patch-size 4 --batch 8 --steps 6 --seed 12 --set pred_mask_scale=[0.3,0.4] "
             "--set num_pred_masks=6 --set num_enc_masks=2 --set variant=fixed"}),
    case_name);
