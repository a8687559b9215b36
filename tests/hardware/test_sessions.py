"""Record and rollout loops against a server with an in-memory arm: keys, pause, takeover, discard, estop."""

import numpy as np
import pytest

from robopref.data.dataset import Dataset
from robopref.data.layout import make_env_args
from robopref.robot.recorder import EpisodeRecorder
from robopref.robot.session import LoopConfig, record_session, rollout_session
from robopref_hardware.cameras.pattern import PatternCameraConfig
from robopref_hardware.client import RobotClient
from robopref_hardware.safety import SafeArm, SafetyConfig
from robopref_hardware.teleop.keyboard import KeyboardTeleop, ScriptedKeys

from tests.hardware.fakes import FakeArm, ThreadServer

ENV_ARGS = make_env_args("robopref_robot/fake")


class TowardPolicy:
    """Moves +x by 5 mm per step from where it is told the hand is."""

    def __init__(self):
        self.resets = 0

    def reset(self, seed=None):
        self.resets += 1

    def act(self, obs):
        return np.concatenate([obs["ee_pos"] + [0.005, 0, 0], [0.08]]).astype(np.float32)


@pytest.fixture()
def served():
    arm = FakeArm()
    safe = SafeArm(arm, SafetyConfig(workspace_low=[-1, 0, 0], workspace_high=[1, 1, 1], max_speed=1.0))
    cam = PatternCameraConfig(width=32, height=24, fps=50).build()
    cam.connect()
    with ThreadServer(safe, cameras={"front": cam}, watchdog_timeout=1.0) as srv, RobotClient(port=srv.port) as client:
        yield client, arm, safe
    cam.disconnect()


def test_rollout_with_pause_takeover_and_early_stop(served, tmp_path):
    client, arm, safe = served
    keys = ScriptedKeys([None, None, "t", "w", "w", "t", None, "p", None, None, "p", None, "b",  # episode 1
                         None, "backspace",  # episode 2: discarded
                         None, None, "b"])  # episode 3
    rec = EpisodeRecorder(tmp_path / "r.hdf5", ENV_ARGS, video_fps=50)
    pol = TowardPolicy()
    s = rollout_session(client, pol, rec, LoopConfig(hz=50, max_steps=100), episodes=3, teleop=KeyboardTeleop(keys=keys))
    assert s.episodes_saved == ["demo_0", "demo_1"] and s.episodes_discarded == 1 and pol.resets == 3
    assert s.takeover_steps == 3 and s.paused_s > 0 and s.refused_commands == 0
    with Dataset(tmp_path / "r.hdf5") as ds:
        ep = ds.episode("demo_0")
        # 2 policy steps, 3 takeover steps (t, w, w), then policy; pause ticks are not recorded
        assert list(ep.infos["takeover"][:6]) == [0, 0, 1, 1, 1, 0]
        assert len(ep) == 13 - 3  # 13 ticks, of which 3 paused (p, None, None)
        assert ep.actions[3, 0] == pytest.approx(ep.actions[2, 0] + 0.01)  # w moved the takeover target +x
        assert ep.obs["front_image"].shape == (len(ep), 24, 32, 3)
        assert len(ds.episode("demo_1")) == 3
    assert (tmp_path / "r_videos" / "demo_1.mp4").exists()


def test_record_session_keys_and_emergency_stop(served, tmp_path):
    client, arm, safe = served
    keys = ScriptedKeys(["c", "w", "x", "w", "u", "w", "b",  # estop at tick 3: its command and the next are refused until u
                         "c", "d", "backspace", "q"])
    rec = EpisodeRecorder(tmp_path / "r.hdf5", ENV_ARGS, video_fps=50)
    s = record_session(client, KeyboardTeleop(keys=keys), rec, LoopConfig(hz=50), episodes=3)
    assert s.episodes_saved == ["demo_0"] and s.episodes_discarded == 1
    assert s.refused_commands == 2 and safe.estop.count == 1 and not safe.estop.latched
    with Dataset(tmp_path / "r.hdf5") as ds:
        ep = ds.episode("demo_0")
        assert len(ep) == 7 and list(ep.infos["refused"]) == [0, 0, 1, 1, 0, 0, 0]
        assert ep.attrs["source"] == "teleop"


def test_rollout_of_a_diffusion_checkpoint_uses_chunks(served, tmp_path):
    """A (tiny, untrained) robopref diffusion policy checkpoint rolled out on the arm through load_policy."""
    pytest.importorskip("torch")
    from robopref.policies import DiffusionPolicy, PolicyShapes, save_checkpoint
    from robopref.robot.policies import load_robot_policy
    from tests.policies.conftest import tiny_config

    client, arm, safe = served
    model = DiffusionPolicy(tiny_config(horizon=8, n_obs_steps=2, n_action_steps=4),
                            PolicyShapes(action_dim=4, low_dim={"ee_pos": 3, "gripper": 1}, images={}))
    ckpt = save_checkpoint(tmp_path / "tiny.ckpt", model)
    policy = load_robot_policy(str(ckpt), device="cpu")
    assert policy.n_obs_steps == 2 and hasattr(policy, "predict_chunk")  # the chunked, latency-compensated path
    rec = EpisodeRecorder(tmp_path / "r.hdf5", ENV_ARGS, video_fps=20)
    s = rollout_session(client, policy, rec, LoopConfig(hz=20, max_steps=10), episodes=1)
    assert s.episodes_saved == ["demo_0"] and s.mean_inference_ms is not None
    with Dataset(tmp_path / "r.hdf5") as ds:
        ep = ds.episode("demo_0")
        assert len(ep) == 10 and ep.actions.shape == (10, 4) and np.all(np.isfinite(ep.actions))
    assert safe.counters["accepted"] + safe.counters["refused"] >= 10
