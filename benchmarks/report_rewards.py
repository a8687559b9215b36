"""Turn the JSON lines of bench_rewards.py into the markdown tables of docs/benchmarks.md.

    python benchmarks/bench_rewards.py ... > rewards.jsonl
    python benchmarks/report_rewards.py rewards.jsonl [more.jsonl ...]

Several files are merged (runs that add seeds with ``--seed-start``); a (task, budget,
library, seed) result seen twice keeps the last one. Cells are mean ± standard error
over seeds. The paired table compares each robopref variant with imitation seed by
seed: both were trained on the same segments and labels and scored on the same
held-out pairs, so the per-seed difference removes the data's share of the noise.
Training time is the median over seeds (one-off load spikes and torch's first-call
set-up would otherwise dominate a cell's mean); the speed-up is imitation's median
over robopref's.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from statistics import mean, median, stdev


def se(xs: list[float]) -> float:
    """Standard error of the mean (0 for fewer than two values)."""
    return stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0


def pm(xs: list[float], digits: int = 3) -> str:
    return f"{mean(xs):.{digits}f} ± {se(xs):.{digits}f}"


def load(paths: list[str]) -> list[dict]:
    rows: dict[tuple, dict] = {}
    for path in paths:
        for line in open(path):
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            key = (r["bench"], r["task"], r.get("labels", r.get("eps")), r.get("lib", r.get("variant")), r["seed"])
            rows[key] = r
    return list(rows.values())


def paired(ours: dict[int, dict], ref: dict[int, dict]) -> str:
    """Mean ± SE of the per-seed accuracy difference (points), wins/ties/losses, verdict."""
    seeds = sorted(set(ours) & set(ref))
    if not seeds:
        return "–"
    d = [100 * (ours[s]["accuracy"] - ref[s]["accuracy"]) for s in seeds]
    m, e = mean(d), se(d)
    wins, losses = sum(x > 1e-9 for x in d), sum(x < -1e-9 for x in d)
    # two standard errors: a gap smaller than that is not told apart from seed noise
    verdict = "lower" if e > 0 and m + 2 * e < 0 else "higher" if e > 0 and m - 2 * e > 0 else "within noise"
    return f"{m:+.2f} ± {e:.2f} | {wins}/{len(d) - wins - losses}/{losses} | {verdict}"


def main(paths: list[str]) -> None:
    rows = load(paths)
    cmp = defaultdict(dict)
    noise = defaultdict(list)
    for r in rows:
        if r["bench"] == "reward_vs_imitation":
            cmp[(r["task"], r["labels"], r["lib"])][r["seed"]] = r
        elif r["bench"] == "reward_noise":
            noise[(r["task"], r["eps"], r["variant"])].append(r)
    libs = sorted({k[2] for k in cmp}, key=lambda x: (x != "robopref", x == "imitation", x))
    cells_keys = sorted({(k[0], k[1]) for k in cmp})
    if cmp:
        print("| task | labels | " + " | ".join(f"{lib} acc | Spearman | train s (median)" for lib in libs) + " | speed-up |")
        print("|---|---|" + "---|---|---|" * len(libs) + "---|")
        for task, labels in cells_keys:
            cells, times = [], {}
            for lib in libs:
                v = list(cmp.get((task, labels, lib), {}).values())
                if not v:
                    cells.append("– | – | –")
                    continue
                times[lib] = median(x["train_s"] for x in v)
                cells.append(f"{pm([x['accuracy'] for x in v])} (n={len(v)}) | {pm([x['spearman'] for x in v])} | {times[lib]:.1f}")
            speed = f"{times['imitation'] / times['robopref']:.1f}×" if "imitation" in times and "robopref" in times else "–"
            print(f"| {task} | {labels} | " + " | ".join(cells) + f" | {speed} |")
        ours = [lib for lib in libs if lib != "imitation"]
        if "imitation" in libs and ours:
            print()
            print("| task | labels | " + " | ".join(f"{lib} − imitation (points) | wins/ties/losses | verdict" for lib in ours) + " |")
            print("|---|---|" + "---|---|---|" * len(ours))
            for task, labels in cells_keys:
                ref = cmp.get((task, labels, "imitation"), {})
                print(f"| {task} | {labels} | " + " | ".join(paired(cmp.get((task, labels, lib), {}), ref) for lib in ours) + " |")
        loads = [r["load1"] for r in rows if "load1" in r]
        if loads:
            print(f"\n1-minute load average during the runs: {min(loads):.1f}–{max(loads):.1f} (median {sorted(loads)[len(loads) // 2]:.1f})")
    if noise:
        variants = sorted({k[2] for k in noise})
        print()
        print("| task | ε | " + " | ".join(variants) + " |")
        print("|---|---|" + "---|" * len(variants))
        for task, eps in sorted({(k[0], k[1]) for k in noise}):
            cells = []
            for v in variants:
                xs = noise.get((task, eps, v), [])
                cells.append(f"{pm([x['accuracy'] for x in xs])} (n={len(xs)})" if xs else "–")
            print(f"| {task} | {eps} | " + " | ".join(cells) + " |")
        print("\nAccuracy lost from ε = 0 to ε = 0.2 (points, paired by seed, mean ± standard error):\n")
        print("| task | " + " | ".join(variants) + " |")
        print("|---|" + "---|" * len(variants))
        for task in sorted({k[0] for k in noise}):
            cells = []
            for v in variants:
                clean = {x["seed"]: x["accuracy"] for x in noise.get((task, 0.0, v), [])}
                noisy = {x["seed"]: x["accuracy"] for x in noise.get((task, 0.2, v), [])}
                d = [100 * (clean[s] - noisy[s]) for s in sorted(set(clean) & set(noisy))]
                cells.append(pm(d, 1) if d else "–")
            print(f"| {task} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
