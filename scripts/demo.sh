#!/usr/bin/env bash
# The main job on a fresh machine: set up; generate a synthetic province; run the 2026Q1 cycle (ingest ->
# link -> apply_events -> score -> eligibility -> publish); write the quarter's civil-registration events and
# approved corrections; run 2026Q2; diff the two snapshots; load both into the serving database and serve
# the web app with one demo account per role (DTSEN_DEMO_SERVE=0 stops before serving).
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
echo "Ranking integrity:  $dtsen snapshot integrity 2026Q2 --synth $out/synth; field queue: $dtsen snapshot pendataan 2026Q2 --region 3471"

if [ "${DTSEN_DEMO_SERVE:-1}" = "0" ]; then
  exit 0
fi
# The serving database (SQLite in the data dir unless DTSEN_DATABASE_URL is set): schema, regions, both
# snapshots (2026Q1 for each family's history, 2026Q2 served), one account per role.
$dtsen db upgrade
$dtsen db load-regions
$dtsen serve load --snapshot 2026Q1
$dtsen serve load --snapshot 2026Q2
echo
echo "Demo accounts (random passwords, shown once):"
DTSEN_DEMO=1 $dtsen users demo-accounts --yes-demo
port="${DTSEN_DEMO_PORT:-8000}"
echo
echo "Web app:  http://127.0.0.1:${port}/   (citizens: /cek-status, /usul, /sanggah, /lacak, /data-saya; staff: /masuk)"
echo "Stop with Ctrl+C."
exec $dtsen serve --host 127.0.0.1 --port "$port"
