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
    observations, next_observations, actions, rewards, dones, infos, states = [], [], [], [], [], [], []
    intended: list[np.ndarray] = []
    limit = max_steps if max_steps is not None else np.inf
    t = 0
    while t < limit:
        states.append(_get_state(env))
        action = np.asarray(policy.act(obs), dtype=np.float32)
        meant = getattr(policy, "intended_action", None)  # a noisy expert's clean action, or a DAgger label
        if meant is not None:
            intended.append(np.asarray(meant, dtype=np.float32))
        nxt, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        next_observations.append(nxt)
        actions.append(action)
        rewards.append(float(reward))
        infos.append(info)
        t += 1
        done = bool(terminated or truncated or t >= limit)
        dones.append(int(done))
        obs = nxt
        if done:
            break
    return Episode(
        actions=np.stack(actions).astype(np.float32),
        rewards=np.asarray(rewards, dtype=np.float64),
        dones=np.asarray(dones, dtype=np.int64),
        obs=_stack(observations),
        next_obs=_stack(next_observations) if store_next_obs else None,
        states=np.stack(states) if states[0] is not None else None,
        infos=_scalar_infos(infos),
        action_dict={"intended": np.stack(intended)} if len(intended) == len(actions) else {},
        attrs={"seed": -1 if seed is None else int(seed), **({} if policy_seed is None else {"policy_seed": int(policy_seed)})},
    )
