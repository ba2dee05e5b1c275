// Bad input in an image folder: skipped, counted and logged; a folder without a usable image is a clear error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>

#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/data/loader.hpp"
#include "ijepa/host/util/errors.hpp"
#include "fixtures.hpp"

using namespace ijepa;
using namespace ijepa::host;
namespace fs = std::filesystem;

namespace {

// root/cat: 7 good images and 6 bad ones (+ 2 non-image entries), root/dog: 6 good, root/empty: nothing.
struct BadFolder {
  fs::path root;
  std::vector<std::string> bad = {"corrupt.jpg", "truncated.jpg", "zero.jpg", "fake.jpg", "tiny.png", "gone.jpg"};
  explicit BadFolder(const std::string& tag) : root(test::data_temp_dir(tag)) {
    for (int i = 0; i < 6; ++i) {
      test::write_bytes(root / "cat" / ("good" + std::to_string(i) + ".jpg"), test::encode_jpeg(test::pattern_rgb(40, 48, i)));
      test::write_bytes(root / "dog" / ("good" + std::to_string(i) + ".jpg"), test::encode_jpeg(test::pattern_rgb(36, 30, 9 + i)));
    }
    test::write_bytes(root / "cat" / "good.png", test::encode_png(test::pattern_rgb(20, 20)));
    const std::string jpeg = test::encode_jpeg(test::pattern_rgb(64, 64));
    test::write_bytes(root / "cat" / "corrupt.jpg", jpeg.substr(0, 4) + std::string(500, '\x33'));
    test::write_bytes(root / "cat" / "truncated.jpg", jpeg.substr(0, jpeg.size() / 2));
    test::write_bytes(root / "cat" / "zero.jpg", "");
    test::write_bytes(root / "cat" / "fake.jpg", "this is a text file with an image extension\n");
    test::write_bytes(root / "cat" / "tiny.png", test::encode_png(test::pattern_rgb(4, 6)));
    test::write_bytes(root / "cat" / "gone.jpg", jpeg);  // deleted after the folder is opened: unreadable
    test::write_bytes(root / "cat" / "notes.txt", "not an image\n");
    test::write_bytes(root / "cat" / "._good0.jpg", "AppleDouble metadata");
    fs::create_directories(root / "empty");
  }
  ~BadFolder() { fs::remove_all(root); }
  std::shared_ptr<Dataset> open(const std::string& file_list = "") const {
    ImageFolderOptions o;
    o.min_image_size = 8;
    o.file_list = file_list;
    return open_image_folder(root.string(), o);
  }
};

}  // namespace

TEST(BadInput, SkippedCountedAndReplacedDeterministically) {
  BadFolder f("bad");
  auto ds = f.open();
  fs::remove(f.root / "cat" / "gone.jpg");
  ASSERT_EQ(ds->size(), 19);
  // The empty folder is skipped and counted, and is not a class (a train/ with it beside a val/ without it had
  // "3 classes but the held-out split 2").
  EXPECT_EQ(ds->num_classes(), 2);
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"cat", "dog"}));
  const OpenSkips skips = ds->open_skips();
  EXPECT_EQ(skips.non_image, 2);  // notes.txt, ._good0.jpg
  EXPECT_EQ(skips.empty_classes, 1);
  EXPECT_EQ(skips.missing_listed, 0);
  EXPECT_FALSE(skips.examples.empty());

  // Every bad file fails get() with a DataError naming it.
  std::int64_t failing = 0;
  for (std::int64_t i = 0; i < ds->size(); ++i) {
    try {
      ds->get(i);
    } catch (const DataError& e) {
      ++failing;
      const std::string what = e.what();
      bool named = false;
      for (const auto& b : f.bad) named = named || what.find("cat/" + b) != std::string::npos;
      EXPECT_TRUE(named) << what;
    }
  }
  EXPECT_EQ(failing, 6);

  // One batch per epoch holding the whole folder: every bad slot is filled by the next usable image.
  DataLoaderOptions lo;
  lo.batch_size = 19;
  lo.image_size = 16;
  lo.workers = 1;
  lo.seed = 5;
  Loader loader(ds, nullptr, lo, 0);
  for (int epoch = 0; epoch < 2; ++epoch) {
    const Batch b = loader.next();
    // Each batch says how many of its slots were replaced: what a run counts in status.json's images_skipped (the
    // loader's own total also counts batches it made ahead that no step used: a one-epoch run said 5 for 4).
    EXPECT_EQ(b.replaced, 6) << "epoch " << epoch;
    EXPECT_EQ(b.images.size(0), 19);
    EXPECT_TRUE(at::isfinite(b.images).all().item<bool>());
    EXPECT_TRUE((b.labels >= 0).logical_and(b.labels <= 1).all().item<bool>()) << b.labels;
  }
  EXPECT_EQ(loader.skipped_in_epoch(0), 6);
  EXPECT_EQ(loader.skipped_in_epoch(1), 6);
  EXPECT_GE(loader.skip_stats().skipped, 12);  // the worker may already be making later epochs' batches
  EXPECT_EQ(loader.skip_stats().distinct, 6);

  // Replacements do not depend on the worker count.
  lo.batch_size = 4;
  std::vector<Batch> first;
  for (std::int64_t w : {1, 3}) {
    lo.workers = w;
    Loader l(ds, nullptr, lo, 0);
    std::int64_t replaced_in_epoch0 = 0;
    for (int s = 0; s < 9; ++s) {  // two epochs of 4 steps, and one more
      Batch b = l.next();
      if (s < 4) replaced_in_epoch0 += b.replaced;
      if (w == 1) {
        first.push_back(b);
      } else {
        EXPECT_TRUE(at::equal(b.images, first[static_cast<std::size_t>(s)].images)) << "step " << s;
        EXPECT_TRUE(at::equal(b.labels, first[static_cast<std::size_t>(s)].labels)) << "step " << s;
      }
    }
    EXPECT_GT(l.skip_stats().skipped, 0);
    EXPECT_EQ(replaced_in_epoch0, l.skipped_in_epoch(0)) << "the batches' counts add up to the epoch's";
  }
}

TEST(BadInput, FileListWithMissingNames) {
  BadFolder f("list");
  const fs::path list = f.root / "subset.txt";
  test::write_bytes(list,
                    "# a comment\n"
                    "cat/good0.jpg\n"
                    "good1.jpg\r\n"  // bare name: every class folder's good1.jpg
                    "  /data/imagenet/train/dog/good3.jpg  \n"
                    "\n"
                    "missing.jpg\n"
                    "dog/nothere.jpg\n"
                    "cat/good0.jpg\n");
  auto ds = f.open(list.string());
  EXPECT_EQ(ds->size(), 4);  // cat/good0, cat/good1, dog/good1, dog/good3
  EXPECT_EQ(ds->open_skips().missing_listed, 2);
  EXPECT_EQ(ds->num_classes(), 2);  // labels keep every class with images; the empty folder is no class
  std::int64_t dogs = 0;
  for (std::int64_t i = 0; i < ds->size(); ++i) dogs += ds->get(i).label == 1;
  EXPECT_EQ(dogs, 2);
  // A class the list selects nothing from keeps its label (the list selects within the classes): dog stays 1.
  test::write_bytes(f.root / "dogs.txt", "dog/good3.jpg\n");
  auto only_dogs = f.open((f.root / "dogs.txt").string());
  ASSERT_EQ(only_dogs->size(), 1);
  EXPECT_EQ(only_dogs->num_classes(), 2);
  EXPECT_EQ(only_dogs->get(0).label, 1);
  test::write_bytes(f.root / "none.txt", "# nothing\n\n");
  EXPECT_THROW(f.open((f.root / "none.txt").string()), DataError);
  EXPECT_THROW(f.open((f.root / "absent.txt").string()), DataError);
}

TEST(BadInput, NoUsableImageIsAClearError) {
  const fs::path root = test::data_temp_dir("allbad");
  test::write_bytes(root / "x" / "a.jpg", "");
  test::write_bytes(root / "x" / "b.jpg", "text");
  test::write_bytes(root / "y" / "c.png", "\x89PNG\r\n\x1a\n garbage");
  auto ds = open_image_folder(root.string(), "");
  ASSERT_EQ(ds->size(), 3);
  DataLoaderOptions lo;
  lo.batch_size = 2;
  lo.image_size = 16;
  lo.workers = 2;
  Loader loader(ds, nullptr, lo, 0);
  try {
    loader.next();
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no usable image"), std::string::npos) << e.what();
  }
  EXPECT_THROW(loader.make_batch(0), DataError);

  // Only non-image files, only empty class folders, no class folders, no directory: errors at open.
  const fs::path r2 = test::data_temp_dir("noimg");
  test::write_bytes(r2 / "x" / "readme.txt", "hi");
  fs::create_directories(r2 / "y");
  try {
    open_image_folder(r2.string(), "");
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no usable"), std::string::npos) << e.what();
  }
  const fs::path r3 = test::data_temp_dir("flat");
  test::write_bytes(r3 / "a.jpg", test::encode_jpeg(test::pattern_rgb(16, 16)));
  EXPECT_THROW(open_image_folder(r3.string(), ""), DataError);
  EXPECT_THROW(open_image_folder((r3 / "nope").string(), ""), DataError);
  EXPECT_THROW(open_image_folder("", ""), DataError);
  for (const auto& d : {root, r2, r3}) fs::remove_all(d);
}

TEST(BadInput, OpenDatasetChecksKeys) {
  // Values are checked before any file is opened (validate_data_config, also run before training starts).
  nlohmann::json cfg = data_defaults();
  cfg["source"] = "nope";
  EXPECT_THROW(open_dataset(cfg, "train"), ConfigError);
  EXPECT_THROW(validate_data_config(cfg), ConfigError);
  cfg["source"] = "synthetic";
  EXPECT_NO_THROW(validate_data_config(cfg));
  cfg["min_image_size"] = -1;
  EXPECT_THROW(open_dataset(cfg, "train"), ConfigError);
  cfg["min_image_size"] = 0;
  cfg["limit"] = -1;
  EXPECT_THROW(validate_data_config(cfg), ConfigError);
  cfg["limit"] = 0;
  cfg["max_pixels"] = 0;
  EXPECT_THROW(validate_data_config(cfg), ConfigError);
  cfg["max_pixels"] = 100;
  cfg["synthetic_classes"] = -1;
  EXPECT_THROW(validate_data_config(cfg), ConfigError);
  cfg["source"] = "cifar10_jpeg";  // synthetic_* keys do not apply to the archive sources
  EXPECT_NO_THROW(validate_data_config(cfg));
  // Every default key is documented.
  const nlohmann::json doc = data_doc(), defaults = data_defaults();
  for (auto it = defaults.begin(); it != defaults.end(); ++it) EXPECT_TRUE(doc.contains(it.key())) << it.key();
  EXPECT_EQ(doc.size(), defaults.size());
}

// Hostile-input issue, item 1: a tiny file whose header claims a huge image is refused from its header, before any
// pixel buffer exists; a huge file is refused before it is read; the limit is data.max_pixels.
TEST(BadInput, AHugeImageClaimIsRefusedFromItsHeader) {
  // A real 16x16 JPEG whose SOF0 frame header is rewritten to claim 60000x60000.
  std::string jpeg = ijepa::test::encode_jpeg(ijepa::test::pattern_rgb(16, 16), 90);
  std::size_t sof = std::string::npos;
  for (std::size_t i = 2; i + 9 < jpeg.size(); ++i) {
    const auto m = static_cast<unsigned char>(jpeg[i + 1]);
    if (static_cast<unsigned char>(jpeg[i]) == 0xFF && (m == 0xC0 || m == 0xC1 || m == 0xC2)) {
      sof = i;
      break;
    }
  }
  ASSERT_NE(sof, std::string::npos);
  for (std::size_t k : {sof + 5, sof + 7}) {  // height, then width, big-endian
    jpeg[k] = static_cast<char>(60000 >> 8);
    jpeg[k + 1] = static_cast<char>(60000 & 255);
  }
  try {
    (void)decode_image(jpeg, "bomb.jpg");
    FAIL() << "a 3600-megapixel claim was decoded";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "bomb.jpg: image is 60000x60000 (3600.0 megapixels), above the limit of 100.0"),
              std::string::npos)
        << e.what();
  }
  // The limit is data.max_pixels: lowered below a real image's size, that image is refused too.
  const std::string ok = ijepa::test::encode_png(ijepa::test::pattern_rgb(64, 64));
  EXPECT_NO_THROW((void)decode_image(ok, "ok.png"));
  set_max_image_pixels(1000);
  try {
    (void)decode_image(ok, "ok.png");
    FAIL() << "a 64x64 image passed a limit of 1000 pixels";
  } catch (const DataError& e) {  // a limit under a megapixel in pixels (it read "0 megapixels, above ... 0")
    EXPECT_NE(std::string(e.what()).find("ok.png: image is 64x64 (4096 pixels), above the limit of 1000 pixels"),
              std::string::npos)
        << e.what();
  }
  set_max_image_pixels(0);  // back to the default
  EXPECT_EQ(max_image_pixels(), kDefaultMaxImagePixels);
}

TEST(BadInput, AHugeFileIsRefusedBeforeItIsRead) {
  const fs::path root = ijepa::test::data_temp_dir("huge_file");
  fs::create_directories(root / "a");
  fs::create_directories(root / "b");
  for (const char* c : {"a", "b"}) {
    ijepa::test::write_bytes(root / c / "0.jpg", ijepa::test::encode_jpeg(ijepa::test::pattern_rgb(32, 32), 90));
  }
  {
    std::ofstream(root / "a" / "big.jpg").put('x');
  }
  fs::resize_file(root / "a" / "big.jpg", 3ull << 30);  // sparse: 3 GB that cost nothing on disk
  nlohmann::json cfg = data_defaults();
  cfg["source"] = "image_folder";
  cfg["root"] = root.string();
  auto ds = open_dataset(cfg, "train");
  ASSERT_EQ(ds->size(), 3);
  int refused = 0;
  for (std::int64_t i = 0; i < ds->size(); ++i) {
    try {
      (void)ds->get(i);
    } catch (const DataError& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find("image file too large (3072 MiB"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(refused, 1);
  fs::remove_all(root);
}

// Item 6: a synthetic_count that cannot be meant is a one-line error naming the key, not std::bad_alloc.
TEST(BadInput, AnImpossibleSyntheticCountNamesTheKey) {
  nlohmann::json cfg = data_defaults();
  cfg["source"] = "synthetic";
  cfg["synthetic_count"] = 1000000000000LL;
  try {
    (void)open_dataset(cfg, "train");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("data.synthetic_count: at most", 0), 0u) << e.what();
  }
}
