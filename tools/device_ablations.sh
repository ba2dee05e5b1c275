#!/usr/bin/env bash
# The paper's Tables 6 and 8 decided on one GPU in one call (docs/ablations.md, "One GPU"). Three modes:
#
#   tools/device_ablations.sh prepare   on this (CPU) machine: tools/device_check.sh prepare (Debian packages,
#                                       wheels and the CIFAR-10 archive, 20 MB, into device-carry/, < 64 MiB)
#   tools/device_ablations.sh run       on the GPU machine (`run` with carry ["device-carry"]): builds ijepa and the
#                                       plugins the trials need, then runs the Table 6 sweep (4 maskers x 3 seeds) and
#                                       the Table 8 sweep (6 target scales x 2 seeds), 30 epochs of CIFAR-10 per trial,
#                                       many trials side by side on the one card (`ijepa sweep --jobs N`: each trial
#                                       gets 1/N of the cores and at most 0.95/N of the GPU memory), then `ijepa
#                                       report` with intervals and paired differences; the summaries go to $OUT
#   tools/device_ablations.sh cpu       the same flow on the CPU at CI size (a few steps per trial, small probes,
#                                       one seed fewer): the test of this script (tests/tools, labels "slow" and
#                                       "needs_shared_datasets")
#
# Environment: ABL_EPOCHS (30), ABL_JOBS (trials at once; 12 on a GPU, 2 on the CPU), ABL_T6_SEEDS ("0 1 2"),
# ABL_T8_SEEDS ("0 1"), ABL_DEADLINE (seconds from the start, default 570: the sweeps get SIGINT then, checkpoint,
# and the reports cover the trials that finished), ABL_SETS (more --set arguments for every trial),
# ABL_BIN (cpu mode: the build's bin/ directory, default build/bin), DEVICE_CHECK_SCRATCH / DEVICE_CHECK_SKIP_BUILD
# as in tools/device_check.sh. Results, 8 files (the device tool brings back no more): $OUT (or the scratch folder):
# t6/ and t8/ with report.txt (the summary with paired differences against the paper's choice and "Orderings": each
# of the paper's orderings holds / fails / undecided on each probe, from the sweep files' "report" blocks),
# summary.csv and summary_grouped.csv; extras.tar.gz (both tables' summary.md, summary.jsonl and sweep log);
# timing.txt (how the wall time split).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools/device_check.sh
source "$here/tools/device_check.sh"

abl_say() { printf '\033[1mdevice-ablations:\033[0m %s\n' "$*" >&2; }

# sweep_file NAME SOURCE SEEDS...: a copy of experiments/ablations/SOURCE with the given seeds, in $work.
sweep_file() {
  local name="$1" src="$2"
  shift 2
  local seeds
  seeds="$(printf '%s, ' "$@")"
  printf '{"schema_version": 1, "base": ["%s"], "name": "%s", "sweep": {"seeds": [%s]}}\n' \
    "$here/experiments/ablations/$src" "$name" "${seeds%, }" >"$work/$name.json"
  echo "$work/$name.json"
}

# run_ablations MODE: MODE is gpu or cpu.
run_ablations() {
  local mode="$1" t0=$SECONDS
  local epochs="${ABL_EPOCHS:-30}" deadline="${ABL_DEADLINE:-570}"
  local -a t6_seeds t8_seeds sets
  read -r -a t6_seeds <<<"${ABL_T6_SEEDS:-0 1 2}"
  read -r -a t8_seeds <<<"${ABL_T8_SEEDS:-0 1}"
  read -r -a sets <<<"${ABL_SETS:-}"
  local bin jobs
  if [ "$mode" = gpu ]; then
    setup_device_env
    build_targets ijepa_cli encoder_vit predictor_vit masker_multiblock masker_ablations loss_representation eval_probes
    bin="$build/bin"
    jobs="${ABL_JOBS:-12}"
    export IJEPA_DATASETS_DIR="$carry/datasets"
    [ -f "$IJEPA_DATASETS_DIR/cifar10-jpeg.tar.gz" ] || die "no device-carry/datasets/cifar10-jpeg.tar.gz: run 'tools/device_ablations.sh prepare' here"
  else
    scratch="${DEVICE_CHECK_SCRATCH:-$(mktemp -d /tmp/ijepa-ablations.XXXXXX)}"
    bin="${ABL_BIN:-$here/build/bin}"
    jobs="${ABL_JOBS:-2}"
    [ -n "${ABL_T6_SEEDS:-}" ] || t6_seeds=(0 1)
    [ -n "${ABL_T8_SEEDS:-}" ] || t8_seeds=(0)
    # CI size: 3 steps of 32 images per trial, probes on 256 / 128 images, fp32 on the CPU.
    sets+=(--set train.device=cpu --set train.max_steps=3 --set train.batch_size=32 --set data.limit=512
           --set data.workers=1 --set train.log_every=1 --set components.evaluators.0.train_limit=256
           --set components.evaluators.0.test_limit=128 --set components.evaluators.1.train_limit=256
           --set components.evaluators.1.test_limit=128)
  fi
  [ -x "$bin/ijepa" ] || die "no ijepa binary in $bin (build first)"
  local keep="${OUT:-$scratch}" work="$scratch/ablations"
  rm -rf "$work"
  mkdir -p "$work" "$keep"
  local built=$((SECONDS - t0))
  local length="$epochs epochs"
  [ "$mode" = cpu ] && length="3 steps"
  abl_say "$mode: ${#t6_seeds[@]} seed(s) for Table 6, ${#t8_seeds[@]} for Table 8, $length per trial, --jobs $jobs (built at $built s)"
  local timing="$keep/timing.txt"
  {
    echo "device-ablations $mode, $(date -u +%FT%TZ), commit $(carried_commit), $length per trial, --jobs $jobs"
    echo "machine: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "$(nproc) CPU cores, no GPU")"
    echo "build: $built s"
  } >"$timing"
  local status=0 table src f t
  for table in t6 t8; do
    if [ "$table" = t6 ]; then
      src=t6_masking_cifar10_gpu.json
      f="$(sweep_file t6_masking_device "$src" "${t6_seeds[@]}")"
    else
      src=t8_target_scale_cifar10_gpu.json
      f="$(sweep_file t8_target_scale_device "$src" "${t8_seeds[@]}")"
    fi
    local left=$((deadline - (SECONDS - t0)))
    if ((left < 30)); then
      abl_say "$table: skipped, $left s left before the deadline"
      echo "$table: skipped ($left s left)" >>"$timing"
      status=1
      continue
    fi
    t=$SECONDS
    abl_say "$table: ijepa sweep $(basename "$f") --jobs $jobs (at most $left s)"
    local rc=0
    # SIGINT at the deadline: the trials checkpoint and stop; what finished is reported.
    timeout -s INT -k 60 "$left" "$bin/ijepa" sweep "$f" --out "$work/$table" --jobs "$jobs" \
      --set "train.epochs=$epochs" --set "data.cache_dir=$scratch/cache" "${sets[@]}" \
      >"$work/$table.log" 2>&1 || rc=$?
    tail -n 4 "$work/$table.log" >&2
    echo "$table sweep: $((SECONDS - t)) s (exit $rc)" >>"$timing"
    ((rc == 0)) || status=1
    t=$SECONDS
    mkdir -p "$keep/$table"
    # The sweep files' "report" blocks name the paper's choice (paired differences against it) and the paper's
    # orderings (each judged holds / fails / undecided on each probe): `ijepa report` needs no options.
    # What comes back is at most 8 files (the device tool's limit): timing.txt, per table report.txt (the whole
    # summary.md and the verdicts) and the two CSVs that go into docs/ablations/, and extras.tar.gz (summary.md,
    # summary.jsonl and the sweep's log of both tables).
    if "$bin/ijepa" report "$work/$table" >"$keep/$table/report.txt" 2>&1; then
      cp "$work/$table"/summary.csv "$work/$table"/summary_grouped.csv "$keep/$table/"
    else
      abl_say "$table: ijepa report failed: $(tail -n 1 "$keep/$table/report.txt")"
      status=1
    fi
    mkdir -p "$work/$table" && cp "$work/$table.log" "$work/$table/sweep.log"
    (cd "$work" && tar -czf "$keep/extras.tar.gz" --ignore-failed-read $(ls t6/summary.md t6/summary.jsonl \
      t6/sweep.log t8/summary.md t8/summary.jsonl t8/sweep.log 2>/dev/null) 2>/dev/null) || true
    echo "$table report: $((SECONDS - t)) s" >>"$timing"
  done
  echo "total: $((SECONDS - t0)) s" >>"$timing"
  echo
  echo "== device ablations ($mode, $((SECONDS - t0)) s) =="
  cat "$timing"
  for table in t6 t8; do
    [ -f "$keep/$table/report.txt" ] && { echo; echo "-- $table --"; cat "$keep/$table/report.txt"; }
  done
  return "$status"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    prepare) prepare ;;
    run) run_ablations gpu ;;
    cpu) run_ablations cpu ;;
    *) echo "usage: tools/device_ablations.sh prepare|run|cpu" >&2; exit 2 ;;
  esac
fi
