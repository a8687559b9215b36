"""A small push2d "avoid" image dataset (aligned and unaligned noisy experts) and a store
of whole-episode triplets ranked by the oracle, shared by the visual reward tests."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.data import DatasetWriter
from robopref.data.pool import DatasetPool
from robopref.data.sampling import sample_pairs, whole_episodes
from robopref.prefs import PreferenceStore
from robopref.rollout import record_episode
from robopref.rollout.factory import env_args_of
from robopref.teachers import label_queries, make_teacher

push2d = pytest.importorskip("robopref_envs.push2d")

EPISODES = 20
STEPS = 60


@pytest.fixture(scope="session")
def push2d_dataset(tmp_path_factory) -> str:
    """20 short episodes at 32×32: half by the expert that avoids the red zone, half by one that ignores it."""
    path = tmp_path_factory.mktemp("push2d") / "avoid.hdf5"
    cfg = {"_target_": "robopref_envs.push2d.make_env", "task": "avoid", "embodiment": "gripper", "image_size": 32}
    env = push2d.make_env(task="avoid", image_size=32, max_episode_steps=STEPS)
    with DatasetWriter(path, env_args=env_args_of(env, cfg), mode="w") as w:
        for i in range(EPISODES):
            expert = push2d.Push2DExpert(env, noise=0.5, aligned=i % 2 == 0, seed=i)
            w.add_episode(record_episode(env, expert, seed=i, max_steps=STEPS))
    return str(path)


def triplet_store(path, dataset: str, n: int, seed: int = 0, demos: list[str] | None = None) -> PreferenceStore:
    """A store with ``n`` whole-episode triplets over ``demos``, ranked by the oracle on ``pref_score``."""
    rng = np.random.default_rng(seed)
    pool = DatasetPool()
    store = PreferenceStore(path)
    queries = sample_pairs(whole_episodes(pool.get(dataset), demos), n, rng, k=3)
    ids = store.add_queries(queries, origin="uniform")
    label_queries(make_teacher("oracle"), store, pool, [store.query(i) for i in ids], rng, "pref_score")
    return store
