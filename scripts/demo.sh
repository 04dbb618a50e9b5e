#!/usr/bin/env bash
# The main job on a fresh machine: set up, generate a synthetic province and print its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
out="${DTSEN_DEMO_DIR:-data/demo}"
.venv/bin/dtsen synth --persons "${DTSEN_DEMO_PERSONS:-200000}" --provinces 34 --seed 2026 --out "$out/synth" --force
echo
echo "Synthetic sources: $out/synth/sources   ground truth: $out/synth/truth   manifest: $out/synth/manifest.json"
