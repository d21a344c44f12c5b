#!/usr/bin/env bash
# Installs everything the tests need and runs every test, Rust and Python.
#
#   scripts/test.sh
#
# 1. creates .venv (if missing) and installs the pinned Python packages
#    from python/requirements-test.txt;
# 2. cargo fmt --check, clippy (-D warnings), cargo test (workspace), cargo doc;
# 3. builds the `quercus` CLI and runs pytest (live parity against the
#    pip-installed XGBoost).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    step "creating .venv"
    "$PY" -m venv .venv
fi
step "installing pinned Python packages"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r python/requirements-test.txt

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test"
cargo test --workspace --locked
step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "building the quercus CLI (release)"
cargo build --release --locked -p quercus-cli
step "pytest"
QUERCUS_BIN="$PWD/target/release/quercus" .venv/bin/python -m pytest python/tests -q
