"""Roll a policy out in a Gymnasium env and record the episode in the dataset layout."""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from robopref.data.episode import Episode
from robopref.rollout.policy import RolloutPolicy


def _get_state(env: gym.Env) -> np.ndarray | None:
    getter = getattr(env.unwrapped, "get_state", None)
    return np.asarray(getter(), dtype=np.float64) if callable(getter) else None


def _stack(seq: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    return {k: np.stack([np.asarray(o[k]) for o in seq]) for k in seq[0]}


def _scalar_infos(infos: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Per-step scalar infos (bool/int/float) present at every step; others are dropped."""
    keys = [k for k, v in infos[0].items() if np.isscalar(v) and not isinstance(v, str)]
    keys = [k for k in keys if all(k in i for i in infos)]
    return {k: np.asarray([i[k] for i in infos]) for k in keys}


class EpisodeRecorder:
    """Collects one episode step by step and builds its :class:`Episode` (the dataset layout).

    Shared by :func:`record_episode` and the batched rollouts
    (:mod:`robopref.rollout.batched`), so both record exactly the same fields.
    """

    def __init__(self, env: gym.Env, obs: Mapping[str, Any], seed: int | None, policy_seed: int | None = None,
                 max_steps: int | None = None, store_next_obs: bool = False) -> None:
        self.env, self.obs = env, obs
        self.seed, self.policy_seed = seed, policy_seed
        self.limit = max_steps if max_steps is not None else np.inf
        self.store_next_obs = store_next_obs
        self.observations: list[Mapping[str, Any]] = []
        self.next_observations: list[Mapping[str, Any]] = []
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []
        self.dones: list[int] = []
        self.infos: list[Mapping[str, Any]] = []
        self.states: list[np.ndarray | None] = []
        self.intended: list[np.ndarray] = []
        self.done = self.limit <= 0

    def step(self, action: np.ndarray, intended: np.ndarray | None = None) -> bool:
        """Execute ``action`` in the env from the current observation; True when the episode has ended."""
        self.states.append(_get_state(self.env))
        action = np.asarray(action, dtype=np.float32)
        if intended is not None:
            self.intended.append(np.asarray(intended, dtype=np.float32))
        nxt, reward, terminated, truncated, info = self.env.step(action)
        self.observations.append(self.obs)
        self.next_observations.append(nxt)
        self.actions.append(action)
        self.rewards.append(float(reward))
        self.infos.append(info)
        self.done = bool(terminated or truncated or len(self.actions) >= self.limit)
        self.dones.append(int(self.done))
        self.obs = nxt
        return self.done

    def episode(self) -> Episode:
        """The recorded steps as an :class:`Episode`."""
        if not self.actions:
            raise ValueError("the episode has no steps (max_steps must be >= 1)")
        seed, policy_seed = self.seed, self.policy_seed
        return Episode(
            actions=np.stack(self.actions).astype(np.float32),
            rewards=np.asarray(self.rewards, dtype=np.float64),
            dones=np.asarray(self.dones, dtype=np.int64),
            obs=_stack(self.observations),
            next_obs=_stack(self.next_observations) if self.store_next_obs else None,
            states=np.stack(self.states) if self.states[0] is not None else None,
            infos=_scalar_infos(self.infos),
            action_dict={"intended": np.stack(self.intended)} if len(self.intended) == len(self.actions) else {},
            attrs={"seed": -1 if seed is None else int(seed), **({} if policy_seed is None else {"policy_seed": int(policy_seed)})},
        )


def record_episode(
    env: gym.Env,
    policy: RolloutPolicy,
    seed: int | None = None,
    max_steps: int | None = None,
    store_next_obs: bool = False,
    policy_seed: int | None = None,
) -> Episode:
    """Run one episode until termination, truncation or ``max_steps``.

    ``obs[t]`` is the observation the policy saw before ``actions[t]``; ``states[t]``
    the simulator state at that moment when the env exposes ``get_state`` (so the
    episode can be replayed from ``states[0]``). ``dones[t]`` is 1 on the last step of
    a terminated or truncated episode. ``success`` is made sticky as robomimic does
    only where the env says so; here it is stored as reported per step.
    A policy with an ``intended_action`` attribute (the scripted experts: the action
    before their noise; :class:`robopref.rollout.dagger.ExpertLabelled`: the expert's
    label) has it stored each step as ``action_dict["intended"]``.
    ``policy_seed`` (default ``seed``) seeds the policy's own sampling, so one initial
    state (``seed``) can be rolled out several times with different policy noise.
    """
    obs, _ = env.reset(seed=seed)
    policy.reset(seed=seed if policy_seed is None else policy_seed)
    rec = EpisodeRecorder(env, obs, seed, policy_seed, max_steps, store_next_obs)
    while not rec.done:
        action = policy.act(rec.obs)
        rec.step(action, getattr(policy, "intended_action", None))  # a noisy expert's clean action, or a DAgger label
    return rec.episode()
