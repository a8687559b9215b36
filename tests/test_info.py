"""``robopref info``: each kind of file robopref reads is recognised and summarised with
the numbers a user checks first; anything else is refused with the kinds it knows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from robopref.data import SegmentRef
from robopref.info import describe
from robopref.prefs import PreferenceStore
from tests.app.conftest import write_image_dataset
from tests.test_cli import robopref


def test_a_dataset_with_its_rates_and_shapes(tmp_path):
    path = write_image_dataset(tmp_path / "d.hdf5")
    info = describe(path)
    assert info["kind"] == "dataset" and info["episodes"] == 6 and info["steps"] == 240
    assert info["episode length"] == {"min": 40, "mean": 40.0, "max": 40}
    assert info["observations"] == {"state": "[3] float32", "top_image": "[16, 16, 3] uint8"} and info["actions"] == [2]
    assert info["mean preference return"] == pytest.approx(np.mean([40.0 * d for d in range(6)]))


def test_a_store_with_labels_by_source_and_the_datasets_it_needs(tmp_path):
    data = write_image_dataset(tmp_path / "d.hdf5")
    with PreferenceStore(tmp_path / "p.sqlite") as store:
        q = store.add_query([SegmentRef(str(data), "demo_0", 0, 10), SegmentRef(str(data), "demo_1", 0, 10)])
        store.add_query([SegmentRef(str(tmp_path / "gone.hdf5"), "demo_0", 0, 10), SegmentRef(str(data), "demo_2", 0, 10)])
        for who in ("ana", "ben"):
            store.add_label(q, annotator=who, source="human", value=1.0)
    info = describe(tmp_path / "p.sqlite")
    assert info["kind"] == "preference store" and info["queries"] == {"pair": 2, "triplet": 0} and info["queries without a label"] == 1
    assert info["by source"] == {"human": 2} and info["agreement"]["pair_agreement"] == 1.0
    assert info["datasets"] == {str(data): "3 segments", str(tmp_path / "gone.hdf5"): "1 segments (file not found from here)"}


def test_checkpoints_of_each_kind(tmp_path):
    from robopref.policies import DiffusionPolicy, Normalizer, PolicyShapes, save_checkpoint
    from robopref.rewards import RewardConfig, TrajectoryRewardModel
    from robopref.rewards.features import FeatureSpec
    from tests.policies.conftest import tiny_config

    norm = Normalizer.fit_arrays({"action": np.array([[-1.0], [1.0]]), "state": np.array([[-2.0, 0.0], [2.0, 1.0]])})
    policy = DiffusionPolicy(tiny_config(image_keys=[]), PolicyShapes(action_dim=1, low_dim={"state": 2}, images={}), norm)
    info = describe(save_checkpoint(tmp_path / "p.ckpt", policy, meta={"dataset": "demos.hdf5"}))
    assert info["kind"] == "policy checkpoint" and info["dataset"] == "demos.hdf5" and info["shapes"]["action_dim"] == 1
    reward = TrajectoryRewardModel(RewardConfig(kind="rrl", ensemble=2, hidden=[8]), FeatureSpec(obs_keys=["state"], mean=np.zeros(3), std=np.ones(3)))
    info = describe(reward.save(tmp_path / "reward.pt", extra={"labels": 40}))
    assert info["kind"] == "reward checkpoint" and info["reward"]["kind"] == "rrl" and info["reward"]["ensemble"] == 2
    assert info["inputs"] == ["state"] and info["labels"] == 40
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other.pt: a torch file, but not a robopref policy or reward checkpoint \(format or keys: \['weights'\]\)"):
        describe(tmp_path / "other.pt")


def test_lerobot_and_zarr_sources_say_how_to_import_them(tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("numcodecs")
    from tests.data.lerobot_maker import make_lerobot
    from tests.data.zarr_maker import make_replay

    info = describe(make_lerobot(tmp_path / "lr", version="v3.0", lengths=(4, 5)))
    assert info["kind"] == "LeRobot dataset" and info["episodes"] == 2 and info["cameras"] == ["observation.images.top"]
    assert info["import"].startswith("robopref convert source=")
    info = describe(make_replay(tmp_path / "r.zarr", {"action": np.zeros((9, 2), np.float32)}, [4, 9]))
    assert info["kind"] == "zarr replay buffer" and info["episode length"] == {"min": 4, "mean": 4.5, "max": 5}


def test_the_command_prints_text_or_json_and_refuses_other_files(tmp_path):
    path = write_image_dataset(tmp_path / "d.hdf5")
    res = robopref("info", f"path={path}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "kind: dataset" in res.stdout and "episodes: 6" in res.stdout and "  top_image: [16, 16, 3] uint8" in res.stdout
    res = robopref("info", f"path={path}", "json=true", cwd=tmp_path)
    assert json.loads(res.stdout)["steps"] == 240
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.hdf5"]  # no run directory, no log file
    (tmp_path / "notes.txt").write_text("hello")
    res = robopref("info", "path=notes.txt", cwd=tmp_path)
    assert res.returncode != 0 and "notes.txt: not a file robopref reads (expected one of: dataset, preference store" in res.stderr
