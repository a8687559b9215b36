"""A writer killed mid-write never corrupts or loses the user's existing dataset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from robopref.data import Dataset, DatasetWriter
from tests.data.helpers import ENV_ARGS, make_episode

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_while_appending_leaves_original_intact(tmp_path):
    path = tmp_path / "d.hdf5"
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(make_episode(T=10, seed=0))
    before = Dataset(path).episode("demo_0")
    child = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from robopref.data import DatasetWriter
        from tests.data.helpers import ENV_ARGS, make_episode
        w = DatasetWriter({str(path)!r}, env_args=ENV_ARGS, mode="a")
        for i in range(3):
            w.add_episode(make_episode(T=50, image=32, seed=10 + i))
        os.kill(os.getpid(), signal.SIGKILL)  # dies before close(): like a crash mid-session
        """
    )
    proc = subprocess.run([sys.executable, "-c", child], cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL
    ds = Dataset(path)
    assert ds.demos == ["demo_0"]
    np.testing.assert_array_equal(ds.episode("demo_0").obs["top_image"], before.obs["top_image"])
    # the next writer starts clean despite the leftover .partial file
    with DatasetWriter(path, env_args=ENV_ARGS, mode="a") as w:
        assert w.add_episode(make_episode(T=3, seed=5)) == "demo_1"
    assert Dataset(path).demos == ["demo_0", "demo_1"]
    assert not os.path.exists(str(path) + ".partial")
