// The archive sources: extraction into the cache (a tarball made here), and the CIFAR-10 / Imagenette readers on the
// shared tarballs (Archives.*: CTest label needs_shared_datasets; skipped when the tarballs are absent).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>

#include <ATen/ATen.h>

#include "ijepa/host/data/dataset.hpp"
#include "fixtures.hpp"

using namespace ijepa;
using namespace ijepa::host;
namespace fs = std::filesystem;

namespace {

// Sets an environment variable for a scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
      had_ = true;
    }
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Locates and extracts (once; later runs reuse the cache) an archive source, or skips the test.
#define ARCHIVE_ROOT_OR_SKIP(source, dir_var)                                                      \
  const ArchiveSpec* spec = archive_spec(source);                                                  \
  ASSERT_NE(spec, nullptr);                                                                        \
  try {                                                                                            \
    locate_archive(*spec, "");                                                                     \
  } catch (const DataError& e) {                                                                   \
    GTEST_SKIP() << e.what();                                                                      \
  }                                                                                                \
  const auto t0 = std::chrono::steady_clock::now();                                                \
  const std::string dir_var = archive_root(*spec, "");                                             \
  std::cout << "[ info ] " << source << ": " << dir_var << " ready in " << seconds_since(t0) << " s" \
            << std::endl;                                                                          \
  RecordProperty("ready_seconds", std::to_string(seconds_since(t0)))

}  // namespace

TEST(ArchiveCache, ExtractsOnceAtomicallyAndServesSplits) {
  const fs::path tmp = test::data_temp_dir("archive");
  const fs::path src = tmp / "src" / "tiny";
  test::write_bytes(src / "train" / "a" / "x.png", test::encode_png(test::pattern_rgb(16, 16)));
  test::write_bytes(src / "train" / "b" / "y.jpg", test::encode_jpeg(test::pattern_rgb(16, 20)));
  test::write_bytes(src / "test" / "a" / "z.png", test::encode_png(test::pattern_rgb(12, 12)));
  const fs::path tarball = tmp / "tiny.tar.gz";
  const std::string cmd = "tar -czf '" + tarball.string() + "' -C '" + (tmp / "src").string() + "' tiny";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ScopedEnv cache("XDG_CACHE_HOME", (tmp / "cache").string());
  EXPECT_EQ(dataset_cache_dir(), (tmp / "cache" / "ijepa-workbench" / "datasets").string());

  // Two concurrent callers: one extracts, the other waits on the lock; both get the same directory.
  auto a = std::async(std::launch::async, [&] { return extract_archive(tarball.string(), "tinyset"); });
  auto b = std::async(std::launch::async, [&] { return extract_archive(tarball.string(), "tinyset"); });
  const std::string dir = a.get();
  EXPECT_EQ(b.get(), dir);
  EXPECT_EQ(dir, (tmp / "cache" / "ijepa-workbench" / "datasets" / "tinyset").string());
  EXPECT_TRUE(fs::exists(fs::path(dir) / "train" / "a" / "x.png"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / ".ijepa-extracted"));
  for (const auto& e : fs::directory_iterator(tmp / "cache" / "ijepa-workbench" / "datasets")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();  // no leftovers
  }
  // Cached: a marker written into the tree survives the next call (no re-extraction).
  test::write_bytes(fs::path(dir) / "train" / "keep.me", "x");
  EXPECT_EQ(extract_archive(tarball.string(), "tinyset"), dir);
  EXPECT_TRUE(fs::exists(fs::path(dir) / "train" / "keep.me"));

  // The sources take data.root as a tarball or an extracted directory; cifar10_jpeg evaluates on test/.
  nlohmann::json cfg = data_defaults();
  cfg["source"] = "cifar10_jpeg";
  cfg["root"] = tarball.string();
  auto train = open_dataset(cfg, "train");
  EXPECT_EQ(train->size(), 2);
  EXPECT_EQ(train->class_names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(open_dataset(cfg, "test")->size(), 1);
  EXPECT_NE(train->describe().find("cifar10_jpeg train"), std::string::npos) << train->describe();
  EXPECT_TRUE(fs::exists(tmp / "cache" / "ijepa-workbench" / "datasets" / "cifar10-jpeg" / "train"));
  cfg["root"] = src.string();
  EXPECT_EQ(open_dataset(cfg, "train")->size(), 2);
  cfg["root"] = (tmp / "src").string();  // the folder above the extracted tree
  EXPECT_EQ(open_dataset(cfg, "val")->size(), 1);
  cfg["source"] = "imagenette";  // evaluates on val/, which this tree lacks
  EXPECT_THROW(open_dataset(cfg, "val"), DataError);
  cfg["root"] = (tmp / "missing.tar.gz").string();
  EXPECT_THROW(open_dataset(cfg, "train"), DataError);

  // IJEPA_DATASETS_DIR is searched before shared/datasets/.
  fs::copy_file(tarball, tmp / "cifar10-jpeg.tar.gz");
  {
    ScopedEnv dirs("IJEPA_DATASETS_DIR", tmp.string());
    EXPECT_EQ(locate_archive(*archive_spec("cifar10_jpeg"), ""), (tmp / "cifar10-jpeg.tar.gz").string());
  }
  // A broken tarball is an error and leaves nothing behind.
  test::write_bytes(tmp / "broken.tar.gz", "not gzip");
  EXPECT_THROW(extract_archive((tmp / "broken.tar.gz").string(), "broken"), DataError);
  EXPECT_FALSE(fs::exists(tmp / "cache" / "ijepa-workbench" / "datasets" / "broken"));
  fs::remove_all(tmp);
}

TEST(Archives, Cifar10Jpeg) {
  ARCHIVE_ROOT_OR_SKIP("cifar10_jpeg", dir);
  nlohmann::json cfg = data_defaults();
  cfg["source"] = "cifar10_jpeg";
  auto train = open_dataset(cfg, "train");
  auto test = open_dataset(cfg, "test");
  EXPECT_EQ(train->size(), 50000);
  EXPECT_EQ(test->size(), 10000);
  const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                          "dog",      "frog",       "horse", "ship", "truck"};
  EXPECT_EQ(train->num_classes(), 10);
  EXPECT_EQ(train->class_names(), names);
  EXPECT_EQ(test->class_names(), names);
  EXPECT_EQ(train->open_skips().total(), 0);
  const Image first = train->get(0), last = train->get(49999);
  EXPECT_EQ(first.pixels.sizes(), (std::vector<std::int64_t>{32, 32, 3}));
  EXPECT_EQ(first.label, 0);
  EXPECT_EQ(last.label, 9);
  EXPECT_EQ(test->get(9999).label, 9);
}

TEST(Archives, Imagenette) {
  ARCHIVE_ROOT_OR_SKIP("imagenette", dir);
  nlohmann::json cfg = data_defaults();
  cfg["source"] = "imagenette";
  auto train = open_dataset(cfg, "train");
  auto val = open_dataset(cfg, "val");
  std::cout << "[ info ] imagenette: " << train->size() << " train, " << val->size() << " val" << std::endl;
  EXPECT_EQ(train->size() + val->size(), 13394);
  EXPECT_GT(val->size(), 0);
  const std::vector<std::string> wnids = {"n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
                                          "n03394916", "n03417042", "n03425413", "n03445777", "n03888257"};
  EXPECT_EQ(train->class_names(), wnids);
  EXPECT_EQ(val->class_names(), wnids);
  const Image img = train->get(0);
  EXPECT_EQ(img.label, 0);
  EXPECT_EQ(std::min(img.pixels.size(0), img.pixels.size(1)), 224);
  // A full-image crop to 96 px decodes at a reduced scale.
  const CroppedImage c = train->get_cropped(
      0, [](std::int64_t h, std::int64_t w) { return CropBox{0, 0, h, w}; }, 96);
  EXPECT_LT(c.scale_num, c.scale_denom);  // scale < 1
  EXPECT_GE(std::min(c.box.height, c.box.width), 96);
}
