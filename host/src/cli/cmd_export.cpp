// `ijepa export RUN_DIR|CHECKPOINT --format timm|hf --out DIR [--encoder target|context]`.
#include <iostream>

#include "cli/commands.hpp"
#include "ijepa/host/eval/export.hpp"

namespace ijepa::host::cli {

int cmd_export(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--format", "--out", "--encoder", "--config", "--set"});
  Args args(argv, valued, kPluginFlags);
  const std::string usage =
      "usage: ijepa export RUN_DIR|CHECKPOINT --format timm|hf --out DIR [--encoder target|context] [--config EXP.json]";
  if (args.positionals().size() != 1) throw UsageError(usage);
  const std::string fmt = args.require("--format");
  if (fmt != "timm" && fmt != "hf") throw UsageError("--format: expected timm or hf, got '" + fmt + "'");
  const ExportFormat format = fmt == "timm" ? ExportFormat::timm : ExportFormat::hf;
  const std::string out = args.require("--out");
  const std::string which = args.get("--encoder").value_or("target");
  if (which != "target" && which != "context") throw UsageError("--encoder: expected target or context");
  PluginHost host;
  load_plugins(host, args);
  const LoadedEncoder le = load_encoder(args.positionals()[0], which, host.registry(), args.all("--set"),
                                        args.get("--config").value_or(""));
  const ExportResult r = export_encoder(le, format, out);
  const VitShape& s = r.shape;
  std::cout << "== ijepa export: " << (format == ExportFormat::timm ? "timm" : "Hugging Face transformers") << " ==\n"
            << "  weights        " << le.origin << " (" << which << " encoder"
            << (le.step >= 0 ? ", step " + std::to_string(le.step) : std::string()) << ")\n"
            << "  model          ViT D=" << s.embed_dim << " depth=" << s.depth << " heads=" << s.num_heads
            << " mlp=" << s.mlp_hidden << " patch=" << s.patch_size << " image=" << s.img_size << "\n"
            << "  out            " << r.dir.string() << "  (config.json, model.safetensors)\n"
            << "  load with      " << r.loader << "\n";
  return 0;
}

}  // namespace ijepa::host::cli
