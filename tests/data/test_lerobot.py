"""LeRobot datasets (v2.1 and v3.0 layouts) read as robopref episodes: the right rows and
the right video frames for each episode, and bad folders named with what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from robopref.data.lerobot import LeRobotDataset, LeRobotError, obs_key  # noqa: E402
from tests.data.lerobot_maker import H, W, gray, make_lerobot  # noqa: E402

LENGTHS = (6, 9, 7)


def _check_frames(frames: np.ndarray, first_global: int, n: int) -> None:
    """Decoded frames are the dataset's frames first_global … first_global + n − 1 (lossy codecs: ±4 grey levels)."""
    assert frames.shape[0] == n and frames.dtype == np.uint8
    expected = np.array([gray(first_global + t) for t in range(n)], float)
    np.testing.assert_allclose(frames.reshape(n, -1).mean(1), expected, atol=4)


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_each_episode_gets_its_rows_and_its_video_frames(tmp_path, version):
    ds = LeRobotDataset(make_lerobot(tmp_path / "ds", version=version, lengths=LENGTHS))
    assert ds.episode_indices == [0, 1, 2] and ds.cameras == ["observation.images.top"]
    start = 0
    for e, n in enumerate(LENGTHS):
        ep = ds.read_episode(e)
        assert len(ep) == n
        np.testing.assert_allclose(ep.obs["state"][:, 0], e + np.arange(n) / 100, atol=1e-6)
        np.testing.assert_allclose(ep.actions[:, 0], -np.arange(n))
        assert ep.actions.shape == (n, 3) and ep.obs["state"].shape == (n, 4)
        assert ep.rewards.tolist() == [0.0] * (n - 1) + [1.0] and ep.dones.tolist() == [0] * (n - 1) + [1]
        assert ep.obs["top_image"].shape == (n, H, W, 3)
        _check_frames(ep.obs["top_image"], start, n)  # in v3.0 the episodes share one mp4: the seek must land on its first frame
        assert ep.attrs == {"lerobot_episode_index": e, "task": "put the cube in the bowl"}
        start += n
    assert ds.skipped_features() == ["language_instruction"]


def test_av1_videos_lerobots_default_codec_decode(tmp_path):
    ds = LeRobotDataset(make_lerobot(tmp_path / "ds", version="v3.0", lengths=(5, 8), codec="libsvtav1"))
    _check_frames(ds.read_episode(1).obs["top_image"], 5, 8)


def test_image_features_and_resizing(tmp_path):
    ds = LeRobotDataset(make_lerobot(tmp_path / "ds", version="v2.1", lengths=(4, 5), camera="image"))
    ep = ds.read_episode(1, image_size=16)
    assert ep.obs["top_image"].shape == (5, 16, 16, 3)
    assert ep.obs["top_image"].reshape(5, -1).mean(1).tolist() == [gray(4 + t) for t in range(5)]  # PNG is lossless
    video = LeRobotDataset(make_lerobot(tmp_path / "v", version="v3.0", lengths=(4, 5)))
    assert video.read_episode(1, image_size=16).obs["top_image"].shape == (5, 16, 16, 3)


def test_state_only_datasets_without_rewards_end_with_a_done(tmp_path):
    ds = LeRobotDataset(make_lerobot(tmp_path / "ds", version="v3.0", lengths=(3, 4), camera=None, rewards=False))
    ep = ds.read_episode(1)
    assert set(ep.obs) == {"state"} and ep.rewards.tolist() == [0.0] * 4 and ep.dones.tolist() == [0, 0, 0, 1]


def test_camera_names_follow_robomimic():
    assert obs_key("observation.images.wrist.left", camera=True) == "wrist_left_image"
    assert obs_key("observation.image", camera=True) == "camera_image"
    assert obs_key("observation.state", camera=False) == "state"
    assert obs_key("observation.environment_state", camera=False) == "environment_state"


def test_bad_folders_are_named(tmp_path):
    with pytest.raises(LeRobotError, match=r"nothing/meta/info.json: not found \(no such folder\)"):
        LeRobotDataset(tmp_path / "nothing")
    root = make_lerobot(tmp_path / "ds", version="v2.1", lengths=(3,), camera="video")
    info = json.loads((root / "meta" / "info.json").read_text())
    (root / "meta" / "info.json").write_text(json.dumps({**info, "codebase_version": "v1.6"}))
    with pytest.raises(LeRobotError, match=r"info.json: codebase_version='v1.6', expected one of"):
        LeRobotDataset(root)
    (root / "meta" / "info.json").write_text(json.dumps({**info, "features": {k: v for k, v in info["features"].items() if k != "action"}}))
    with pytest.raises(LeRobotError, match=r"info.json: features has no 'action'"):
        LeRobotDataset(root)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    video = next((root / "videos").rglob("*.mp4"))
    video.unlink()
    with pytest.raises(LeRobotError, match=r"episode 0, observation.images.top: video file .*episode_000000.mp4 not found"):
        LeRobotDataset(root).read_episode(0)
    with pytest.raises(LeRobotError, match=r"no episode 7 \(episodes 0–0\)"):
        LeRobotDataset(root).read_episode(7)


def test_a_video_shorter_than_its_episode_is_refused(tmp_path):
    root = make_lerobot(tmp_path / "ds", version="v2.1", lengths=(4,))
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = next((root / "data").rglob("*.parquet"))
    table = pq.read_table(path)
    longer = pa.concat_tables([table, table.slice(0, 3).set_column(table.column_names.index("frame_index"), "frame_index", pa.array([4, 5, 6], pa.int64()))])
    pq.write_table(longer, path)
    with pytest.raises(LeRobotError, match=r"has 4 frames from 0.000 s, the episode has 7 steps"):
        LeRobotDataset(root).read_episode(0)
