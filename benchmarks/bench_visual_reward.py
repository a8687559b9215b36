"""Visual rewards (RAPL vs the RLHF visual baseline): quality and speed; one JSON object per line.

    python benchmarks/bench_visual_reward.py quality --tasks avoid group --triplets 10 30 --seeds 3
    python benchmarks/bench_visual_reward.py cross          # align on gripper, score short_stick
    python benchmarks/bench_visual_reward.py metaworld      # reach-v3, corner camera, "keep the hand high"
    python benchmarks/bench_visual_reward.py speed          # OT reward of 1,000 rollouts × 50 frames
    python benchmarks/bench_visual_reward.py sinkhorn       # batched Sinkhorn vs pair-by-pair ot.sinkhorn

Quality: each push2d task has an aligned and an unaligned expert dataset (collected once
into benchmarks/.data/), by default each at collect's mixed noise levels (``--data mixed``;
``--data noise05``: each expert at noise 0.5, the design of sessions 1–6). Labels come
from the first ``--train`` episodes of each, held-out Spearman and triplet accuracy from
the rest. A ``data`` row per task says how the held-out episodes spread over task
success and the preference (see ``design_stats``). Per seed, one time-contrastive
pre-training gives the encoder that every method starts from; RAPL gets N ranked
triplets, RLHF-visual 5N oracle-labelled pairs; "unaligned" is RAPL's OT reward with the
pre-trained encoder and the same preferred references, before alignment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _datasets import collected  # noqa: E402

from robopref.data.pool import DatasetPool  # noqa: E402
from robopref.data.sampling import sample_pairs, whole_episodes  # noqa: E402
from robopref.prefs import PreferenceStore  # noqa: E402
from robopref.rewards.preferences import comparisons_from_store  # noqa: E402
from robopref.rewards.visual.recipe import RaplRecipe, RlhfVisualRecipe  # noqa: E402
from robopref.teachers import label_queries, make_teacher  # noqa: E402

MACHINE = "2-core CPU shared with other engineers' jobs, no GPU"


def emit(row: dict[str, Any]) -> None:
    row.setdefault("machine", MACHINE)
    row.setdefault("load_avg_1m", os.getloadavg()[0])
    print(json.dumps(row, default=float), flush=True)


# (task, embodiment) → (episodes per dataset, seed of the aligned expert's run, seed of the unaligned one)
DATASETS = {("avoid", "gripper"): (40, 1, 2), ("group", "gripper"): (40, 3, 4), ("avoid", "short_stick"): (20, 5, 6)}


# How the two experts' episodes vary in quality (``--data``; docs/benchmarks-visual.md, session 7):
# - mixed (default since session 7): each expert at collect's ``quality=mixed`` noise levels
#   (clean expert to near-random, cycled over episodes), so the held-out rollouts span both
#   task success and the preference. The ranking then leans on the task: the task return
#   alone has Spearman 0.83 with the held-out pref_score on avoid, so read the unaligned row
#   and the ``spearman_minus_penalty`` column, not the Spearman alone.
# - noise05 (sessions 1–6): each expert at noise 0.5. The aligned avoid expert (detouring
#   round the zone) then succeeds in 3 of 40 episodes and honours the zone in 8: no held-out
#   avoid episode does what the person wants, and the ranking ignores the task (Spearman 0.15).
DATA_DESIGNS = {"mixed": ("quality=mixed",), "noise05": ("noise=0.5",)}


def collect_overrides(task: str, embodiment: str, aligned: bool, seed: int, episodes: int, design: str) -> tuple[str, list[str]]:
    """(cached dataset name, ``robopref collect`` overrides) of one expert's dataset under a data design."""
    if design not in DATA_DESIGNS:
        raise ValueError(f"unknown data design {design!r}; choose one of {sorted(DATA_DESIGNS)}")
    tag = "al" if aligned else "un"
    name = f"visual_{task}_{embodiment}_{tag}" + ("" if design == "noise05" else f"_{design}")  # noise05 keeps its old cache name
    return name, [f"env=push2d_{task}", f"env.embodiment={embodiment}", f"episodes={episodes}", *DATA_DESIGNS[design],
                  f"aligned={str(aligned).lower()}", f"seed={seed}"]


def task_data(task: str, embodiment: str = "gripper", design: str = "mixed") -> list[str]:
    """The aligned and unaligned expert datasets of a push2d task (collected once, cached)."""
    episodes, seed_al, seed_un = DATASETS[(task, embodiment)]
    specs = [collect_overrides(task, embodiment, aligned, seed, episodes, design) for aligned, seed in ((True, seed_al), (False, seed_un))]
    return [str(collected(name, *overrides)) for name, overrides in specs]


def design_stats(pool: DatasetPool, episodes: list) -> dict[str, float]:
    """How ``episodes`` spread over the task and the preference: the fractions that succeed,
    honour the preference (never a violation), both, and neither; and the Spearman
    correlation of the summed ``pref_score`` (what the benchmark ranks by) with its two
    parts, the task return and minus the preference penalty (pref_score − task return),
    and with minus the episode length (success ends an episode early). These are the
    scores of rewards that see only the task, only the preference, or only the time."""
    from robopref.teachers.returns import segment_returns, step_signals

    pref = segment_returns(pool, episodes, "pref_score")
    task = segment_returns(pool, episodes, "task_reward")
    success = np.array([s.any() for s in step_signals(pool, episodes, "success")])
    honour = np.array([not s.any() for s in step_signals(pool, episodes, "violation")])
    length = np.array([float(r.length) for r in episodes])
    return {"episodes": len(episodes), "success": success.mean(), "honour": honour.mean(), "success_and_honour": (success & honour).mean(),
            "neither": (~success & ~honour).mean(), "pref_return_sd": pref.std(), "rho_pref_task": _spearman(pref, task),
            "rho_pref_minus_penalty": _spearman(pref, pref - task), "rho_pref_minus_length": _spearman(pref, -length)}


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y)[0])


def part_correlations(model, pool: DatasetPool, heldout: list) -> dict[str, float]:
    """Spearman of the learned return with the two parts of the held-out ``pref_score``: the
    task return and minus the preference penalty. With mixed-quality data the task part
    alone ranks episodes well, so these say which part a reward has picked up."""
    from robopref.teachers.returns import segment_returns

    pred = model.returns(pool, heldout)
    pref, task = segment_returns(pool, heldout, "pref_score"), segment_returns(pool, heldout, "task_reward")
    return {"spearman_task": _spearman(pred, task), "spearman_minus_penalty": _spearman(pred, pref - task)}


def split(pool: DatasetPool, datasets: list[str], train: int) -> tuple[list, list]:
    """First ``train`` episodes of each dataset for labels, the rest held out."""
    tr, te = [], []
    for d in datasets:
        eps = whole_episodes(pool.get(d))
        tr += eps[:train]
        te += eps[train:]
    return tr, te


def labelled_store(path: Path, pool: DatasetPool, episodes: list, n: int, k: int, seed: int) -> PreferenceStore:
    """``n`` oracle-labelled queries of ``k`` whole episodes (pairs or triplets)."""
    rng = np.random.default_rng(seed)
    store = PreferenceStore(path)
    ids = store.add_queries(sample_pairs(episodes, n, rng, k=k), origin="uniform")
    label_queries(make_teacher("oracle"), store, pool, [store.query(i) for i in ids], rng, "pref_score")
    return store


def evaluate_on(recipe, model, pool: DatasetPool, heldout: list, seed: int) -> dict[str, float]:
    """Held-out Spearman and triplet accuracy (evaluation over exactly ``heldout``)."""
    model.meta["train_episodes"] = [(d, e) for d in {r.dataset for r in heldout} for e in pool.get(d).demos
                                    if all(not (r.dataset == d and r.demo == e) for r in heldout)]
    return recipe.evaluate(model, pool, sorted({r.dataset for r in heldout}), 0, np.random.default_rng(seed), 500, "pref_score")


def fit(recipe, store: PreferenceStore, pool: DatasetPool, seed: int):
    t = time.perf_counter()
    model, hist = recipe.fit(store, comparisons_from_store(store), pool, seed=seed, progress=False)
    return model, hist, time.perf_counter() - t


def pretrained(tmp: Path, pool: DatasetPool, store: PreferenceStore, seed: int, steps: int, encoder: dict[str, Any]) -> str:
    """Pre-train the shared encoder once (time-contrastive), saved as a visual reward file."""
    rec = RaplRecipe(encoder=encoder, pretrain={"steps": steps}, align={"epochs": 0})
    model, hist, secs = fit(rec, store, pool, seed)
    path = tmp / f"encoder_{seed}.pt"
    model.save(path)
    emit({"bench": "pretrain", "seed": seed, "steps": steps, "seconds": secs, "first_loss": hist.pretrain_loss[0] if hist.pretrain_loss else None,
          "last_loss": hist.pretrain_loss[-1] if hist.pretrain_loss else None})
    return str(path)


# Meta-World reach with a corner camera; the person also wants the hand kept high:
# pref_score = task reward − HEIGHT_PENALTY per metre the hand is below HAND_HEIGHT.
HAND_HEIGHT = 0.2
HEIGHT_PENALTY = 20.0


def metaworld_data() -> list[str]:
    """Meta-World reach-v3 frames (mixed-quality expert) with the hand-height preference written into pref_score."""
    import shutil

    import h5py

    src = collected("visual_mw_reach_corner", "env=metaworld", "env.task=reach-v3", "env.camera=corner", "env.horizon=80",
                    "episodes=30", "quality=mixed")
    dst = src.with_name("visual_mw_reach_corner_height.hdf5")
    if not dst.exists():
        shutil.copy(src, dst)
        with h5py.File(dst, "r+") as f:
            for demo in f["data"]:
                g = f["data"][demo]
                below = np.maximum(0.0, HAND_HEIGHT - g["obs/state"][:, 2])
                g["infos/pref_score"][...] = g["infos/task_reward"][()] - HEIGHT_PENALTY * below
    return [str(dst)]


def encoder_config(args: argparse.Namespace) -> dict[str, Any]:
    """The shared encoder's config: its kind, and the head's size when given."""
    return {"kind": args.encoder, **({"out_dim": args.out_dim} if args.out_dim else {})}


def rapl_options(args: argparse.Namespace) -> dict[str, Any]:
    """RAPL recipe overrides given on the command line (none: the recipe's defaults)."""
    return {k: v for k, v in (("references", args.rapl_references), ("reference_mode", args.reference_mode), ("eps", args.ot_eps),
                              ("sinkhorn_iters", args.sinkhorn_iters)) if v is not None}


def rapl_align(args: argparse.Namespace) -> dict[str, Any]:
    """RAPL alignment overrides given on the command line (none: the recipe's defaults)."""
    return {k: v for k, v in (("temperature", args.align_temperature), ("anchor", args.align_anchor),
                              ("length_weighted", args.align_length_weighted or None), ("l2sp", args.align_l2sp),
                              ("trainable", args.align_trainable), ("lr", args.align_lr)) if v is not None}


def quality(args: argparse.Namespace, task: str, train_embodiment: str = "gripper", eval_embodiment: str | None = None) -> None:
    pool = DatasetPool()
    datasets = metaworld_data() if task == "metaworld_reach_height" else task_data(task, train_embodiment, args.data)
    train, heldout = split(pool, datasets, args.train if task != "metaworld_reach_height" else 20)
    if eval_embodiment:
        heldout = [r for d in task_data(task, eval_embodiment, args.data) for r in whole_episodes(pool.get(d))]
    bench = "cross_embodiment" if eval_embodiment else "quality"
    data = args.data if task != "metaworld_reach_height" else "metaworld_mixed"
    if task != "metaworld_reach_height":
        for part, eps in (("labelled", train), ("heldout", heldout)):
            emit({"bench": "data", "task": task, "data": data, "part": part, "embodiment": eval_embodiment if part == "heldout" and eval_embodiment
                  else train_embodiment, **design_stats(pool, eps)})
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        with tempfile.TemporaryDirectory() as tmp_s:
            tmp = Path(tmp_s)
            for n in args.triplets:
                trip = labelled_store(tmp / f"t{n}.sqlite", pool, train, n, 3, seed)
                if n == args.triplets[0]:
                    init = pretrained(tmp, pool, trip, seed, args.pretrain_steps, encoder_config(args))
                common = {"encoder": encoder_config(args), "init_encoder": init, "frames": args.frames}
                row = {"bench": bench, "task": task, "data": data, "seed": seed, "triplets": n, "train_embodiment": train_embodiment,
                       "eval_embodiment": eval_embodiment or train_embodiment, "heldout_episodes": len(heldout)}
                rapl = rapl_options(args)
                rec = RaplRecipe(**common, **rapl, align={**rapl_align(args), "epochs": 0})
                model, _, _ = fit(rec, trip, pool, seed)
                emit({**row, "method": "unaligned", **evaluate_on(rec, model, pool, heldout, seed), **part_correlations(model, pool, heldout)})
                rec = RaplRecipe(**common, **rapl, align={**rapl_align(args), "epochs": args.align_epochs})
                model, hist, secs = fit(rec, trip, pool, seed)
                ev = evaluate_on(rec, model, pool, heldout, seed)
                emit({**row, "method": "rapl", "labels": n, "fit_seconds": secs, "train_accuracy": hist.train_accuracy[-1], **ev,
                      **part_correlations(model, pool, heldout)})
                if args.plot and seed == 0 and n == args.triplets[-1]:
                    from robopref.rewards.visual.plots import plot_ot_plans
                    from robopref.teachers.returns import segment_returns

                    truth = segment_returns(pool, heldout, "pref_score")
                    png = Path(args.plot) / f"ot_plan_{task}{'_' + eval_embodiment if eval_embodiment else ''}.png"
                    plot_ot_plans(model, pool, heldout[int(np.argmax(truth))], heldout[int(np.argmin(truth))], png,
                                  ("preferred (highest true return)", "dispreferred (lowest true return)"))
                    emit({"bench": "plot", "task": task, "png": str(png)})
                trip.close()
                pairs = labelled_store(tmp / f"p{n}.sqlite", pool, train, 5 * n, 2, seed + 1000)
                rec = RlhfVisualRecipe(**common)
                model, hist, secs = fit(rec, pairs, pool, seed)
                ev = evaluate_on(rec, model, pool, heldout, seed)
                emit({**row, "method": "rlhf_visual", "labels": 5 * n, "fit_seconds": secs, "train_accuracy": hist.train_accuracy[-1], **ev,
                      **part_correlations(model, pool, heldout)})
                pairs.close()


def speed(args: argparse.Namespace) -> None:
    """OT reward of 1,000 rollouts × 50 frames from a dataset file, encoder and reading included."""
    from robopref.data.segments import SegmentRef
    from robopref.rewards.visual.encoders import EncoderConfig, FrameEncoder
    from robopref.rewards.visual.model import VisualRewardModel

    pool = DatasetPool()
    datasets = task_data("avoid", design=args.data)
    refs = [SegmentRef(r.dataset, r.demo, s, 50) for d in datasets for r in whole_episodes(pool.get(d)) for s in range(0, r.length - 50 + 1, 5)]
    refs = [refs[i] for i in np.random.default_rng(0).choice(len(refs), args.rollouts, replace=len(refs) < args.rollouts)]
    for kind in args.speed_encoders:
        torch.manual_seed(0)
        settings = {"eps": 0.05, "sinkhorn_iters": 50, "frames": 24, "reference_mode": args.reference_mode or "best"}
        model = VisualRewardModel("rapl", FrameEncoder(EncoderConfig(kind=kind)), settings,
                                  references=torch.randn(args.references, 24, 32))
        n = args.rollouts if kind == "small_cnn" else max(50, args.rollouts // 10)
        t = time.perf_counter()
        rewards = model.segment_rewards(pool, refs[:n], chunk=250)
        secs = time.perf_counter() - t
        assert len(rewards) == n and all(len(r) == 50 for r in rewards)
        emit({"bench": "ot_reward_speed", "encoder": kind, "rollouts": n, "frames": 50, "references": args.references,
              "reference_mode": settings["reference_mode"], "seconds": secs,
              "rollouts_per_s": n / secs, "threads": torch.get_num_threads()})


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` calls (steady state: the caller warms up first)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def sinkhorn_speed(args: argparse.Namespace) -> None:
    """Batched torch Sinkhorn vs ``ot.sinkhorn`` pair by pair, same ε and iterations: the
    median of 5 (batched) or 3 (POT loop) timed calls after a warm-up call of each."""
    import ot

    from robopref.rewards.visual.sinkhorn import cosine_cost, sinkhorn

    g = torch.Generator().manual_seed(0)
    B, n, m = args.pairs, 50, 24
    C = cosine_cost(torch.randn(B, n, 32, generator=g), torch.randn(B, m, 32, generator=g))
    P = sinkhorn(C, eps=0.05, iters=50)  # auto: the kernel iteration (cosine costs, ε = 0.05); also the warm-up
    batched = _median_seconds(lambda: sinkhorn(C, eps=0.05, iters=50), 5)
    batched_log = _median_seconds(lambda: sinkhorn(C, eps=0.05, iters=50, method="log"), 5)
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    Cn = C.double().numpy()
    ref = [ot.sinkhorn(a, b, Cn[i], 0.05, numItermax=50, stopThr=0.0) for i in range(B)]
    loop = _median_seconds(lambda: [ot.sinkhorn(a, b, Cn[i], 0.05, numItermax=50, stopThr=0.0) for i in range(B)], 3)
    loop_log = _median_seconds(lambda: [ot.sinkhorn(a, b, Cn[i], 0.05, method="sinkhorn_log", numItermax=50, stopThr=0.0) for i in range(B)], 3)
    err = float(max(np.abs(P[i].double().numpy() - ref[i]).max() for i in range(B)))
    emit({"bench": "sinkhorn_speed", "pairs": B, "n": n, "m": m, "eps": 0.05, "iters": 50, "batched_seconds": batched,
          "batched_log_seconds": batched_log, "pot_loop_seconds": loop, "pot_log_loop_seconds": loop_log, "speedup_vs_pot": loop / batched,
          "speedup_log_vs_pot_log": loop_log / batched_log, "max_abs_plan_diff": err, "threads": torch.get_num_threads()})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", nargs="+", choices=["quality", "cross", "metaworld", "speed", "sinkhorn"])
    p.add_argument("--tasks", nargs="+", default=["avoid", "group"])
    p.add_argument("--triplets", nargs="+", type=int, default=[10, 30])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--seed-start", type=int, default=0, help="first seed (more seeds for an earlier run: seeds seed-start .. seed-start+seeds-1)")
    p.add_argument("--data", choices=sorted(DATA_DESIGNS), default="mixed",
                   help="mixed: each expert at collect's quality=mixed noise levels (default); noise05: each at noise 0.5 (sessions 1-6)")
    p.add_argument("--train", type=int, default=25, help="episodes per dataset that labels may come from")
    p.add_argument("--pretrain-steps", type=int, default=100, help="time-contrastive steps (100: the recipe's default)")
    p.add_argument("--align-epochs", type=int, default=20)
    p.add_argument("--align-temperature", type=float, default=None, help="RAPL's τ (default: the recipe's)")
    p.add_argument("--align-anchor", choices=["winner", "references"], default=None, help="default: the recipe's")
    p.add_argument("--align-length-weighted", action="store_true", help="RAPL: compare length-weighted OT scores (the returns) in the loss")
    p.add_argument("--align-l2sp", type=float, default=None, help="RAPL: L2-SP weight towards the pre-trained encoder (default: the recipe's, 0)")
    p.add_argument("--align-trainable", choices=["last", "projection"], default=None, help="RAPL: what alignment trains (default: the recipe's)")
    p.add_argument("--align-lr", type=float, default=None, help="RAPL: alignment learning rate (default: the recipe's)")
    p.add_argument("--ot-eps", type=float, default=None, help="RAPL: Sinkhorn ε in alignment and reward (default: the recipe's, 0.05)")
    p.add_argument("--sinkhorn-iters", type=int, default=None, help="RAPL: Sinkhorn iterations (default: the recipe's, 50)")
    p.add_argument("--rapl-references", type=int, default=None, help="RAPL's reference videos (default: the recipe's)")
    p.add_argument("--reference-mode", choices=["best", "mean"], default=None, help="RAPL, and the speed bench (default: the recipe's / best)")
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--encoder", default="small_cnn")
    p.add_argument("--out-dim", type=int, default=None, help="the encoder head's size (default: the encoder's, 32)")
    p.add_argument("--plot", default=None, help="folder for the OT-plan PNGs")
    p.add_argument("--rollouts", type=int, default=1000)
    p.add_argument("--references", type=int, default=30)
    p.add_argument("--speed-encoders", nargs="+", default=["small_cnn"])
    p.add_argument("--pairs", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: the shared machine is oversubscribed)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for what in args.what:
        if what == "quality":
            for task in args.tasks:
                quality(args, task)
        elif what == "cross":
            quality(args, "avoid", "gripper", "short_stick")
        elif what == "metaworld":
            quality(args, "metaworld_reach_height")
        elif what == "speed":
            speed(args)
        else:
            sinkhorn_speed(args)


if __name__ == "__main__":
    main()
