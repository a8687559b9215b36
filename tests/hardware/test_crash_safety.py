"""Crashes: the robot server killed mid-episode, and the recorder itself killed with SIGKILL.

Either way the episode recorded so far must be intact and readable."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from robopref.data.dataset import Dataset
from robopref.data.layout import make_env_args
from robopref.robot.recorder import EpisodeRecorder, read_staged, recover_staged, staging_dir
from robopref.robot.session import LoopConfig, record_session
from robopref_hardware.client import RobotClient, ServerTimeoutError
from robopref_hardware.teleop.keyboard import KeyboardTeleop, ScriptedKeys

from tests.hardware.fakes import free_port, spawn_sim_server

ENV_ARGS = make_env_args("robopref_robot/test")


def test_server_killed_mid_episode_raises_clearly_and_keeps_the_episode(tmp_path):
    pytest.importorskip("robopref_envs.metaworld")
    port = free_port()
    proc = spawn_sim_server(port, str(tmp_path))
    try:
        client = RobotClient(port=port, timeout_s=1.0, connect_timeout_s=90)
        client.connect()
        dataset = tmp_path / "robot.hdf5"
        recorder = EpisodeRecorder(dataset, ENV_ARGS, flush_every_s=1.0, video_fps=20)
        teleop = KeyboardTeleop(keys=ScriptedKeys(["c"] + ["w", "a", "r", "s", "d", "f"] * 500))

        def kill_when_recording() -> None:
            while recorder.steps < 15:
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_when_recording, daemon=True)
        killer.start()
        with pytest.raises(ServerTimeoutError, match=r"did not answer '\w+' within 1.00 s .*stopped or crashed"):
            record_session(client, teleop, recorder, LoopConfig(hz=20, max_steps=10_000), episodes=1)
        killer.join(5)
        client.close()
    finally:
        proc.kill()
        proc.wait(10)
    with Dataset(dataset) as ds:  # validates the layout
        assert len(ds) == 1
        demo = "demo_0"
        n = ds.num_samples(demo)
        assert n >= 15
        ep = ds.episode(demo)
        assert "ServerTimeoutError" in str(ep.attrs["interrupted"])
        assert ep.obs["agentview_image"].shape == (n, 128, 128, 3)
        assert ep.actions.shape == (n, 4) and np.all(np.isfinite(ep.actions))
    assert (tmp_path / "robot_videos" / "demo_0.mp4").stat().st_size > 0
    assert not list(staging_dir(dataset).glob("*.h5"))


CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from robopref.robot.recorder import EpisodeRecorder
    from robopref.data.layout import make_env_args
    rec = EpisodeRecorder(sys.argv[1], make_env_args("robopref_robot/test"), flush_every_s=1.0)
    print("staged", rec.start({"source": "teleop"}), flush=True)
    last = 0
    for t in range(100000):
        obs = {"ee_pos": np.full(3, t, np.float64), "front_image": np.full((32, 32, 3), t % 256, np.uint8)}
        rec.add(obs, np.full(4, t, np.float32), reward=float(t), infos={"success": 0.0})
        if rec._staged.committed != last:
            last = rec._staged.committed
            print("committed", last, flush=True)
        time.sleep(0.01)
""")


def test_recorder_killed_loses_at_most_the_last_second(tmp_path):
    dataset = tmp_path / "robot.hdf5"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(dataset)], stdout=subprocess.PIPE, text=True,
                            cwd=os.getcwd())
    committed = []
    staged = None
    try:
        for line in proc.stdout:
            key, value = line.split(maxsplit=1)
            if key == "staged":
                staged = value.strip()
            else:
                committed.append(int(value))
                if len(committed) == 2:
                    t_second_flush = time.monotonic()
                    time.sleep(0.5)  # mid-way to the next flush
                    proc.send_signal(signal.SIGKILL)
                    break
    finally:
        proc.kill()
        proc.wait(10)
    assert staged and os.path.exists(staged)
    rows, attrs = read_staged(staged)
    n = len(rows["actions"])
    assert n >= committed[-1]  # everything committed before the kill is there
    assert time.monotonic() - t_second_flush < 1.5
    assert all(len(v) == n for v in rows.values())
    assert np.array_equal(rows["obs/ee_pos"][:, 0], np.arange(n))  # intact, in order
    assert np.array_equal(rows["actions"][:, 0], np.arange(n))
    assert attrs["source"] == "teleop"
    names = recover_staged(dataset, make_env_args("robopref_robot/test"))
    assert names == ["demo_0"]
    with Dataset(dataset) as ds:
        ep = ds.episode("demo_0")
        assert len(ep) == n and ep.attrs["interrupted"] == "recovered after a crash"
        assert ep.obs["front_image"].shape == (n, 32, 32, 3)
    assert not os.path.exists(staged)
