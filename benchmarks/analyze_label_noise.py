"""Why a task loses accuracy under label noise: the numbers behind docs/benchmarks.md.

Same segments, labels and network as ``bench_rewards.py``'s label-noise runs. Prints,
per task: how many held-out pairs are near ties; held-out accuracy by the pair's true
return gap (in standard deviations of the segment return) for clean and ε-noisy
labels; the accuracy of an oracle that drops exactly the flipped labels; and how many
flipped and correct labels the trust filter's cleaning rounds flip.

    python benchmarks/analyze_label_noise.py [--tasks push2d_avoid ...] [--seeds 0 1 2] [--eps 0.2] [--ensemble 5 --weight-decay 0.02]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from bench_rewards import BATCH, EPOCHS, HIDDEN, LR, labels, pairs_tensors, prepare, robopref_returns, train_robopref
from robopref.rewards import FeatureSpec, RewardConfig, TrustFilterConfig
from robopref.rewards.train import _fit_round
from robopref.rewards.trust import clean_labels

GAPS = (0.0, 0.1, 0.25, 0.5, 1.0, np.inf)


def heldout_pairs(truth: np.ndarray, seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """The held-out pairs bench_rewards.heldout scores (same generator, same order)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, len(truth), n), rng.integers(0, len(truth), n)


def accuracy_by_gap(pred: np.ndarray, truth: np.ndarray, seed: int) -> list[float]:
    """Held-out accuracy in each bin of |ΔR| / std(R), then over all pairs (ties excluded)."""
    i0, i1 = heldout_pairs(truth, seed)
    gap = np.abs(truth[i0] - truth[i1]) / truth.std()
    ok = np.sign(pred[i0] - pred[i1]) == np.sign(truth[i0] - truth[i1])
    decided = truth[i0] != truth[i1]
    return [float(ok[decided & (gap >= a) & (gap < b)].mean()) for a, b in zip(GAPS, GAPS[1:])] + [float(ok[decided].mean())]


def cleaning_flips(feats: np.ndarray, i0: np.ndarray, i1: np.ndarray, y: np.ndarray, wrong: np.ndarray, seed: int,
                   ensemble: int = 1, weight_decay: float = 0.0) -> tuple[int, int]:
    """(wrong labels flipped, correct labels flipped) by bt_trust's cleaning rounds: the
    same rounds, with the same seeds, that train_reward runs before training (judges of
    ``ensemble`` members trained with ``weight_decay``, as in bt_trust_k5_wd2e-2)."""
    cfg = RewardConfig(kind="bt", ensemble=ensemble, hidden=HIDDEN, lr=LR, epochs=EPOCHS, batch_size=BATCH, val_fraction=0.0, seed=seed,
                       weight_decay=weight_decay, trust=TrustFilterConfig(enabled=True))
    spec = FeatureSpec(obs_keys=[], mean=np.zeros(feats.shape[-1]), std=np.ones(feats.shape[-1]))
    data = pairs_tensors(feats, i0, i1, y)
    fixed, _ = clean_labels(spec, data, cfg, lambda judge, yy, keep: _fit_round(judge, data, yy, keep, cfg))
    flipped = (fixed != data.y).numpy()
    return int((flipped & wrong).sum()), int((flipped & ~wrong).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", nargs="+", default=["metaworld:button-press-v3", "push2d_avoid"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--eps", type=float, default=0.2)
    ap.add_argument("--ensemble", type=int, default=1, help="members of the cleaning rounds' judges")
    ap.add_argument("--weight-decay", type=float, default=0.0, help="the judges' weight decay")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for task in args.tasks:
        feats, truth, _, n_train = prepare(task, 60, 1500, 1000, seed=0)
        test = truth[n_train:]
        i0, i1 = heldout_pairs(test, 0)
        gap = np.abs(test[i0] - test[i1]) / test.std()
        print(f"## {task}: held-out pairs with |ΔR| < 0.05 / 0.1 / 0.25 std: "
              + " / ".join(f"{(gap < g).mean():.1%}" for g in (0.05, 0.1, 0.25)))
        rows: dict[str, list] = {"clean": [], "noisy": [], "oracle_drop": []}
        flips = []
        for seed in args.seeds:
            runs = {}
            for eps in (0.0, args.eps):
                runs[eps] = labels(truth, 500, n_train, "mistake", np.random.default_rng(200 + seed), eps_mistake=eps)
            a0, a1, clean = runs[0.0]
            b0, b1, y = runs[args.eps]
            wrong = y != clean  # the same pairs: both label sets come from the same generator state
            assert (a0 == b0).all() and (a1 == b1).all()
            for name, (j0, j1, lab) in {"clean": (a0, a1, clean), "noisy": (b0, b1, y), "oracle_drop": (b0[~wrong], b1[~wrong], y[~wrong])}.items():
                model, _ = train_robopref(feats, j0, j1, lab, seed)
                rows[name].append(accuracy_by_gap(robopref_returns(model, feats[n_train:]), test, seed))
            flips.append(cleaning_flips(feats, b0, b1, y, wrong, seed, args.ensemble, args.weight_decay) + (int(wrong.sum()),))
        bins = " | ".join(f"[{a:g}, {b:g})" for a, b in zip(GAPS, GAPS[1:])) + " | all"
        share = [float(((gap >= a) & (gap < b)).mean()) for a, b in zip(GAPS, GAPS[1:])]
        print(f"accuracy by |ΔR|/std  | {bins}\nshare of pairs        | " + " | ".join(f"{s:.2f}" for s in share) + " | 1")
        for name, r in rows.items():
            print(f"{name:21s} | " + " | ".join(f"{x:.3f}" for x in np.mean(r, 0)))
        for seed, (good, bad, n) in zip(args.seeds, flips):
            print(f"seed {seed}: cleaning flipped {good} of {n} wrong labels and {bad} of {500 - n} correct ones")


if __name__ == "__main__":
    main()
