#!/usr/bin/env bash
# The main job on a fresh machine: set up; generate a synthetic province; run the 2026Q1 cycle (ingest ->
# link -> consolidate -> score -> eligibility -> publish); write the quarter's civil-registration events and
# approved corrections; run 2026Q2; diff the two snapshots; print where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
out="${DTSEN_DEMO_DIR:-data/demo}"
persons="${DTSEN_DEMO_PERSONS:-200000}"
rm -rf "$out"
export DTSEN_DATA_DIR="$out"
dtsen=.venv/bin/dtsen

$dtsen synth --persons "$persons" --provinces 34 --seed 2026 --out "$out/synth" --report
$dtsen cycle run --period 2026Q1 --inbox "$out/synth"
$dtsen synth-feeds --synth "$out/synth" --period 2026Q2 --seed 2026
$dtsen cycle run --period 2026Q2
$dtsen snapshot diff 2026Q1 2026Q2 | tail -40

echo
echo "The commands below read DTSEN_DATA_DIR: first run   export DTSEN_DATA_DIR=$out"
echo "Snapshots:          $out/snapshots/             ($dtsen snapshot list; verify; show 2026Q2)"
echo "Cycle reports:      $out/cycles/2026Q1/publish/report/report.html"
echo "                    $out/cycles/2026Q2/publish/report/report.html   (with the diff against 2026Q1)"
echo "Welfare model:      $out/models/                ($dtsen welfare report --help)"
echo "Linkage review:     $dtsen link review list"
echo "Ingested batches:   $out/batches/*/report.html  rejected rows: $dtsen quarantine list"
echo "Synthetic truth:    $out/synth/truth/"
