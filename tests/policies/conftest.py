"""Small generated datasets for the policy tests: the LineEnv expert with action noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from robopref.data import DatasetWriter
from robopref.policies.config import DiffusionPolicyConfig
from robopref.rollout import record_episode
from robopref.rollout.factory import env_args_of, make_env, make_scripted_policy
from tests.fakes import LINE_ENV_CFG


def write_line_dataset(path: Path, episodes: int = 6, image_size: int = 16, noise: float = 0.3, seed: int = 0) -> Path:
    """``episodes`` noisy-expert episodes of LineEnv (12 steps, 1-D actions in [-1, 1])."""
    cfg = {**LINE_ENV_CFG, "image_size": image_size}
    env = make_env(cfg)
    expert = make_scripted_policy(cfg, env, noise=noise, seed=seed)
    with DatasetWriter(path, env_args=env_args_of(env, cfg), mode="w") as w:
        names = [w.add_episode(record_episode(env, expert, seed=seed * 1000 + i)) for i in range(episodes)]
        w.set_mask("better", names[: episodes // 2])
    env.close()
    return path


@pytest.fixture(scope="session")
def line_dataset(tmp_path_factory) -> Path:
    return write_line_dataset(tmp_path_factory.mktemp("line") / "line.hdf5")


def tiny_config(**overrides) -> DiffusionPolicyConfig:
    """A policy small enough to train in seconds on 2 cores."""
    base = dict(down_dims=[16, 32], diffusion_step_embed_dim=16, horizon=8, n_obs_steps=2, n_action_steps=4, num_inference_steps=4, image_encoder="small_cnn", image_feature_dim=8)
    base.update(overrides)
    return DiffusionPolicyConfig(**base)

