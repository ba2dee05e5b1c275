#include "ijepa/host/io/checkpoint.hpp"

#include <unistd.h>

#include <fstream>
#include <set>
#include <stdexcept>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include "ijepa/host/io/files.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

TensorMap module_state(const torch::nn::Module& module, const std::string& prefix) {
  TensorMap out;
  for (const auto& p : module.named_parameters(true)) out[prefix + p.key()] = p.value().detach().to(at::kCPU).clone();
  for (const auto& b : module.named_buffers(true)) out[prefix + b.key()] = b.value().detach().to(at::kCPU).clone();
  return out;
}

void load_module_state(torch::nn::Module& module, const TensorMap& tensors, const std::string& prefix,
                       const std::string& origin) {
  at::NoGradGuard no_grad;
  std::set<std::string> used;
  auto copy = [&](const std::string& name, at::Tensor dst) {
    const std::string key = prefix + name;
    auto it = tensors.find(key);
    if (it == tensors.end()) throw std::runtime_error(origin + ": missing tensor '" + key + "'");
    if (!it->second.sizes().equals(dst.sizes())) {
      throw std::runtime_error(origin + ": tensor '" + key + "' has shape " + c10::str(it->second.sizes()) +
                               ", the model expects " + c10::str(dst.sizes()));
    }
    dst.copy_(it->second);
    used.insert(key);
  };
  for (auto& p : module.named_parameters(true)) copy(p.key(), p.value());
  for (auto& b : module.named_buffers(true)) copy(b.key(), b.value());
  for (const auto& [k, v] : tensors) {
    if (k.rfind(prefix, 0) == 0 && used.count(k) == 0) {
      throw std::runtime_error(origin + ": unexpected tensor '" + k + "' (another architecture?)");
    }
  }
}

namespace {

void point_link(const fs::path& dir, const std::string& link, const std::string& target) {
  const fs::path tmp = dir / ("." + link + ".tmp." + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (ec) throw std::runtime_error((dir / link).string() + ": cannot create link: " + ec.message());
  fs::rename(tmp, dir / link, ec);
  if (ec) throw std::runtime_error((dir / link).string() + ": cannot update link: " + ec.message());
}

}  // namespace

std::uint64_t bytes_under(const TensorMap& tensors, const std::string& prefix) {
  std::uint64_t n = 0;
  for (const auto& [name, t] : tensors) {
    if (name.rfind(prefix, 0) == 0) n += static_cast<std::uint64_t>(t.numel()) * t.element_size();
  }
  return n;
}

std::string tensor_checksums(const TensorMap& tensors) {
  nlohmann::json sums = nlohmann::json::object();
  for (const auto& [name, t] : tensors) {
    const at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const auto bytes = static_cast<std::size_t>(c.numel()) * c.element_size();
    sums[name] = ::crc32_z(0L, static_cast<const Bytef*>(c.data_ptr()), bytes);
  }
  return sums.dump();
}

void verify_checksums(const TensorMap& tensors, const StringMap& metadata, const std::string& origin) {
  const auto it = metadata.find("crc32");
  if (it == metadata.end()) return;
  nlohmann::json want;
  try {
    want = nlohmann::json::parse(it->second);
  } catch (const std::exception&) {
    throw std::runtime_error(origin + ": metadata 'crc32' is not JSON (the file was altered)");
  }
  // Each tensor with a recorded sum must still have it; a tensor without one, or one that is missing, is left to the
  // structural checks of whoever loads the file (they name a missing or unexpected key better).
  const nlohmann::json have = nlohmann::json::parse(tensor_checksums(tensors));
  for (const auto& [name, t] : tensors) {
    if (want.is_object() && want.contains(name) && want[name] != have[name]) {
      throw std::runtime_error(origin + ": tensor '" + name + "' fails its checksum (the file was altered or damaged)");
    }
  }
}

void require_finite(const TensorMap& weights, const std::string& origin) {
  for (const auto& [name, t] : weights) {
    if (at::isFloatingType(t.scalar_type()) && !at::isfinite(t).all().item<bool>()) {
      throw std::runtime_error(origin + ": tensor '" + name + "' has NaN or infinite values");
    }
  }
}

std::size_t clean_checkpoint_dir(const fs::path& dir) {
  std::string latest;
  {
    std::ifstream in(dir / "LATEST");
    if (in) std::getline(in, latest);
  }
  std::size_t removed = remove_temp_files(dir);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string f = entry.path().filename().string();
    const bool stale = !latest.empty() && f.rfind("step_", 0) == 0 && f.rfind(latest + ".", 0) != 0;
    std::error_code rm;
    if (stale && fs::remove(entry.path(), rm)) ++removed;
  }
  return removed;
}

void write_checkpoint(const fs::path& dir, const Checkpoint& ckpt, bool keep_previous) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  StringMap meta = ckpt.metadata;
  meta["step"] = std::to_string(ckpt.step);
  meta["epoch"] = std::to_string(ckpt.epoch);
  meta["name"] = ckpt.name;
  StringMap tmeta = meta;
  tmeta["crc32"] = tensor_checksums(ckpt.trainer);
  meta["crc32"] = tensor_checksums(ckpt.weights);
  write_safetensors((dir / (ckpt.name + ".trainer.safetensors")).string(), ckpt.trainer, tmeta);
  write_safetensors((dir / (ckpt.name + ".safetensors")).string(), ckpt.weights, meta);
  write_file_atomic(dir / "LATEST", ckpt.name + "\n");
  point_link(dir, "latest.safetensors", ckpt.name + ".safetensors");
  point_link(dir, "latest.trainer.safetensors", ckpt.name + ".trainer.safetensors");
  if (keep_previous) return;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string f = entry.path().filename().string();
    if (f.rfind("step_", 0) == 0 && f.rfind(ckpt.name, 0) != 0) fs::remove(entry.path(), ec);
  }
}

std::optional<Checkpoint> read_latest(const fs::path& dir) {
  std::ifstream in(dir / "LATEST");
  if (!in) return std::nullopt;
  std::string name;
  std::getline(in, name);
  if (name.empty()) return std::nullopt;
  Checkpoint c;
  c.name = name;
  c.weights = read_safetensors((dir / (name + ".safetensors")).string(), &c.metadata);
  StringMap tmeta;
  c.trainer = read_safetensors((dir / (name + ".trainer.safetensors")).string(), &tmeta);
  verify_checksums(c.weights, c.metadata, (dir / (name + ".safetensors")).string());
  verify_checksums(c.trainer, tmeta, (dir / (name + ".trainer.safetensors")).string());
  require_finite(c.weights, (dir / (name + ".safetensors")).string());
  if (tmeta["step"] != c.metadata["step"]) {
    throw std::runtime_error((dir / name).string() + ": weights and trainer state are from different steps");
  }
  c.step = std::stoll(c.metadata.at("step"));
  c.epoch = std::stoll(c.metadata.at("epoch"));
  return c;
}

}  // namespace ijepa::host
