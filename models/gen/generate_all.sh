#!/usr/bin/env bash
# Regenerate models/xgboost/ (XGBoost parity fixtures) with real XGBoost builds.
#
# Needs one XGBoost install per version under $XGB_ROOT (default /work/xgb),
# created on CPython 3.11 (x86_64 glibc) with:
#
#   for v in 0.82 0.90 1.0.2 1.3.3 1.5.2 1.6.2 1.7.6 2.0.3 2.1.4 3.0.5 3.1.3 3.2.0; do
#     pip install --no-deps --only-binary=:all: --target $XGB_ROOT/$v xgboost==$v \
#         numpy==1.23.5 scipy==1.10.1 pandas==2.0.3 python-dateutil==2.8.2 \
#         pytz==2023.3 tzdata==2023.3 six==1.16.0
#   done
#   # xgboost <= 1.5 imports pandas.Int64Index, which pandas 2.x removed:
#   for v in 0.82 0.90 1.0.2 1.3.3 1.5.2; do
#     rm -rf $XGB_ROOT/$v/pandas $XGB_ROOT/$v/pandas-2.0.3.dist-info
#     pip install --no-deps --only-binary=:all: --target $XGB_ROOT/$v pandas==1.5.3
#   done
#
# (--no-deps skips the nvidia-nccl-cu12 dependency of xgboost >= 2.0, which CPU
# inference does not need.)  Then, from the repository root:
#
#   bash models/gen/generate_all.sh
#
# Each version rewrites models/xgboost/<ver>/ and its entries of
# models/xgboost/manifest.json; modern_reference.py then adds XGBoost 3.0.5's
# outputs for the legacy binaries of 0.82/0.90/1.0.2.
set -euo pipefail
XGB_ROOT=${XGB_ROOT:-/work/xgb}
OUT=${OUT:-models/xgboost}
cd "$(dirname "$0")/../.."
for v in 0.82 0.90 1.0.2 1.3.3 1.5.2 1.6.2 1.7.6 2.0.3 2.1.4 3.0.5 3.1.3 3.2.0; do
  echo "=== XGBoost $v"
  PYTHONPATH="$XGB_ROOT/$v" python3 models/gen/xgboost_models.py --out "$OUT" \
    > "/tmp/xgboost_models_$v.log" 2>&1 || { tail -30 "/tmp/xgboost_models_$v.log"; exit 1; }
  tail -1 "/tmp/xgboost_models_$v.log"
done
echo "=== modern references (XGBoost 3.0.5)"
PYTHONPATH="$XGB_ROOT/3.0.5" python3 models/gen/modern_reference.py --out "$OUT"
