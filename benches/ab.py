#!/usr/bin/env python3
"""A/B two or more `qbench` binaries on one model, on a noisy machine.

Runs each binary as a fresh process in turn (order alternating every round),
`qbench batch ... --repeats 3`, and prints per binary the median rows/s and
the median of its per-round ratio to the first binary. Host slowdowns that
last longer than one round then affect both sides of a ratio alike. With
`--single` first, the rounds run `qbench single ... --calls 20000` instead
and the figures are one-row median latencies (ratio: base time / this time,
so above 1 is faster here too).

    cp target/release/qbench /tmp/qbench.base   # build the baseline first
    ... change, cargo build --release -p quercus-benches --bin qbench ...
    python3 benches/ab.py M1 X_binary.f32 12 /tmp/qbench.base target/release/qbench
    python3 benches/ab.py --single M2 X_regression.f32 12 /tmp/qbench.base target/release/qbench

Models and data are read from target/bench-models/ (benches/gen_models.py).
"""

import json
import statistics
import subprocess
import sys


def main() -> None:
    args = sys.argv[1:]
    single = bool(args) and args[0] == "--single"
    args = args[1:] if single else args
    if len(args) < 5:
        sys.exit(__doc__)
    model, data, rounds, bins = args[0], args[1], int(args[2]), args[3:]
    kernel = "interleaved"
    figures: dict[str, list[float]] = {b: [] for b in bins}
    for r in range(rounds):
        for b in bins if r % 2 == 0 else bins[::-1]:
            files = [f"target/bench-models/{model}.json", f"target/bench-models/{data}"]
            if single:
                cmd = [b, "single", *files, "--cols", "28", "--calls", "20000"]
            else:
                cmd = [b, "batch", *files, "--cols", "28", "--rows", "100000",
                       "--batch", "100000", "--threads", "1", "--repeats", "3",
                       "--min-seconds", "0"]
            out = subprocess.run(
                [*cmd, "--kernel", kernel], capture_output=True, text=True, check=True,
            ).stdout.strip().splitlines()[-1]
            figures[b].append(json.loads(out)["median_us" if single else "rows_per_s"])
    base = figures[bins[0]]
    for b in bins:
        if single:
            ratios = [y / x for x, y in zip(figures[b], base)]
            figure = f"{statistics.median(figures[b]):.2f} us median latency"
        else:
            ratios = [x / y for x, y in zip(figures[b], base)]
            figure = f"{statistics.median(figures[b]) / 1e3:.0f} k rows/s"
        print(f"{b}: median {figure}, "
              f"ratio to {bins[0]}: median {statistics.median(ratios):.3f} "
              f"(rounds {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
