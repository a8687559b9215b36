"""Each kind of bad file gets an error naming the file, the demo and the key."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from robopref.data import Dataset, DatasetError, DatasetWriter, validate_dataset
from tests.data.helpers import ENV_ARGS, make_episode


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.hdf5"
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(make_episode(T=10, seed=0))
        w.add_episode(make_episode(T=10, seed=1))
    return path


def _edit(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)


def _replace(f, key, data):
    del f[key]
    f.create_dataset(key, data=data)


CASES = {
    "missing data group": (lambda f: f.move("data", "stuff"), r"good.hdf5: data: missing group 'data'"),
    "missing actions": (lambda f: f["data/demo_1"].__delitem__("actions"), r"good.hdf5: data/demo_1/actions: missing required key"),
    "missing obs": (lambda f: f["data/demo_0"].__delitem__("obs"), r"data/demo_0/obs: missing required group"),
    "obs length mismatch": (
        lambda f: _replace(f, "data/demo_1/obs/state", np.zeros((9, 3), np.float32)),
        r"data/demo_1/obs/state: expected 10 steps \(the length of actions\), got shape \(9, 3\)",
    ),
    "rewards length mismatch": (
        lambda f: _replace(f, "data/demo_0/rewards", np.zeros(11)),
        r"data/demo_0/rewards: expected shape \(10,\) to match actions, got \(11,\)",
    ),
    "integer actions": (
        lambda f: _replace(f, "data/demo_0/actions", np.zeros((10, 2), np.int32)),
        r"data/demo_0/actions: expected a float dtype \(float32\), got int32",
    ),
    "actions wrong rank": (
        lambda f: _replace(f, "data/demo_0/actions", np.zeros(10, np.float32)),
        r"data/demo_0/actions: expected rank 2 \(T, action_dim\), got shape \(10,\)",
    ),
    "float images": (
        lambda f: _replace(f, "data/demo_0/obs/top_image", np.zeros((10, 8, 8, 3), np.float32)),
        r"data/demo_0/obs/top_image: expected uint8 images, got float32",
    ),
    "images wrong rank": (
        lambda f: _replace(f, "data/demo_0/obs/top_image", np.zeros((10, 8, 8), np.uint8)),
        r"data/demo_0/obs/top_image: expected images of shape \(T, H, W, C\)",
    ),
    "NaN in actions": (
        lambda f: f["data/demo_1/actions"].__setitem__((4, 1), np.nan),
        r"data/demo_1/actions: contains NaN \(first at step 4\)",
    ),
    "Inf in rewards": (
        lambda f: f["data/demo_0/rewards"].__setitem__(7, np.inf),
        r"data/demo_0/rewards: contains Inf \(first at step 7\)",
    ),
    "mask names missing demo": (
        lambda f: f.create_dataset("mask/better", data=np.array(["demo_0", "demo_9"], dtype="S")),
        r"good.hdf5: mask/better: names demos that do not exist: \['demo_9'\]",
    ),
    "num_samples disagrees": (
        lambda f: f["data/demo_1"].attrs.__setitem__("num_samples", 12),
        r"data/demo_1/attrs/num_samples: attr num_samples=12 but actions has 10 steps",
    ),
    "infos length mismatch": (
        lambda f: _replace(f, "data/demo_0/infos/success", np.zeros(3, bool)),
        r"data/demo_0/infos/success: expected 10 steps",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_error_names_file_demo_key(good, case):
    edit, pattern = CASES[case]
    validate_dataset(good)  # valid before the edit
    _edit(good, edit)
    with pytest.raises(DatasetError, match=pattern):
        validate_dataset(good)
    with pytest.raises(DatasetError, match=pattern):
        Dataset(good)


def test_missing_file_and_not_hdf5(tmp_path):
    with pytest.raises(DatasetError, match=r"nope.hdf5: file does not exist"):
        Dataset(tmp_path / "nope.hdf5")
    junk = tmp_path / "junk.hdf5"
    junk.write_text("not hdf5")
    with pytest.raises(DatasetError, match=r"junk.hdf5: cannot be opened as HDF5"):
        validate_dataset(junk)


def test_writer_refuses_bad_episode_and_leaves_file_intact(good):
    bad = make_episode(T=10, seed=2)
    bad.actions[3, 0] = np.nan
    with pytest.raises(DatasetError, match=r"actions: contains NaN \(first at step 3\)"):
        with DatasetWriter(good, env_args=ENV_ARGS, mode="a") as w:
            w.add_episode(bad)
    assert Dataset(good).demos == ["demo_0", "demo_1"]


def test_writer_mask_with_unknown_demo(good):
    with DatasetWriter(good, env_args=ENV_ARGS, mode="a") as w:
        with pytest.raises(DatasetError, match=r"mask/okay: names demos that do not exist: \['demo_7'\]"):
            w.set_mask("okay", ["demo_7"])


def test_unknown_filter_key(good):
    with pytest.raises(DatasetError, match=r"mask/worse: no such filter key"):
        Dataset(good, filter_key="worse")
