"""Best-of-N selection at inference (as in DeformPAM): sample N action chunks in one
batch, score each with a learned reward, execute the best.

Any callable ``scorer(history, chunks) -> scores`` works: ``history`` maps observation
keys to (N, n_obs_steps, ...) arrays (the same history repeated), ``chunks`` is
(N, horizon, A) in dataset units, and higher scores are better.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Mapping

import numpy as np
import torch

from robopref.policies.rollout import DiffusionRolloutPolicy
from robopref.rewards.model import TrajectoryRewardModel

ChunkScorer = Callable[[Mapping[str, np.ndarray], np.ndarray], np.ndarray]


class TrajectoryRewardScorer:
    """Scores a chunk by Σ_k r(s_t, a_k) over the actions that will be executed, with
    s_t the current observation (the future states of a chunk are unknown without a
    model of the dynamics). With a Gaussian (RRL) reward each term is μ − κσ."""

    def __init__(self, model: TrajectoryRewardModel, start: int, n_action_steps: int, kappa: float | None = None) -> None:
        self.model, self.start, self.n, self.kappa = model, start, n_action_steps, kappa

    def __call__(self, history: Mapping[str, np.ndarray], chunks: np.ndarray) -> np.ndarray:
        spec = self.model.spec
        acts = chunks[:, self.start : self.start + self.n]  # (N, n, A)
        n = acts.shape[1]
        arrays = {f"obs/{k}": np.repeat(np.asarray(history[k])[:, -1:], n, axis=1) for k in spec.obs_keys}
        arrays["actions"] = acts
        feats = spec.transform(spec.raw(arrays, lead=2))
        return self.model.reward(feats, kappa=self.kappa).sum(1)


class BestOfNPolicy:
    """A diffusion rollout policy that replans with the best of ``n`` sampled chunks."""

    def __init__(self, base: DiffusionRolloutPolicy, scorer: ChunkScorer, n: int = 16) -> None:
        if n < 1:
            raise ValueError(f"best-of-N needs n >= 1, got {n}")
        self.base, self.scorer, self.n = base, scorer, n
        self._queue: deque[np.ndarray] = deque()
        self.last_scores: np.ndarray | None = None

    @property
    def start(self) -> int:
        """Index in the chunk of the first executed action."""
        return self.base.n_obs_steps - 1

    def reset(self, seed: int | None = None) -> None:
        """New episode: clear history and queue, reseed sampling."""
        self.base.reset(seed)
        self._queue.clear()

    def sample(self, history: list[Mapping[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``n`` chunks for one observation history, sampled as one batch.

        The history is encoded once and its conditioning shared by the ``n`` chunks
        (``predict_action(num_samples=n)``); the scorer still gets it once per chunk.
        """
        single = {k: np.stack([np.asarray(o[k]) for o in history])[None] for k in self.base.keys}
        tensors = {k: torch.from_numpy(v) for k, v in single.items()}
        chunks = self.base.model.predict_action(tensors, generator=self.base.generator, num_samples=self.n).cpu().numpy()
        return {k: np.repeat(v, self.n, axis=0) for k, v in single.items()}, chunks

    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The next action; when the queue is empty, sample n chunks and queue the best."""
        base = self.base
        base._history.append({k: np.asarray(obs[k]) for k in base.keys})
        while len(base._history) < base.n_obs_steps:
            base._history.appendleft(base._history[0])
        if not self._queue:
            hist, chunks = self.sample(list(base._history))
            scores = np.asarray(self.scorer(hist, chunks), dtype=np.float64)
            if scores.shape != (self.n,):
                raise ValueError(f"best-of-N scorer returned shape {scores.shape}, expected ({self.n},)")
            self.last_scores = scores
            best = chunks[int(np.argmax(scores))]
            self._queue.extend(best[self.start : self.start + base.n_action_steps].astype(np.float32))
        return self._queue.popleft()
