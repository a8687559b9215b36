"""Builders of small episodes and files for the dataset tests."""

from __future__ import annotations

import numpy as np

from robopref.data import Episode, make_env_args

ENV_ARGS = make_env_args("robopref-test/Line-v0", env_kwargs={"horizon": 12})


def make_episode(T: int = 10, A: int = 2, image: int = 8, seed: int = 0) -> Episode:
    rng = np.random.default_rng(seed)
    return Episode(
        actions=rng.uniform(-1, 1, (T, A)).astype(np.float32),
        rewards=rng.normal(size=T),
        dones=np.eye(1, T, T - 1, dtype=np.int64)[0],
        obs={
            "state": rng.normal(size=(T, 3)).astype(np.float32),
            **({"top_image": rng.integers(0, 255, (T, image, image, 3), dtype=np.uint8)} if image else {}),
        },
        states=rng.normal(size=(T, 4)),
        infos={"success": np.arange(T) >= T - 2, "pref_score": rng.normal(size=T)},
        attrs={"seed": seed},
    )
