#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>

#include "build_config.hpp"
#include "io/safetensors.hpp"

using namespace ijepa::host;
namespace fs = std::filesystem;

namespace {
std::string header_file(const std::string& header, const std::string& data) {
  std::string out;
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}
}  // namespace

TEST(Safetensors, RoundTripAllDtypesAndShapes) {
  TensorMap m;
  m["a.weight"] = at::randn({3, 4});
  m["b"] = at::arange(10, at::kLong);
  m["c.scalar"] = at::full({}, 2.5, at::kDouble);
  m["d.empty"] = at::empty({0, 5});
  m["e.half"] = at::randn({7}).to(at::kHalf);
  m["f.bf16"] = at::randn({2, 2}).to(at::kBFloat16);
  m["g.bool"] = at::rand({5}) > 0.5;
  m["h.u8"] = at::randint(0, 255, {4}, at::kByte);
  StringMap meta{{"format", "ijepa-cpp"}, {"step", "12"}};
  const std::string bytes = serialize_safetensors(m, meta);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  ASSERT_EQ((8 + header_len) % 8, 0u) << "the data buffer must start 8-byte aligned";
  StringMap meta2;
  TensorMap back = parse_safetensors(bytes, "mem", &meta2);
  EXPECT_EQ(meta2, meta);
  ASSERT_EQ(back.size(), m.size());
  for (const auto& [k, v] : m) {
    ASSERT_TRUE(back.count(k)) << k;
    EXPECT_EQ(back[k].scalar_type(), v.scalar_type()) << k;
    EXPECT_TRUE(back[k].sizes().equals(v.sizes())) << k;
    EXPECT_TRUE(at::equal(back[k], v)) << k;
  }
}

TEST(Safetensors, NonContiguousInputIsWrittenRowMajor) {
  at::Tensor t = at::arange(12, at::kFloat).reshape({3, 4}).t();
  TensorMap back = parse_safetensors(serialize_safetensors({{"t", t}}), "mem");
  EXPECT_TRUE(at::equal(back["t"], t));
}

TEST(Safetensors, RejectsTruncatedOversizedAndOverlapping) {
  const std::string good = serialize_safetensors({{"x", at::ones({4})}});
  // truncated at every length
  for (std::size_t n = 0; n < good.size(); n += 3) {
    EXPECT_THROW(parse_safetensors(good.substr(0, n), "cut"), SafetensorsError) << n;
  }
  // header length beyond the cap
  std::string huge(8, '\0');
  huge[6] = 0x10;  // 2^52
  EXPECT_THROW(parse_safetensors(huge + "{}", "huge"), SafetensorsError);
  // overlapping tensors
  const std::string ov = header_file(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, '\0'));
  EXPECT_THROW(parse_safetensors(ov, "overlap"), SafetensorsError);
  // size mismatch
  const std::string mis = header_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
  EXPECT_THROW(parse_safetensors(mis, "mismatch"), SafetensorsError);
  // out of range
  const std::string oor = header_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(4, '\0'));
  EXPECT_THROW(parse_safetensors(oor, "range"), SafetensorsError);
  // unknown dtype, not an object, malformed JSON
  EXPECT_THROW(parse_safetensors(header_file(R"({"a":{"dtype":"Q7","shape":[],"data_offsets":[0,0]}})", ""), "dt"),
               SafetensorsError);
  EXPECT_THROW(parse_safetensors(header_file("[1,2]", ""), "arr"), SafetensorsError);
  EXPECT_THROW(parse_safetensors(header_file("{\"a\":", ""), "json"), SafetensorsError);
  try {
    parse_safetensors(mis, "some/file.safetensors");
    FAIL();
  } catch (const SafetensorsError& e) {
    EXPECT_NE(std::string(e.what()).find("some/file.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'a'"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RandomCorruptionNeverCrashes) {
  const std::string good = serialize_safetensors({{"x", at::ones({4})}, {"y", at::zeros({2, 3}, at::kLong)}});
  std::srand(7);
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string b = good;
    const int flips = 1 + std::rand() % 4;
    for (int f = 0; f < flips; ++f) b[static_cast<std::size_t>(std::rand()) % b.size()] = static_cast<char>(std::rand());
    try {
      parse_safetensors(b, "fuzz");
    } catch (const SafetensorsError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(SafetensorsPython, InteropWithPythonPackage) {
  const char* py = std::getenv("IJEPA_PYTHON") != nullptr ? std::getenv("IJEPA_PYTHON") : IJEPA_PYTHON_EXE;
  if (!fs::exists(py)) GTEST_SKIP() << "no Python environment at " << py;
  const fs::path dir = fs::temp_directory_path() / ("ijepa_st_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_safetensors((dir / "cpp.safetensors").string(), {{"w", at::arange(6, at::kFloat).reshape({2, 3})}},
                    {{"k", "v"}});
  const std::string script = (dir / "t.py").string();
  std::ofstream(script) << "import sys, torch\n"
                           "from safetensors.torch import load_file, save_file\n"
                           "from safetensors import safe_open\n"
                           "d = load_file(sys.argv[1] + '/cpp.safetensors')\n"
                           "assert torch.equal(d['w'], torch.arange(6.).reshape(2, 3)), d\n"
                           "with safe_open(sys.argv[1] + '/cpp.safetensors', 'pt') as f: assert f.metadata()['k'] == 'v'\n"
                           "save_file({'z': torch.arange(5, dtype=torch.int64), 'h': torch.ones(3, dtype=torch.bfloat16)},"
                           " sys.argv[1] + '/py.safetensors')\n";
  ASSERT_EQ(std::system((std::string(py) + " " + script + " " + dir.string()).c_str()), 0);
  TensorMap m = read_safetensors((dir / "py.safetensors").string());
  EXPECT_TRUE(at::equal(m.at("z"), at::arange(5, at::kLong)));
  EXPECT_EQ(m.at("h").scalar_type(), at::kBFloat16);
  fs::remove_all(dir);
}
