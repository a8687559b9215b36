"""Example frames for the report: one episode of a policy, evenly spaced frames."""

from __future__ import annotations

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


def episode_frames(checkpoint: str, dataset: str, seed: int, count: int = 6) -> tuple[list[np.ndarray], str]:
    """``count`` evenly spaced camera frames of one episode of ``checkpoint`` in the env
    ``dataset`` was recorded in (no frames when that env has no camera), and a description."""
    env = make_env_from_dataset(dataset)
    try:
        ep = record_episode(env, load_policy(checkpoint, device="cpu", seed=seed), seed=seed)
    finally:
        env.close()
    cams = [k for k in ep.obs if is_image_key(k)]
    if not cams:
        return [], describe(ep.infos)
    video = ep.obs[cams[0]]
    idx = np.unique(np.linspace(0, len(video) - 1, count).round().astype(int))
    return [np.asarray(video[i]) for i in idx], f"{describe(ep.infos)}, {len(ep)} steps"
