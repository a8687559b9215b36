"""Record many episodes with one policy, several at once when the policy can act batched.

A policy with a ``batched(slots)`` method (diffusion policies:
:class:`~robopref.policies.batched_rollout.BatchedDiffusionActor`) rolls out in waves of
``len(envs)`` episodes that step in lockstep, so its network runs once per step for all
of them; any other policy (scripted experts, replay) runs one episode after the other in
``envs[0]`` through :func:`~robopref.rollout.record.record_episode`. Either way the
episodes come out in the order of ``jobs`` with the same fields, and episode ``i`` starts
from ``jobs[i]``'s env seed and policy seed whatever its slot.
"""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence

import gymnasium as gym
import numpy as np

from robopref.data.episode import Episode
from robopref.rollout.policy import RolloutPolicy
from robopref.rollout.record import EpisodeRecorder, record_episode

Job = tuple[int | None, int | None]  # (env seed, policy seed; None: the env seed)


class BatchActor(Protocol):
    """What ``policy.batched(slots)`` returns: per-slot episode state, one call for every slot's action."""

    def reset(self, slot: int, seed: int | None = None) -> None:
        """Start a new episode in ``slot`` (reseeding its noise)."""

    def act(self, observations: dict[int, dict[str, np.ndarray]]) -> dict[int, np.ndarray]:
        """The action to execute now in each given slot."""


def can_batch(policy: RolloutPolicy) -> bool:
    """Whether ``policy`` can roll several episodes out at once."""
    return callable(getattr(policy, "batched", None))


def record_episodes(envs: Sequence[gym.Env], policy: RolloutPolicy, jobs: Sequence[Job], max_steps: int | None = None,
                    store_next_obs: bool = False) -> Iterator[Episode]:
    """Yield one :class:`Episode` per job, in order (see the module doc).

    ``envs`` are independent instances of one env (one per slot); a job's policy seed
    ``None`` means its env seed, as in :func:`record_episode`.
    """
    if not envs:
        raise ValueError("record_episodes needs at least one env")
    if len(envs) == 1 or not can_batch(policy):
        for env_seed, policy_seed in jobs:
            yield record_episode(envs[0], policy, seed=env_seed, max_steps=max_steps, store_next_obs=store_next_obs, policy_seed=policy_seed)
        return
    actor: BatchActor = policy.batched(len(envs))
    for start in range(0, len(jobs), len(envs)):
        yield from _wave(envs, actor, jobs[start : start + len(envs)], max_steps, store_next_obs)


def _wave(envs: Sequence[gym.Env], actor: BatchActor, jobs: Sequence[Job], max_steps: int | None, store_next_obs: bool) -> list[Episode]:
    """Run ``jobs`` side by side, one per env, until every episode has ended."""
    recorders = []
    for slot, (env_seed, policy_seed) in enumerate(jobs):
        obs, _ = envs[slot].reset(seed=env_seed)
        actor.reset(slot, env_seed if policy_seed is None else policy_seed)
        recorders.append(EpisodeRecorder(envs[slot], obs, env_seed, policy_seed, max_steps, store_next_obs))
    while True:
        active = {slot: rec.obs for slot, rec in enumerate(recorders) if not rec.done}
        if not active:
            return [rec.episode() for rec in recorders]
        for slot, action in actor.act(active).items():
            recorders[slot].step(action)
