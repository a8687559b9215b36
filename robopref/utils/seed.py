"""Seed every random number generator a run touches, so runs are repeatable."""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (if already imported) torch; return a NumPy Generator.

    torch is only seeded when something imported it: stages that do not use torch
    (e.g. ``collect`` with a scripted expert) do not pay its import time.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
    return np.random.default_rng(seed)
