#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include <ATen/ATen.h>

#include "ijepa/host/build_config.hpp"
#include "ijepa/host/io/safetensors.hpp"

using namespace ijepa::host;
namespace fs = std::filesystem;

namespace {
std::string header_file(const std::string& header, const std::string& data) {
  std::string out;
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

// tests/fixtures/safetensors_corpus: seed files and MANIFEST (written by make_corpus.py there).
const fs::path kCorpus = fs::path(IJEPA_TEST_SOURCE_DIR) / "fixtures" / "safetensors_corpus";

struct CorpusEntry {
  std::string file;
  bool ok = false;
  std::string error;  // expected substring of the message when !ok
};

std::vector<CorpusEntry> read_manifest() {
  std::vector<CorpusEntry> out;
  std::ifstream in(kCorpus / "MANIFEST");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    CorpusEntry e;
    std::string verdict;
    ls >> e.file >> verdict;
    e.ok = verdict == "ok";
    if (!e.ok) {
      std::getline(ls, e.error);
      e.error.erase(0, e.error.find_first_not_of(' '));
    }
    out.push_back(e);
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string printable(const std::string& b, std::size_t max = 160) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(b[i]);
    out += (c >= 0x20 && c < 0x7f && c != '\\') ? std::string(1, static_cast<char>(c))
                                                : std::string("\\x") + d[c >> 4] + d[c & 15];
  }
  return out + (b.size() > max ? "... (" + std::to_string(b.size()) + " bytes)" : "");
}

// Outcome of parsing: "ok", "SafetensorsError: ..." or "<other type>: ..." (a bug: only SafetensorsError may escape).
std::string outcome(const std::string& bytes, StringMap* meta) {
  try {
    parse_safetensors(bytes, "fuzz", meta);
    return "ok";
  } catch (const SafetensorsError& e) {
    return std::string("SafetensorsError: ") + e.what();
  } catch (const std::exception& e) {
    const std::string what = e.what();  // torch errors carry a backtrace: the first line is enough
    return "other exception (" + std::string(typeid(e).name()) + "): " + what.substr(0, what.find('\n'));
  } catch (...) {
    return "non-standard exception";
  }
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

// Every seed file reads as MANIFEST says: valid files parse (with and without the metadata map); malformed ones throw
// SafetensorsError with one line that starts with the path and contains the expected words.
TEST(SafetensorsCorpus, EverySeedFileMatchesTheManifest) {
  const auto manifest = read_manifest();
  ASSERT_GE(manifest.size(), 40u) << "MANIFEST missing or short in " << kCorpus;
  std::size_t files_on_disk = 0;
  for (const auto& f : fs::directory_iterator(kCorpus)) files_on_disk += f.path().extension() == ".safetensors";
  EXPECT_EQ(files_on_disk, manifest.size()) << "every corpus file needs a MANIFEST line";
  for (const auto& e : manifest) {
    SCOPED_TRACE(e.file);
    const fs::path path = kCorpus / e.file;
    ASSERT_TRUE(fs::exists(path));
    EXPECT_LT(fs::file_size(path), 1024u);
    StringMap meta;
    std::string got;
    try {
      read_safetensors(path.string(), &meta);
      got = "ok";
    } catch (const SafetensorsError& err) {
      got = err.what();
      EXPECT_EQ(got.rfind(path.string() + ": ", 0), 0u) << "the message must start with the file: " << got;
      EXPECT_EQ(got.find('\n'), std::string::npos) << "one line: " << got;
    } catch (const std::exception& err) {
      const std::string what = err.what();
      ADD_FAILURE() << "not a SafetensorsError (" << typeid(err).name() << "): " << what.substr(0, what.find('\n'))
                    << "\n  input: " << printable(slurp(path));
      continue;
    }
    if (e.ok) {
      EXPECT_EQ(got, "ok");
    } else {
      EXPECT_NE(got, "ok") << "accepted a malformed file; expected an error with '" << e.error
                           << "'\n  input: " << printable(slurp(path));
      if (got != "ok") {
        EXPECT_NE(got.find(e.error), std::string::npos) << "expected '" << e.error << "' in: " << got;
      }
    }
    // Validity must not depend on whether the caller asks for the metadata.
    const std::string without = outcome(slurp(path), nullptr);
    EXPECT_EQ(without == "ok", got == "ok") << "without the metadata map: " << without;
  }
}

// Spot checks of the values in the valid seeds (the manifest test only checks that they parse).
TEST(SafetensorsCorpus, ValidSeedsHaveTheirValues) {
  StringMap meta;
  TensorMap m = read_safetensors((kCorpus / "ok_metadata.safetensors").string(), &meta);
  EXPECT_EQ(meta, (StringMap{{"format", "pt"}, {"step", "12"}}));
  m = read_safetensors((kCorpus / "ok_f32_matrix.safetensors").string());
  EXPECT_TRUE(at::equal(m.at("w"), at::arange(1, 7, at::kFloat).reshape({2, 3})));
  m = read_safetensors((kCorpus / "ok_scalar.safetensors").string());
  EXPECT_EQ(m.at("s").dim(), 0);
  EXPECT_EQ(m.at("s").item<double>(), 2.5);
  m = read_safetensors((kCorpus / "ok_empty_tensor.safetensors").string());
  EXPECT_EQ(m.at("e").sizes(), (at::IntArrayRef{0, 5}));
  EXPECT_EQ(m.at("x").item<std::int32_t>(), 7);
  m = read_safetensors((kCorpus / "ok_offsets_out_of_key_order.safetensors").string());
  EXPECT_EQ(m.at("a").item<float>(), 2.0f);
  EXPECT_EQ(m.at("b").item<float>(), 1.0f);
  m = read_safetensors((kCorpus / "ok_all_dtypes.safetensors").string());
  EXPECT_EQ(m.size(), 10u);
  EXPECT_EQ(m.at("t.bf16").scalar_type(), at::kBFloat16);
  EXPECT_EQ(m.at("t.bool").scalar_type(), at::kBool);
}

// Seeded mutations of every seed (byte flips, truncation, extension, header-length edits, numbers in the header
// replaced by boundary values, splices of two files): parse_safetensors must accept or throw SafetensorsError,
// nothing else. Failures print the input.
TEST(SafetensorsCorpus, MutatedSeedsThrowOnlySafetensorsError) {
  std::vector<std::string> seeds;
  for (const auto& e : read_manifest()) seeds.push_back(slurp(kCorpus / e.file));
  ASSERT_FALSE(seeds.empty());
  // Defaults: about 4400 inputs in well under a second. For a longer local run:
  // IJEPA_SAFETENSORS_FUZZ_ROUNDS=20000 IJEPA_SAFETENSORS_FUZZ_SEED=2 test_host_io --gtest_filter='*Mutated*'
  const char* env_rounds = std::getenv("IJEPA_SAFETENSORS_FUZZ_ROUNDS");
  const char* env_seed = std::getenv("IJEPA_SAFETENSORS_FUZZ_SEED");
  const int kRounds = env_rounds != nullptr ? std::atoi(env_rounds) : 80;  // x about 55 seeds
  std::mt19937_64 rng(env_seed != nullptr ? std::strtoull(env_seed, nullptr, 10) : 20240611ull);
  auto pick = [&](std::uint64_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  auto header_len = [](const std::string& b) -> std::uint64_t {
    std::uint64_t n = 0;
    for (int i = 7; i >= 0 && b.size() >= 8; --i) n = (n << 8) | static_cast<unsigned char>(b[static_cast<std::size_t>(i)]);
    return n;
  };
  auto set_header_len = [](std::string& b, std::uint64_t n) {
    if (b.size() < 8) b.resize(8, '\0');
    for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  };
  const std::vector<std::string> numbers = {"0", "1", "7", "-1", "4294967296", "2147483648", "4611686018427387904",
                                            "2305843009213693952", "9223372036854775807", "9223372036854775808",
                                            "18446744073709551615", "18446744073709551616", "1e30", "0.5", "null"};
  int accepted = 0, rejected = 0, reported = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t s = 0; s < seeds.size(); ++s) {
      std::string b = seeds[s];
      switch (round % 6) {
        case 0:  // byte flips
          for (int f = 0, k = 1 + static_cast<int>(pick(4)); f < k && !b.empty(); ++f)
            b[pick(b.size())] = static_cast<char>(rng());
          break;
        case 1:  // truncation
          b.resize(pick(b.size() + 1));
          break;
        case 2:  // extension
          for (std::size_t f = 0, k = 1 + pick(16); f < k; ++f) b.push_back(static_cast<char>(rng()));
          break;
        case 3: {  // header length: off by a little, or a boundary value
          const std::uint64_t n = header_len(b);
          const std::uint64_t edits[] = {n + 1, n - 1, n + 8, n - 8, 0, 1, b.size(), b.size() - 8, b.size() - 7,
                                         (100ull << 20), (100ull << 20) + 1, ~0ull, 1ull << 63, rng()};
          set_header_len(b, edits[pick(sizeof(edits) / sizeof(edits[0]))]);
          break;
        }
        case 4: {  // a number in the header replaced by a boundary value (header length fixed up)
          const std::uint64_t n = header_len(b);
          if (b.size() < 8 || n > b.size() - 8) break;
          std::string h = b.substr(8, n);
          std::vector<std::size_t> starts;
          for (std::size_t i = 0; i < h.size(); ++i)
            if (std::isdigit(static_cast<unsigned char>(h[i])) && (i == 0 || !std::isdigit(static_cast<unsigned char>(h[i - 1]))))
              starts.push_back(i);
          if (starts.empty()) break;
          const std::size_t at = starts[pick(starts.size())];
          std::size_t end = at;
          while (end < h.size() && std::isdigit(static_cast<unsigned char>(h[end]))) ++end;
          h = h.substr(0, at) + numbers[pick(numbers.size())] + h.substr(end);
          std::string out(8, '\0');
          set_header_len(out, h.size());
          b = out + h + b.substr(8 + n);
          break;
        }
        default: {  // splice: a prefix of this seed and a suffix of another
          const std::string& o = seeds[pick(seeds.size())];
          b = b.substr(0, pick(b.size() + 1)) + o.substr(pick(o.size() + 1));
          break;
        }
      }
      StringMap meta;
      const std::string with_meta = outcome(b, &meta);
      const std::string without_meta = outcome(b, nullptr);
      for (const std::string* r : {&with_meta, &without_meta}) {
        if (*r == "ok") {
          ++accepted;
        } else if (r->rfind("SafetensorsError: ", 0) == 0) {
          ++rejected;
          if (r->find('\n') != std::string::npos && reported++ < 5)
            ADD_FAILURE() << "multi-line message: " << *r << "\n  input: " << printable(b);
        } else if (reported++ < 5) {
          ADD_FAILURE() << *r << "\n  from seed " << s << " (round " << round << "), input: " << printable(b);
        }
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(reported, 0) << reported << " inputs escaped as something other than SafetensorsError";
  EXPECT_GT(rejected, 10 * kRounds);
  EXPECT_GT(accepted, kRounds / 2);
  if (env_rounds == nullptr) {
    EXPECT_LT(secs, 5.0);
  }
}
