#pragma once
// The element-wise distances a loss plugin averages (SDK 1.3, inline): "l2" (mean squared error) and "smooth_l1"
// (Huber with transition point beta, mean), with the config key's parsing and naming.
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

namespace ijepa::sdk {

enum class Distance { l2, smooth_l1 };

// parse_distance(value, key) -> the distance; std::invalid_argument naming the key for another value.
inline Distance parse_distance(const std::string& value, const char* key) {
  if (value == "l2") return Distance::l2;
  if (value == "smooth_l1") return Distance::smooth_l1;
  throw std::invalid_argument(std::string("key '") + key + "': expected \"l2\" or \"smooth_l1\", got \"" + value + "\"");
}

inline const char* distance_name(Distance d) { return d == Distance::smooth_l1 ? "smooth_l1" : "l2"; }

// distance_loss(a, b, d, beta) -> the mean of the element-wise distance between two tensors of one shape.
inline at::Tensor distance_loss(const at::Tensor& a, const at::Tensor& b, Distance d, double beta) {
  return d == Distance::smooth_l1 ? at::smooth_l1_loss(a, b, at::Reduction::Mean, beta)
                                  : at::mse_loss(a, b, at::Reduction::Mean);
}

}  // namespace ijepa::sdk
