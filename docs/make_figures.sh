#!/usr/bin/env bash
# Regenerates every picture in docs/inference.md (and the sample in weights/README.md) from the
# shipped weights with the real commands. Run from the repository root after `swift build -c release`.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${STYLEGAN:-.build/release/stylegan}
W=${WEIGHTS:-weights/faces64.safetensors}
OUT=docs/images
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$OUT"
"$S" generate --network "$W" --seeds 0-31 --outdir "$tmp/plain" --grid >/dev/null
"$S" generate --network "$W" --seeds 0-31 --outdir "$tmp/trunc" --grid --trunc 0.7 >/dev/null
cp "$tmp/plain/grid.png" "$OUT/generate-plain.png"
cp "$tmp/trunc/grid.png" "$OUT/generate-trunc.png"
# Coarse styles are the 4-8 px layers, which every snapshot from 8 px on has; middle and fine need
# a network grown past 16 and 32 px, and `mix` refuses them (with a message) before that.
for styles in coarse middle fine; do
  if "$S" mix --network "$W" --rows 1,2,3,4 --cols 5,6,7,8,9 --styles "$styles" --outdir "$tmp/mix-$styles" >/dev/null 2>"$tmp/mix-$styles.err"; then
    cp "$tmp/mix-$styles/grid.png" "$OUT/mix-$styles.png"
  else
    echo "mix --styles $styles: $(cat "$tmp/mix-$styles.err")" >&2
    rm -f "$OUT/mix-$styles.png"
  fi
done
rm -rf "$OUT/interp"
"$S" interpolate --network "$W" --seeds 1,2,3 --frames 8 --outdir "$OUT/interp" >/dev/null
if command -v ffmpeg >/dev/null; then
  "$S" interpolate --network "$W" --seeds 1,2,3,4 --frames 30 --loop --video --outdir "$tmp/video" >/dev/null
  cp "$tmp/video/video.mp4" "$OUT/interpolation.mp4"
fi
"$S" generate --network "$W" --seeds 0 --outdir "$tmp/seed0" >/dev/null
cp "$tmp/seed0/seed0000.png" weights/faces64-seed0.png
echo "wrote $OUT/generate-*.png, $OUT/mix-*.png, $OUT/interp/ and weights/faces64-seed0.png"
