"""Suite-wide settings: robopref is imported first so its OpenMP setting applies before
torch loads, and torch runs single-threaded (tiny test models are fastest that way,
and two spinning threads crawl on a busy 2-core machine)."""

from __future__ import annotations

import robopref  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported)
import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
