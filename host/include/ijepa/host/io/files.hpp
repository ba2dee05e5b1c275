#pragma once
// Writing files so that a crash leaves the old or the new content, never a mix.
#include <cstddef>
#include <filesystem>
#include <string>

namespace ijepa::host {

// read_file_text(path) -> the whole file, bytes as they are ("" when it cannot be read).
std::string read_file_text(const std::filesystem::path& path);

// Writes text to path atomically: temp file in the same directory, fsync, rename, fsync of the directory.
void write_file_atomic(const std::filesystem::path& path, const std::string& text);

// write_file_new(path, text) -> false, writing nothing, when path already names anything (a file, a folder, a
// link); otherwise writes text there completely (temp file, fsync, then a hard link in one step) and returns true.
// Two processes claiming the same name: exactly one gets it.
bool write_file_new(const std::filesystem::path& path, const std::string& text);

// remove_temp_files(dir) -> how many of the hidden temporary files (".<name>.tmp.<pid>") that an interrupted
// write_file_atomic (or link update) left in dir were removed. For a directory only this process writes.
std::size_t remove_temp_files(const std::filesystem::path& dir);

}  // namespace ijepa::host
