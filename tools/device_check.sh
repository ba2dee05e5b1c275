#!/usr/bin/env bash
# The GPU device check (docs/benchmarks.md, "GPU"). Two halves:
#
#   tools/device_check.sh prepare   on this (CPU) machine: downloads the Debian packages and Python wheels the build
#                                   and the Python baseline need, and copies the CIFAR-10 archive, into device-carry/
#                                   (ignored by git, < 64 MiB)
#   tools/device_check.sh run       on the GPU machine (`run` with carry ["device-carry"]): unpacks them with dpkg -x
#                                   into a scratch prefix (never into /), builds only what the benchmark needs against
#                                   that machine's torch with all cores, runs the CUDA-labelled tests and the two
#                                   benchmarks with the Python baseline, then the whole training loop (`ijepa train`
#                                   on CIFAR-10 with ViT-Tiny/4 and on synthetic 224 px images with ViT-B/16, each
#                                   against the step alone), prints a final table and writes device_table.md (the
#                                   section for docs/benchmarks.md: card, commit, command, date, figures, each target
#                                   met or missed; tools/device_table.py). Aims at < 8 minutes.
#   tools/device_check.sh loop-cpu BIN_DIR KEEP_DIR   the whole-loop stage on the CPU at test size (tests/tools)
#
# Environment: DEVICE_CHECK_SCRATCH (default /tmp/ijepa-device), DEVICE_CHECK_STEPS (timed steps, default 20),
# DEVICE_CHECK_SKIP_BUILD=1 (reuse a build in the scratch folder), DEVICE_CHECK_CONFIGURE_ONLY=1 (stop after cmake),
# DEVICE_CHECK_LOOP_BEFORE (seconds, default 330: if the two benchmarks are done by then, the whole-loop runs follow;
# 0: off), DEVICE_CHECK_AB_BEFORE (default 400: then ViT-B/16 runs again, C++ only, with --attention explicit, with
# --sync-each-step and with --sdpa torch, to measure what SDPA, the sync-free step and the backend choice each bring;
# 0: off), DEVICE_CHECK_PROFILE_BEFORE
# (default 430: then a short profiled ViT-B/16 run, and tools/trace_ops.py prints its operators against the
# baseline's; 0: off), DEVICE_CHECK_SANITIZER_BEFORE / _S (a crash seen before 300 s: one small compute-sanitizer
# run, at most 150 s).
# Logs and results go to $OUT when it is set (the device tool brings them back), else to the scratch folder.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
carry="$here/device-carry"
debs=(nlohmann-json3-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libboost-dev libboost1.74-dev libgtest-dev
      libturbojpeg0-dev libturbojpeg0 libstb-dev libstb0 libgloo-dev zlib1g-dev)
wheels=(safetensors numpy)

say() { printf '\033[1mdevice-check:\033[0m %s\n' "$*" >&2; }
die() { printf 'device-check: error: %s\n' "$*" >&2; exit 1; }

prepare() {
  mkdir -p "$carry/debs" "$carry/wheels"
  (cd "$carry/debs" && apt-get download "${debs[@]}" >/dev/null) || die "apt-get download failed for: ${debs[*]}"
  python3 -m pip download --only-binary=:all: --no-deps --python-version 3.12 --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 -d "$carry/wheels" "${wheels[@]}" >/dev/null 2>&1 \
    || python3 -m pip download --only-binary=:all: --no-deps -d "$carry/wheels" "${wheels[@]}" >/dev/null \
    || die "pip download failed for: ${wheels[*]}"
  # CIFAR-10 (20 MB) for the whole-loop run and tools/device_ablations.sh.
  local archive="" d
  for d in "${IJEPA_DATASETS_DIR:-}" "$here/../shared/datasets" "$here/shared/datasets"; do
    [ -n "$d" ] && [ -f "$d/cifar10-jpeg.tar.gz" ] && { archive="$d/cifar10-jpeg.tar.gz"; break; }
  done
  [ -n "$archive" ] || die "cifar10-jpeg.tar.gz not found (shared/datasets or IJEPA_DATASETS_DIR)"
  mkdir -p "$carry/datasets"
  cp "$archive" "$carry/datasets/"
  # The GPU machine gets the tree without .git: the commit the results belong to travels here, with a hash of the
  # tracked files, so a tree changed after `prepare` is reported as such rather than under the old commit.
  git -C "$here" ls-files -z >"$carry/tracked.z"
  { git -C "$here" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown; tree_hash; } >"$carry/commit.txt"
  du -sh "$carry" >&2
  ls "$carry/debs" "$carry/wheels" >&2
}

# setup_device_env: unpacks device-carry's Debian packages into $prefix and exports what the build and the
# binaries need (shared with tools/device_ablations.sh, which sources this file).
setup_device_env() {
  [ -d "$carry/debs" ] || die "no device-carry/debs: run 'tools/device_check.sh prepare' here and carry device-carry"
  scratch="${DEVICE_CHECK_SCRATCH:-/tmp/ijepa-device}"
  prefix="$scratch/prefix" build="$scratch/build"
  mkdir -p "$prefix" "$build"
  for d in "$carry"/debs/*.deb; do dpkg -x "$d" "$prefix"; done
  py="$(command -v python3)"
  torch_cmake="$("$py" -c 'import torch;print(torch.utils.cmake_prefix_path)')"
  say "torch $("$py" -c 'import torch;print(torch.__version__, torch.version.cuda)'), $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
  # Python modules the baseline needs, if this python lacks them.
  local pyextra="$scratch/py"
  for m in safetensors numpy; do
    if ! "$py" -c "import $m" 2>/dev/null; then
      "$py" -m pip install --no-index --no-deps --target "$pyextra" "$carry"/wheels/"$m"-*.whl >/dev/null 2>&1 \
        || say "could not install $m from device-carry/wheels"
    fi
  done
  export PYTHONPATH="$pyextra${PYTHONPATH:+:$PYTHONPATH}"
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_PATH="$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:$prefix/usr/share/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$prefix"
  export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"  # H100 / H200
}

# tree_hash: one hash over the contents of the files `prepare` listed as tracked (device-carry/tracked.z).
tree_hash() {
  (cd "$here" && xargs -0 -a "$carry/tracked.z" sha256sum 2>/dev/null | sha256sum | cut -d' ' -f1)
}

# carried_commit: the commit of the tree: git's where it is a checkout, else what `prepare` recorded, marked stale
# when the files differ from what they were then.
carried_commit() {
  if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$here" describe --always --dirty --abbrev=12
    return
  fi
  local c h
  c="$(sed -n 1p "$carry/commit.txt" 2>/dev/null)"
  h="$(sed -n 2p "$carry/commit.txt" 2>/dev/null)"
  if [ -z "$c" ]; then
    echo unknown
  elif [ -n "$h" ] && [ -f "$carry/tracked.z" ] && [ "$h" = "$(tree_hash)" ]; then
    echo "$c"
  else
    echo "$c (stale: the tree changed after 'tools/device_check.sh prepare')"
  fi
}

# build_targets T...: configures $build (Release, no GUI) against this machine's torch and builds the targets with
# all cores, unless DEVICE_CHECK_SKIP_BUILD=1.
build_targets() {
  [ "${DEVICE_CHECK_SKIP_BUILD:-0}" = 1 ] && return 0
  local t0=$SECONDS
  say "configure"
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIJEPA_BUILD_GUI=OFF -DIJEPA_TCMALLOC=OFF \
    -DCMAKE_PREFIX_PATH="$prefix/usr;$torch_cmake" -DIJEPA_PYTHON="$py" \
    -DCMAKE_CXX_FLAGS="-isystem $prefix/usr/include" -DIJEPA_GLOO_INCLUDE="$prefix/usr/include" >"$scratch/configure.log" 2>&1 || { tail -30 "$scratch/configure.log"; die "configure failed"; }
  say "build (configure took $((SECONDS - t0)) s)"
  [ "${DEVICE_CHECK_CONFIGURE_ONLY:-0}" = 1 ] && { say "configured in $build"; exit 0; }
  ninja -C "$build" -j "$(nproc)" "$@" >"$scratch/build.log" 2>&1 || { grep -E 'error' "$scratch/build.log" | head -20; die "build failed"; }
}

# whole_loop BIN DEVICE KEEP: `ijepa train` with the real loader, logging and checkpoints (experiments/device/*.json)
# against `ijepa bench train`'s step alone on the same model and batch; one line per run in KEEP/whole_loop.txt.
# DEVICE cpu: the same flow at test size (a few steps of small batches; tests/tools).
whole_loop() {
  local bin keep device="$2" failed=0
  bin="$(cd "$1" && pwd)" keep="$(cd "$3" && pwd)"
  local runs="$scratch/loop" py_="${py:-python3}"
  # A failed run's record in whole_loop.jsonl (JSON-quoted by Python: the message is a log line).
  loop_error() {
    "$py_" -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "error": sys.argv[2]}))' "$1" "$2" \
      >>"$keep/whole_loop.jsonl" || true
  }
  rm -rf "$runs" && mkdir -p "$runs"
  : >"$keep/whole_loop.txt"
  : >"$keep/whole_loop.jsonl"
  local spec name model patch size batch skip=2 bench_steps=10  # log records left out as warm-up; bench steps
  if [ "$device" = cpu ]; then skip=1 bench_steps=2; fi
  for spec in "whole_loop_cifar10_tiny vit_tiny 4 32 256" "whole_loop_vit_b16_synthetic vit_base 16 224 128"; do
    read -r name model patch size batch <<<"$spec"
    local -a sets=(--set train.device="$device")
    if [ "$device" = cpu ]; then
      batch=4
      sets+=(--set train.batch_size=$batch --set train.max_steps=4 --set train.log_every=1 --set data.workers=1
             --set data.limit=64 --set data.synthetic_count=64 --set train.bf16=false)
    fi
    say "whole loop: $name on $device (at $((SECONDS - ${t0:-0})) s)"
    if ! (cd "$runs" && "$bin/ijepa" train "$here/experiments/device/$name.json" --out "$runs/$name" "${sets[@]}") \
        >"$keep/$name.log" 2>&1; then
      say "whole loop $name failed: $(tail -1 "$keep/$name.log")"
      echo "$name: failed ($(tail -1 "$keep/$name.log"))" >>"$keep/whole_loop.txt"
      loop_error "$name" "ijepa train: $(tail -1 "$keep/$name.log")"
      failed=1
      continue
    fi
    local loop_ips step_ips
    loop_ips="$("$py_" "$here/tools/loop_rate.py" "$runs/$name/metrics.jsonl" --batch "$batch" --skip "$skip")" \
      || { echo "$name: no rate ($loop_ips)" >>"$keep/whole_loop.txt"; loop_error "$name" "no rate: $loop_ips"
           failed=1; continue; }
    step_ips="$("$bin/ijepa" bench train --model "$model" --patch "$patch" --image-size "$size" --batch "$batch" \
      --device "$device" --steps "$bench_steps" --warmup 2 2>&1 \
      | awk '$1 == "C++" && $3 == "images/s" {print $2}' || true)"
    echo "$name: whole loop $loop_ips images/s ($model/$patch, ${size} px, batch $batch, $device; ijepa train with" \
      "loader, logging, checkpoints); step alone ${step_ips:-?} images/s (bench train); loop/step" \
      "$(awk -v a="$loop_ips" -v b="${step_ips:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "?" }')" \
      | tee -a "$keep/whole_loop.txt" >&2
    printf '{"name": "%s", "model": "%s", "patch": %s, "image_size": %s, "batch": %s, "loop_images_per_s": %s, "step_images_per_s": %s}\n' \
      "$name" "$model" "$patch" "$size" "$batch" "$loop_ips" "${step_ips:-0}" >>"$keep/whole_loop.jsonl"
  done
  return "$failed"
}

# ship KEEP OUT: what comes back from the device (at most 8 files: the device tool's limit). The text files that are
# read first go as they are; the JSON records and the logs as two archives. Called after every stage, so a run cut
# off by its time limit still brings back what it had.
ship() {
  local keep="$1" out="$2" f
  [ "$keep" = "$out" ] && return 0
  mkdir -p "$out"
  for f in device_table.md cuda_tests.txt whole_loop.txt profile_ops.txt; do
    [ -f "$keep/$f" ] && cp "$keep/$f" "$out/"
  done
  (cd "$keep" && tar -czf "$out/records.tar.gz" --ignore-failed-read $(ls bench_*.json cuda_tests.json \
    whole_loop.jsonl 2>/dev/null) 2>/dev/null) || true
  (cd "$keep" && tar -czf "$out/logs.tar.gz" --ignore-failed-read $(ls ./*.log profile_run.txt sanitizer*.txt \
    2>/dev/null) 2>/dev/null) || true
}

run() {
  local steps="${DEVICE_CHECK_STEPS:-20}" t0=$SECONDS
  setup_device_env
  local targets=(ijepa_cli test_host_cuda)
  for p in encoder_vit predictor_vit masker_multiblock loss_representation eval_probes; do targets+=("$p"); done
  build_targets "${targets[@]}"
  say "built at $((SECONDS - t0)) s; CUDA tests"
  # Everything is written to $keep; ship() copies at most 8 files to $OUT. results.txt streams to $OUT directly.
  local keep="$scratch/keep" out
  out="$(mkdir -p "${OUT:-$scratch/out}" && cd "${OUT:-$scratch/out}" && pwd)"
  rm -rf "$keep" && mkdir -p "$keep"
  (cd "$build" && "$build/bin/test_host_cuda" --gtest_output="json:$keep/cuda_tests.json" 2>&1 | tail -15) \
    | tee "$keep/cuda_tests.txt" >&2 || true
  ship "$keep" "$out"
  local results="$out/results.txt"
  : >"$results"
  for spec in "vit_base 16" "vit_huge 14"; do
    set -- $spec
    say "bench train --model $1 --patch $2 --image-size 224 --batch 128 --device cuda --baseline python"
    "$build/bin/ijepa" bench train --model "$1" --patch "$2" --image-size 224 --batch 128 --steps "$steps" \
      --device cuda --baseline python --json "$keep/bench_$1.json" 2>&1 | tee -a "$results" | tail -25 >&2 \
      || say "bench $1 failed"
    ship "$keep" "$out"
  done
  # A crash (the SIGSEGV seen with --baseline python): ijepa's crash report (signal, address, stage, backtrace) is in
  # results.txt; a failed baseline leaves its output in /tmp/ijepa_bench_train_<pid>/baseline.log. Both come back,
  # and, where the toolkit has it, one small rerun under compute-sanitizer (memcheck, child processes included).
  if grep -qE "fatal signal|killed by|failed \(exit|Segmentation fault" "$results"; then
    for d in /tmp/ijepa_bench_train_*; do
      [ -f "$d/baseline.log" ] && cp "$d/baseline.log" "$keep/$(basename "$d").baseline.log"
    done
    local cs
    cs="$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1 || true)"
    if [ -n "$cs" ] && (( SECONDS - t0 < ${DEVICE_CHECK_SANITIZER_BEFORE:-300} )); then
      say "crash seen: compute-sanitizer memcheck on a small baseline run (at $((SECONDS - t0)) s)"
      timeout "${DEVICE_CHECK_SANITIZER_S:-150}" "$cs" --tool memcheck --target-processes all \
        --log-file "$keep/sanitizer.txt" "$build/bin/ijepa" bench train --model vit_base --patch 16 --image-size 224 \
        --batch 8 --steps 2 --warmup 1 --device cuda --baseline python >"$keep/sanitizer_run.txt" 2>&1 \
        || say "sanitizer run: exit $? (see sanitizer.txt, sanitizer_run.txt in logs.tar.gz)"
    fi
    ship "$keep" "$out"
  fi
  if (( SECONDS - t0 < ${DEVICE_CHECK_LOOP_BEFORE:-330} )); then
    export IJEPA_DATASETS_DIR="$carry/datasets"
    whole_loop "$build/bin" cuda "$keep" || say "a whole-loop run failed (whole_loop.txt)"
    ship "$keep" "$out"
  fi
  if (( SECONDS - t0 < ${DEVICE_CHECK_AB_BEFORE:-400} )); then
    # The same steps as the default's run above, so "default / this" compares like with like.
    for ab in "explicit --attention explicit" "sync --sync-each-step" "sdpa_torch --sdpa torch"; do
      set -- $ab
      local tag="$1"
      shift
      say "A/B: bench train --model vit_base --patch 16 $* (C++ only, at $((SECONDS - t0)) s)"
      "$build/bin/ijepa" bench train --model vit_base --patch 16 --image-size 224 --batch 128 --steps "$steps" \
        --device cuda "$@" --json "$keep/bench_ab_$tag.json" 2>&1 | tee -a "$results" | tail -25 >&2 \
        || say "A/B run $* failed"
    done
    ship "$keep" "$out"
  fi
  if (( SECONDS - t0 < ${DEVICE_CHECK_PROFILE_BEFORE:-430} )); then
    say "profile: bench train --model vit_base --patch 16 --steps 3 --profile (at $((SECONDS - t0)) s)"
    "$build/bin/ijepa" bench train --model vit_base --patch 16 --image-size 224 --batch 128 --steps 3 --warmup 2 \
      --device cuda --baseline python --profile "$scratch/vit_base.json" >"$keep/profile_run.txt" 2>&1 \
      && "$py" "$here/tools/trace_ops.py" "$scratch/vit_base.json" "$scratch/vit_base.python.json" --steps 3 --top 40 \
        | tee "$keep/profile_ops.txt" >&2 || say "profiled run failed (see profile_run.txt in logs.tar.gz)"
  fi
  echo
  echo "== device check ($(date -u +%FT%TZ), $((SECONDS - t0)) s) =="
  grep -E "^\[  (PASSED|FAILED|SKIPPED) \]|tests? ran" "$keep/cuda_tests.txt" || true
  grep -E "images/s|MFU|peak|ratio|model |attention |steps |fatal signal|while: |--baseline python: " "$results" || true
  cat "$keep/whole_loop.txt" 2>/dev/null || true
  # The section for docs/benchmarks.md: card, commit, command, date, every figure and each target met or missed.
  echo
  "$py" "$here/tools/device_table.py" "$keep" --results "$results" --commit "$(carried_commit)" \
    --seconds "$((SECONDS - t0))" --command "tools/device_check.sh run" --out "$keep/device_table.md" \
    || say "device_table.py failed"
  ship "$keep" "$out"
}

# Sourced (tools/device_ablations.sh): only the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    loop-cpu)  # the whole-loop stage on the CPU at test size: loop-cpu BIN_DIR KEEP_DIR (tests/tools)
      scratch="${DEVICE_CHECK_SCRATCH:-$(mktemp -d /tmp/ijepa-loop.XXXXXX)}"
      whole_loop "${2:?loop-cpu BIN_DIR KEEP_DIR}" cpu "${3:?loop-cpu BIN_DIR KEEP_DIR}" ;;
    *) echo "usage: tools/device_check.sh prepare|run|loop-cpu BIN_DIR KEEP_DIR" >&2; exit 2 ;;
  esac
fi
