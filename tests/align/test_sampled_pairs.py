"""Same-state chunk pairs: both chunks start from one recorded state, and the reward over
the simulated continuation picks the winner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.align.chunks import ChunkReader
from robopref.align.sampled_pairs import SampledPairsConfig, sample_state_pairs
from robopref.data.pool import DatasetPool
from robopref.policies.dataset import WindowSpec
from robopref.rewards.features import FeatureSpec
from tests.align.test_dpo import make_policy
from tests.fakes import LineEnv


class RightwardReward:
    """r(s, a) = a: prefers chunks that move right (features are state x, t, then the action)."""

    spec = FeatureSpec(obs_keys=["state"], use_actions=True, mean=np.zeros(3), std=np.ones(3))

    def reward(self, x: np.ndarray, kappa: float | None = None) -> np.ndarray:
        return np.asarray(x)[..., -1]


def _pairs(line_dataset, cfg: SampledPairsConfig):
    policy = make_policy(seed=3)  # untrained: its chunks vary widely, so the ranking has something to choose
    pool = DatasetPool()
    reader = ChunkReader(pool, WindowSpec(policy.cfg.horizon, policy.cfg.n_obs_steps, policy.cfg.n_action_steps), ["state"])
    env = LineEnv(image_size=0)
    env.reset(seed=0)
    return policy, sample_state_pairs(policy, RightwardReward(), env, pool, [str(line_dataset)], reader, cfg, np.random.default_rng(0), progress=False)


def test_pairs_share_the_state_and_the_winner_scores_higher(line_dataset):
    policy, pairs = _pairs(line_dataset, SampledPairsConfig(states=12, candidates=4, lookahead=0, drop_quantile=0.0))
    assert pairs.n_pairs == 12 and len(pairs) == 12
    assert torch.equal(pairs.obs_w["state"], pairs.obs_l["state"])  # one state per pair
    assert pairs.obs_w["state"].shape == (12, policy.cfg.n_obs_steps, 2)
    start, n = policy.cfg.n_obs_steps - 1, policy.cfg.n_action_steps
    # lookahead 0: the score is the sum of the executed actions, clipped as LineEnv clips them
    executed_w = pairs.act_w[:, start : start + n, 0].clamp(-1, 1).sum(1)
    executed_l = pairs.act_l[:, start : start + n, 0].clamp(-1, 1).sum(1)
    assert bool((executed_w > executed_l).all())


def test_drop_quantile_keeps_the_clearest_pairs(line_dataset):
    _, kept = _pairs(line_dataset, SampledPairsConfig(states=12, candidates=4, lookahead=3, drop_quantile=0.5))
    assert kept.n_pairs == 6  # strictly above the median gap of 12 distinct gaps


def test_bad_sampling_settings_are_refused(line_dataset):
    with pytest.raises(ValueError, match="candidates >= 2"):
        _pairs(line_dataset, SampledPairsConfig(states=4, candidates=1))


def test_lookahead_null_simulates_to_the_time_limit(line_dataset, monkeypatch):
    """``lookahead=None`` scores the learned return-to-go: each continuation runs the rest
    of the episode after the chunk, the env's time limit counted from the state's step."""
    import gymnasium as gym

    import robopref.align.sampled_pairs as sp

    asked: list[int] = []
    real = sp.continuation_score

    def spy(env, rollout, reward, state, history, executed, lookahead, kappa, seed):
        asked.append(lookahead)
        return real(env, rollout, reward, state, history, executed, lookahead, kappa, seed)

    monkeypatch.setattr(sp, "continuation_score", spy)
    steps: list[int] = []
    real_points = sp.start_points
    monkeypatch.setattr(sp, "start_points", lambda *a: [p for p in real_points(*a) if not steps.append(p[2])])
    policy = make_policy(seed=3)
    pool = DatasetPool()
    reader = ChunkReader(pool, WindowSpec(policy.cfg.horizon, policy.cfg.n_obs_steps, policy.cfg.n_action_steps), ["state"])
    env = LineEnv(image_size=0)
    env.spec = gym.envs.registration.EnvSpec("robopref-test/Line-v0", max_episode_steps=30)
    env.reset(seed=0)
    cfg = SampledPairsConfig(states=5, candidates=2, lookahead=None, drop_quantile=0.0)
    sample_state_pairs(policy, RightwardReward(), env, pool, [str(line_dataset)], reader, cfg, np.random.default_rng(0), progress=False)
    n_exec = policy.cfg.n_action_steps
    assert len(asked) == 10 and all(0 <= a <= 30 - n_exec for a in asked)
    assert set(asked) <= {max(30 - s - n_exec, 0) for s in steps}


def test_lookahead_null_needs_a_time_limit(line_dataset):
    with pytest.raises(ValueError, match="no time limit"):
        _pairs(line_dataset, SampledPairsConfig(states=2, candidates=2, lookahead=None))


def test_max_step_keeps_only_early_states(line_dataset):
    from robopref.align.sampled_pairs import start_points

    pool = DatasetPool()
    every = start_points(pool, [str(line_dataset)], 2)
    early = start_points(pool, [str(line_dataset)], 2, max_step=4)
    assert early and all(step < 4 for _, _, step in early)
    assert early == [p for p in every if p[2] < 4]
    with pytest.raises(ValueError, match="max_step >= 1"):
        _pairs(line_dataset, SampledPairsConfig(states=2, candidates=2, max_step=0))
