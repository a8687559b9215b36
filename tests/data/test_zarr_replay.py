"""diffusion_policy replay buffers (zarr format 2, folder or zip) read as robopref episodes
and converted with ``robopref convert format=zarr``; bad stores named with what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numcodecs")

from robopref.data import Dataset  # noqa: E402
from robopref.data.zarr_replay import ZarrError, ZarrReplayBuffer  # noqa: E402
from tests.data.zarr_maker import make_replay  # noqa: E402
from tests.test_cli import robopref  # noqa: E402

ENDS = [23, 40, 71]  # three episodes of 23, 17 and 31 steps; 16-step chunks straddle them


def pusht_like(n: int = ENDS[-1]) -> dict[str, np.ndarray]:
    """PushT's arrays: float32 images in 0-255, state, keypoints, action."""
    t = np.arange(n, dtype=np.float32)
    return {
        "img": np.broadcast_to((t % 250)[:, None, None, None], (n, 12, 12, 3)).astype(np.float32).copy(),
        "state": np.stack([t, -t, t / 2, t * 0, t + 1], 1).astype(np.float32),
        "keypoint": np.broadcast_to(t[:, None, None], (n, 9, 2)).astype(np.float32).copy(),
        "action": np.stack([t, t + 0.5], 1).astype(np.float32),
    }


@pytest.mark.parametrize("zip_it", [False, True])
def test_episodes_are_cut_at_episode_ends(tmp_path, zip_it):
    data = pusht_like()
    path = make_replay(tmp_path / ("r.zarr.zip" if zip_it else "r.zarr"), data, ENDS, zip_it=zip_it)
    rb = ZarrReplayBuffer(path)
    assert rb.episode_indices == [0, 1, 2] and rb.cameras == ["img"]
    ep = rb.read_episode(1)
    assert len(ep) == 17
    np.testing.assert_array_equal(ep.actions, data["action"][23:40])
    np.testing.assert_array_equal(ep.obs["state"], data["state"][23:40])
    assert ep.obs["keypoint"].shape == (17, 18)
    assert ep.obs["img_image"].dtype == np.uint8 and ep.obs["img_image"][:, 0, 0, 0].tolist() == list(range(23, 40))
    assert ep.dones.tolist() == [0] * 16 + [1] and ep.attrs == {"zarr_episode_index": 1}
    assert rb.read_episode(2, image_size=8).obs["img_image"].shape == (31, 8, 8, 3)


def test_arrays_chunked_along_other_axes_and_unit_range_frames(tmp_path):
    n = ENDS[-1]
    data = {"action": np.arange(n * 6, dtype=np.float64).reshape(n, 6), "camera_0": np.full((n, 10, 10, 3), 0.5, np.float32)}
    path = make_replay(tmp_path / "r.zarr", data, ENDS, chunk=7, extra_chunks={"action": (5, 4)})
    ep = ZarrReplayBuffer(path).read_episode(2)
    np.testing.assert_array_equal(ep.actions, data["action"][40:71].astype(np.float32))
    assert ep.obs["camera_0_image"].max() == 128  # frames in [0, 1] are scaled to 0-255


def test_convert_format_zarr(tmp_path):
    make_replay(tmp_path / "pusht.zarr", pusht_like(), ENDS)
    out = tmp_path / "pusht.hdf5"
    res = robopref("convert", "format=zarr", "source=pusht.zarr", f"output={out}", "image_size=12", "fps=10", "cameras=[img]", "hydra.run.dir=r", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    with Dataset(out) as ds:
        assert ds.lengths == {"demo_0": 23, "demo_1": 17, "demo_2": 31} and ds.obs_keys == ["img_image", "keypoint", "state"]
        assert ds.env_args["env_kwargs"]["fps"] == 10
    res = robopref("export", f"dataset={out}", "output=lr", "video_codec=libx264", "hydra.run.dir=e", cwd=tmp_path)  # fps from the import
    assert res.returncode == 0, res.stderr[-2000:]


def test_bad_stores_are_named(tmp_path):
    with pytest.raises(ZarrError, match=r"nothing.zarr: not found"):
        ZarrReplayBuffer(tmp_path / "nothing.zarr")
    make_replay(tmp_path / "noact.zarr", {"state": np.zeros((5, 2), np.float32)}, [5])
    with pytest.raises(ZarrError, match=r"data/action not found \(arrays: \['state'\]\)"):
        ZarrReplayBuffer(tmp_path / "noact.zarr")
    make_replay(tmp_path / "short.zarr", {"action": np.zeros((5, 2), np.float32)}, [3, 8])
    with pytest.raises(ZarrError, match=r"data/action has 5 steps, meta/episode_ends says 8"):
        ZarrReplayBuffer(tmp_path / "short.zarr")
    (tmp_path / "v3.zarr").mkdir()
    (tmp_path / "v3.zarr" / "zarr.json").write_text("{}")
    with pytest.raises(ZarrError, match=r"zarr format 3; save it as format 2"):
        ZarrReplayBuffer(tmp_path / "v3.zarr")
