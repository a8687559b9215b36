"""One entry point for every saved reward: trajectory (BT, RRL) or visual (RAPL, RLHF visual).

Downstream users (DPO pair ranking, the pipeline's report) only need the learned
return of segments; :func:`load_reward` reads either checkpoint kind and
:func:`segment_returns` gives the returns whatever the kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch

from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef
from robopref.rewards.model import CHECKPOINT_FORMAT, TrajectoryRewardModel
from robopref.rewards.visual.model import FORMAT as VISUAL_FORMAT
from robopref.rewards.visual.model import VisualRewardModel

RewardModel = Union[TrajectoryRewardModel, VisualRewardModel]


def checkpoint_format(path: str | Path) -> str:
    """The ``format`` tag of a reward checkpoint; clear errors for missing or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reward checkpoint {path} does not exist")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as e:  # torch raises several types for non-checkpoint files
        raise ValueError(f"{path}: not a torch checkpoint ({type(e).__name__}: {e})") from e
    fmt = blob.get("format") if isinstance(blob, dict) else None
    if fmt not in (CHECKPOINT_FORMAT, VISUAL_FORMAT):
        raise ValueError(f"{path}: not a robopref reward checkpoint (format {fmt!r}; expected {CHECKPOINT_FORMAT!r} or {VISUAL_FORMAT!r})")
    return str(fmt)


def load_reward(path: str | Path) -> RewardModel:
    """A trajectory or visual reward model, whichever ``path`` holds."""
    if checkpoint_format(path) == VISUAL_FORMAT:
        return VisualRewardModel.load(path)
    return TrajectoryRewardModel.load(path)


def segment_returns(model: RewardModel, pool: DatasetPool, refs: Sequence[SegmentRef], kappa: float | None = None) -> np.ndarray:
    """Learned return of each segment: Σ_t r_t (μ − κσ per step for a Gaussian reward)."""
    if isinstance(model, VisualRewardModel):
        return model.returns(pool, list(refs))
    return np.array([float(model.reward(model.spec.segment(pool, r), kappa=kappa).sum()) for r in refs])
