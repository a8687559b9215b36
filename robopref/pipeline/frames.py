"""Example frames for the report: one episode of a policy, evenly spaced frames."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from robopref.data.layout import is_image_key
from robopref.policies import load_policy
from robopref.rollout.factory import make_env_from_dataset
from robopref.rollout.record import record_episode


def describe(infos: dict[str, np.ndarray]) -> str:
    """``success`` / ``failure`` and, when the env has a preference, whether it was honoured."""
    out = ["success" if "success" in infos and bool(np.any(infos["success"])) else "failure"]
    if "violation" in infos:
        out.append("broke the preference" if bool(np.any(infos["violation"])) else "honoured the preference")
    return ", ".join(out)


def episode_frames(env: Any, policy: Any, seed: int, count: int = 6) -> tuple[list[np.ndarray], str]:
    """``count`` evenly spaced camera frames of one episode of ``policy`` in ``env`` (none
    when the env has no camera), and a description of how it went."""
    ep = record_episode(env, policy, seed=seed)
    cams = [k for k in ep.obs if is_image_key(k)]
    if not cams:
        return [], describe(ep.infos)
    video = ep.obs[cams[0]]
    idx = np.unique(np.linspace(0, len(video) - 1, count).round().astype(int))
    return [np.asarray(video[i]) for i in idx], f"{describe(ep.infos)}, {len(ep)} steps"


def policy_frames(checkpoints: Sequence[tuple[str, str]], dataset: str, seeds: Sequence[int]) -> list[tuple[str, list[np.ndarray]]]:
    """For each seed, one labelled row of frames per (tag, checkpoint), in the env ``dataset``
    was recorded in; each policy is loaded and the env built once."""
    env = make_env_from_dataset(dataset)
    try:
        policies = [(tag, load_policy(ckpt, device="cpu")) for tag, ckpt in checkpoints]
        rows = []
        for i, seed in enumerate(seeds):
            for tag, policy in policies:
                frames, info = episode_frames(env, policy, seed)
                if frames:
                    rows.append((f"{tag}, episode {i + 1}: {info}", frames))
        return rows
    finally:
        env.close()
