"""Many episodes of one diffusion policy at once: one network call per step for every episode that replans.

At batch 1 a chunk costs about 11–16 ms on the project's 2-core CPU, most of it
per-operation overhead of a small U-Net; 90 chunks in one batch cost about 160 ms, so
rolling 90 episodes in lockstep replans about 9× faster than one after the other
(docs/benchmarks-alignment.md, "Session 16"). :class:`BatchedDiffusionActor` keeps what
:class:`~robopref.policies.rollout.DiffusionRolloutPolicy` keeps for one episode (the
observation history, the action queue, a noise generator) once per slot.

Each slot's initial noise comes from its own generator, seeded per episode exactly as
``DiffusionRolloutPolicy.reset(seed)`` seeds it, so an episode draws the same noise
whichever slot or batch it runs in; the chunks equal the one-by-one chunks up to float
rounding of the batched network (a closed-loop rollout can amplify that rounding, so
long episodes may drift apart while staying samples of the same policy).
"""

from __future__ import annotations

from collections import deque
from typing import Mapping

import numpy as np
import torch

from robopref.policies.rollout import DiffusionRolloutPolicy, push_observation


class BatchedDiffusionActor:
    """``slots`` episodes of ``policy`` side by side: ``reset(slot, seed)``, then ``act({slot: obs})``."""

    def __init__(self, policy: DiffusionRolloutPolicy, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots={slots}: expected >= 1 episodes side by side")
        self.policy = policy
        self.histories: list[deque[dict[str, np.ndarray]]] = [deque(maxlen=policy.n_obs_steps) for _ in range(slots)]
        self.queues: list[deque[np.ndarray]] = [deque() for _ in range(slots)]
        self.generators = [torch.Generator(device=policy.device) for _ in range(slots)]

    @property
    def slots(self) -> int:
        return len(self.queues)

    def reset(self, slot: int, seed: int | None = None) -> None:
        """Start a new episode in ``slot``: clear its history and queue, reseed its noise."""
        self.histories[slot].clear()
        self.queues[slot].clear()
        if seed is not None:
            self.generators[slot].manual_seed(int(seed))

    def act(self, observations: Mapping[int, Mapping[str, np.ndarray]]) -> dict[int, np.ndarray]:
        """The action to execute now in each given slot; the slots whose queue is empty replan in one batch."""
        p = self.policy
        replan = []
        for slot, obs in observations.items():
            push_observation(self.histories[slot], obs, p.keys, p.n_obs_steps)
            if not self.queues[slot]:
                replan.append(slot)
        if replan:
            for slot, chunk in zip(replan, self._chunks(replan)):
                p.queue_chunk(self.queues[slot], chunk)
        return {slot: self.queues[slot].popleft() for slot in observations}

    def _chunks(self, slots: list[int]) -> np.ndarray:
        """One chunk (horizon, A) per slot, from each slot's history and its own noise generator."""
        p = self.policy
        obs = {k: torch.from_numpy(np.stack([np.stack([h[k] for h in self.histories[s]]) for s in slots])) for k in p.keys}
        noise = torch.cat([p.model.initial_noise(1, p.device, self.generators[s]) for s in slots])
        return p.model.predict_action(obs, noise=noise).cpu().numpy()
