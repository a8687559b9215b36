"""Success rate of diffusion policies trained on scripted-expert demonstrations.

For each task: collect ``--demos`` expert demos with ``robopref collect``, train with
``robopref policy`` under a wall-clock budget (``--minutes``, default 30), then roll out
the best checkpoint (top-k by in-training success) on ``--eval-episodes`` fresh seeds.
Prints one JSON object per line: task, variant, demos, seed, epochs, optimizer steps,
training minutes, success rate, the eval episode count, the in-training evaluations and
the 1-minute load average over the run (sampled every 15 s).

    python benchmarks/bench_policy_success.py --task push2d_push --variant lowdim
    python benchmarks/bench_policy_success.py --task push2d_push --variant image --minutes 30
    python benchmarks/bench_policy_success.py --task push2d_push --variant image_state --env env.embodiment=short_stick \
        --env ++env.robot_obs=true --demos 300 --noise 0.1 policy.low_dim_keys=[robot] ...
    python benchmarks/bench_policy_success.py --task metaworld --env env.task=drawer-open-v3 --demos 50
    python benchmarks/bench_policy_success.py --task robosuite_lift --demos 100
    python benchmarks/bench_policy_success.py --task push2d_push --env env.embodiment=short_stick --demos 300 --noise 0.1 \
        --dagger-episodes 300 --first-minutes 12 --minutes 30 --epochs 21 --eval-every 0 --checkpoint last --eval-n-action-steps 1 \
        policy.sort_objects_key=state policy.objects_offset=4 policy.object_size=4

With ``--dagger-episodes N`` the budget is split in two rounds (DAgger, Ross et al. 2011):
train on the demos for ``--first-minutes``, roll that policy out for N episodes while the
clean scripted expert labels every visited state (``robopref collect label_with=expert``,
the expert's action executed with probability ``--dagger-beta``), then train a fresh
policy on demos + rollouts, imitating the expert's labels (``action_dict/intended``), for
what is left of ``--minutes``: both rounds and the collection count against the budget.
``--warm-start`` makes the second round fine-tune the first round's policy
(``robopref policy init_from=...``) instead of training a fresh one.

The low-dim variant collects and evaluates without cameras (``env.cameras=[]`` for envs
whose config has cameras, unless ``--env`` sets them): rendering would only slow it down.

Meta-World and robosuite tasks run the same way once their env configs exist
(conf/env/<task>.yaml); a missing config is reported as a skipped line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL_SEED_BASE = 20_000_000  # disjoint from collect (seed * 100003 + i) and in-training eval seeds


def robopref(*args: str, log: Path) -> None:
    """Run one stage, streaming its output to ``log``; raise on failure."""
    with log.open("a") as f:
        f.write(f"$ robopref {' '.join(args)}\n")
        f.flush()
        rc = subprocess.run([sys.executable, "-m", "robopref.cli", *args], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
    if rc:
        raise RuntimeError(f"robopref {args[0]} failed (exit {rc}); see {log}")


class LoadSampler:
    """The 1-minute load average every ``period`` seconds, in a daemon thread."""

    def __init__(self, period: float = 15.0) -> None:
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(period,), daemon=True)
        self._thread.start()

    def _run(self, period: float) -> None:
        while not self._stop.wait(period):
            self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        self._stop.set()
        self.samples.append(os.getloadavg()[0])
        return {"min": round(min(self.samples), 2), "mean": round(sum(self.samples) / len(self.samples), 2), "max": round(max(self.samples), 2)}


def evaluate(ckpt: Path, env_cfg: dict, episodes: int, threads: int | None, n_action_steps: int | None = None) -> dict:
    """Success rate of the checkpoint over seeded episodes (``n_action_steps``: executed actions per chunk, default the policy's)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from robopref.policies import load_policy
    from robopref.policies.evaluate import evaluate_policy
    from robopref.rollout.factory import make_env

    env = make_env(env_cfg)
    t0 = time.time()
    kwargs = {"n_action_steps": n_action_steps} if n_action_steps else {}
    out = evaluate_policy(env, load_policy(ckpt, device="cpu", **kwargs), episodes, EVAL_SEED_BASE)
    out["eval_seconds"] = time.time() - t0
    env.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="push2d_push", help="env config name (conf/env/<task>.yaml)")
    ap.add_argument("--env", action="append", default=[], help="env overrides for collect, e.g. env.task=drawer-open-v3")
    ap.add_argument("--variant", default="lowdim", choices=["lowdim", "image", "image_state"],
                    help="policy preset: diffusion_<variant> (image_state: cameras pre-trained as state estimators)")
    ap.add_argument("--demos", type=int, default=100)
    ap.add_argument("--noise", type=float, default=0.0, help="expert action noise (with detours: demos then show recoveries)")
    ap.add_argument("--minutes", type=float, default=30.0, help="training wall-clock budget")
    ap.add_argument("--epochs", type=int, default=300, help="cosine schedule length; the budget may stop earlier")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--eval-every", type=int, default=20)
    ap.add_argument("--train-eval-episodes", type=int, default=10)
    ap.add_argument("--eval-episodes", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is faster on a busy 2-core machine)")
    ap.add_argument("--workdir", default=str(ROOT / "outputs" / "bench_policy_success"))
    ap.add_argument("--dagger-episodes", type=int, default=0, help="0: one round on the demos; N: a DAgger round of N expert-labelled rollouts")
    ap.add_argument("--dagger-beta", type=float, default=0.5, help="chance per step that the expert's action is executed in the DAgger rollouts")
    ap.add_argument("--first-minutes", type=float, default=12.0, help="with --dagger-episodes: the first round's training budget")
    ap.add_argument("--first-epochs", type=int, default=200, help="with --dagger-episodes: the first round's cosine schedule length")
    ap.add_argument("--warm-start", action="store_true", help="with --dagger-episodes: the second round fine-tunes the first round's policy (init_from) instead of a fresh one")
    ap.add_argument("--reserve-minutes", type=float, default=1.0,
                    help="with --dagger-episodes: kept back from the second round's budget, which stops after the epoch that "
                         "passes it (about one epoch: 1.0 for the low-dim recipe; image_state epochs over demos + rollouts take ~1.1)")
    ap.add_argument("--checkpoint", default="best", choices=["best", "last"], help="checkpoint of the final evaluation")
    ap.add_argument("--eval-n-action-steps", type=int, default=None, help="executed actions per chunk in the final evaluation (default: the policy's)")
    ap.add_argument("overrides", nargs="*", help="extra robopref policy overrides, e.g. policy.down_dims=[32,64,128]")
    args = ap.parse_args()

    env_yaml = ROOT / "conf" / "env" / f"{args.task}.yaml"
    load = LoadSampler()
    label = "-".join([args.task] + [o.split("=", 1)[1] for o in args.env])
    base = {"task": label, "variant": args.variant, "demos": args.demos, "noise": args.noise, "seed": args.seed}
    if not env_yaml.exists():
        print(json.dumps({**base, "skipped": f"no env config {env_yaml.relative_to(ROOT)} (adapter not available)"}))
        return
    work = Path(args.workdir) / f"{label}-{args.variant}-d{args.demos}-n{args.noise:g}-s{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    demos = work / "demos.hdf5"
    collect_env = list(args.env)
    from omegaconf import OmegaConf

    if args.variant == "lowdim" and "cameras" in OmegaConf.load(env_yaml) and not any(o.startswith("env.cameras=") for o in args.env):
        collect_env.append("env.cameras=[]")  # state only: the dataset's env (used for evaluation) renders nothing
    if not demos.exists():
        robopref("collect", f"env={args.task}", *collect_env, f"episodes={args.demos}", f"noise={args.noise}", "videos=0", f"seed={args.seed}", f"output={demos}", f"hydra.run.dir={work / 'collect'}", log=log)
    def train(run: Path, dataset: Path, epochs: int, minutes: float, extra: list[str]) -> None:
        robopref(
            "policy", f"policy=diffusion_{args.variant}", f"dataset={dataset}", f"epochs={epochs}", f"batch_size={args.batch_size}",
            f"eval_every={args.eval_every}", f"eval_episodes={args.train_eval_episodes}", f"max_minutes={minutes}",
            f"seed={args.seed}", f"torch_threads={args.threads}", "progress=false", "device=cpu", f"hydra.run.dir={run}", *extra, *args.overrides, log=log,
        )

    if args.warm_start and not args.dagger_episodes:
        ap.error("--warm-start needs --dagger-episodes (it starts the second round from the first round's policy)")
    run = work / ((f"train_dagger{args.dagger_episodes}" + ("_warm" if args.warm_start else "")) if args.dagger_episodes else "train")
    t0 = time.time()
    dagger: dict = {}
    dataset = demos
    if args.dagger_episodes:
        import shutil

        if args.first_minutes >= args.minutes:
            ap.error(f"--first-minutes {args.first_minutes} must leave part of --minutes {args.minutes} for the second round")
        first = work / f"train_round1_{args.first_minutes:g}min"
        train(first, demos, args.first_epochs, args.first_minutes, [])
        first_ckpt = Path(json.loads((first / "summary.json").read_text())["last"])
        dataset = work / f"demos_dagger{args.dagger_episodes}.hdf5"
        shutil.copyfile(demos, dataset)  # the rollouts are appended to a copy; the demos stay as they are
        robopref("collect", f"env={args.task}", *collect_env, f"policy={first_ckpt}", "label_with=expert", f"dagger_beta={args.dagger_beta}",
                 f"episodes={args.dagger_episodes}", "videos=0", f"seed={args.seed + 1000}", f"output={dataset}", "append=true",
                 f"hydra.run.dir={work / 'collect_dagger'}", log=log)
        rollouts = json.loads((work / "collect_dagger" / "summary.json").read_text())
        dagger = {"dagger_episodes": args.dagger_episodes, "dagger_beta": args.dagger_beta, "round1_minutes": round((time.time() - t0) / 60, 1),
                  "round1_epochs": json.loads((first / "summary.json").read_text())["epochs_done"], "dagger_rollout_success": rollouts["success_rate"]}
    # ``max_minutes`` stops after the epoch that passes it: leave about one epoch's time so the total stays in the budget
    remaining = args.minutes - (time.time() - t0) / 60 - (args.reserve_minutes if args.dagger_episodes else 0.0)
    second = ["action_key=action_dict/intended"] if args.dagger_episodes else []
    if args.warm_start:
        second.append(f"init_from={first_ckpt}")
    train(run, dataset, args.epochs, remaining, second)
    train_minutes = (time.time() - t0) / 60
    summary = json.loads((run / "summary.json").read_text())
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train_evals = [[m["epoch"], m["success_rate"]] for m in metrics if "success_rate" in m]
    best = Path(summary["last"] if args.checkpoint == "last" else (summary["best"] or summary["last"]))
    from robopref.data import Dataset

    env_cfg = Dataset(demos).env_args["robopref_env"]
    result = evaluate(best, env_cfg, args.eval_episodes, args.threads, args.eval_n_action_steps)
    print(json.dumps({
        **base,
        "epochs": summary["epochs_done"],
        "steps": summary["final"].get("step"),
        "train_minutes": round(train_minutes, 2),  # two decimals: whether a run stayed inside its budget shows
        "checkpoint": best.name,
        "success_rate": result["success_rate"],
        "eval_episodes": result["eval_episodes"],
        "mean_length": result["mean_length"],
        "eval_seconds": round(result["eval_seconds"], 1),
        "train_evals": train_evals,  # [epoch, success rate] of the in-training evaluations
        "load_1m": load.summary(),
        "eval_n_action_steps": args.eval_n_action_steps,
        **dagger,
        **({"warm_start": True} if args.warm_start else {}),
        "overrides": args.overrides,
    }), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("MUJOCO_GL", "egl")
    main()
