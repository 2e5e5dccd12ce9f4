#!/usr/bin/env bash
# The full benchmark behind benchmarks/RESULTS.md: two lanes of `python -m benchmarks.run`, one
# model thread each, side by side on a two-core machine. Needs GBMTL_DATA_HOME (the real data
# sets) and, for the AutoGluon baseline, its environment (see benchmarks/_autogluon.py).
#
#     bash benchmarks/run_all.sh [OUT]        # OUT defaults to benchmarks/results
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-benchmarks/results}
GBMTL="gbmtl,gbmtl_none,lightgbm,gbmtl_offset,gbmtl_stacking,gbmtl_shared_trees"
NEURAL="single_mlp,shared_bottom,cross_stitch,mmoe,ple"
run() { python -m benchmarks.run --out "$OUT" "$@"; }

lane_a() {
  for d in census_income census_income_edu vehicle_fraud; do
    run --dataset "$d" --models "$GBMTL,lightgbm_libdefaults,chain,xgb_multi" --seeds 5
  done
  for d in census_income census_income_edu; do
    run --dataset "$d" --models "$GBMTL,autogluon" --seeds 5 --fractions 0.02,0.1
  done
  for d in census_income census_income_edu vehicle_fraud; do
    run --dataset "$d" --models "$NEURAL" --seeds 3 --tag neural
  done
}

lane_b() {
  for d in taiwan_credit lending_club; do
    run --dataset "$d" --models "$GBMTL,lightgbm_libdefaults,chain,xgb_multi" --seeds 5
    run --dataset "$d" --models "$GBMTL,autogluon" --seeds 5 --fractions 0.02,0.1
  done
  run --dataset synthetic --models "$GBMTL,lightgbm_libdefaults,chain,xgb_multi" --seeds 3
  for d in taiwan_credit lending_club synthetic; do
    run --dataset "$d" --models "$NEURAL" --seeds 3 --tag neural
  done
  for d in taiwan_credit lending_club; do
    run --dataset "$d" --models single_mlp,mmoe --seeds 3 --fractions 0.02,0.1 --tag neural
  done
}

mkdir -p "$OUT"
lane_a > "$OUT/bench_log_lane_a.txt" 2>&1 &
lane_b > "$OUT/bench_log_lane_b.txt" 2>&1 &
wait
python -m benchmarks.run --summary --out "$OUT"
