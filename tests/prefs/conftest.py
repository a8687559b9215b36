"""Fixtures for the preference-store tests: a fresh store file and segment references."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from robopref.data.segments import SegmentRef
from robopref.prefs import PreferenceStore


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "prefs.sqlite"


@pytest.fixture
def store(store_path: Path) -> Iterator[PreferenceStore]:
    with PreferenceStore(store_path) as s:
        yield s


@pytest.fixture
def seg() -> Callable[[int], SegmentRef]:
    """``seg(i)``: the i-th 20-step window of demo_i in a fixed dataset path."""
    return lambda i: SegmentRef("data/pick.hdf5", f"demo_{i}", 5 * i, 20)
