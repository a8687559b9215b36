"""Same-state chunk pairs for Diffusion-DPO, ranked by a learned reward over a simulated lookahead.

Pairs of whole rollouts compare different situations: chunk k of the preferred rollout
is paired with chunk k of the other, so most of a pair compares the phases both share,
from different states, and DPO then lowers the likelihood of actions the good rollouts
use too (docs/benchmarks-alignment.md). Here both chunks of a pair start from one state:

1. take ``states`` chunk-boundary steps at random from recorded rollouts (their
   simulator ``states`` and observation history);
2. the policy samples ``candidates`` chunks there, in one batch;
3. for each chunk the simulator is put back in that state (``set_state``), runs the
   chunk's executed actions and then the policy itself for ``lookahead`` more steps, or,
   with ``lookahead=None``, until the episode ends (success or the env's time limit
   counted from the state's step): the learned return-to-go, the quantity a reward
   trained on whole-episode preferences ranks (a short lookahead cannot tell a chunk
   that stalls safely from one that sets up progress);
4. the learned reward scores each continuation (Σ r, or μ − κσ per step for a Gaussian
   reward); the best chunk is paired with the worst;
5. the pairs whose score gap is in the lowest ``drop_quantile`` are dropped (the reward
   barely tells their chunks apart).

It needs a simulator with ``get_state``/``set_state`` (every robopref simulator) and
rollouts recorded with their states (``robopref collect`` records them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from robopref.align.chunks import ChunkPairs, ChunkReader
from robopref.data.pool import DatasetPool
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.rollout import DiffusionRolloutPolicy
from robopref.rewards.model import TrajectoryRewardModel


@dataclass
class SampledPairsConfig:
    """How many states to sample chunks at, how many chunks per state, how far to look ahead."""

    states: int = 400
    candidates: int = 8
    lookahead: Optional[int] = 16  # policy steps simulated after the chunk's own actions; None: to the episode's end
    drop_quantile: float = 0.25
    max_step: Optional[int] = None  # only states before this step of their rollout (where a task's way is chosen); None: any


def start_points(pool: DatasetPool, datasets: Sequence[str], stride: int, max_step: int | None = None) -> list[tuple[str, str, int]]:
    """(dataset, demo, step) at every ``stride``-th step (below ``max_step`` if given) of every
    rollout that stores its simulator states."""
    out: list[tuple[str, str, int]] = []
    for d in datasets:
        ds = pool.get(d)
        for demo, length in ds.lengths.items():
            if not ds.has(demo, "states"):
                raise ValueError(f"{d}: data/{demo} has no simulator 'states'; record the rollouts with `robopref collect` in a simulator with get_state")
            out += [(d, demo, step) for step in range(0, length if max_step is None else min(length, max_step), stride)]
    if not out:
        raise ValueError(f"no rollout steps to sample chunks at in {list(datasets)}" + ("" if max_step is None else f" before samples.max_step={max_step}"))
    return out


def reward_features(reward: TrajectoryRewardModel, observations: list[Mapping[str, np.ndarray]], actions: np.ndarray) -> np.ndarray:
    """The reward's normalised per-step features (T, D) from observation dicts and actions."""
    spec = reward.spec
    arrays = {f"obs/{k}": np.stack([np.asarray(o[k]) for o in observations]) for k in spec.obs_keys}
    return spec.transform(spec.raw({**arrays, "actions": np.asarray(actions)}))


def episode_horizon(env: Any) -> int:
    """The env's time limit in steps (``samples.lookahead=null`` simulates up to it)."""
    limit = getattr(getattr(env, "spec", None), "max_episode_steps", None)
    if not limit:
        raise ValueError("samples.lookahead=null simulates to the end of the episode, but the env has no time limit "
                         "(spec.max_episode_steps); set samples.lookahead to a number of steps")
    return int(limit)


def continuation_score(env: Any, rollout: DiffusionRolloutPolicy, reward: TrajectoryRewardModel, state: np.ndarray, history: list[dict[str, np.ndarray]],
                       executed: np.ndarray, lookahead: int, kappa: float | None, seed: int) -> float:
    """Learned return of executing ``executed`` from simulator ``state`` (current observation
    ``history[-1]``), then the policy for ``lookahead`` more steps (or until the episode ends)."""
    sim = env.unwrapped
    sim.set_state(state)
    rollout.reset(seed)
    rollout.resume(history[:-1], executed)
    obs, seen, acts = history[-1], [], []
    for _ in range(len(executed) + lookahead):
        action = rollout.act(obs)
        seen.append(obs)
        acts.append(action)
        obs, _, terminated, _, _ = sim.step(action)
        if terminated:
            break
    return float(reward.reward(reward_features(reward, seen, np.stack(acts)), kappa=kappa).sum())


def sample_state_pairs(model: DiffusionPolicy, reward: TrajectoryRewardModel, env: Any, pool: DatasetPool, datasets: Sequence[str], reader: ChunkReader,
                       cfg: SampledPairsConfig, rng: np.random.Generator, kappa: float | None = None, progress: bool = True) -> ChunkPairs:
    """DPO chunk pairs (best vs worst of ``cfg.candidates`` sampled chunks at each of ``cfg.states`` states); see the module doc."""
    if (cfg.candidates < 2 or cfg.states < 1 or (cfg.lookahead is not None and cfg.lookahead < 0) or not 0 <= cfg.drop_quantile < 1
            or (cfg.max_step is not None and cfg.max_step < 1)):
        raise ValueError(f"samples: need candidates >= 2, states >= 1, lookahead >= 0 (or null), 0 <= drop_quantile < 1 and max_step >= 1 (or null); got {cfg}")
    horizon = episode_horizon(env) if cfg.lookahead is None else None
    rollout = DiffusionRolloutPolicy(model, seed=int(rng.integers(2**31)))
    points = start_points(pool, datasets, rollout.n_action_steps, cfg.max_step)
    picks = rng.choice(len(points), size=cfg.states, replace=cfg.states > len(points))
    start, n_exec = rollout.n_obs_steps - 1, rollout.n_action_steps
    generator = torch.Generator(device=model.device).manual_seed(int(rng.integers(2**31)))
    obs_rows, wins, losses, gaps = [], [], [], []
    for i in tqdm(picks, desc="sampled pairs", unit="state", disable=not progress, leave=False):
        d, demo, step = points[int(i)]
        window = reader.window(d, demo, step)
        obs = {k: v[None] for k, v in window["obs"].items()}  # encoded once, shared by the candidates
        chunks = model.predict_action(obs, generator=generator, num_samples=cfg.candidates).cpu().numpy()
        history = [{k: v[t].numpy() for k, v in window["obs"].items()} for t in range(rollout.n_obs_steps)]
        state = pool.get(d).read(demo, "states", step, step + 1)[0]
        seed = int(rng.integers(2**31))  # one continuation noise for every candidate: they differ by their chunk only
        lookahead = cfg.lookahead if horizon is None else max(horizon - step - n_exec, 0)
        scores = np.array([continuation_score(env, rollout, reward, state, history, c[start : start + n_exec], lookahead, kappa, seed) for c in chunks])
        best, worst = int(np.argmax(scores)), int(np.argmin(scores))
        obs_rows.append(window["obs"])
        wins.append(chunks[best])
        losses.append(chunks[worst])
        gaps.append(scores[best] - scores[worst])
    gaps_arr = np.asarray(gaps)
    keep = np.flatnonzero(gaps_arr > np.quantile(gaps_arr, cfg.drop_quantile)) if cfg.drop_quantile > 0 else np.arange(len(gaps))
    if len(keep) == 0:
        raise ValueError("sampled pairs: the reward scored every candidate chunk alike; nothing to prefer")
    obs_t = {k: torch.stack([obs_rows[i][k] for i in keep]) for k in obs_rows[0]}
    act_w = torch.from_numpy(np.stack([wins[i] for i in keep])).float()
    act_l = torch.from_numpy(np.stack([losses[i] for i in keep])).float()
    return ChunkPairs(obs_t, act_w, obs_t, act_l, torch.arange(len(keep)), torch.ones(len(keep)))
