#!/usr/bin/env bash
# The main job on a fresh machine: set up, generate a synthetic province, ingest every source export
# into landed batches (canonical tables, quarantine, reports), and print where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
out="${DTSEN_DEMO_DIR:-data/demo}"
rm -rf "$out"
.venv/bin/dtsen synth --persons "${DTSEN_DEMO_PERSONS:-200000}" --provinces 34 --seed 2026 --out "$out/synth" --report
.venv/bin/dtsen ingest --synth "$out/synth" --data-dir "$out"
echo
echo "Synthetic sources:  $out/synth/sources      ground truth: $out/synth/truth"
echo "Ingested batches:   $out/batches/*/          (report.html, canonical/*.parquet, quarantine.parquet)"
echo "Rejected rows:      .venv/bin/dtsen quarantine list --data-dir $out"
