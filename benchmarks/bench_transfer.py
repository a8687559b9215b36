"""Cross-task preference transfer (PEARL's CPA): accuracy, end to end reward, speed.

    python benchmarks/bench_transfer.py accuracy [--pairs push2d:gripper>short_stick ...] [--features ...] [--target-seed 1]
    python benchmarks/bench_transfer.py fewshot  [--pairs ...] --methods gw_exact --restarts 10
    python benchmarks/bench_transfer.py end2end  [--pairs ...]
    python benchmarks/bench_transfer.py speed    [--sizes 2000 10000]

accuracy: 200 source and 200 target whole episodes of mixed quality from `robopref
collect`; source labels from the oracle teacher on random source pairs; transfer
accuracy of every method over all target pairs whose oracle label is not a tie (plain
and confidence-weighted). end2end: rewards trained on the target's transferred labels
(``--label-mode``: hard by default, as the transfer stage writes them) vs on the same
number of oracle target labels, held-out accuracy and Spearman on target episodes not
used for training. speed: synthetic random-walk trajectories, time and peak
memory of the scalable solver vs POT's exact solver, and their label agreement.

Prints one JSON object per result line. Set OPENBLAS_NUM_THREADS=1 on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from _datasets import collected
from robopref.data import Dataset, whole_episodes
from robopref.data.pool import DatasetPool
from robopref.eval.preference_metrics import return_correlations
from robopref.rewards import Comparison, RewardConfig, fit_trajectory_reward
from robopref.teachers import segment_returns
from robopref.transfer.labels import LABEL_MODES, SourceLabels, all_pairs, transfer_labels
from robopref.transfer.evaluation import transfer_accuracy
from robopref.transfer.features import DEFAULT_FEATURES
from robopref.transfer.pipeline import GEOMETRIES, FewShot, TransferSettings, random_pairs, read_sequences, transfer

MW_PAIRS = ["metaworld:window-open-v3>window-close-v3", "metaworld:drawer-open-v3>drawer-close-v3",
            "metaworld:button-press-v3>button-press-topdown-v3", "metaworld:door-open-v3>door-close-v3"]
PUSH_PAIRS = ["push2d:gripper>short_stick", "push2d:short_stick>medium_stick"]
METHODS = ["gw_exact", "gw_entropic", "gw_quantized", "nearest_distance", "nearest_cosine"]


def dataset(kind: str, name: str, episodes: int, seed: int = 0) -> str:
    """Cached dataset of ``episodes`` mixed-quality episodes (push2d embodiment or Meta-World
    task) collected with ``seed`` (0: the original cache names)."""
    tag = f"_seed{seed}" if seed else ""
    extra = [f"seed={seed}"] if seed else []
    if kind == "metaworld":
        return str(collected(f"mw_{name}_{episodes}{tag}", "env=metaworld", f"env.task={name}", f"episodes={episodes}", "quality=mixed", *extra))
    return str(collected(f"push2d_avoid_{name}_mixed_{episodes}{tag}", "env=push2d_avoid", f"env.embodiment={name}", f"episodes={episodes}",
                         "quality=mixed", "env.image_size=0", *extra))


def load_pair(spec: str, episodes: int, features: str = DEFAULT_FEATURES, target_seed: int = 0):
    """[(sequences, returns, refs, pool)] of the source (collected with seed 0) and the
    target (collected with ``target_seed``). With one seed, episode i of both tasks
    starts from the same initial layout with the same expert noise level."""
    kind, names = spec.split(":", 1)
    src, tgt = names.split(">")
    out = []
    for name, seed in ((src, 0), (tgt, target_seed)):
        path = dataset(kind, name, episodes, seed)
        pool = DatasetPool([Dataset(path)])
        refs = whole_episodes(pool.get(path))
        out.append((read_sequences(pool, refs, features=features), segment_returns(pool, refs, "pref_score"), refs, pool))
    return out


def oracle_labels(returns: np.ndarray, n_labels: int, rng: np.random.Generator) -> SourceLabels:
    i, k = random_pairs(len(returns), n_labels, rng)
    z = np.where(returns[i] == returns[k], 0.5, (returns[i] > returns[k]).astype(float))
    return SourceLabels(i, k, z)


def settings(args, method: str, seed: int) -> TransferSettings:
    """The transfer settings of one run: ``method`` with the command line's distance, time axis and solver knobs."""
    return TransferSettings(method=method, seed=seed, restarts=args.restarts, distance=args.distance, length=args.length,
                            time=args.time, geometry=args.geometry, epsilon=args.epsilon)


def recipe(args, method: str, m: int, n: int) -> dict:
    """The trajectory recipe of a result line, with the number of steps ``method`` resolves to for M source and N target trajectories."""
    run = settings(args, method, 0)
    return {"features": args.features, "distance": args.distance, "length": run.steps(run.resolve(m, n)), "time": args.time, "geometry": args.geometry,
            "epsilon": args.epsilon, "target_seed": args.target_seed}


def labelled_pairs(args):
    """For every pair and seed: (spec, seed, source sequences, oracle source labels, target
    sequences, target returns, every target pair)."""
    for spec in args.pairs:
        (xs, rx, _, _), (ys, ry, _, _) = load_pair(spec, args.episodes, args.features, args.target_seed)
        for seed in range(args.seeds):
            labels = oracle_labels(rx, args.source_labels, np.random.default_rng(seed))
            yield spec, seed, xs, labels, ys, ry, all_pairs(len(ys))


def bench_accuracy(args) -> None:
    for spec, seed, xs, labels, ys, ry, (j, l) in labelled_pairs(args):
        for method in args.methods:
            run = settings(args, method, seed)
            t = time.perf_counter()
            result, plan = transfer(run, xs, labels, ys, j, l)
            acc = transfer_accuracy(result, ry)
            print(json.dumps({"bench": "transfer_accuracy", "pair": spec, "seed": seed, "method": method, **recipe(args, method, len(xs), len(ys)),
                              "source_labels": len(labels), "seconds": time.perf_counter() - t,
                              "gw_loss": None if plan is None else plan.loss, **acc}), flush=True)


def bench_fewshot(args) -> None:
    """Zero-shot vs few-shot: K real target labels pick among GW restarts (docs/transfer.md)."""
    for spec, seed, xs, labels, ys, ry, (j, l) in labelled_pairs(args):
        for method in args.methods:
            for k in args.fewshot:
                fj, fl = random_pairs(len(ys), k, np.random.default_rng(1000 + seed))
                fewshot = FewShot(fj, fl, np.where(ry[fj] == ry[fl], 0.5, (ry[fj] > ry[fl]).astype(float))) if k else None
                result, _ = transfer(settings(args, method, seed), xs, labels, ys, j, l, fewshot)
                print(json.dumps({"bench": "transfer_fewshot", "pair": spec, "seed": seed, "method": method, **recipe(args, method, len(xs), len(ys)),
                                  "fewshot": k, "restarts": args.restarts, **transfer_accuracy(result, ry)}), flush=True)


def heldout_metrics(model, pool: DatasetPool, refs, truth: np.ndarray) -> dict[str, float]:
    """Accuracy of the reward's episode-return order on every non-tied held-out pair, and Spearman."""
    ds = pool.get(refs[0].dataset)
    pred = np.array([model.predict_features(model.spec.episode(ds, r.demo))[0].sum() for r in refs])
    i, k = all_pairs(len(refs))
    decided = truth[i] != truth[k]
    acc = float(np.mean((pred[i] > pred[k])[decided] == (truth[i] > truth[k])[decided]))
    return {"accuracy": acc, **return_correlations(pred, truth)}


def bench_end2end(args) -> None:
    """RRL on transferred labels vs BT/RRL on as many oracle target labels, and BT on transferred."""
    for spec in args.pairs:
        (xs, rx, _, _), (ys, ry, refs, pool) = load_pair(spec, args.episodes, args.features, args.target_seed)
        n_train = int(0.75 * len(ys))
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            labels = oracle_labels(rx, args.source_labels, rng)
            j, l = random_pairs(n_train, args.target_labels, rng)
            method = args.methods[0]
            result, _ = transfer(settings(args, method, seed), xs, labels, ys[:n_train], j, l)
            keep = result.keep(0.0)
            value, weight = result.training_labels(args.label_mode)
            transferred = [Comparison(refs[a], refs[b], float(v), float(w)) for a, b, v, w, k in zip(j, l, value, weight, keep) if k]
            oracle = [Comparison(refs[a], refs[b], 0.5 if ry[a] == ry[b] else float(ry[a] > ry[b])) for a, b in zip(j, l)]
            acc = transfer_accuracy(result, ry)
            for labels_name, comps in (("transferred", transferred), ("oracle", oracle)):
                for kind in ("rrl", "bt"):
                    cfg = RewardConfig(kind=kind, ensemble=1, hidden=[64, 64], lr=1e-3, epochs=args.epochs, batch_size=32,
                                       val_fraction=0.0, patience=args.epochs + 1, bootstrap=False, seed=seed)
                    t = time.perf_counter()
                    model, _ = fit_trajectory_reward(comps, pool, cfg, progress=False)
                    res = heldout_metrics(model, pool, refs[n_train:], ry[n_train:])
                    print(json.dumps({"bench": "transfer_end2end", "pair": spec, "seed": seed, "method": method, **recipe(args, method, len(xs), n_train), "labels": labels_name,
                                      "label_mode": args.label_mode if labels_name == "transferred" else "oracle",
                                      "reward": kind, "comparisons": len(comps), "transfer_accuracy": acc["accuracy"],
                                      "train_s": time.perf_counter() - t, **res}), flush=True)


def random_walks(n: int, dim: int, seed: int, length: int = 50) -> tuple[list[np.ndarray], np.ndarray]:
    """Synthetic trajectories: random walks whose drift grows with a hidden quality in [0, 1]
    (skewed, so the set has no mirror symmetry), seen through a random linear map."""
    rng = np.random.default_rng(seed)
    quality = rng.beta(2.0, 5.0, n)
    mix = rng.standard_normal((3, dim))
    steps = 0.3 * rng.standard_normal((n, length, 3))
    steps[:, :, 0] += 0.5 * quality[:, None]
    steps[:, :, 1] += 0.2 * quality[:, None] ** 2
    walks = steps.cumsum(1) @ mix
    return list(walks), quality


def _speed_one(n: int, solver: str, n_labels: int, n_pairs: int) -> dict:
    xs, qx = random_walks(n, 8, seed=1)
    ys, qy = random_walks(n, 11, seed=2)
    rng = np.random.default_rng(0)
    i, k = random_pairs(n, n_labels, rng)
    labels = SourceLabels(i, k, (qx[i] > qx[k]).astype(float))
    j, l = random_pairs(n, n_pairs, np.random.default_rng(1))
    tracemalloc.start()
    t = time.perf_counter()
    result, plan = transfer(TransferSettings(method=solver), xs, labels, ys, j, l)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    acc = transfer_accuracy(result, qy)
    np.save(f"/tmp/bench_transfer_{solver}_{n}.npy", result.value)
    return {"bench": "transfer_speed", "n": n, "solver": solver, "seconds": seconds, "plan_seconds": plan.seconds,
            "peak_traced_mb": peak / 2**20, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "source_labels": len(labels), "pairs": n_pairs, "plan_nonzeros": plan.nonzeros, "info": str(plan.info), **acc}


def bench_speed(args) -> None:
    """Each run in a fresh process so that peak memory is its own."""
    for n in args.sizes:
        for solver in ([*args.solvers, "gw_exact"] if n <= args.exact_up_to else args.solvers):
            cmd = [sys.executable, __file__, "speed-one", "--n", str(n), "--solver", solver,
                   "--source-labels", str(min(args.source_labels, n * (n - 1) // 2) if args.source_labels > 0 else 0)]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            if out.returncode != 0:
                print(json.dumps({"bench": "transfer_speed", "n": n, "solver": solver, "error": out.stderr[-500:]}), flush=True)
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
        if n <= args.exact_up_to:
            exact = np.load(f"/tmp/bench_transfer_gw_exact_{n}.npy")
            for solver in args.solvers:
                a = np.load(f"/tmp/bench_transfer_{solver}_{n}.npy")
                print(json.dumps({"bench": "transfer_speed_agreement", "n": n, "solver": solver, "hard_label_agreement": float(np.mean((a > 0.5) == (exact > 0.5)))}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["accuracy", "fewshot", "end2end", "speed", "speed-one"])
    ap.add_argument("--pairs", nargs="+", default=PUSH_PAIRS + MW_PAIRS)
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--source-labels", type=int, default=0, help="oracle-labelled source pairs (0: every pair)")
    ap.add_argument("--target-labels", type=int, default=500, help="end2end: labelled target pairs for training")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--label-mode", default="hard", choices=list(LABEL_MODES),
                    help="end2end: train on the side the transferred label picks, weighted by |2z - 1| (hard), or on z (soft, PEARL)")
    ap.add_argument("--restarts", type=int, default=0)
    ap.add_argument("--features", default=DEFAULT_FEATURES, help="feature blocks joined by '+' (states, actions, action_deltas, abs_action_deltas) or state_action")
    ap.add_argument("--distance", default="euclidean", choices=["euclidean", "dtw", "embedding"])
    ap.add_argument("--length", type=int, default=None, help="steps every trajectory is resampled to (default: 100 per_block, 50 joint and baselines)")
    ap.add_argument("--time", default="absolute", choices=["absolute", "normalised"], help="absolute: pad to the task's longest episode at rest")
    ap.add_argument("--geometry", default="per_block", choices=list(GEOMETRIES), help="entropic GW: each feature block's distances matched at once, or one joint distance")
    ap.add_argument("--epsilon", type=float, default=None, help="entropic GW regularisation (default: 0.3 per_block, 0.005 joint)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--target-seed", type=int, default=0,
                    help="collection seed of the target data (0: the source's, so episode i shares its initial layout and noise level; 1: unpaired)")
    ap.add_argument("--sizes", nargs="+", type=int, default=[2000, 10000])
    ap.add_argument("--fewshot", nargs="+", type=int, default=[0, 10, 20, 50], help="fewshot: real target labels")
    ap.add_argument("--exact-up-to", type=int, default=2000)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--solver", default="gw_landmarks")
    ap.add_argument("--solvers", nargs="+", default=["gw_landmarks", "gw_quantized"], help="speed: the scalable solvers to time")
    ap.add_argument("--pairs-eval", type=int, default=20000)
    args = ap.parse_args()
    if args.what == "speed-one":
        print(json.dumps(_speed_one(args.n, args.solver, args.source_labels, args.pairs_eval)))
        return
    {"accuracy": bench_accuracy, "fewshot": bench_fewshot, "end2end": bench_end2end, "speed": bench_speed}[args.what](args)


if __name__ == "__main__":
    main()
