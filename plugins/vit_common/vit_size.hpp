#pragma once
// Whether a ViT of the configured size can be built at all on this machine: a depth or width typed with a few digits
// too many would otherwise allocate until the kernel's OOM killer ends the process without a word.
#include <cstdint>
#include <string>

namespace ijepa::plugins::vit {

// vit_parameters(dim, depth, mlp_ratio, tokens, extra) -> the parameter count of `depth` pre-norm blocks of width
// `dim` (qkv, projection, the MLP of int(dim * mlp_ratio), two layer norms), a [tokens, dim] position table and
// `extra` more (the embeddings' own): in double, so no size overflows.
double vit_parameters(double dim, double depth, double mlp_ratio, double tokens, double extra);

// too_large(what, params, keys) -> "" when `params` fp32 weights fit this machine's physical memory, otherwise the
// one-line reason naming `keys` (e.g. "key 'depth' or 'embed_dim'"), the count, its size and the memory.
std::string too_large(const std::string& what, double params, const std::string& keys);

}  // namespace ijepa::plugins::vit
