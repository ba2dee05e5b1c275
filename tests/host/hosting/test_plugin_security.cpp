// PluginHost refuses plugin files and directories that others may write to (loading a plugin runs its code)
// unless allow_insecure is set, and reports unreadable plugin directories and files.
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "host/hosting/fixture_plugins.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"

namespace {

namespace fs = std::filesystem;
using ijepa::host::PluginHost;
using ijepa::test::copy_fixture;
using ijepa::test::fixture_file;
using ijepa::test::only_dirs;
using ijepa::test::rejection_for;
using ijepa::test::TempDir;

constexpr uid_t kNobody = 65534;

// A private copy of the good fixture in <tmp>/plugins (dir 0755, file 0644).
struct GoodCopy {
  TempDir tmp;
  fs::path dir = tmp / "plugins";
  fs::path file;
  GoodCopy() {
    ::umask(022);
    file = copy_fixture(fixture_file("good"), dir);
    ::chmod(dir.c_str(), 0755);
  }
};

void expect_refused_then_allowed(const fs::path& dir, const fs::path& rejected_path, const std::string& why) {
  {
    PluginHost h;
    h.load_all(only_dirs({dir}));
    EXPECT_TRUE(h.loaded().empty());
    ASSERT_EQ(h.rejected().size(), 1u);
    const auto* r = rejection_for(h, rejected_path);
    ASSERT_NE(r, nullptr) << "rejection names " << rejected_path << ", got " << h.rejected()[0].path;
    EXPECT_NE(r->reason.find(why), std::string::npos) << r->reason;
    EXPECT_NE(r->reason.find("pass --allow-insecure-plugins to override"), std::string::npos) << r->reason;
    EXPECT_EQ(r->reason.find('\n'), std::string::npos);
  }
  {
    PluginHost h;
    h.load_all(only_dirs({dir}, /*allow_insecure=*/true));
    EXPECT_TRUE(h.rejected().empty()) << h.rejected()[0].reason;
    ASSERT_EQ(h.loaded().size(), 1u);
    EXPECT_EQ(h.loaded()[0].plugin_id, "org.ijepa.test.good");
  }
}

TEST(PluginSecurity, APrivateCopyLoads) {
  GoodCopy g;
  PluginHost h;
  h.load_all(only_dirs({g.dir}));
  EXPECT_TRUE(h.rejected().empty()) << h.rejected()[0].reason;
  EXPECT_EQ(h.loaded().size(), 1u);
}

TEST(PluginSecurity, FileWritableByOthersIsRefusedUnlessAllowed) {
  GoodCopy g;
  ASSERT_EQ(::chmod(g.file.c_str(), 0646), 0);
  expect_refused_then_allowed(g.dir, g.file, "refusing to load a plugin file writable by other users");
}

TEST(PluginSecurity, FileWritableByItsGroupIsRefusedUnlessAllowed) {
  GoodCopy g;
  ASSERT_EQ(::chmod(g.file.c_str(), 0664), 0);
  expect_refused_then_allowed(g.dir, g.file, "refusing to load a plugin file writable by its group");
}

TEST(PluginSecurity, DirectoryWritableByOthersIsRefusedUnlessAllowed) {
  GoodCopy g;
  ASSERT_EQ(::chmod(g.dir.c_str(), 0757), 0);
  expect_refused_then_allowed(g.dir, g.dir, "refusing a plugin directory writable by other users");
}

TEST(PluginSecurity, DirectoryWritableByItsGroupIsRefusedUnlessAllowed) {
  GoodCopy g;
  ASSERT_EQ(::chmod(g.dir.c_str(), 0775), 0);
  expect_refused_then_allowed(g.dir, g.dir, "refusing a plugin directory writable by its group");
}

TEST(PluginSecurity, StickyWorldWritableDirectoryIsStillRefused) {
  GoodCopy g;
  ASSERT_EQ(::chmod(g.dir.c_str(), 01777), 0);
  expect_refused_then_allowed(g.dir, g.dir, "writable by other users");
}

TEST(PluginSecurity, FileOwnedByAnotherUserIsRefusedUnlessAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user (chown)";
  GoodCopy g;
  ASSERT_EQ(::chown(g.file.c_str(), kNobody, kNobody), 0);
  expect_refused_then_allowed(g.dir, g.file, "owned by another user (uid 65534)");
}

TEST(PluginSecurity, DirectoryOwnedByAnotherUserIsRefusedUnlessAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another user (chown)";
  GoodCopy g;
  ASSERT_EQ(::chown(g.dir.c_str(), kNobody, kNobody), 0);
  expect_refused_then_allowed(g.dir, g.dir, "refusing a plugin directory owned by another user (uid 65534)");
}

// ---- unreadable directory / file ---------------------------------------------------------------------------
// Root reads any directory whatever its mode, so as root the check runs in a forked child that first drops to
// user nobody; the temp directory lives in /tmp with mode 0755 so nobody can reach it.

std::string reason_for(const fs::path& dir, const fs::path& rejected_path) {
  PluginHost h;
  h.load_all(only_dirs({dir}));
  if (!h.loaded().empty()) return "loaded";
  const auto* r = rejection_for(h, rejected_path);
  return r != nullptr ? r->reason : "no rejection";
}

[[noreturn]] void check_as_nobody(const fs::path& dir, const fs::path& rejected_path) {
  if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) {
    std::fprintf(stderr, "cannot drop privileges to uid %u\n", unsigned(kNobody));
    std::_Exit(2);
  }
  const std::string r = reason_for(dir, rejected_path);
  std::fprintf(stderr, "reason=[%s]\n", r.c_str());
  std::fflush(stderr);
  std::_Exit(0);
}

TEST(PluginSecurity, UnreadableDirectoryIsRefused) {
  TempDir tmp("/tmp");
  const fs::path dir = tmp / "locked";
  copy_fixture(fixture_file("good"), dir);
  ASSERT_EQ(::chmod(dir.c_str(), 0), 0);
  if (::geteuid() != 0) {
    EXPECT_EQ(reason_for(dir, dir), "plugin directory is not readable");
  } else {
    ::testing::FLAGS_gtest_death_test_style = "fast";  // fork: the child sees this test's temp directory
    EXPECT_EXIT(check_as_nobody(dir, dir), ::testing::ExitedWithCode(0),
                "reason=\\[plugin directory is not readable\\]");
  }
  ::chmod(dir.c_str(), 0700);
}

TEST(PluginSecurity, UnreadablePluginFileIsRefused) {
  TempDir tmp("/tmp");
  const fs::path dir = tmp / "plugins";
  const fs::path file = copy_fixture(fixture_file("good"), dir);
  ASSERT_EQ(::chmod(file.c_str(), 0), 0);
  if (::geteuid() != 0) {
    EXPECT_EQ(reason_for(dir, file).rfind("plugin file is not readable", 0), 0u);
  } else {
    ::testing::FLAGS_gtest_death_test_style = "fast";
    EXPECT_EXIT(check_as_nobody(dir, file), ::testing::ExitedWithCode(0),
                "reason=\\[plugin file is not readable: Permission denied\\]");
  }
}

TEST(PluginSecurity, UnreadableDirectoryDoesNotStopTheOtherDirectories) {
  if (::geteuid() == 0) GTEST_SKIP() << "covered as user nobody by UnreadableDirectoryIsRefused (root reads any directory)";
  TempDir tmp;
  const fs::path dir = tmp / "locked";
  fs::create_directories(dir);
  ASSERT_EQ(::chmod(dir.c_str(), 0), 0);
  PluginHost h;
  h.load_all(only_dirs({dir, ijepa::test::fixture_dir("good")}));
  EXPECT_EQ(h.loaded().size(), 1u);
  ASSERT_NE(rejection_for(h, dir), nullptr);
  ::chmod(dir.c_str(), 0700);
}

}  // namespace

// ---- what is checked before anything is opened (hostile-input issue, items 5 and 7) --------------------------

namespace {

void expect_refused_without_loading(const fs::path& dir, const fs::path& rejected_path, const std::string& why) {
  PluginHost h;
  h.load_all(only_dirs({dir}));
  EXPECT_TRUE(h.loaded().empty());
  const auto* r = rejection_for(h, rejected_path);
  ASSERT_NE(r, nullptr) << "no rejection for " << rejected_path;
  EXPECT_NE(r->reason.find(why), std::string::npos) << r->reason;
}

}  // namespace

TEST(PluginSecurity, ASymlinkIsCheckedWhereItLeads) {
  TempDir tmp;
  const fs::path safe = tmp / "safe", outside = tmp / "outside";
  const fs::path target = copy_fixture(fixture_file("good"), outside);
  fs::rename(target, outside / "ijepa_out.so");
  fs::create_directories(safe);
  ASSERT_EQ(::chmod(safe.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(outside.c_str(), 0777), 0);  // anyone may replace the real file
  fs::create_symlink(outside / "ijepa_out.so", safe / "ijepa_link.so");
  expect_refused_without_loading(safe, safe / "ijepa_link.so",
                                 "whose directory " + fs::canonical(outside).string() + " is writable by other users");
  ASSERT_EQ(::chmod(outside.c_str(), 0755), 0);
  PluginHost h;
  h.load_all(only_dirs({safe}));
  EXPECT_EQ(h.loaded().size(), 1u) << (h.rejected().empty() ? "" : h.rejected()[0].reason);
}

TEST(PluginSecurity, APrivateDirectoryInsideAWorldWritableParentIsRefused) {
  TempDir tmp;
  const fs::path parent = tmp / "open", dir = parent / "plugins";
  const fs::path file = copy_fixture(fixture_file("good"), dir);
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(parent.c_str(), 0777), 0);  // anyone may rename `plugins` away and put another in its place
  expect_refused_without_loading(dir, file,
                                 "whose directory " + fs::canonical(parent).string() + " is writable by other users");
  ASSERT_EQ(::chmod(parent.c_str(), 0755), 0);
}

TEST(PluginSecurity, AFifoNamedLikeAPluginIsNeverOpened) {
  TempDir tmp;
  const fs::path dir = tmp / "plugins";
  fs::create_directories(dir);
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(::mkfifo((dir / "ijepa_fifo.so").c_str(), 0644), 0);
  copy_fixture(fixture_file("good"), dir);
  PluginHost h;
  h.load_all(only_dirs({dir}));  // opening the FIFO would block here forever
  EXPECT_EQ(h.loaded().size(), 1u);
  const auto* r = rejection_for(h, dir / "ijepa_fifo.so");
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r->reason.find("not a regular file"), std::string::npos) << r->reason;
}

TEST(PluginSecurity, ALibraryWithCMakesDefaultNameGetsAHint) {
  TempDir tmp;
  const fs::path dir = tmp / "plugins";
  const fs::path good = copy_fixture(fixture_file("good"), dir);
  fs::copy_file(good, dir / "libmyloss.so");
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  PluginHost h;
  h.load_all(only_dirs({dir}));
  EXPECT_EQ(h.loaded().size(), 1u);
  EXPECT_TRUE(h.rejected().empty());
  ASSERT_EQ(h.hints().size(), 1u);
  EXPECT_EQ(fs::path(h.hints()[0].path).filename(), "libmyloss.so");
  EXPECT_NE(h.hints()[0].reason.find("named ijepa_<name>.so"), std::string::npos) << h.hints()[0].reason;
}
