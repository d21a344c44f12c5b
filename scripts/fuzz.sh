#!/usr/bin/env bash
# Runs every cargo-fuzz target for a fixed time budget each: a scheduled or
# manual job, not part of every CI run (building the instrumented targets
# alone takes minutes).
#
#   scripts/fuzz.sh [--time SECONDS | --smoke] [--cmin] [--corpus-root DIR] [TARGET...]
#
#   --time S        seconds per target (default 60)
#   --smoke         10 seconds per target: a quick check that every target
#                   builds, loads its corpus and runs
#   --cmin          after a clean run, minimize each corpus (cargo fuzz cmin)
#   --corpus-root   where the corpora live (default fuzz/corpus): one
#                   directory per target, kept between runs; an empty one is
#                   seeded from the repository's fixtures and fuzz/seeds/
#   TARGET...       the targets to run (default: all, `cargo fuzz list`)
#
# Stops at the first crash (panic, out-of-memory over -rss_limit_mb=1024,
# an input running longer than -timeout=10 s, or a leak), prints the input
# libFuzzer saved under fuzz/artifacts/TARGET/ and the command that
# reproduces it, and exits 1. Exits 0 when every target ran its budget
# clean, 2 on a usage or setup error. Each target's libFuzzer output is in
# fuzz/logs/TARGET.log.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and either a nightly
# toolchain (FUZZ_TOOLCHAIN=nightly: `cargo +nightly fuzz`) or, by default,
# the stable toolchain with RUSTC_BOOTSTRAP=1 for the sanitizer flags
# cargo-fuzz passes. Seeding the qpack corpus compiles fixtures with the
# quercus CLI: $QUERCUS_BIN, else it is built (cargo build --release).
# On a shared machine, run it niced and with CARGO_BUILD_JOBS=1.
set -euo pipefail
cd "$(dirname "$0")/.."

time_budget=60
cmin=0
corpus_root=fuzz/corpus
targets=()
usage() { sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --time) [ $# -ge 2 ] || usage; time_budget=$2; shift 2 ;;
        --time=*) time_budget=${1#--time=}; shift ;;
        --smoke) time_budget=10; shift ;;
        --cmin) cmin=1; shift ;;
        --corpus-root) [ $# -ge 2 ] || usage; corpus_root=$2; shift 2 ;;
        --corpus-root=*) corpus_root=${1#--corpus-root=}; shift ;;
        -h|--help) usage ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
        *) targets+=("$1"); shift ;;
    esac
done
case "$time_budget" in
    ''|*[!0-9]*|0) echo "fuzz.sh: --time takes a whole number of seconds > 0" >&2; exit 2 ;;
esac

if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
    fuzz=(cargo "+$FUZZ_TOOLCHAIN" fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
if ! "${fuzz[@]}" --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi
# The prefix that reproduces a crash the way this script ran the target.
repro_env=""
[ -z "${FUZZ_TOOLCHAIN:-}" ] && repro_env="RUSTC_BOOTSTRAP=1 "
[ -n "${CARGO_TARGET_DIR:-}" ] && repro_env+="CARGO_TARGET_DIR=$CARGO_TARGET_DIR "

if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <("${fuzz[@]}" list)
fi

# The longest input libFuzzer may generate, per target: large enough for the
# typical fixture (most model fixtures are under 16 KiB), small enough to
# keep the executions fast. Longer seeds are truncated to it.
max_len() {
    case "$1" in
        json|qpack) echo 65536 ;;
        ubjson|legacy) echo 32768 ;;
        bqml_instances) echo 16384 ;;
        npy) echo 8192 ;;
        csv|jsonl) echo 4096 ;;
        *) echo 16384 ;;
    esac
}

quercus_bin() {
    if [ -n "${QUERCUS_BIN:-}" ]; then
        echo "$QUERCUS_BIN"
        return
    fi
    cargo build --release --locked --quiet -p quercus-cli >&2
    echo "${CARGO_TARGET_DIR:-target}/release/quercus"
}

# Copies files into a corpus directory, named by their path (fixtures of
# different versions share a base name).
put() {
    local dir=$1; shift
    local f
    for f in "$@"; do
        [ -f "$f" ] && cp "$f" "$dir/$(echo "$f" | tr '/' '_')"
    done
    return 0
}

seed() {
    local t=$1 dir=$2
    case "$t" in
        json) put "$dir" models/xgboost/*/*.json ;;
        ubjson) put "$dir" models/xgboost/*/*.ubj ;;
        legacy) put "$dir" models/xgboost/*/*.bst models/bqml/*/model.bst ;;
        qpack)
            local bin f
            bin=$(quercus_bin)
            for f in models/xgboost/3.2.0/*.json models/xgboost/1.7.6/*.bst; do
                "$bin" compile "$f" --output "$dir/$(echo "$f" | tr '/' '_').qpack" \
                    >/dev/null 2>&1 || true
            done
            ;;
        bqml_instances)
            # Per export: its first 8 instances one by one, and a Vertex AI
            # request of 20 of them.
            python3 - "$dir" models/bqml/*/cases.jsonl <<'EOF'
import json, os, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    name = os.path.basename(os.path.dirname(path))
    with open(path) as f:
        cases = [json.loads(line)["instance"] for line in f if line.strip()]
    for i, inst in enumerate(cases[:8]):
        with open(os.path.join(out, f"{name}_{i}.json"), "w") as g:
            json.dump([inst], g)
    with open(os.path.join(out, f"{name}_request.json"), "w") as g:
        json.dump({"instances": cases[:20]}, g)
EOF
            ;;
        csv) put "$dir" models/example/input.csv ;;
        npy) put "$dir" models/xgboost/3.2.0/*.X.npy models/xgboost/3.2.0/*.json.leaf.npy ;;
    esac
    if [ -d "fuzz/seeds/$t" ]; then
        put "$dir" "fuzz/seeds/$t"/*
    fi
}

# The value of a libFuzzer final statistic (-print_final_stats=1).
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

# Out of memory (also one allocation over it) and hang limits, the same when
# fuzzing, minimizing and reproducing.
limits=(-rss_limit_mb=1024 -timeout=10)
log_dir=fuzz/logs
mkdir -p "$log_dir"
echo "==> building the fuzz targets"
"${fuzz[@]}" build

summary=()
for t in "${targets[@]}"; do
    corpus=$corpus_root/$t
    mkdir -p "$corpus"
    if [ -z "$(ls -A "$corpus")" ]; then
        seed "$t" "$corpus"
        echo "==> $t: seeded $corpus with $(ls "$corpus" | wc -l) inputs"
    fi
    before=$(ls "$corpus" | wc -l)
    len=$(max_len "$t")
    log=$log_dir/$t.log
    echo "==> $t: ${time_budget}s, corpus $corpus ($before inputs), -max_len=$len"
    rc=0
    "${fuzz[@]}" run "$t" "$corpus" -- \
        -max_total_time="$time_budget" -max_len="$len" "${limits[@]}" \
        -print_final_stats=1 >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        # The panic or sanitizer report, else the end of the output.
        grep -m 1 -A 12 -E 'panicked at|==[0-9]+== ?ERROR:' "$log" || tail -n 40 "$log"
        echo "(libFuzzer's whole output: $log)"
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        echo
        if [ -n "$crash" ]; then
            echo "fuzz.sh: $t FAILED (exit $rc): the input is $crash"
            echo "reproduce: ${repro_env}cargo fuzz run $t $crash -- ${limits[*]}"
        else
            echo "fuzz.sh: $t FAILED (exit $rc) without saving an input; see $log"
        fi
        exit 1
    fi
    after=$(ls "$corpus" | wc -l)
    line=$(printf '%-15s %9s runs %7s exec/s  corpus %5s -> %5s  peak RSS %s MB' "$t" \
        "$(stat number_of_executed_units "$log")" "$(stat average_exec_per_sec "$log")" \
        "$before" "$after" "$(stat peak_rss_mb "$log")")
    echo "    $line"
    if [ "$cmin" -eq 1 ]; then
        "${fuzz[@]}" cmin "$t" "$corpus" -- -max_len="$len" "${limits[@]}" \
            >"$log_dir/$t.cmin.log" 2>&1 || {
            tail -n 20 "$log_dir/$t.cmin.log"
            echo "fuzz.sh: cargo fuzz cmin $t failed; see $log_dir/$t.cmin.log" >&2
            exit 1
        }
        line+="  (cmin: $(ls "$corpus" | wc -l))"
        echo "    $t: minimized to $(ls "$corpus" | wc -l) inputs"
    fi
    summary+=("$line")
done

echo
echo "==> no crash in ${#targets[@]} targets, ${time_budget}s each"
printf '%s\n' "${summary[@]}"
