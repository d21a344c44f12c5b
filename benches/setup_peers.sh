#!/usr/bin/env bash
# Installs the peer engines that benches/peer.py times Quercus against, and the
# scikit-learn that benches/gen_models.py needs, all from PyPI with pinned
# versions, under target/peer-venvs/ (never committed, never used by CI):
#
#   target/peer-venvs/peers/     XGBoost 3.2.0, treelite + tl2cgen, onnxruntime +
#                                onnxmltools, numpy, scikit-learn. peer.py runs here.
#   target/peer-venvs/daal/      oneDAL through scikit-learn-intelex's daal4py, in
#                                its own venv: the standalone daal4py wheel (2024.7)
#                                does not import with scikit-learn 1.9.
#   target/peer-venvs/gen-site/  scikit-learn and its pure-Python dependencies as a
#                                --target directory for the project's .venv, so
#                                gen_models.py trains with .venv's XGBoost 3.2.0
#                                without adding packages to .venv itself.
#
#   benches/setup_peers.sh            # idempotent; ~1-2 minutes on first run
#
# Needs: python3 (3.11 here), gcc (tl2cgen compiles C), and .venv from
# scripts/test.sh (or `python3 -m venv .venv && .venv/bin/pip install -r
# python/requirements-test.txt`). Benchmarks are not part of CI or the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
V=target/peer-venvs
PIP=(--quiet --disable-pip-version-check)

PEERS=(
    xgboost==3.2.0 numpy==2.3.5 scipy==1.16.3 scikit-learn==1.9.1
    treelite==4.8.1 tl2cgen==1.0.0
    onnxruntime==1.32.0 onnxmltools==1.16.0 onnx==1.23.2
)
DAAL=(scikit-learn-intelex==2026.2.0 daal==2026.2.0 xgboost==3.2.0 numpy==2.3.5)
GEN_SITE=(scikit-learn==1.9.1 joblib==1.6.0 threadpoolctl==3.8.0 cloudpickle==3.1.3 narwhals==2.29.0)

mkdir -p "$V"
for venv in peers daal; do
    if [ ! -x "$V/$venv/bin/python" ]; then
        echo "==> creating $V/$venv"
        "$PY" -m venv "$V/$venv"
    fi
done
echo "==> installing peers into $V/peers"
"$V/peers/bin/python" -m pip install "${PIP[@]}" "${PEERS[@]}"
echo "==> installing oneDAL (scikit-learn-intelex) into $V/daal"
"$V/daal/bin/python" -m pip install "${PIP[@]}" "${DAAL[@]}"

if [ -x .venv/bin/python ]; then
    if ! PYTHONPATH="$V/gen-site" .venv/bin/python -c 'import importlib.metadata as m, sys
sys.exit(m.version("scikit-learn") != "1.9.1")' 2>/dev/null; then
        echo "==> installing scikit-learn for .venv into $V/gen-site"
        rm -rf "$V/gen-site"
        .venv/bin/python -m pip install "${PIP[@]}" --no-deps --target "$V/gen-site" "${GEN_SITE[@]}"
    fi
else
    echo "note: no .venv here; gen_models.py can also run with $V/peers/bin/python" >&2
fi

"$V/peers/bin/python" -c 'import xgboost, treelite, tl2cgen, onnxruntime, onnxmltools, sklearn
print("peers ok: xgboost", xgboost.__version__, "treelite", treelite.__version__,
      "tl2cgen", tl2cgen.__version__, "onnxruntime", onnxruntime.__version__)'
"$V/daal/bin/python" -c 'import daal4py, daal4py.mb, xgboost
print("daal ok: xgboost", xgboost.__version__)'
