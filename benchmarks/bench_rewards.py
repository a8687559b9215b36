"""Trajectory rewards: robopref vs imitation 1.0.1, and robustness to label noise.

Same segments, same labels, same network (one MLP, hidden 64-64), same epochs, lr and
batch size for both libraries; held-out accuracy against the oracle, Spearman of
predicted segment returns with ground truth, and wall-clock training time.
imitation is a benchmark-only dependency (`make bench-deps`); it is never a robopref
dependency.

    python benchmarks/bench_rewards.py [--tasks push2d_avoid metaworld:drawer-open-v3 ...] [--seeds N --seed-start S]

More seeds for an earlier run: the same command with --seed-start (runs are
deterministic given the seed); report_rewards.py merges the outputs.

Prints one JSON object per result line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace

import numpy as np
import torch

from _datasets import collected
from robopref.data import Dataset, sample_segments
from robopref.data.pool import DatasetPool
from robopref.eval.preference_metrics import preference_accuracy, return_correlations
from robopref.rewards import FeatureSpec, RewardConfig, TrajectoryRewardModel, TrustFilterConfig, train_reward
from robopref.rewards.preferences import ComparisonTensors
from robopref.teachers import make_teacher, segment_returns

SEG = 25
HIDDEN = [64, 64]
EPOCHS = 30
LR = 1e-3
BATCH = 32
NOISE_VARIANTS = {  # RewardConfig overrides of the label-noise runs
    "bt": {},
    "bt_smoothing": {"label_smoothing": 0.2},
    "bt_trust_loop": {"trust": TrustFilterConfig(enabled=True, warmup=5, rounds=0)},  # the in-training filter alone
    "bt_trust": {"trust": TrustFilterConfig(enabled=True, warmup=5)},  # + label-cleaning rounds (defaults)
    "bt_noise_lik": {"flip_prob": 0.2},  # noise-aware likelihood told the true ε = 0.2
    "rrl": {"kind": "rrl"},
    # bt_trust plus averaging and shrinkage (2026-11-24, session 4): 5 members (the
    # cleaning rounds' judges too) and L2 weight decay
    "bt_trust_k5_wd1e-2": {"trust": TrustFilterConfig(enabled=True, warmup=5), "ensemble": 5, "weight_decay": 1e-2},
    "bt_trust_k5_wd2e-2": {"trust": TrustFilterConfig(enabled=True, warmup=5), "ensemble": 5, "weight_decay": 2e-2},
}
# Session 6 (2026-11-24): changes to bt_trust_k5_wd2e-2 (robust losses, co-teaching, early judges, pseudo-labels, RRL λ)
_K5 = NOISE_VARIANTS["bt_trust_k5_wd2e-2"]
NOISE_VARIANTS.update({f"bt_trust_k5_wd2e-2_{suffix}": {**_K5, **over} for suffix, over in {
    "gce5": {"gce_q": 0.5}, "gce8": {"gce_q": 0.8},  # generalised cross-entropy (judges and final fit)
    "boot2": {"self_target": 0.2},  # soft bootstrapping
    "peer": {"trust": TrustFilterConfig(enabled=True, warmup=5, peer_select=True)},  # co-teaching after the cleaning rounds
    "peer_r0": {"trust": TrustFilterConfig(enabled=True, warmup=5, rounds=0, peer_select=True)},  # co-teaching instead of them
    "re5": {"trust": TrustFilterConfig(enabled=True, warmup=5, round_epochs=5)},  # early-stopped judges
    "re8": {"trust": TrustFilterConfig(enabled=True, warmup=5, round_epochs=8)},
    "ps1000": {"pseudo_pairs": 1000},  # SURF pseudo-labels, threshold 0.95
    "ps2000_t9": {"pseudo_pairs": 2000, "pseudo_threshold": 0.9},
    "rrl_kl1": {"kind": "rrl", "kl_weight": 1.0}, "rrl_kl01": {"kind": "rrl", "kl_weight": 0.01},  # RRL + cleaning rounds, λ tuned
}.items()})


def task_dataset(task: str, episodes: int) -> tuple[str, str]:
    """(dataset path, ground-truth signal) for ``push2d_<task>`` or ``metaworld:<name>``."""
    if task.startswith("metaworld:"):
        name = task.split(":", 1)[1]
        return str(collected(f"mw_{name}_{episodes}", "env=metaworld", f"env.task={name}", f"episodes={episodes}", "quality=mixed")), "task_reward"
    return str(collected(f"{task}_{episodes}", f"env={task}", f"episodes={episodes}", "noise=0.5", "aligned=false", "env.image_size=0")), "pref_score"


def pairs_tensors(feats: np.ndarray, i0: np.ndarray, i1: np.ndarray, y: np.ndarray) -> ComparisonTensors:
    x = torch.from_numpy(feats)
    m = torch.ones(len(i0), feats.shape[1])
    return ComparisonTensors(x[i0], m, x[i1], m, torch.tensor(y, dtype=torch.float32), torch.ones(len(i0)))


def heldout(pred_return: np.ndarray, truth: np.ndarray, rng: np.random.Generator, n: int = 2000) -> dict[str, float]:
    i0, i1 = rng.integers(0, len(truth), n), rng.integers(0, len(truth), n)
    y = np.where(truth[i0] == truth[i1], 0.5, (truth[i0] > truth[i1]).astype(float))
    p = 1 / (1 + np.exp(-(pred_return[i0] - pred_return[i1])))
    return {"accuracy": preference_accuracy(p, y), **return_correlations(pred_return, truth)}


def train_robopref(feats, i0, i1, y, seed: int, **over) -> tuple[np.ndarray, float]:
    """A robopref reward on the given pairs; ``over`` replaces any of the shared settings."""
    base = dict(kind="bt", ensemble=1, hidden=HIDDEN, lr=LR, epochs=EPOCHS, batch_size=BATCH, val_fraction=0.0,
                patience=EPOCHS + 1, bootstrap=False, seed=seed)
    cfg = RewardConfig(**{**base, **over})
    spec = FeatureSpec(obs_keys=[], mean=np.zeros(feats.shape[-1]), std=np.ones(feats.shape[-1]))
    model = TrajectoryRewardModel(cfg, spec)
    t = time.perf_counter()
    train_reward(model, pairs_tensors(feats, i0, i1, y), progress=False)
    return model, time.perf_counter() - t


def train_imitation(feats, i0, i1, y, obs_dim: int, seed: int) -> tuple[object, float]:
    import gymnasium as gym
    from imitation.algorithms import preference_comparisons as pc
    from imitation.data.types import TrajectoryWithRew
    from imitation.rewards.reward_nets import BasicRewardNet

    torch.manual_seed(seed)
    act_dim = feats.shape[-1] - obs_dim
    obs_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    act_space = gym.spaces.Box(-np.inf, np.inf, (act_dim,), np.float32)
    net = BasicRewardNet(obs_space, act_space, use_state=True, use_action=True, use_next_state=False, use_done=False, hid_sizes=tuple(HIDDEN))

    def traj(f: np.ndarray) -> TrajectoryWithRew:
        obs = np.concatenate([f[:, :obs_dim], f[-1:, :obs_dim]])  # imitation wants L+1 observations
        return TrajectoryWithRew(obs=obs, acts=f[:, obs_dim:], infos=None, terminal=False, rews=np.zeros(len(f), np.float32))

    data = pc.PreferenceDataset()
    data.push([(traj(feats[a]), traj(feats[b])) for a, b in zip(i0, i1)], np.asarray(y, np.float32))
    trainer = pc.BasicRewardTrainer(pc.PreferenceModel(net), pc.CrossEntropyRewardLoss(), rng=np.random.default_rng(seed),
                                    batch_size=BATCH, epochs=EPOCHS, lr=LR)
    t = time.perf_counter()
    trainer.train(data)
    return net, time.perf_counter() - t


def imitation_returns(net, feats: np.ndarray, obs_dim: int) -> np.ndarray:
    flat = feats.reshape(-1, feats.shape[-1])
    with torch.no_grad():
        r = net(torch.from_numpy(flat[:, :obs_dim]), torch.from_numpy(flat[:, obs_dim:]), None, None).numpy()
    return r.reshape(feats.shape[:2]).sum(1)


def robopref_returns(model, feats: np.ndarray) -> np.ndarray:
    return model.predict_features(feats)[0].sum(1)


def prepare(task: str, episodes: int, n_train_segments: int, n_test_segments: int, seed: int):
    path, signal = task_dataset(task, episodes)
    ds = Dataset(path)
    pool = DatasetPool([ds])
    rng = np.random.default_rng(seed)
    segs = list(dict.fromkeys(sample_segments(ds, SEG, n_train_segments + n_test_segments, rng)))
    spec = FeatureSpec.default_for(ds).fit(pool, [path])
    feats = np.stack([spec.segment(pool, s) for s in segs])
    truth = segment_returns(pool, segs, signal)
    obs_dim = feats.shape[-1] - ds.action_dim
    return feats, truth, obs_dim, len(segs) - n_test_segments


def labels(truth: np.ndarray, n: int, n_train: int, teacher: str, rng: np.random.Generator, **params):
    i0 = rng.integers(0, n_train, n)
    i1 = (i0 + rng.integers(1, n_train, n)) % n_train
    ans = make_teacher(teacher, **params).answer_batch(np.stack([truth[i0], truth[i1]], 1), rng)
    keep = np.array([a.kind != "skip" for a in ans])
    y = np.array([a.value if a.value is not None else 0.5 for a in ans])
    return i0[keep], i1[keep], y[keep]


def emit(**row) -> None:
    """One result line, with the 1-minute load average when it finished (timings depend on it)."""
    print(json.dumps({**row, "load1": os.getloadavg()[0]}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", nargs="+", default=["metaworld:drawer-open-v3", "metaworld:window-open-v3", "metaworld:button-press-v3", "push2d_avoid"])
    ap.add_argument("--budgets", nargs="+", type=int, default=[50, 100, 200, 500])
    ap.add_argument("--episodes", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--seed-start", type=int, default=0, help="first seed: add seeds to an earlier run (seeds seed-start .. seed-start+seeds-1)")
    ap.add_argument("--skip-imitation", action="store_true")
    ap.add_argument("--skip-noise", action="store_true")
    ap.add_argument("--skip-comparison", action="store_true", help="only the label-noise runs")
    ap.add_argument("--variants", nargs="+", default=list(NOISE_VARIANTS), choices=list(NOISE_VARIANTS), help="label-noise variants to run")
    ap.add_argument("--eps", nargs="+", type=float, default=[0.0, 0.1, 0.2, 0.3], help="mistake-teacher flip probabilities of the label-noise runs")
    ap.add_argument("--ensemble", type=int, default=0, help="also train an ensemble of this many members (robopref default: 3)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # both libraries train small MLPs; one thread is fastest and fair
    warm = False
    for task in args.tasks:
        feats, truth, obs_dim, n_train = prepare(task, args.episodes, 1500, 1000, seed=0)
        test = slice(n_train, None)
        if not warm:  # torch's one-off set-up (optimizer, kernels) would otherwise land in the first timed call
            i0, i1, y = labels(truth, 16, n_train, "oracle", np.random.default_rng(0))
            train_robopref(feats, i0, i1, y, 0)
            if not (args.skip_imitation or args.skip_comparison):
                train_imitation(feats, i0, i1, y, obs_dim, 0)
            warm = True
        for budget in [] if args.skip_comparison else args.budgets:
            for seed in range(args.seed_start, args.seed_start + args.seeds):
                rng = np.random.default_rng(100 + seed)
                i0, i1, y = labels(truth, budget, n_train, "oracle", rng)
                model, t_ours = train_robopref(feats, i0, i1, y, seed)
                res = heldout(robopref_returns(model, feats[test]), truth[test], np.random.default_rng(seed))
                emit(bench="reward_vs_imitation", task=task, labels=budget, seed=seed, lib="robopref", train_s=t_ours, **res)
                if args.ensemble > 1:
                    model, t_ens = train_robopref(feats, i0, i1, y, seed, ensemble=args.ensemble)
                    res = heldout(robopref_returns(model, feats[test]), truth[test], np.random.default_rng(seed))
                    emit(bench="reward_vs_imitation", task=task, labels=budget, seed=seed, lib=f"robopref_k{args.ensemble}", train_s=t_ens, **res)
                if not args.skip_imitation:
                    net, t_imit = train_imitation(feats, i0, i1, y, obs_dim, seed)
                    res = heldout(imitation_returns(net, feats[test], obs_dim), truth[test], np.random.default_rng(seed))
                    emit(bench="reward_vs_imitation", task=task, labels=budget, seed=seed, lib="imitation", train_s=t_imit, **res)
        if args.skip_noise:
            continue
        variants = {k: v for k, v in NOISE_VARIANTS.items() if k in args.variants}
        for eps in args.eps:
            for name, over in variants.items():
                for seed in range(args.seed_start, args.seed_start + args.seeds):
                    rng = np.random.default_rng(200 + seed)
                    i0, i1, y = labels(truth, 500, n_train, "mistake", rng, eps_mistake=eps)
                    model, t = train_robopref(feats, i0, i1, y, seed, **dict(over))
                    res = heldout(robopref_returns(model, feats[test]), truth[test], np.random.default_rng(seed))
                    emit(bench="reward_noise", task=task, eps=eps, variant=name, seed=seed, train_s=t, **res)


if __name__ == "__main__":
    main()
