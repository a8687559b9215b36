"""Few-shot transfer: combine transferred labels with a few real target labels.

Two uses of the real target labels, both cheap:

1. *Pick the plan.* GW is non-convex and blind to symmetries of the two distance
   geometries (a plan and its "mirror" can have nearly the same loss but transfer
   opposite labels). Given several candidate plans (random restarts), keep the one whose
   transferred labels agree best with the real target labels (:func:`pick_by_agreement`).
2. *Weigh the labels.* Real target labels weigh ``target_weight`` times a fully
   confident transferred label when the reward is trained, and a transferred label on a
   pair that has a real one is dropped (:func:`merge_comparisons`). Through the
   preference store the weight is the label's confidence (the reward stage trains with
   w = confidence), so the stage stores transferred confidences divided by
   ``target_weight`` (:func:`transferred_confidence_scale`) and real labels at 1.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from robopref.rewards.preferences import Comparison
from robopref.transfer.labels import TransferredLabels


def agreement(result: TransferredLabels, z: np.ndarray) -> float:
    """Share of real labels ``z`` (on the same pairs as ``result``) whose side ẑ picks;
    real ties (0.5) are ignored, a transferred 0.5 counts as half right."""
    z = np.asarray(z, dtype=np.float64)
    decided = z != 0.5
    if not decided.any():
        return 0.5
    side = np.sign(result.value[decided] - 0.5) * np.sign(z[decided] - 0.5)
    return float(np.mean((side + 1) / 2))


def pick_by_agreement(candidates: Sequence[TransferredLabels], z: np.ndarray, losses: Sequence[float] | None = None) -> int:
    """Index of the candidate whose labels agree best with ``z``; ties go to the lower GW loss."""
    if not candidates:
        raise ValueError("pick_by_agreement needs at least one candidate")
    losses = list(losses) if losses is not None else [0.0] * len(candidates)
    scores = [(-agreement(c, z), losses[i], i) for i, c in enumerate(candidates)]
    return min(scores)[2]


def transferred_confidence_scale(target_weight: float) -> float:
    """Factor on stored transferred confidences so a real label weighs ``target_weight`` more."""
    if target_weight < 1.0:
        raise ValueError(f"target_weight={target_weight}: real target labels must weigh at least as much as transferred ones (>= 1)")
    return 1.0 / target_weight


def merge_comparisons(transferred: Sequence[Comparison], target: Sequence[Comparison], target_weight: float = 5.0) -> list[Comparison]:
    """Training comparisons: real ``target`` ones with weight × ``target_weight``, plus the
    transferred ones on pairs that have no real label (either order)."""
    transferred_confidence_scale(target_weight)  # validates
    real = {frozenset((c.first, c.second)) for c in target}
    merged = [Comparison(c.first, c.second, c.y, c.w * target_weight, c.label_id) for c in target]
    merged += [c for c in transferred if frozenset((c.first, c.second)) not in real]
    return merged
