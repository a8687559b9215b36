"""`robopref collect env=metaworld quality=mixed` writes a valid, replayable dataset."""

from __future__ import annotations

import json

from robopref.data import Dataset, validate_dataset
from robopref.rollout.factory import make_env_from_dataset
from robopref.rollout.replay import replay_dataset
from tests.test_cli import robopref


def test_collect_mixed_quality_dataset_replays(tmp_path):
    out = robopref(
        "collect", "env=metaworld", "env.task=drawer-open-v3", "env.camera=corner", "env.image_size=32", "env.horizon=25",
        "episodes=3", "quality=mixed", "mixed_noise=[0.0,0.5,1.0]", "videos=1", cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "outputs" / "collect").iterdir())
    path = run / "dataset.hdf5"
    assert validate_dataset(path) == ["demo_0", "demo_1", "demo_2"]
    ds = Dataset(path)
    assert [ds.episode(d, obs_keys=[]).attrs["noise"] for d in ds.demos] == [0.0, 0.5, 1.0]
    assert ds.obs_keys == ["corner_image", "state"] and {"success", "task_reward", "pref_score"} <= set(ds.info_keys)
    assert ds.env_args["env_name"] == "robopref/MetaWorld-v0" and ds.env_args["env_kwargs"]["task"] == "drawer-open-v3"
    env = make_env_from_dataset(path)
    assert env.unwrapped.task == "drawer-open-v3" and env.unwrapped.cameras == ["corner"]
    env.close()
    reports = replay_dataset(path, atol=1e-8)
    assert all(r.ok for r in reports), reports
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["by_noise"]) == {"0.0", "0.5", "1.0"}
    assert (run / "videos" / "demo_0.mp4").exists()
