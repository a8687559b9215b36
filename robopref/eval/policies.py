"""Turn an evaluation policy spec into a policy, inside the process that rolls it out.

Specs: ``expert`` and ``random`` (the env's scripted expert / uniform actions),
``replay`` (a dataset's recorded actions, open loop, from its recorded initial state)
or a path to a checkpoint file (``robopref.policies.load_policy``). Workers receive the
spec, not a policy object: simulators, EGL contexts and torch modules do not survive
being pickled into another process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from robopref.policies.config import PolicyShapes

SCRIPTED = ("expert", "random")


@dataclass(frozen=True)
class PolicySpec:
    """What to evaluate. ``name``: expert | random | replay | a checkpoint path."""

    name: str = "expert"
    noise: float = 0.0
    aligned: bool = True
    dataset: str | None = None  # the demos that policy=replay replays
    device: str = "auto"  # checkpoints only; "auto" picks CUDA when present
    n_action_steps: int | None = None  # checkpoints only: executed actions per chunk (None: the checkpoint's own)
    inference_dtype: str | None = None  # checkpoints only: float32 | bfloat16 (None: the checkpoint's own)

    @property
    def kind(self) -> str:
        """``expert``, ``random``, ``replay`` or ``checkpoint``."""
        return self.name if self.name in (*SCRIPTED, "replay") else "checkpoint"

    def check(self) -> None:
        """Fail early, in the parent process, with a message naming the bad setting."""
        if self.kind == "replay":
            if not self.dataset:
                raise ValueError("policy=replay needs dataset=<file.hdf5> (the demos whose actions are replayed)")
            if not os.path.exists(self.dataset):
                raise ValueError(f"policy=replay: dataset {self.dataset} does not exist")
        if self.kind == "checkpoint" and not Path(self.name).expanduser().is_file():
            raise ValueError(f"policy={self.name!r} is not expert, random, replay or an existing checkpoint file")
        if self.n_action_steps is not None:
            if self.kind != "checkpoint":
                raise ValueError(f"n_action_steps={self.n_action_steps} applies to a policy checkpoint, not to policy={self.name}")
            if self.n_action_steps < 1:
                raise ValueError(f"n_action_steps={self.n_action_steps}: expected a number of executed actions per chunk >= 1")
        if self.inference_dtype is not None:
            from robopref.policies.config import INFERENCE_DTYPES

            if self.kind != "checkpoint" or self.inference_dtype not in INFERENCE_DTYPES:
                raise ValueError(f"inference_dtype={self.inference_dtype}: expected one of {list(INFERENCE_DTYPES)}, for a policy checkpoint "
                                 f"(policy={self.name})")


class ReplayPolicy:
    """Replays demo ``index mod N`` of a dataset: resets the env with the demo's seed,
    restores its first recorded state when the env can, then plays its actions."""

    def __init__(self, dataset: str) -> None:
        from robopref.data.dataset import Dataset

        self.dataset = Dataset(dataset)
        if not len(self.dataset):
            raise ValueError(f"policy=replay: {dataset} has no demos")
        self._actions = np.zeros((0, 0), np.float32)
        self._t = 0

    def start_episode(self, env: gym.Env, index: int) -> tuple[dict[str, np.ndarray], int]:
        """Put ``env`` in the demo's initial state; return the first observation and the demo length."""
        demo = self.dataset.demos[index % len(self.dataset)]
        ep = self.dataset.episode(demo, obs_keys=[])  # actions, states, attrs; no frames
        self._actions = ep.actions
        self._t = 0
        seed = int(ep.attrs.get("seed", -1))
        obs, _ = env.reset(seed=seed if seed >= 0 else None)
        if ep.states is not None and hasattr(env.unwrapped, "set_state"):
            env.unwrapped.set_state(ep.states[0])
            obs = {k: self.dataset.read(demo, f"obs/{k}", 0, 1)[0] for k in obs}
        return obs, len(ep)

    def reset(self, seed: int | None = None) -> None:
        self._t = 0

    def act(self, obs: Mapping[str, Any]) -> np.ndarray:
        a = self._actions[min(self._t, len(self._actions) - 1)]
        self._t += 1
        return np.asarray(a, dtype=np.float32)


def build_policy(spec: PolicySpec, env_cfg: Mapping[str, Any], env: gym.Env | None, seed: int | None = None) -> Any:
    """The policy ``spec`` names, for ``env`` (built from ``env_cfg``; a checkpoint is
    checked against its spaces when ``env`` is given)."""
    if spec.kind in SCRIPTED:
        from robopref.rollout.factory import make_scripted_policy

        return make_scripted_policy(env_cfg, env, kind=spec.kind, noise=spec.noise, aligned=spec.aligned, seed=seed)
    if spec.kind == "replay":
        return ReplayPolicy(str(spec.dataset))
    try:
        from robopref.policies import load_policy
    except ImportError as e:
        raise ImportError(f"policy={spec.name!r} is a checkpoint, but robopref.policies.load_policy cannot be imported: {e}") from e
    policy = load_policy(spec.name, device=spec.device, n_action_steps=spec.n_action_steps, inference_dtype=spec.inference_dtype)
    if env is not None:  # a checkpoint is checked against the env it will act in
        check_env_fits(spec.name, policy.model.shapes, env)
    return policy


def check_env_fits(checkpoint: str, shapes: PolicyShapes, env: gym.Env) -> None:
    """Refuse an env whose action size or observations differ from those the checkpoint was
    trained on (e.g. the training run's ``env.embodiment`` or ``env.num_blocks`` override left
    out), naming both, instead of a tensor-size error at the first step."""
    want: dict[str, object] = {"action size": shapes.action_dim}
    have: dict[str, object] = {"action size": int(np.prod(env.action_space.shape))}
    spaces = env.observation_space.spaces if isinstance(env.observation_space, gym.spaces.Dict) else {}
    for key, size in shapes.low_dim.items():
        if key in spaces:
            want[f"obs {key} size"], have[f"obs {key} size"] = size, int(np.prod(spaces[key].shape))
    for key, shape in shapes.images.items():
        if key in spaces:
            want[f"obs {key} shape"], have[f"obs {key} shape"] = tuple(shape), tuple(spaces[key].shape)
    missing = [k for k in [*shapes.low_dim, *shapes.images] if spaces and k not in spaces]
    differ = [k for k in want if want[k] != have[k]]
    if missing or differ:
        found = ", ".join(f"{k} {have[k]}" for k in differ) + (f"; it lacks observation key(s) {missing}" if missing else "")
        size_hint = ""
        if differ and all(k.endswith(" shape") for k in differ):  # only the cameras' frame size differs: say which size
            sizes = {want[k][:2] for k in differ}
            if len(sizes) == 1 and len(set(next(iter(sizes)))) == 1:
                size_hint = f"; for the camera size alone, env.image_size={next(iter(sizes))[0]}"
        raise ValueError(f"policy={checkpoint}: it was trained for {', '.join(f'{k} {want[k]}' for k in differ) or 'other observations'}, "
                         f"but this env has {found} (pass the env the training data was collected in, with that run's overrides, "
                         f"e.g. env=... ++env.embodiment=... ++env.num_blocks=...{training_env_hint(checkpoint)}{size_hint})")


def training_env_hint(checkpoint: str) -> str:
    """'; its training data ... was collected in env=<name> ++env...' when the checkpoint
    names its dataset and that dataset records its env config; '' otherwise (a hint only)."""
    try:
        from robopref.policies.checkpoint import read_checkpoint

        dataset = read_checkpoint(checkpoint).get("meta", {}).get("dataset")
    except Exception:  # noqa: BLE001 - the hint is a courtesy; the error it decorates stands without it
        return ""
    env = training_env_overrides(dataset)
    return f"; its training data {dataset} was collected in {env}" if env else ""


def training_env_overrides(dataset: str | None) -> str | None:
    """``env=<name> ++env.k=v ...``: the env config a dataset records (``env_args.robopref_env``),
    as the overrides that rebuild it; None when the dataset is gone or records none."""
    try:
        from robopref.data.dataset import Dataset

        with Dataset(dataset, validate=False) as ds:  # type: ignore[arg-type]
            env = dict(ds.env_args.get("robopref_env") or {})
    except Exception:  # noqa: BLE001 - the dataset may be gone or foreign
        return None
    if not env.get("name"):
        return None
    from robopref.pipeline.experiment import env_overrides

    return " ".join(env_overrides(env["name"], {k: v for k, v in env.items() if k not in ("name", "_target_", "expert")}))
