"""Files robopref writes follow the robomimic layout exactly, and plain robomimic files open."""

from __future__ import annotations

import json
from dataclasses import replace

import h5py
import numpy as np
import pytest

from robopref.data import Dataset, DatasetError, DatasetWriter, SegmentRef
from tests.data.helpers import ENV_ARGS, make_episode


def test_written_file_has_robomimic_layout(tmp_path):
    path = tmp_path / "d.hdf5"
    eps = [make_episode(T=10, seed=0), make_episode(T=7, seed=1)]
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        names = [w.add_episode(e) for e in eps]
        w.set_mask("train", ["demo_0"])
    assert names == ["demo_0", "demo_1"]
    with h5py.File(path, "r") as f:
        env_args = json.loads(f["data"].attrs["env_args"])
        assert env_args == {"env_name": "robopref-test/Line-v0", "env_type": 2, "env_kwargs": {"horizon": 12}}
        assert f["data"].attrs["total"] == 17
        d0 = f["data/demo_0"]
        assert d0.attrs["num_samples"] == 10
        assert d0["actions"].dtype == np.float32 and d0["actions"].shape == (10, 2)
        assert d0["rewards"].shape == (10,) and d0["dones"].shape == (10,)
        assert d0["obs/state"].shape == (10, 3)
        img = d0["obs/top_image"]
        assert img.dtype == np.uint8 and img.shape == (10, 8, 8, 3)
        assert img.compression == "gzip" and img.chunks[0] < 10
        assert d0["states"].shape == (10, 4)
        assert d0["infos/success"].shape == (10,)
        assert [n.decode() for n in f["mask/train"][()]] == ["demo_0"]
        np.testing.assert_array_equal(d0["actions"][()], eps[0].actions)
        np.testing.assert_array_equal(d0["obs/top_image"][()], eps[0].obs["top_image"])


def test_plain_h5py_robomimic_file_opens(tmp_path):
    """A file written the way robomimic writes it (no robopref attrs, no infos) reads fine."""
    path = tmp_path / "robomimic.hdf5"
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = json.dumps({"env_name": "Lift", "env_type": 1, "env_kwargs": {}})
        for i, T in enumerate((5, 9)):
            g = data.create_group(f"demo_{i}")
            g.attrs["num_samples"] = T
            g.create_dataset("actions", data=rng.normal(size=(T, 7)))  # float64, as in many MH files
            g.create_dataset("rewards", data=np.zeros(T))
            g.create_dataset("dones", data=np.zeros(T, dtype=np.int64))
            g.create_dataset("states", data=rng.normal(size=(T, 32)))
            g.create_dataset("obs/object", data=rng.normal(size=(T, 10)))
            g.create_dataset("obs/agentview_image", data=rng.integers(0, 255, (T, 4, 4, 3), dtype=np.uint8))
        f.create_dataset("mask/better", data=np.array(["demo_1"], dtype="S"))
    ds = Dataset(path)
    assert ds.demos == ["demo_0", "demo_1"]
    assert ds.env_args["env_name"] == "Lift"
    assert ds.image_keys == ["agentview_image"]
    assert ds.action_dim == 7 and ds.info_keys == []
    assert Dataset(path, filter_key="better").demos == ["demo_1"]
    win = ds.window(SegmentRef(str(path), "demo_1", 2, 4), keys=["actions", "obs/agentview_image"])
    assert win["actions"].shape == (4, 7) and win["obs/agentview_image"].shape == (4, 4, 4, 3)


def test_append_adds_demos_and_refuses_other_env(tmp_path):
    path = tmp_path / "d.hdf5"
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(make_episode(seed=0))
    with DatasetWriter(path, env_args=ENV_ARGS, mode="a") as w:
        assert w.add_episode(make_episode(T=4, seed=1)) == "demo_1"
    ds = Dataset(path)
    assert ds.demos == ["demo_0", "demo_1"] and ds.lengths == {"demo_0": 10, "demo_1": 4}
    with h5py.File(path, "r") as f:
        assert f["data"].attrs["total"] == 14
    other = dict(ENV_ARGS, env_name="robopref/PushAvoid-v0")
    with pytest.raises(DatasetError, match="cannot append episodes of env 'robopref/PushAvoid-v0'"):
        DatasetWriter(path, env_args=other, mode="a")
    assert Dataset(path).demos == ["demo_0", "demo_1"]


def test_episode_round_trip(tmp_path):
    path = tmp_path / "d.hdf5"
    ep = make_episode(T=6, seed=3)
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(ep)
    back = Dataset(path).episode("demo_0")
    for k in ("actions", "rewards", "dones", "states"):
        np.testing.assert_allclose(getattr(back, k), getattr(ep, k))
    for k in ep.obs:
        np.testing.assert_array_equal(back.obs[k], ep.obs[k])
    np.testing.assert_array_equal(back.infos["success"], ep.infos["success"])
    assert back.attrs["seed"] == 3 and back.success


def test_window_of_long_image_episode_reads_only_its_chunks(tmp_path):
    """Reading 8 frames of a 600-frame 64×64 episode must not materialise the episode."""
    import tracemalloc

    path = tmp_path / "long.hdf5"
    T = 600
    ep = make_episode(T=T, image=64, seed=0)
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(ep)
    ds = Dataset(path)
    episode_bytes = T * 64 * 64 * 3
    tracemalloc.start()
    win = ds.window(SegmentRef(str(path), "demo_0", 300, 8), keys=["obs/top_image"])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    np.testing.assert_array_equal(win["obs/top_image"], ep.obs["top_image"][300:308])
    assert peak < episode_bytes / 10, f"window read peaked at {peak} bytes, episode is {episode_bytes}"


def test_window_past_end_is_an_error(tmp_path):
    path = tmp_path / "d.hdf5"
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(make_episode(T=5))
    with pytest.raises(DatasetError, match=r"data/demo_0: segment \[3, 8\) is past the end"):
        Dataset(path).window(SegmentRef(str(path), "demo_0", 3, 5))


def test_camera_key_names_the_camera_or_says_there_is_none(tmp_path):
    path = tmp_path / "d.hdf5"
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(make_episode(T=3))
    ds = Dataset(path)
    assert ds.camera_key() == ds.camera_key("top") == ds.camera_key("top_image") == "obs/top_image"
    with pytest.raises(DatasetError, match=r"obs/side_image: no camera 'side'; image keys are \['top_image'\]"):
        ds.camera_key("side")
    state_only = tmp_path / "s.hdf5"
    with DatasetWriter(state_only, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(make_episode(T=3, image=0))
    with pytest.raises(DatasetError, match=r"s.hdf5: has no obs/<camera>_image frames: for a video"):
        Dataset(state_only).camera_key(purpose="for a video")


def test_noisy_expert_episode_stores_its_intended_actions(tmp_path):
    """record_episode keeps a noisy scripted expert's clean actions as action_dict/intended,
    next to the executed ones, and they survive the write/read round trip."""
    from robopref.rollout import record_episode
    from robopref_envs.push2d import Push2DExpert, make_env

    env = make_env("push", "gripper", image_size=0, num_blocks=1, max_episode_steps=20)
    ep = record_episode(env, Push2DExpert(env, noise=0.3, seed=0), seed=0)
    clean = record_episode(env, Push2DExpert(env), seed=0)
    intended = ep.action_dict["intended"]
    assert intended.shape == ep.actions.shape and not np.allclose(intended, ep.actions)
    assert np.allclose(clean.action_dict["intended"], clean.actions)  # no noise: the same
    path = tmp_path / "d.hdf5"
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(ep)
        with pytest.raises(DatasetError, match="action_dict/intended"):
            w.add_episode(replace(make_episode(T=5, seed=0), action_dict={"intended": np.zeros((4, 2), np.float32)}))
    ds = Dataset(path)
    assert ds.action_dict_keys("demo_0") == ["intended"]
    np.testing.assert_array_equal(ds.read("demo_0", "action_dict/intended"), intended)
    np.testing.assert_array_equal(ds.episode("demo_0").action_dict["intended"], intended)


def test_a_dataset_without_episodes_is_refused_by_what_learns_from_it(tmp_path):
    """An empty file is valid (a session may create it before its first episode), but labelling,
    rewards and policies cannot use it: they name the file instead of an IndexError."""
    from robopref.data.pool import DatasetPool

    empty = tmp_path / "empty.hdf5"
    with DatasetWriter(empty, env_args=ENV_ARGS, mode="w"):
        pass
    assert Dataset(empty).demos == []
    with pytest.raises(DatasetError, match=rf"{empty}: has no episodes: nothing to label or learn from; collect some first"):
        DatasetPool().get(str(empty))
    one = tmp_path / "one.hdf5"
    with DatasetWriter(one, env_args=ENV_ARGS, mode="w") as w:
        w.add_episode(make_episode())
        w.set_mask("better", [])
    assert DatasetPool().get(str(one)).demos == ["demo_0"]
    with pytest.raises(DatasetError, match=r"has no episodes in mask 'better': a policy needs"):
        Dataset(one, filter_key="better").require_episodes("a policy needs demonstrations")
