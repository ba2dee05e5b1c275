#pragma once
// A split decoded once into a file of raw pixels (uint8) that every later open memory-maps: the trials of a sweep,
// the ranks of a run and later runs on the same data share one decoded copy in the page cache instead of decoding
// JPEGs again each epoch (data.cache_dir).
//
// File `<dir>/decoded-<sha256(describe)[:16]>.u8`:
//   "IJEPAU8\0" | uint64 header bytes | header JSON {format "ijepa-decoded", version 1, n, h, w, c, source,
//   num_classes, class_names} padded to 64 bytes | int64 labels[n] | uint8 readable[n] padded to 64 | uint8 pixels
//   [n, h, w, c].
// Built under an flock on `<file>.lock` (a second process waits, then maps what the first wrote), written to a
// temporary file and renamed into place, so a killed build leaves no half file. Every image must have one size
// (CIFAR-10, Fashion-MNIST); an image the source cannot read is recorded as such and fails get() as it would there.
#include <filesystem>
#include <memory>

#include "ijepa/host/data/dataset.hpp"

namespace ijepa::host {

// open_decoded_cache(source, dir) -> `source` served from its decoded file in dir (built first when missing).
// DataError naming the file when it cannot be built or read, or naming the two sizes when images differ in size.
std::shared_ptr<Dataset> open_decoded_cache(const std::shared_ptr<Dataset>& source, const std::filesystem::path& dir);

// The file open_decoded_cache uses for this source.
std::filesystem::path decoded_cache_file(const Dataset& source, const std::filesystem::path& dir);

}  // namespace ijepa::host
