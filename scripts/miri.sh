#!/usr/bin/env bash
# Runs quercus-core's unit tests under Miri, which reports undefined
# behaviour in the unsafe code they reach: the fast kernels' unchecked loads
# (portable walks, and the x86-64 assembly walks through their Rust
# stand-ins, as Miri cannot run `asm!`), `Buf`'s typed views into a file's
# bytes, and the compiled-form (`.qpack`) reader on valid, corrupted,
# truncated and hostile files.
#
#   scripts/miri.sh
#
# Installs nothing. It needs the nightly toolchain with Miri
# (`rustup toolchain install nightly --component miri`); when
# `cargo +nightly miri --version` fails, and only then, it prints
# "miri: skipped (cargo +nightly miri is not installed)" and exits 0. Any
# other failure (build error, failed test, undefined behaviour) exits
# non-zero. The first run builds Miri's sysroot (`cargo miri setup`, about
# 1.5 minutes, cached in ~/.cache/miri).
#
# Two runs:
# 1. Stacked Borrows (Miri's default aliasing model) and strict provenance
#    (no integer-to-pointer casts): every test except those that start
#    rayon thread pools.
# 2. Tree Borrows: the tests that start rayon pools (parallel::, and
#    threaded_equals_serial). crossbeam-epoch, under rayon, is known to
#    break Stacked Borrows' rules but not Tree Borrows'
#    (crossbeam-rs/crossbeam#545; crossbeam runs Miri with Tree Borrows);
#    permissive provenance silences its integer-to-pointer-cast warnings,
#    and -Zmiri-ignore-leaks lets the process end while the pools' worker
#    threads still run (Quercus keeps its pools for the life of the process).
# Both with -Zmiri-deterministic-floats: Miri otherwise adds random error to
# exp() and friends, and the tests compare predictions bit for bit.
#
# Tests are made smaller under cfg(miri) (fewer trees, rows, cases,
# corrupted bytes), and the few that hash megabytes are ignored there
# (#[cfg_attr(miri, ignore = ...)]).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "miri: skipped (cargo +nightly miri is not installed)"
    exit 0
fi

step() { printf '\n==> %s\n' "$*"; }
FLOATS=-Zmiri-deterministic-floats
POOLS=(parallel:: threaded_equals_serial)

step "miri (Stacked Borrows): quercus-core, all but the thread-pool tests"
MIRIFLAGS="$FLOATS -Zmiri-strict-provenance ${MIRIFLAGS:-}" \
    cargo +nightly miri test --locked -p quercus-core --lib -- \
    --skip "${POOLS[0]}" --skip "${POOLS[1]}"

step "miri (Tree Borrows): quercus-core's thread-pool tests"
MIRIFLAGS="$FLOATS -Zmiri-tree-borrows -Zmiri-permissive-provenance -Zmiri-ignore-leaks ${MIRIFLAGS:-}" \
    cargo +nightly miri test --locked -p quercus-core --lib -- "${POOLS[@]}"
