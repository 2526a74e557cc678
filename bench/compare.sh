#!/usr/bin/env bash
# Side by side with PyTorch: `stylegan bench train|generate --json` against
# Tests/reference/bench_torch.py (same networks, same iteration, CPU float32, 2 threads) on the
# same rows; prints a markdown table. ratio = PyTorch ms / ours ms (> 1: we are faster).
#
#   bench/compare.sh                 # default rows (a few minutes on 2 cores)
#   BENCH_LONG=1 bench/compare.sh    # adds paper256 training at 64 and 128 px (many minutes)
#
# Env: STYLEGAN (binary, default .build/release/stylegan), PYTHON (default python3),
#      THREADS (threads for both sides, default all cores: OMP_NUM_THREADS for ours,
#      torch.set_num_threads for PyTorch; on a many-core machine compare at a few counts, since
#      PyTorch's small steps slow down with many threads).
set -euo pipefail
cd "$(dirname "$0")/.."
STYLEGAN=${STYLEGAN:-.build/release/stylegan}
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-$(nproc)}
[ -x "$STYLEGAN" ] || swift build -c release >&2

# label | target | config | resolution | batch | alpha | iters
rows=(
  "train paper256 8px b8 a0.5|train|paper256|8|8|0.5|3"
  "train paper256 16px b8 a0.5|train|paper256|16|8|0.5|2"
  "train paper256 32px b8 a0.5|train|paper256|32|8|0.5|2"
)
if [ "${BENCH_LONG:-0}" = 1 ]; then
  rows+=(
    "train paper256 64px b8 a0.5|train|paper256|64|8|0.5|2"
    "train paper256 128px b8 a0.5|train|paper256|128|8|0.5|2"
  )
fi
rows+=(
  "train small64 16px b16|train|small64|16|16|1.0|3"
  "generate paper256 256px b1 (per image)|generate|paper256|256|1||3"
  "generate paper256 256px b16 (per image)|generate|paper256|256|16||2"
  "generate small64 64px b16 (per image)|generate|small64|64|16||3"
  "generate paper1024 512px b1 (per image)|generate|paper1024|512|1||3"
  "generate paper1024 1024px b1 (per image)|generate|paper1024|1024|1||2"
)

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for row in "${rows[@]}"; do
  IFS='|' read -r label target config res batch alpha iters <<<"$row"
  args=(--config "$config" --resolution "$res" --batch "$batch" --iters "$iters" --json)
  [ -n "$alpha" ] && args+=(--alpha "$alpha")
  echo "running: $label" >&2
  ours=$(OMP_NUM_THREADS="$THREADS" "$STYLEGAN" bench "$target" "${args[@]}" | tail -n 1)
  torch=$("$PYTHON" Tests/reference/bench_torch.py "$target" "${args[@]}" --threads "$THREADS" | tail -n 1)
  printf '%s\t%s\t%s\n' "$label" "$ours" "$torch" >>"$results"
done

"$PYTHON" - "$results" <<'PY'
import json, sys
print("| row | ours ms | PyTorch ms | ratio (PyTorch / ours) | ours peak RSS MB | PyTorch peak RSS MB |")
print("|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    label, ours, torch = line.rstrip("\n").split("\t")
    o, t = json.loads(ours), json.loads(torch)
    key = "ms_per_iter" if "ms_per_iter" in o else "ms_per_image"
    om, tm = o[key], t[key]
    rss = lambda d: f"{d['peak_rss_mb']:.0f}" if "peak_rss_mb" in d else "-"
    print(f"| {label} | {om:.1f} | {tm:.1f} | {tm / om:.2f} | {rss(o)} | {rss(t)} |")
PY
