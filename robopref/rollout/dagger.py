"""DAgger data (Ross et al. 2011): a learned policy drives, the scripted expert labels.

A policy trained on expert demonstrations drifts into states no demonstration shows (a
block pushed against a wall, a stick jammed between two blocks) and has no example of
what to do there. Rolling the policy out while the env's scripted expert says, at every
visited state, what it would do gives exactly those examples. :class:`ExpertLabelled`
executes the policy's actions and exposes the expert's as ``intended_action``, which
:func:`robopref.rollout.record.record_episode` stores as ``action_dict/intended``; train
on it with ``robopref policy action_key=action_dict/intended``.

``beta`` is DAgger's mixing: each step the expert's own action is executed with
probability β instead of the policy's. Scripted experts that plan over several steps
(turn the stick, then push) only ever label the first step of their plan when the
policy always drives; some expert steps let their plans progress.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from robopref.rollout.policy import RolloutPolicy


class ExpertLabelled:
    """Acts as ``policy``; ``intended_action`` is what ``expert`` does in the same state.

    ``expert`` should be noise-free: its action is the label. It is asked every step
    (before the env steps), so scripted experts that keep a plan follow the visited states.
    """

    def __init__(self, policy: RolloutPolicy, expert: RolloutPolicy, beta: float = 0.0, seed: int | None = None) -> None:
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"DAgger beta={beta}: expected a probability in [0, 1]")
        self.policy, self.expert, self.beta = policy, expert, float(beta)
        self.rng = np.random.default_rng(seed)
        self.intended_action: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> None:
        self.policy.reset(seed)
        self.expert.reset(seed)
        self.rng = np.random.default_rng(seed)
        self.intended_action = None

    def act(self, obs: Mapping[str, Any]) -> np.ndarray:
        self.intended_action = np.asarray(self.expert.act(obs), dtype=np.float32)
        action = self.policy.act(obs)  # always asked, so a policy with an action queue stays in step
        return self.intended_action.copy() if self.beta > 0 and self.rng.random() < self.beta else action
