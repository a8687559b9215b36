"""``robopref convert``: a LeRobot dataset becomes a robopref dataset that the label page and
the label stage read; an existing output is never replaced unasked, bad keys are named."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from robopref.app.catalog import DatasetCatalog  # noqa: E402
from robopref.data import Dataset  # noqa: E402
from tests.data.lerobot_maker import gray, make_lerobot  # noqa: E402
from tests.test_cli import robopref  # noqa: E402


def test_convert_then_label_for_people(tmp_path):
    make_lerobot(tmp_path / "so100", version="v3.0", lengths=(12, 15, 11))
    out = tmp_path / "so100.hdf5"
    res = robopref("convert", "source=so100", f"output={out}", "image_size=16", "episodes=[0,2]", "cameras=[top]", "hydra.run.dir=run", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["episodes"] == 2 and summary["steps"] == 23 and summary["cameras"] == ["top_image"] and summary["left_out"] == ["language_instruction"]
    with Dataset(out) as ds:
        assert len(ds.demos) == 2
        ep = ds.episode(ds.demos[1])
        assert ep.obs["top_image"].shape == (11, 16, 16, 3) and ep.attrs["lerobot_episode_index"] == 2
        np.testing.assert_allclose(ep.obs["top_image"].reshape(11, -1).mean(1), [gray(27 + t) for t in range(11)], atol=4)
    assert DatasetCatalog([out]) is not None  # the label page can show its videos

    res = robopref("label", f"dataset={out}", "store=prefs.sqlite", "teacher=none", "queries=4", "segment_length=8", "hydra.run.dir=lab", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((tmp_path / "lab" / "summary.json").read_text())["queries_added"] == 4

    again = robopref("convert", "source=so100", f"output={out}", "hydra.run.dir=run2", cwd=tmp_path)
    assert again.returncode != 0 and f"output={out} already exists (2 episodes): pass overwrite=true" in again.stderr
    with Dataset(out) as ds:
        assert len(ds.demos) == 2  # untouched


@pytest.mark.parametrize("override, message", [
    ("cameras=[wrist]", "cameras=['wrist']: 'wrist' is not a camera of the source (cameras: ['observation.images.top'])"),
    ("episodes=[0,5]", "episodes: [5] not in the source (it has episodes 0–1, 2 in all)"),
    ("image_size=4", "image_size=4: expected >= 8 pixels"),
    ("format=hdf5", "format='hdf5': expected one of ('lerobot', 'zarr', 'dp_checkpoint', 'lerobot_policy')"),
    ("fps=0", "fps=0.0: expected > 0 steps per second"),
])
def test_bad_settings_are_named_before_writing(tmp_path, override, message):
    make_lerobot(tmp_path / "ds", version="v2.1", lengths=(3, 4), camera="image")
    res = robopref("convert", "source=ds", "output=out.hdf5", override, "hydra.run.dir=run", cwd=tmp_path)
    assert res.returncode != 0 and message in res.stderr
    assert not (tmp_path / "run" / "out.hdf5").exists()
