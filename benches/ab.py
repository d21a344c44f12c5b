#!/usr/bin/env python3
"""A/B two or more `qbench` binaries on one model, on a noisy machine.

Runs each binary as a fresh process in turn (order alternating every round),
`qbench batch ... --repeats 3`, and prints per binary the median rows/s and
the median of its per-round ratio to the first binary. Host slowdowns that
last longer than one round then affect both sides of a ratio alike.

    cp target/release/qbench /tmp/qbench.base   # build the baseline first
    ... change, cargo build --release -p quercus-benches --bin qbench ...
    python3 benches/ab.py M1 X_binary.f32 12 /tmp/qbench.base target/release/qbench

Models and data are read from target/bench-models/ (benches/gen_models.py).
"""

import json
import statistics
import subprocess
import sys


def main() -> None:
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    model, data, rounds, bins = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    kernel = "interleaved"
    rates: dict[str, list[float]] = {b: [] for b in bins}
    for r in range(rounds):
        for b in bins if r % 2 == 0 else bins[::-1]:
            out = subprocess.run(
                [b, "batch", f"target/bench-models/{model}.json", f"target/bench-models/{data}",
                 "--cols", "28", "--rows", "100000", "--batch", "100000", "--threads", "1",
                 "--repeats", "3", "--min-seconds", "0", "--kernel", kernel],
                capture_output=True, text=True, check=True,
            ).stdout.strip().splitlines()[-1]
            rates[b].append(json.loads(out)["rows_per_s"])
    base = rates[bins[0]]
    for b in bins:
        ratios = [x / y for x, y in zip(rates[b], base)]
        print(f"{b}: median {statistics.median(rates[b]) / 1e3:.0f} k rows/s, "
              f"ratio to {bins[0]}: median {statistics.median(ratios):.3f} "
              f"(rounds {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
