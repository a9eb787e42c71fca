#!/usr/bin/env python3
"""Prints the ratio table of the last `cargo bench --bench peers` run, from criterion's files.

Usage: python3 benches/report.py [target/criterion]
Each group's contenders are compared with the group's limit and peers from the same run.
"""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
N = 100_000  # items per iteration, as in benches/peers.rs

groups = ["batch_hot", "batch_bursty", "debounce_bursty", "throttle_hot",
          "batch_hot_opaque", "debounce_bursty_opaque", "throttle_hot_opaque"]
for group in groups:
    path = os.path.join(root, group)
    if not os.path.isdir(path):
        continue
    rows = []
    for bench in sorted(os.listdir(path)):
        est = os.path.join(path, bench, "new", "estimates.json")
        bench_json = os.path.join(path, bench, "new", "benchmark.json")
        if not os.path.exists(est):
            continue
        with open(est) as f:
            median = json.load(f)["median"]["point_estimate"]  # ns per iteration
        with open(bench_json) as f:
            name = json.load(f)["function_id"]
        rows.append((name, median))
    streamz = next((t for n, t in rows if n.startswith("streamz")), None)
    print(f"\n### {group}\n")
    print("| contender | median / iteration | ns per item | streamz ÷ contender |")
    print("|---|---|---|---|")
    for name, t in sorted(rows, key=lambda r: (not r[0].startswith("streamz"), not r[0].startswith("limit"), r[0])):
        ratio = "—" if name.startswith("streamz") else f"{streamz / t:.3g}x"
        unit = f"{t / 1000:.1f} µs" if t < 1e6 else f"{t / 1e6:.2f} ms"
        print(f"| {name} | {unit} | {t / N:.2f} | {ratio} |")
