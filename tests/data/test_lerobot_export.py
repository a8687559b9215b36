"""``robopref export``: robopref episodes written as a LeRobot v3.0 dataset, with the layout
LeRobot's loader needs, and read back unchanged (LeRobot → robopref → LeRobot → robopref)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")

import pyarrow.parquet as pq  # noqa: E402

from robopref.data import Dataset  # noqa: E402
from robopref.data.episode import Episode  # noqa: E402
from robopref.data.layout import make_env_args  # noqa: E402
from robopref.data.lerobot import LeRobotDataset  # noqa: E402
from robopref.data.lerobot_export import write_lerobot  # noqa: E402
from robopref.data.writer import DatasetWriter  # noqa: E402
from tests.data.lerobot_maker import gray, make_lerobot  # noqa: E402
from tests.test_cli import robopref  # noqa: E402

LENGTHS = (7, 10, 8)


@pytest.fixture
def imported(tmp_path):
    """A robopref dataset converted from a LeRobot v2.1 one (fps 10, camera 'top')."""
    make_lerobot(tmp_path / "src", version="v2.1", lengths=LENGTHS)
    res = robopref("convert", "source=src", f"output={tmp_path / 'imported.hdf5'}", "image_size=16", "hydra.run.dir=conv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    return tmp_path / "imported.hdf5"


def test_round_trip_through_lerobot_keeps_every_step(imported, tmp_path):
    out = tmp_path / "exported"
    res = robopref("export", f"dataset={imported}", f"output={out}", "episodes=[demo_0,demo_2]", "video_codec=libx264", "hydra.run.dir=exp", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    back = LeRobotDataset(out)
    assert back.version == "v3.0" and back.fps == 10 and back.episode_indices == [0, 1]
    with Dataset(imported) as ds:
        for new, demo, first_frame in ((0, "demo_0", 0), (1, "demo_2", LENGTHS[0] + LENGTHS[1])):
            a, b = ds.episode(demo), back.read_episode(new)
            np.testing.assert_array_equal(b.actions, a.actions)
            np.testing.assert_array_equal(b.obs["state"], a.obs["state"])
            np.testing.assert_array_equal(b.rewards, a.rewards)
            np.testing.assert_array_equal(b.dones, a.dones)
            assert b.attrs["task"] == "put the cube in the bowl"
            n = len(a)
            np.testing.assert_allclose(b.obs["top_image"].reshape(n, -1).mean(1), [gray(first_frame + t) for t in range(n)], atol=5)
    assert json.loads((tmp_path / "exp" / "summary.json").read_text())["demos"] == ["demo_0", "demo_2"]


def test_the_layout_lerobots_loader_reads(imported, tmp_path):
    with Dataset(imported) as ds:
        episodes = [ds.episode(d) for d in ds.demos]
    out = tmp_path / "lr"
    write_lerobot(iter(episodes), out, fps=10, robot_type="so100", default_task="push", codec="libx264")
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == 3 and info["total_frames"] == sum(LENGTHS)
    assert info["features"]["observation.images.top"]["shape"] == [16, 16, 3]
    assert info["features"]["observation.images.top"]["names"] == ["height", "width", "channels"]
    assert all("names" in f for f in info["features"].values())
    data = pq.read_table(out / "data" / "chunk-000" / "file-000.parquet")
    assert pa.types.is_fixed_size_list(data.schema.field("action").type) and pa.types.is_floating(data.schema.field("next.reward").type)
    assert "observation.images.top" not in data.column_names  # videos live in mp4 files
    assert data.column("index").to_pylist() == list(range(sum(LENGTHS)))
    frame = np.asarray(data.column("frame_index").to_pylist())
    np.testing.assert_allclose(data.column("timestamp").to_numpy(), frame / 10, atol=1e-6)
    eps = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert [e["episode_index"] for e in eps] == [0, 1, 2]
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in eps] == [(0, 7), (7, 17), (17, 25)]
    assert [e["videos/observation.images.top/from_timestamp"] for e in eps] == [0.0, 0.7, 1.7]
    tasks = pq.read_table(out / "meta" / "tasks.parquet")
    assert tasks.schema.pandas_metadata["index_columns"] == ["__index_level_0__"]  # pandas reads the task text as the index
    assert tasks.column("__index_level_0__").to_pylist() == ["put the cube in the bowl"] and tasks.column("task_index").to_pylist() == [0]
    stats = json.loads((out / "meta" / "stats.json").read_text())
    img = np.asarray(stats["observation.images.top"]["mean"])
    assert img.shape == (3, 1, 1) and 0 <= img.min() and img.max() <= 1
    assert np.asarray(stats["action"]["q50"]).shape == (3,) and stats["action"]["count"] == [25]
    assert not (tmp_path / "lr.partial").exists()


def _write(path, size=4, episodes=2):
    with DatasetWriter(path, env_args=make_env_args("push2d"), mode="w") as w:
        for e in range(episodes):
            w.add_episode(Episode(actions=np.zeros((5, 2), np.float32), rewards=np.zeros(5), dones=np.eye(5)[-1],
                                  obs={"state": np.zeros((5, size), np.float32)}))


def test_settings_and_data_that_cannot_be_exported_are_named(tmp_path):
    _write(tmp_path / "d.hdf5")
    res = robopref("export", "dataset=d.hdf5", "output=out", "hydra.run.dir=r", cwd=tmp_path)
    assert res.returncode != 0 and "does not record its control rate; pass fps=" in res.stderr
    res = robopref("export", "dataset=d.hdf5", "output=out", "fps=10", "episodes=[demo_9]", "hydra.run.dir=r", cwd=tmp_path)
    assert res.returncode != 0 and "episodes=['demo_9']: ['demo_9'] not among the dataset's demos" in res.stderr
    res = robopref("export", "dataset=d.hdf5", "output=out", "fps=10", "cameras=[top]", "hydra.run.dir=r", cwd=tmp_path)
    assert res.returncode != 0 and "cameras=['top']: ['top_image'] not among the dataset's cameras []" in res.stderr
    assert robopref("export", "dataset=d.hdf5", "output=out", "fps=10", "hydra.run.dir=r", cwd=tmp_path).returncode == 0
    res = robopref("export", "dataset=d.hdf5", "output=out", "fps=10", "hydra.run.dir=r", cwd=tmp_path)
    assert res.returncode != 0 and "output=out already exists: pass overwrite=true" in res.stderr
    assert LeRobotDataset(tmp_path / "out").episode_indices == [0, 1]
    eps = [Episode(actions=np.zeros((3, 2)), rewards=np.zeros(3), dones=np.zeros(3), obs={"state": np.zeros((3, n))}) for n in (4, 5)]
    with pytest.raises(ValueError, match="episode 1 has other observations or sizes than the first"):
        write_lerobot(iter(eps), tmp_path / "mixed", fps=10, robot_type=None, default_task="")


def test_collected_datasets_record_the_env_rate_that_export_needs(tmp_path):
    from omegaconf import OmegaConf

    from robopref.info import describe
    from robopref.rollout import record_episode
    from robopref.rollout.factory import env_args_of, make_env, make_scripted_policy
    from tests.test_cli import ROOT

    cfg = {**OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "env" / "push2d_avoid.yaml")), "image_size": 16}
    env = make_env(cfg)
    env_args = env_args_of(env, cfg)
    assert env_args["fps"] == 10.0  # push2d steps at 10 Hz
    with DatasetWriter(tmp_path / "d.hdf5", env_args=env_args, mode="w") as w:
        w.add_episode(record_episode(env, make_scripted_policy(cfg, env, noise=0.0, seed=0), seed=0, max_steps=6))
    env.close()
    assert describe(tmp_path / "d.hdf5")["fps"] == 10.0
    res = robopref("export", "dataset=d.hdf5", "output=out", "video_codec=libx264", "hydra.run.dir=r", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((tmp_path / "out" / "meta" / "info.json").read_text())["fps"] == 10
