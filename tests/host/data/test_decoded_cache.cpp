// data.cache_dir: a split decoded once into a memory-mapped file serves the same pixels and labels as its source,
// is built once and reused, keeps an unreadable image unreadable, refuses mixed sizes, and is used by open_dataset.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "host/data/fixtures.hpp"
#include "ijepa/host/data/decoded_cache.hpp"

namespace fs = std::filesystem;
using namespace ijepa::host;
using namespace ijepa::test;

namespace {

// ROOT/<class>/<i>.png, 32 px patterns (lossless, so the source's pixels are known exactly).
fs::path png_folder(const std::string& tag, int per_class) {
  const fs::path root = data_temp_dir(tag);
  int seed = 0;
  for (const char* cls : {"a", "b"}) {
    fs::create_directories(root / cls);
    for (int i = 0; i < per_class; ++i) write_bytes(root / cls / (std::to_string(i) + ".png"), encode_png(pattern_rgb(32, 32, seed++)));
  }
  return root;
}

}  // namespace

TEST(DecodedCache, ServesTheSourcesPixelsAndLabelsAndIsBuiltOnce) {
  const fs::path root = png_folder("cache_same", 5);
  write_bytes(root / "b" / "9.png", "not a png");  // unreadable: stays unreadable
  const auto source = open_image_folder(root.string(), ImageFolderOptions{});
  const fs::path dir = root / "cache";
  const auto cached = open_decoded_cache(source, dir);
  ASSERT_EQ(cached->size(), source->size());
  EXPECT_EQ(cached->num_classes(), 2);
  EXPECT_EQ(cached->class_names(), source->class_names());
  EXPECT_NE(cached->describe().find("decoded cache"), std::string::npos) << cached->describe();
  for (std::int64_t i = 0; i < source->size(); ++i) {
    Image want;
    try {
      want = source->get(i);
    } catch (const DataError&) {
      EXPECT_THROW(cached->get(i), DataError) << i;
      continue;
    }
    const Image got = cached->get(i);
    EXPECT_EQ(got.label, want.label) << i;
    EXPECT_TRUE(at::equal(got.pixels, want.pixels)) << i;
  }
  const fs::path file = decoded_cache_file(*source, dir);
  ASSERT_TRUE(fs::exists(file));
  const auto mtime = fs::last_write_time(file);
  const auto again = open_decoded_cache(source, dir);  // reused, not rebuilt
  EXPECT_EQ(fs::last_write_time(file), mtime);
  EXPECT_TRUE(at::equal(again->get(3).pixels, source->get(3).pixels));
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string f = e.path().filename().string();
    EXPECT_TRUE(f == file.filename().string() || f == file.filename().string() + ".lock") << "left over: " << f;
  }
  fs::remove_all(root);
}

TEST(DecodedCache, ImagesOfTwoSizesAreRefusedNamingBoth) {
  const fs::path root = png_folder("cache_sizes", 3);
  write_bytes(root / "a" / "odd.png", encode_png(pattern_rgb(40, 30, 7)));
  const auto source = open_image_folder(root.string(), ImageFolderOptions{});
  try {
    open_decoded_cache(source, root / "cache");
    FAIL() << "no error";
  } catch (const DataError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("30x40x3"), std::string::npos) << w;
    EXPECT_NE(w.find("32x32x3"), std::string::npos) << w;
    EXPECT_NE(w.find("data.cache_dir"), std::string::npos) << w;
  }
  EXPECT_FALSE(fs::exists(decoded_cache_file(*source, root / "cache"))) << "no half-built file";
  fs::remove_all(root);
}

TEST(DecodedCache, OpenDatasetUsesItAndAForeignFileIsACleanError) {
  const fs::path root = png_folder("cache_open", 2);
  nlohmann::json cfg = data_defaults();
  cfg["source"] = "image_folder";
  cfg["root"] = root.string();
  cfg["cache_dir"] = (root / "cache").string();
  const auto ds = open_dataset(cfg, "train");
  EXPECT_NE(ds->describe().find("decoded cache"), std::string::npos);
  const fs::path file = decoded_cache_file(*open_image_folder(root.string(), ImageFolderOptions{}), root / "cache");
  write_bytes(file, "garbage that is not a cache");
  try {
    open_dataset(cfg, "train");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  fs::remove_all(root);
}
