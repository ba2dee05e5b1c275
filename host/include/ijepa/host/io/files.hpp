#pragma once
// Writing files so that a crash leaves the old or the new content, never a mix.
#include <filesystem>
#include <string>

namespace ijepa::host {

// Writes text to path atomically: temp file in the same directory, fsync, rename, fsync of the directory.
void write_file_atomic(const std::filesystem::path& path, const std::string& text);

}  // namespace ijepa::host
