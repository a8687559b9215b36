"""Turn the JSON lines of bench_rewards.py into the markdown tables of docs/benchmarks.md.

    python benchmarks/bench_rewards.py ... > rewards.jsonl
    python benchmarks/report_rewards.py rewards.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from statistics import mean


def main(path: str) -> None:
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    cmp = defaultdict(list)
    noise = defaultdict(list)
    for r in rows:
        if r["bench"] == "reward_vs_imitation":
            cmp[(r["task"], r["labels"], r["lib"])].append(r)
        elif r["bench"] == "reward_noise":
            noise[(r["task"], r["eps"], r["variant"])].append(r)
    libs = sorted({k[2] for k in cmp}, key=lambda x: (x != "robopref", x))
    print("| task | labels | " + " | ".join(f"{lib} acc / Spearman / train s" for lib in libs) + " | speed-up |")
    print("|---|---|" + "---|" * len(libs) + "---|")
    for task, labels in sorted({(k[0], k[1]) for k in cmp}):
        cells, times = [], {}
        for lib in libs:
            v = cmp.get((task, labels, lib), [])
            if not v:
                cells.append("–")
                continue
            times[lib] = mean(x["train_s"] for x in v)
            cells.append(f"{mean(x['accuracy'] for x in v):.3f} / {mean(x['spearman'] for x in v):.3f} / {times[lib]:.1f} (n={len(v)})")
        speed = f"{times['imitation'] / times['robopref']:.1f}×" if "imitation" in times and "robopref" in times else "–"
        print(f"| {task} | {labels} | " + " | ".join(cells) + f" | {speed} |")
    if noise:
        variants = sorted({k[2] for k in noise})
        print()
        print("| task | ε | " + " | ".join(variants) + " |")
        print("|---|---|" + "---|" * len(variants))
        for task, eps in sorted({(k[0], k[1]) for k in noise}):
            cells = []
            for v in variants:
                xs = noise.get((task, eps, v), [])
                cells.append(f"{mean(x['accuracy'] for x in xs):.3f}" if xs else "–")
            print(f"| {task} | {eps} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
