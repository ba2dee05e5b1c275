#pragma once
// Checkpoints: weights (official key names under encoder./predictor./target_encoder.) and trainer state,
// both safetensors, written atomically; LATEST names the newest step.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <torch/nn/module.h>

#include "ijepa/host/io/safetensors.hpp"

namespace ijepa::host {

// module_state(module, prefix) -> {prefix + name: tensor} for every parameter and buffer (CPU copies).
TensorMap module_state(const torch::nn::Module& module, const std::string& prefix);
// load_module_state(module, tensors, prefix, origin): copies every parameter/buffer from tensors[prefix + name];
// throws naming the first missing or mis-shaped key (and unexpected extra keys under prefix).
void load_module_state(torch::nn::Module& module, const TensorMap& tensors, const std::string& prefix,
                       const std::string& origin);

struct Checkpoint {
  std::string name;  // "step_00000120"
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  TensorMap weights;
  TensorMap trainer;
  StringMap metadata;
};

// write_checkpoint(dir, ckpt, keep_previous): writes <name>.trainer.safetensors then <name>.safetensors, then
// LATEST (atomic), then points latest.safetensors / latest.trainer.safetensors at them; removes older step_*
// files unless keep_previous.
void write_checkpoint(const std::filesystem::path& dir, const Checkpoint& ckpt, bool keep_previous = false);
// read_latest(dir) -> the checkpoint LATEST names (nullopt when there is none). Throws on a corrupt file, on a tensor
// that fails its checksum and on non-finite weights.
std::optional<Checkpoint> read_latest(const std::filesystem::path& dir);

// Checksums: write_checkpoint stores a CRC-32 of every tensor's bytes in the metadata key "crc32" (a JSON object,
// name -> value); verify_checksums(tensors, metadata, origin) throws naming the first tensor whose bytes changed.
// Files without the key (written before it existed, or by other tools) and tensors without a recorded sum pass.
std::string tensor_checksums(const TensorMap& tensors);
// bytes_under(tensors, prefix) -> the bytes of the tensors whose name starts with prefix ("target_encoder.").
std::uint64_t bytes_under(const TensorMap& tensors, const std::string& prefix);
void verify_checksums(const TensorMap& tensors, const StringMap& metadata, const std::string& origin);
// require_finite(weights, origin): throws naming the first floating-point tensor with a NaN or an infinity (weights
// a run can never have meant: the trainer stops at a non-finite loss before saving).
void require_finite(const TensorMap& weights, const std::string& origin);

// clean_checkpoint_dir(dir): removes what a killed writer leaves behind — hidden temporary files (".*.tmp.*") and
// step_* files of another step than LATEST's (a checkpoint half-written, or an older one not yet removed). Returns
// the number of files removed.
std::size_t clean_checkpoint_dir(const std::filesystem::path& dir);

}  // namespace ijepa::host
