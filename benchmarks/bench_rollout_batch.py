"""Batched rollouts: seconds to record N episodes of one diffusion policy, one by one vs side by side.

Prints one JSON object per line (``bench: rollout_batch``): for each ``--batch`` size, the
wall-clock seconds of :func:`robopref.rollout.batched.record_episodes` over the same
``--episodes`` seeds, the steps recorded, the success rate and, against batch 1, the
speed-up and how many episodes came out the same (actions within 1e-4; the rest drifted
apart through float rounding in the closed loop). The policy is ``--checkpoint`` (e.g. a
quickstart run's ``policy/checkpoints/best.ckpt``) in the env its rollouts were recorded in
(``--env-from``, a dataset it wrote), or, without them, an untrained policy of the
quickstart's size on push2d avoid (episodes then run to the time limit).

    python benchmarks/bench_rollout_batch.py --checkpoint outputs/demo/<run>/policy/checkpoints/best.ckpt \
        --env-from outputs/demo/<run>/round_1/rollouts.hdf5 --episodes 90 --batch 1 30 90
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import robopref  # noqa: E402,F401  (sets the OpenMP wait policy before torch loads)
import numpy as np  # noqa: E402
import torch  # noqa: E402


def _untrained_checkpoint(env_cfg: dict, out: Path) -> str:
    """A freshly initialised policy of the quickstart's size for ``env_cfg``'s observation and action spaces."""
    from robopref.policies import DiffusionPolicy, DiffusionPolicyConfig, Normalizer, PolicyShapes, save_checkpoint
    from robopref.rollout.factory import make_env

    env = make_env(env_cfg)
    obs, _ = env.reset(seed=0)
    state, act = np.asarray(obs["state"], np.float32), env.action_space
    env.close()
    cfg = DiffusionPolicyConfig(down_dims=[32, 64, 128], prediction_type="sample", low_dim_keys=["state"], image_keys=[])
    shapes = PolicyShapes(action_dim=int(act.shape[0]), low_dim={"state": int(state.size)}, images={})
    norm = Normalizer.fit_arrays({"action": np.stack([act.low, act.high]).astype(np.float32), "state": np.stack([state - 1, state + 1])})
    torch.manual_seed(0)
    return str(save_checkpoint(out / "untrained.ckpt", DiffusionPolicy(cfg, shapes, norm)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--env-from", default=None, help="a dataset whose stored env config (env_args.robopref_env) the rollouts use")
    ap.add_argument("--episodes", type=int, default=90)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 30, 90])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=77)
    args = ap.parse_args()
    from robopref.data import Dataset
    from robopref.eval.runner import episode_seed
    from robopref.policies import load_policy
    from robopref.rollout.batched import record_episodes
    from robopref.rollout.factory import make_env

    torch.set_num_threads(args.threads)
    if args.env_from:
        with Dataset(args.env_from) as ds:
            env_cfg = ds.env_args["robopref_env"]
    else:
        from omegaconf import OmegaConf

        env_cfg = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "env" / "push2d_avoid.yaml"), resolve=True)
        env_cfg.update(embodiment="short_stick", num_blocks=1, zone_penalty=10.0)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or _untrained_checkpoint(env_cfg, Path(tmp))
        policy = load_policy(ckpt, device="cpu")
        jobs = [(episode_seed(args.seed, i), None) for i in range(args.episodes)]
        first = None
        for b in args.batch:
            envs = [make_env(env_cfg) for _ in range(b)]
            t = time.perf_counter()
            eps = list(record_episodes(envs, policy, jobs))
            seconds = time.perf_counter() - t
            for e in envs:
                e.close()
            same = None
            if first is None:
                first = (b, seconds, eps)
            else:
                same = sum(len(a) == len(c) and np.allclose(a.actions, c.actions, rtol=0, atol=1e-4) for a, c in zip(first[2], eps))
            print(json.dumps({"bench": "rollout_batch", "checkpoint": "untrained" if args.checkpoint is None else args.checkpoint, "episodes": args.episodes,
                              "batch": b, "seconds": round(seconds, 2), "steps": int(sum(len(e) for e in eps)),
                              "success_rate": float(np.mean([e.success for e in eps])), "speedup_vs_first": round(first[1] / seconds, 2),
                              "same_episodes_as_first": same, "threads": args.threads, "load1": os.getloadavg()[0]}), flush=True)


if __name__ == "__main__":
    main()
