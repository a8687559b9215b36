"""A small labelled dataset on the test line env, shared by the reward tests."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.data import Dataset, DatasetWriter, sample_pairs, sample_segments
from robopref.data.pool import DatasetPool
from robopref.prefs import PreferenceStore
from robopref.rollout import record_episode
from robopref.rollout.factory import env_args_of
from robopref.teachers import label_queries, make_teacher
from tests.fakes import LINE_ENV_CFG, LineExpert, make_line_env


@pytest.fixture(scope="session")
def line_dataset(tmp_path_factory) -> str:
    """30 noisy episodes of 30 steps: returns spread from good to bad."""
    path = tmp_path_factory.mktemp("line") / "line.hdf5"
    env = make_line_env(image_size=0, horizon=30)
    with DatasetWriter(path, env_args=env_args_of(env, LINE_ENV_CFG), mode="w") as w:
        for i in range(30):
            w.add_episode(record_episode(env, LineExpert(env, noise=2.0, seed=i), seed=i))
    return str(path)


def make_store(path, dataset: str, n: int, teacher: str = "oracle", seed: int = 0, **params) -> tuple[PreferenceStore, DatasetPool]:
    """A store with ``n`` labelled pair queries of 10-step segments."""
    rng = np.random.default_rng(seed)
    pool = DatasetPool([Dataset(dataset)])
    segs = sample_segments(pool.get(dataset), 10, 3 * n, rng)
    store = PreferenceStore(path)
    ids = store.add_queries(sample_pairs(segs, n, rng))
    label_queries(make_teacher(teacher, **params), store, pool, [store.query(i) for i in ids], rng)
    return store, pool
