#!/usr/bin/env bash
# Installs everything the tests need and runs every test, Rust and Python.
#
#   scripts/test.sh
#
# 1. creates .venv (if missing) and installs the pinned Python packages
#    from python/requirements-test.txt, and Google's BigQuery ML predictor
#    (the oracle) into .venv/bqml-oracle from python/requirements-bqml-oracle.txt;
# 2. cargo fmt --check, clippy (-D warnings), cargo deny (licenses, bans,
#    sources: scripts/deny.sh, skipped when cargo-deny is not installed),
#    cargo test (workspace), cargo doc;
# 3. builds the `quercus` CLI and the Python package (into .venv, by maturin),
#    and runs pytest (live parity against the
#    pip-installed XGBoost and against Google's BigQuery ML predictor).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

PY=${PYTHON:-python3}

# Prerequisites (README, "Running the tests"), checked before anything is
# installed so a missing one is one clear line, not a failure ten minutes in.
missing=()
command -v cargo >/dev/null || missing+=("a Rust toolchain (cargo), 1.91 or newer: https://rustup.rs")
cargo fmt --version >/dev/null 2>&1 || missing+=("rustfmt: rustup component add rustfmt")
cargo clippy --version >/dev/null 2>&1 || missing+=("clippy: rustup component add clippy")
command -v cc >/dev/null || missing+=("a C compiler (cc): apt-get install build-essential")
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    missing+=("Python 3.9 or newer as \$PYTHON or python3")
elif [ ! -x .venv/bin/python ] && ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    missing+=("Python's venv module: apt-get install python3-venv")
fi
free_kb=$(df -Pk . | awk 'NR == 2 {print $4}')
if [ "${free_kb:-0}" -lt $((3 * 1024 * 1024)) ]; then
    missing+=("3 GB of free disk here (the build and .venv take about 2.5 GB); $((free_kb / 1024)) MB free")
fi
if [ ${#missing[@]} -gt 0 ]; then
    printf 'scripts/test.sh needs:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    step "creating .venv"
    "$PY" -m venv .venv
fi
step "installing pinned Python packages"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r python/requirements-test.txt

# The BigQuery ML oracle: Google's exported predictor (bigquery-ml-utils) with
# the XGBoost and numpy it needs (XGBoost 3.1+ cannot read model.bst). It lives
# in its own --target directory, outside the .venv's site-packages, so the
# .venv keeps XGBoost 3.2 and numpy 2; python/tests/test_bqml_oracle.py runs it
# in a subprocess with PYTHONPATH=.venv/bqml-oracle. --no-deps: its declared
# dependencies (TensorFlow...) are not needed for boosted trees. Installed only
# when the pinned versions are not already there.
ORACLE=.venv/bqml-oracle
if ! PYTHONPATH=$ORACLE .venv/bin/python -c '
import importlib.metadata as m, sys
want = {"bigquery-ml-utils": "1.5.0", "xgboost": "3.0.1", "numpy": "1.26.4"}
sys.exit(any(m.version(k) != v for k, v in want.items()))' 2>/dev/null; then
    step "installing the BigQuery ML oracle into $ORACLE"
    rm -rf "$ORACLE"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$ORACLE" -r python/requirements-bqml-oracle.txt
fi

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo deny"
scripts/deny.sh
step "cargo test (tests/robustness.rs parses every fixture truncated at every byte and mutated: about 3 minutes)"
cargo test --workspace --locked
step "cargo test: parity and kernels again with QUERCUS_FORCE_SCALAR=1 (Auto = the scalar fallback)"
QUERCUS_FORCE_SCALAR=1 cargo test --locked -p quercus-tests --test parity_xgboost
QUERCUS_FORCE_SCALAR=1 cargo test --locked -p quercus-core
step "miri: quercus-core's unsafe code (kernels, Buf, the .qpack reader) under Miri, about 6 minutes"
scripts/miri.sh
step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "building the quercus CLI (release)"
cargo build --release --locked -p quercus-cli
step "building the Python package into .venv (maturin develop --release)"
VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop --release --locked --quiet
step "pytest"
QUERCUS_BIN="$PWD/target/release/quercus" .venv/bin/python -m pytest python/tests -q -rs \
    2>&1 | tee target/pytest.log
# Tests import their dependencies with pytest.importorskip; here, where every
# pinned package was just installed, a skipped test is a missing install.
if grep -qE '[0-9]+ skipped' target/pytest.log; then
    echo "pytest skipped tests (see above): a dependency is missing" >&2
    exit 1
fi
