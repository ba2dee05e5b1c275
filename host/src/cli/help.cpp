#include "cli/help.hpp"

#include <algorithm>
#include <iomanip>

namespace ijepa::host::cli {

namespace {

const std::vector<OptionHelp> kPluginHelp = {
    {"--plugin-dir DIR", "also load the ijepa_*.so plugins of DIR (repeatable; IJEPA_PLUGIN_PATH too)", ""},
    {"--allow-insecure-plugins", "load plugin files or directories others may write to (docs/hostile-inputs.md)", ""}};

std::vector<OptionHelp> with_plugins(std::vector<OptionHelp> o) {
  o.insert(o.end(), kPluginHelp.begin(), kPluginHelp.end());
  return o;
}

}  // namespace

const std::vector<CommandHelp>& all_help() {
  static const std::vector<CommandHelp> kHelp = {
      {"train", "CONFIG.json [options]",
       "Pretrain one I-JEPA run from an experiment file (or continue it with --resume) into a run directory: "
       "config, metrics.jsonl (with run-health diagnostics), eval.jsonl, checkpoints (docs/training.md).",
       with_plugins({{"--set KEY=VALUE", "override any config key, e.g. train.lr=5e-4 (repeatable; '+' creates a key)", ""},
                     {"--out DIR", "the run directory", "runs/<name>/<YYYYmmdd-HHMMSS>"},
                     {"--resume", "continue the run in --out from its last checkpoint", ""},
                     {"--quiet", "no progress lines", ""},
                     {"--nproc N", "train on N local processes (c10d; docs/distributed.md)", "1"},
                     {"--dist-backend B", "auto, gloo or nccl", "auto (NCCL on CUDA, else Gloo)"},
                     {"--dist-timeout SECONDS", "rendezvous and collective timeout", "1800"},
                     {"--bucket-mb MB", "gradient all-reduce bucket size", "25"}}),
       {"ijepa train experiments/quickstart.json", "ijepa train experiments/cifar10_vit_tiny.json --set train.epochs=5 --out runs/c5",
        "ijepa train experiments/cifar10_vit_tiny.json --out runs/c5 --resume"}},
      {"sweep", "FILE [options]",
       "Run every trial of the experiment's \"sweep\" (one `ijepa train` process each) into a sweep directory; "
       "re-running skips completed trials and resumes interrupted or failed ones (experiments/README.md).",
       with_plugins({{"--out DIR", "the sweep directory", "runs/<name>/sweep"},
                     {"--dry-run", "print the trial table and what a run would do; write nothing", ""},
                     {"--jobs N", "trials run in parallel", "1"},
                     {"--restart-failed", "failed trials start again from step 0 instead of their checkpoint", ""},
                     {"--reuse DIR", "a trial whose config a completed run in DIR (a run, a sweep, or a directory of "
                                     "them) already has is copied from it, not trained (repeatable)", ""},
                     {"--set KEY=VALUE", "override a key of every trial (repeatable)", ""}}),
       {"ijepa sweep experiments/ablations/t6_masking_cpu.json --jobs 2", "ijepa sweep FILE --dry-run",
        "ijepa sweep experiments/ablations/t6_masking_cifar10_recipe2.json --reuse runs/recipe2_seeds"}},
      {"report", "SWEEP_DIR [options]",
       "Regenerate a sweep's summary.md / summary.csv / summary.jsonl from its trials: probe gains over random init, "
       "95 % intervals over seeds and bootstrap intervals over test images, numbers rounded to their uncertainty "
       "(experiments/README.md). The options given are kept in SWEEP_DIR/report.json: later summaries (a re-run of "
       "the sweep, ijepa report alone) use them.",
       {{"--reference GROUP", "add paired differences (by seed) against this group: its label in the grouped table, "
                              "e.g. masker=multiblock, or one of its trials' names", ""},
        {"--best-by METRIC", "add the best group and trial by METRIC (e.g. knn.gain.top1, linear_probe.top1, "
                             "final_loss) and whether the runner-up is told apart", ""},
        {"--order 'A > B'", "judge the claim that group A beats group B on the paired differences of every top-1 "
                            "accuracy: holds, fails or undecided (with the seeds that would decide it), each and after Holm's "
                            "correction over all (repeatable; groups as "
                            "for --reference; a label with a '>' of its own takes ' > ' between the two)", ""},
        {"--defaults", "drop the options kept in report.json: the sweep file's report block alone", ""}},
       {"ijepa report runs/masking/sweep", "ijepa report runs/masking/sweep --reference masker=multiblock --best-by knn.gain.top1",
        "ijepa report runs/masking/sweep --order 'masker=multiblock > masker=block' --order 'masker=block > masker=random'"}},
      {"eval", "RUN_DIR|CHECKPOINT --evaluator TYPE [options]",
       "Frozen-feature probes of a run's encoder beside a random-init encoder of the same architecture; prints a "
       "table and writes JSON (docs/evaluation.md).",
       with_plugins({{"--evaluator TYPE", "linear_probe, knn, low_shot, attentive_probe (repeatable; see ijepa plugins)", ""},
                     {"--set KEY=VALUE", "data.*, train.*, components.*, seed go to the experiment, others to every evaluator", ""},
                     {"--data SOURCE|DIR", "another labelled data set (a source name or an image folder)", "the run's data"},
                     {"--encoder target|context", "which encoder is probed", "target"},
                     {"--config EXP.json", "the experiment of a bare checkpoint without recorded config", ""},
                     {"--out FILE.json", "where the JSON goes", "RUN_DIR/eval/<types>_step<N>.json"},
                     {"--device cpu|cuda", "where features are extracted", "cpu"},
                     {"--threads T", "CPU threads", "all cores"},
                     {"--no-random-init", "skip the random-init baseline", ""}}),
       {"ijepa eval runs/quickstart/20261204-101500 --evaluator linear_probe --evaluator knn"}},
      {"embed", "--checkpoint F --data SOURCE|DIR --out F.safetensors [options]",
       "Extract frozen features (and labels) of a data set for downstream use.",
       with_plugins({{"--checkpoint F|RUN_DIR", "the weights", ""},
                     {"--data SOURCE|DIR", "the images", ""},
                     {"--out F.safetensors", "features, labels and indices (a new file: an existing one is refused)", ""},
                     {"--pooled | --last4 | --tokens", "mean of the last layer, of the last four, or every token", "--pooled"},
                     {"--encoder target|context", "which encoder", "target"},
                     {"--split train|test|val", "which split of the source (val: the held-out split, as test)", "train"},
                     {"--limit N", "a seeded subset of N images", "all"},
                     {"--batch B", "images per forward pass", "256"},
                     {"--transform eval|none", "Resize + CenterCrop, or images already at the size", "eval"},
                     {"--set data.KEY=VALUE", "data.* and components.encoder.* keys", ""},
                     {"--config EXP.json", "for a bare checkpoint", ""},
                     {"--device cpu|cuda", "", "cpu"},
                     {"--seed X", "the subset's seed (the run's: the images ijepa eval's --set test_limit=N takes)",
                      "the run's"},
                     {"--threads T", "CPU threads", "all cores"}}),
       {"ijepa embed --checkpoint runs/r/checkpoints/latest.safetensors --data cifar10_jpeg --out feats.safetensors"}},
      {"export", "RUN_DIR|CHECKPOINT --format timm|hf --out DIR [options]",
       "Write the encoder for timm (timm.create_model('local-dir:DIR', pretrained=True, num_classes=0)) or Hugging "
       "Face transformers (IJepaModel.from_pretrained(DIR)): config.json + model.safetensors (docs/evaluation.md).",
       with_plugins({{"--format timm|hf", "the layout", ""},
                     {"--out DIR", "a new (or empty) directory", ""},
                     {"--encoder target|context", "which encoder", "target"},
                     {"--config EXP.json", "for a bare checkpoint without recorded config", ""},
                     {"--set KEY=VALUE", "components.encoder.* keys of a bare checkpoint", ""}}),
       {"ijepa export runs/c5 --format timm --out exports/c5-timm", "ijepa export runs/c5 --format hf --out exports/c5-hf"}},
      {"masks", "--masker TYPE --image-size N --patch-size P --batch B --steps S --seed X [options]",
       "Sample a masker's masks for batches 0..S-1: statistics, and JSON with --out.",
       with_plugins({{"--masker TYPE", "multiblock, block, random, rasterized, or a plugin's", ""},
                     {"--image-size N", "pixels", ""}, {"--patch-size P", "pixels", ""}, {"--batch B", "", ""},
                     {"--steps S", "", ""}, {"--seed X", "", ""},
                     {"--set KEY=VALUE", "a masker key (repeatable)", ""},
                     {"--out F.json", "every step's masks", ""}}),
       {"ijepa masks --masker multiblock --image-size 224 --patch-size 16 --batch 4 --steps 2 --seed 0"}},
      {"plugins", "[options]", "List the loaded components, the rejected plugin files with the reason, and ignored files.",
       with_plugins({{"--json", "machine-readable", ""},
                     {"--strict", "exit 1 when any plugin file or --plugin-dir was rejected (a CI check that yours "
                                  "loads; without it only the built-ins must)", ""}}),
       {"ijepa plugins --plugin-dir build/my_plugins", "ijepa plugins --plugin-dir build/my_plugins --strict"}},
      {"describe", "KIND/TYPE", "A plugin's default config, every key documented.", kPluginHelp,
       {"ijepa describe encoder/vit", "ijepa describe masker/multiblock"}},
      {"bench train", "--model M --patch P --image-size N --batch B [options]",
       "Time steady-state training steps: images/s, peak memory, MFU; with --baseline python, the same steps in "
       "PyTorch eager on the same inputs and the ratio (docs/benchmarks.md).",
       with_plugins({{"--model M", "vit_tiny ... vit_giant (the encoder plugin's presets)", ""},
                     {"--patch P", "", ""}, {"--image-size N", "", ""}, {"--batch B", "", ""},
                     {"--steps S", "timed steps", "10"}, {"--warmup W", "untimed steps first", "3"},
                     {"--device cpu|cuda", "", "cpu"}, {"--baseline python", "also time bench/train_baseline.py", ""},
                     {"--pred-depth D", "predictor depth", "6 (12 for 24+ blocks)"},
                     {"--pred-dim D", "predictor width", "min(384, D)"}, {"--threads T", "", "all cores"},
                     {"--seed X", "", "0"}, {"--cpu-bf16", "bf16 autocast on the CPU (opt-in)", ""},
                     {"--baseline-fp32", "with --cpu-bf16: the baseline in fp32", ""},
                     {"--profile TRACE.json", "Chrome traces of both sides", ""},
                     {"--attention auto|sdpa|explicit", "the ViT plugins' attention kernel", "auto"},
                     {"--linear auto|aten", "the ViT plugins' linear kernel", "auto"},
                     {"--sdpa fused|torch", "CUDA attention backends (train.sdpa)", "fused"},
                     {"--sync-each-step", "read the loss on the host after every step", ""},
                     {"--python EXE", "the interpreter for --baseline python", "the torch venv's"},
                     {"--keep-inputs", "keep the baseline's inputs (kept anyway when it fails)", ""},
                     {"--json FILE", "also write the figures as one JSON record (tools/device_table.py)", ""}}),
       {"ijepa bench train --model vit_tiny --patch 4 --image-size 32 --batch 64 --baseline python"}},
      {"bench data", "--source S --image-size N --workers W [options]",
       "Loader images/s (decode, crop, normalise, masks), and with --baseline torchvision the same in torchvision.",
       with_plugins({{"--source S", "fashion_mnist, cifar10_jpeg, imagenette, image_folder, synthetic", ""},
                     {"--root PATH", "the data", "the source's default"}, {"--image-size N", "", ""},
                     {"--cache-dir DIR", "read the images from their decoded cache in DIR (data.cache_dir; built "
                                         "first when missing)", ""},
                     {"--workers W", "", ""}, {"--seconds S", "time this long", "10"},
                     {"--batches K", "or this many batches", ""}, {"--batch B", "", "64"},
                     {"--masks", "sample multiblock masks in the loader", ""}, {"--patch P", "with --masks", "16"},
                     {"--warmup K", "untimed batches", "2"}, {"--seed X", "", "0"},
                     {"--baseline torchvision", "also time torchvision's ImageFolder + DataLoader", ""}}),
       {"ijepa bench data --source imagenette --image-size 224 --workers 2 --baseline torchvision"}},
  };
  return kHelp;
}

const CommandHelp* find_help(const std::string& command) {
  for (const auto& h : all_help()) {
    if (h.command == command) return &h;
  }
  return nullptr;
}

bool wants_help(const std::vector<std::string>& argv) {
  return std::any_of(argv.begin(), argv.end(), [](const std::string& a) { return a == "-h" || a == "--help"; });
}

void print_help(std::ostream& os, const CommandHelp& h) {
  os << "usage: ijepa " << h.command << " " << h.synopsis << "\n\n" << h.summary << "\n";
  if (!h.options.empty()) {
    std::size_t w = 0;
    for (const auto& o : h.options) w = std::max(w, o.name.size());
    os << "\noptions:\n";
    for (const auto& o : h.options) {
      os << "  " << std::left << std::setw(static_cast<int>(w) + 2) << o.name << o.text;
      if (!o.fallback.empty()) os << (o.text.empty() ? "" : " ") << "(default: " << o.fallback << ")";
      os << "\n";
    }
    os << "  " << std::left << std::setw(static_cast<int>(w) + 2) << "-h, --help" << "this help\n";
  }
  if (!h.examples.empty()) {
    os << "\nexamples:\n";
    for (const auto& e : h.examples) os << "  " << e << "\n";
  }
}

}  // namespace ijepa::host::cli
