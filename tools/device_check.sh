#!/usr/bin/env bash
# The GPU device check (docs/benchmarks.md, "GPU"). Two halves:
#
#   tools/device_check.sh prepare   on this (CPU) machine: downloads the Debian packages and Python wheels the build
#                                   and the Python baseline need into device-carry/ (ignored by git, < 64 MiB)
#   tools/device_check.sh run       on the GPU machine (`run` with carry ["device-carry"]): unpacks them with dpkg -x
#                                   into a scratch prefix (never into /), builds only what the benchmark needs against
#                                   that machine's torch with all cores, runs the CUDA-labelled tests and the two
#                                   benchmarks with the Python baseline, prints a final table. Aims at < 8 minutes.
#
# Environment: DEVICE_CHECK_SCRATCH (default /tmp/ijepa-device), DEVICE_CHECK_STEPS (timed steps, default 20),
# DEVICE_CHECK_SKIP_BUILD=1 (reuse a build in the scratch folder), DEVICE_CHECK_CONFIGURE_ONLY=1 (stop after cmake),
# DEVICE_CHECK_AB_BEFORE (seconds, default 330: if the two benchmarks are done by then, ViT-B/16 runs again, C++ only,
# with --attention explicit and with --sync-each-step, to measure what SDPA and the sync-free step each bring; 0: off),
# DEVICE_CHECK_PROFILE_BEFORE (seconds, default 390: if all that is done by then, a short profiled ViT-B/16
# run follows and tools/trace_ops.py prints its operators against the baseline's; 0 turns it off).
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

run() {
  local steps="${DEVICE_CHECK_STEPS:-20}" t0=$SECONDS
  setup_device_env
  local targets=(ijepa_cli test_host_cuda)
  for p in encoder_vit predictor_vit masker_multiblock loss_representation eval_probes; do targets+=("$p"); done
  build_targets "${targets[@]}"
  say "built at $((SECONDS - t0)) s; CUDA tests"
  local keep="${OUT:-$scratch}"
  (cd "$build" && "$build/bin/test_host_cuda" 2>&1 | tail -15) | tee "$keep/cuda_tests.txt" >&2 || true
  local results="$keep/results.txt"
  : >"$results"
  for spec in "vit_base 16" "vit_huge 14"; do
    set -- $spec
    say "bench train --model $1 --patch $2 --image-size 224 --batch 128 --device cuda --baseline python"
    "$build/bin/ijepa" bench train --model "$1" --patch "$2" --image-size 224 --batch 128 --steps "$steps" \
      --device cuda --baseline python 2>&1 | tee -a "$results" | tail -25 >&2 || say "bench $1 failed"
  done
  if (( SECONDS - t0 < ${DEVICE_CHECK_AB_BEFORE:-330} )); then
    for ab in "--attention explicit" "--sync-each-step"; do
      say "A/B: bench train --model vit_base --patch 16 $ab (C++ only, at $((SECONDS - t0)) s)"
      # shellcheck disable=SC2086
      "$build/bin/ijepa" bench train --model vit_base --patch 16 --image-size 224 --batch 128 --steps 10 \
        --device cuda $ab 2>&1 | tee -a "$results" | tail -25 >&2 || say "A/B run $ab failed"
    done
  fi
  if (( SECONDS - t0 < ${DEVICE_CHECK_PROFILE_BEFORE:-390} )); then
    say "profile: bench train --model vit_base --patch 16 --steps 3 --profile (at $((SECONDS - t0)) s)"
    "$build/bin/ijepa" bench train --model vit_base --patch 16 --image-size 224 --batch 128 --steps 3 --warmup 2 \
      --device cuda --baseline python --profile "$scratch/vit_base.json" >"$keep/profile_run.txt" 2>&1 \
      && "$py" "$here/tools/trace_ops.py" "$scratch/vit_base.json" "$scratch/vit_base.python.json" --steps 3 --top 40 \
        | tee "$keep/profile_ops.txt" >&2 || say "profiled run failed (see profile_run.txt)"
  fi
  echo
  echo "== device check ($(date -u +%FT%TZ), $((SECONDS - t0)) s) =="
  grep -E "^\[  (PASSED|FAILED|SKIPPED) \]|tests? ran" "$keep/cuda_tests.txt" || true
  grep -E "images/s|MFU|peak|ratio|model |attention |steps " "$results" || true
}

# Sourced (tools/device_ablations.sh): only the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: tools/device_check.sh prepare|run" >&2; exit 2 ;;
  esac
fi
