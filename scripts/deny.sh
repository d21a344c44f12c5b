#!/usr/bin/env bash
# Checks the dependency tree with cargo-deny (deny.toml): licenses (only the
# ones deny.toml allows), bans (a `*` requirement fails; two versions of a
# crate are a warning) and sources (crates.io only).
#
#   scripts/deny.sh [CHECK...]      default: licenses bans sources
#
# cargo-deny is not installed by this script: machines (CI's too) start
# fresh, so installing it is a separate step, `cargo install cargo-deny`
# (it compiles for several minutes). Without it this prints
# "cargo-deny: skipped (not installed)" and exits 0.
#
# `advisories` is not in the default run: it clones the RustSec advisory
# database from GitHub, which the project's machines cannot reach. Where
# GitHub is reachable: scripts/deny.sh advisories.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deny --version >/dev/null 2>&1; then
    echo "cargo-deny: skipped (not installed)"
    exit 0
fi
if [ $# -eq 0 ]; then
    set -- licenses bans sources
fi
exec cargo deny --locked check "$@"
