"""The README's hardware workflow with the sim backend, end to end through the command line:

start the server, record 3 teleoperated episodes (keys replayed by teleop=script),
roll a policy out for 3 episodes, find all 6 episodes with their videos in one dataset."""

import json

import pytest
from omegaconf import OmegaConf

from robopref.cli import main
from robopref.data.dataset import Dataset
from robopref.stages.robot import RobotConfig, check_settings, preprocess_args
from robopref_hardware.client import RobotClient

from tests.hardware.fakes import free_port, spawn_sim_server

KEYS = "[c,w,w,a,a,r,b,null,c,s,s,d,f,g,b,null,c,w,d,r,r,b]"


def test_preprocess_args_maps_the_subcommand_to_mode():
    assert preprocess_args(["record", "episodes=3"]) == ["mode=record", "episodes=3"]
    assert preprocess_args(["rollout", "policy=a.ckpt"]) == ["mode=rollout", "policy=a.ckpt"]
    assert preprocess_args(["episodes=1"]) == ["episodes=1"]


def test_record_three_teleop_and_three_policy_episodes_into_one_dataset(tmp_path, monkeypatch, capsys):
    pytest.importorskip("robopref_envs.metaworld")
    port = free_port()
    proc = spawn_sim_server(port, str(tmp_path))
    try:
        RobotClient(port=port, connect_timeout_s=90).connect()  # wait for the server to be up
        monkeypatch.chdir(tmp_path)
        common = [f"hardware.port={port}", "hardware.hz=20"]
        assert main(["robot", "record", "hardware=sim", *common, "episodes=3", "teleop=script", f"key_script={KEYS}"]) == 0
        assert main(["robot", "rollout", "hardware=sim", *common, "policy=scripted:reach", "episodes=3", "max_steps=50",
                     "teleop=none"]) == 0
    finally:
        proc.kill()
        proc.wait(10)
    out = capsys.readouterr().out
    summaries = [json.loads(s) for s in _json_blocks(out)]
    assert [s["mode"] for s in summaries] == ["record", "rollout"]
    assert summaries[0]["episodes_saved"] == ["demo_0", "demo_1", "demo_2"]
    assert summaries[1]["episodes_saved"] == ["demo_3", "demo_4", "demo_5"]
    assert summaries[1]["success_rate"] == 1.0  # the scripted policy reaches the goal within 50 steps
    dataset = tmp_path / "data" / "robot.hdf5"
    with Dataset(dataset) as ds:
        assert len(ds) == 6
        for i in range(6):
            ep = ds.episode(f"demo_{i}")
            assert ep.attrs["source"] == ("teleop" if i < 3 else "policy")
            assert (dataset.parent / ep.attrs["video"]).stat().st_size > 1000
            assert ep.obs["agentview_image"].shape[1:] == (128, 128, 3)
            assert ep.actions.shape[1] == 4
    teleop_lengths = [len(Dataset(dataset).episode(f"demo_{i}")) for i in range(3)]
    assert teleop_lengths == [7, 7, 6]  # one step per tick from the start key (c) to the stop key (b), both included


def _json_blocks(text: str) -> list[str]:
    """The pretty-printed JSON summaries in the stage output."""
    blocks, depth, start = [], 0, None
    for i, ch in enumerate(text):
        if ch == "{" and text[i - 1 : i] in ("", "\n"):
            if depth == 0:
                start = i
        if start is not None:
            depth += ch == "{"
            depth -= ch == "}"
            if depth == 0:
                blocks.append(text[start : i + 1])
                start = None
    return blocks



@pytest.mark.parametrize("change, error, message", [
    ({"episodes": 0}, ValueError, r"episodes=0: expected >= 1"),
    ({"hardware": {"hz": 0.0}}, ValueError, r"hardware.hz=0.0: expected > 0"),
    ({"hardware": {"action_mode": "joint"}}, ValueError, r"hardware.action_mode='joint': expected one of \['ee_position', 'ee_pose'\]"),
    ({"teleop": "none"}, ValueError, r"robot record needs a teleop device"),
    ({"mode": "rollout"}, ValueError, r"robot rollout needs policy="),
    ({"mode": "rollout", "policy": "/nonexistent/policy.ckpt"}, FileNotFoundError, r"policy=/nonexistent/policy.ckpt: no such checkpoint file"),
])
def test_bad_session_settings_are_refused_before_connecting(change, error, message):
    """``run`` checks these before it connects (else it would wait connect_timeout_s and blame the server)."""
    with pytest.raises(error, match=message):
        check_settings(OmegaConf.merge(OmegaConf.structured(RobotConfig), change))
    check_settings(OmegaConf.merge(OmegaConf.structured(RobotConfig), {"mode": "rollout", "policy": "scripted:reach"}))
