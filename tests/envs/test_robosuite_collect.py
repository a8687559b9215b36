"""`robopref collect env=robosuite_lift quality=mh` writes robomimic MH-style masks and replays."""

from __future__ import annotations

import json

from robopref.data import Dataset, validate_dataset
from robopref.rollout.replay import replay_dataset
from tests.test_cli import robopref


def test_collect_mh_dataset_has_operator_masks_and_replays(tmp_path):
    out = robopref(
        "collect", "env=robosuite_lift", "env.image_size=32", "env.horizon=15", "episodes=3", "quality=mh", "videos=0",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "outputs" / "collect").iterdir())
    path = run / "dataset.hdf5"
    validate_dataset(path)
    ds = Dataset(path)
    assert ds.masks() == ["better", "okay", "worse"]
    assert (ds.mask("better"), ds.mask("okay"), ds.mask("worse")) == (["demo_0"], ["demo_1"], ["demo_2"])
    attrs = [ds.episode(d, obs_keys=[]).attrs for d in ds.demos]
    assert [a["operator"] for a in attrs] == ["better", "okay", "worse"]
    assert [a["noise"] for a in attrs] == [0.05, 0.3, 0.6]
    assert ds.obs_keys == sorted(["agentview_image", "object", "robot0_eef_pos", "robot0_eef_quat", "robot0_eye_in_hand_image", "robot0_gripper_qpos"])
    assert ds.env_args["robopref_env"]["task"] == "Lift"
    # robomimic's own env_args: robosuite type, robosuite.make kwargs with the OSC_POSE controller
    assert (ds.env_args["env_name"], ds.env_args["env_type"]) == ("Lift", 1)
    kwargs = ds.env_args["env_kwargs"]
    assert kwargs["robots"] == ["Panda"] and kwargs["controller_configs"]["body_parts"]["right"]["type"] == "OSC_POSE"
    assert kwargs["camera_names"] == ["agentview", "robot0_eye_in_hand"] and kwargs["camera_heights"] == 32
    assert len(Dataset(path, filter_key="worse")) == 1
    reports = replay_dataset(path, demos=["demo_0", "demo_2"], atol=1e-8)
    assert all(r.ok for r in reports), reports
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["by_operator"]) == {"better", "okay", "worse"}
