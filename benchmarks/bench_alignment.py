"""Policy alignment benchmark (issue 8): does the aligned policy honour the person's preference?

Per seed: ``robopref pipeline experiment=<experiment>`` (demos -> diffusion policy -> rollouts
-> scripted person -> RRL and RAPL rewards -> its own alignment step -> before/after),
then the other alignment methods on the same policy, rollouts, labels and rewards with
``robopref align``, all evaluated on the same episode seeds:

- ``dpo_labels``: Diffusion-DPO on the person's labels directly,
- ``dpo_rapl``: DPO on rollouts ranked by the RAPL visual reward,
- ``dpo_rrl``: DPO on rollouts ranked by RRL (the top quarter against the bottom quarter),
- ``dpo_samples``: DPO on same-state chunk pairs (sampled at rollout states, simulated,
  ranked by RRL; ``robopref align pairs_from=samples``),
- ``best_of_n``: best of N = 16 sampled chunks scored by RRL,
- ``filtered_bc``: fine-tune the policy on the third of its demonstrations RRL ranks
  highest (``robopref align method=filtered_bc``; reward-filtered behaviour cloning).

Prints one JSON object per (seed, method): success and preference-honoured rates and the mean preference return before
and after, their change, the labels the person gave, and the load average; then one line
with best-of-N's per-chunk latency against the base policy's.

    python benchmarks/bench_alignment.py --seeds 0 1 2
    python benchmarks/bench_alignment.py --experiment avoid --seeds 0 1 2 3 4 --methods filtered_bc   # issue 8's avoid target
    python benchmarks/bench_alignment.py --experiment group --seeds 0 1 2 --methods filtered_bc
    python benchmarks/bench_alignment.py --seeds 0 --set experiment.rounds=2 --methods dpo_rrl best_of_n
    python benchmarks/bench_alignment.py --latency-only benchmarks/.data/alignment/<run> --latency-reps 60
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from bench_policy_success import LoadSampler, robopref
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("dpo_labels", "dpo_rapl", "dpo_rrl", "dpo_samples", "best_of_n", "filtered_bc")


def rates(evaluation: dict) -> dict:
    m = evaluation["metrics"]
    return {"success": m["success"]["mean"], "honoured": 1 - m["violation"]["mean"], "pref_return": m["pref_return"]["mean"], "episodes": evaluation["n_episodes"]}


def pipeline_method(align: dict) -> str | None:
    """The benchmark's name for the experiment's own alignment step, when it is one of METHODS."""
    if align.get("reward") != "rrl":
        return None
    if align["method"] == "dpo" and align.get("pairs_from") == "reward":
        return "dpo_rrl"
    return "filtered_bc" if align["method"] == "filtered_bc" else None


def variant_args(method: str, run: Path, align_args: list[str]) -> list[str]:
    """``robopref align`` overrides of one method on the pipeline run's artefacts."""
    state = json.loads((run / "pipeline.json").read_text())["steps"]
    policy = state["policy"]["outputs"]["checkpoint"]
    rollouts = str(run / "round_1" / "rollouts.hdf5")
    reward = lambda name: state[f"round_1/reward_{name}"]["outputs"]["checkpoint"]  # noqa: E731
    common = [f"policy={policy}", "seed=1000", "progress=false", *align_args]
    if method == "dpo_labels":
        return [*common, "method=dpo", "pairs_from=labels", f"store={run / 'prefs.sqlite'}", "sources=[scripted]",
                *[a for a in align_args if not a.startswith("same_start")], "same_start=false"]
    if method == "dpo_rrl":
        return [*common, "method=dpo", "pairs_from=reward", f"reward_checkpoint={reward('rrl')}", f"dataset=[{rollouts}]"]
    if method == "dpo_rapl":
        return [*common, "method=dpo", "pairs_from=reward", f"reward_checkpoint={reward('rapl')}", f"dataset=[{rollouts}]"]
    if method == "dpo_samples":
        return [*common, "method=dpo", "pairs_from=samples", f"reward_checkpoint={reward('rrl')}", f"dataset=[{rollouts}]", "dpo.epochs=10", "dpo.batch_pairs=32"]
    if method == "best_of_n":
        return [*common, "method=best_of_n", f"reward_checkpoint={reward('rrl')}", "n=16"]
    if method == "filtered_bc":
        demos = state["demos/aligned"]["outputs"]["dataset"]  # every demonstration (both experts append to one file)
        return [*common, "method=filtered_bc", f"reward_checkpoint={reward('rrl')}", f"dataset={demos}", "filtered.torch_threads=1"]
    raise ValueError(method)


def best_of_n_latency(run: Path, n: int = 16, reps: int = 30) -> dict:
    """Median wall time of one chunk: the base policy at batch 1 vs best-of-N (N chunks + scoring)."""
    import numpy as np
    import torch

    from robopref.align.best_of_n import BestOfNPolicy, TrajectoryRewardScorer
    from robopref.policies import load_policy
    from robopref.rewards.model import TrajectoryRewardModel
    from robopref.rollout.factory import make_env_from_dataset

    torch.set_num_threads(1)  # as in rollouts on a shared machine; the latency targets are per core
    state = json.loads((run / "pipeline.json").read_text())["steps"]
    base = load_policy(state["policy"]["outputs"]["checkpoint"], device="cpu")
    scorer = TrajectoryRewardScorer(TrajectoryRewardModel.load(state["round_1/reward_rrl"]["outputs"]["checkpoint"]), base.n_obs_steps - 1, base.n_action_steps)
    bon = BestOfNPolicy(base, scorer, n=n)
    env = make_env_from_dataset(run / "round_1" / "rollouts.hdf5")
    obs, _ = env.reset(seed=0)
    history = [{k: np.asarray(obs[k]) for k in base.keys}] * base.n_obs_steps

    single = {k: torch.from_numpy(np.stack([h[k] for h in history])[None]) for k in base.keys}

    def base_chunk() -> None:
        base.model.predict_action(single, generator=base.generator)

    def best() -> None:
        hist, chunks = bon.sample(history)
        scorer(hist, chunks)

    def wall_ms(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return 1000 * (time.perf_counter() - t0)

    for fn in (base_chunk, best, base_chunk, best):  # warm-up (the first calls trace the sampler)
        fn()
    # Interleaved: each repetition times one base chunk and then one best-of-N chunk, so both
    # see the same machine conditions (other jobs, clock changes); the ratio is the median of
    # the per-repetition ratios.
    base_t, bon_t = [], []
    for _ in range(reps):
        base_t.append(wall_ms(base_chunk))
        bon_t.append(wall_ms(best))
    hist, chunks = bon.sample(history)
    score_ms = statistics.median(wall_ms(lambda: scorer(hist, chunks)) for _ in range(reps))
    base_ms, bon_ms = statistics.median(base_t), statistics.median(bon_t)
    ratio = statistics.median(b / a for a, b in zip(base_t, bon_t))
    return {"bench": "best_of_n_latency", "n": n, "base_chunk_ms": round(base_ms, 2), "best_of_n_chunk_ms": round(bon_ms, 2), "scoring_ms": round(score_ms, 2),
            "ratio": round(ratio, 2), "added_ratio": round(ratio - 1, 2), "target_ratio": 3.0, "reps": reps, "threads": torch.get_num_threads(),
            "load_avg_1min": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiment", default="quickstart")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--set", nargs="*", default=[], help="extra pipeline overrides (experiment.*)")
    ap.add_argument("--align-args", nargs="*", default=None, help="robopref align overrides for every method (default: the experiment's align.args)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / ".data" / "alignment")
    ap.add_argument("--latency-only", type=Path, default=None, metavar="RUN",
                    help="only measure best-of-N latency on an existing pipeline run directory (no training)")
    ap.add_argument("--latency-reps", type=int, default=30, help="interleaved repetitions for the latency measurement")
    args = ap.parse_args()
    if args.latency_only is not None:
        if not (args.latency_only / "pipeline.json").is_file():
            ap.error(f"--latency-only: {args.latency_only} has no pipeline.json (expected a `robopref pipeline` run directory)")
        print(json.dumps(best_of_n_latency(args.latency_only, reps=args.latency_reps)), flush=True)
        return
    stamp = time.strftime("%Y%m%d_%H%M%S")
    for seed in args.seeds:
        run = args.out / f"{args.experiment}_seed{seed}_{stamp}"
        log = run.with_suffix(".log")
        run.parent.mkdir(parents=True, exist_ok=True)
        load = LoadSampler()
        t0 = time.time()
        robopref("pipeline", f"experiment={args.experiment}", f"seed={seed}", *args.set, "progress=false", f"hydra.run.dir={run}", log=log)
        pipeline_min = (time.time() - t0) / 60
        state = json.loads((run / "pipeline.json").read_text())["steps"]
        exp = OmegaConf.to_container(OmegaConf.load(run / "experiment.yaml"))["experiment"]
        align_args = args.align_args if args.align_args is not None else [str(a) for a in exp["align"]["args"]]
        labels = state["round_1/label"]["outputs"].get("labels_added")
        demo_labels = state.get("demos/label", {}).get("outputs", {}).get("labels_added", 0)  # the person's queries about the demos
        own = pipeline_method(exp["align"])
        for method in args.methods:
            if method == own:  # the pipeline's own alignment step: read, not re-run
                summary = state["round_1/align"]["outputs"]
            else:
                out = run / "bench" / method
                robopref("align", *variant_args(method, run, align_args), f"eval_episodes={exp['eval_episodes']}", f"hydra.run.dir={out}", log=log)
                summary = json.loads((out / "summary.json").read_text())
            before, after = rates(summary["before"]), rates(summary["after"])
            print(json.dumps({"bench": "alignment", "experiment": args.experiment, "seed": seed, "method": method, "labels": labels + demo_labels,
                              "demo_labels": demo_labels,
                              "label_kind": exp["person"]["kind"], "before": before, "after": after,
                              "honoured_change_pts": round(100 * (after["honoured"] - before["honoured"]), 1),
                              "success_change_pts": round(100 * (after["success"] - before["success"]), 1),
                              "pref_return_change": round(after["pref_return"] - before["pref_return"], 2),
                              "pipeline_minutes": round(pipeline_min, 2), "run": str(run), "load_avg_1min": load.summary()}), flush=True)
    print(json.dumps(best_of_n_latency(run, reps=args.latency_reps)), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
