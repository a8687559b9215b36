"""The server's command line and config handling: usage, typos in limits, the terminal emergency stop."""

import io
import time

import pytest

from robopref_hardware import cli
from robopref_hardware.factory import build_robot, safety_config
from robopref_hardware.safety.estop import EStop, StdinEStop


def test_usage_and_unknown_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "robopref-robot serve" in out and "prepare_episode" in out and "hardware=sim" in out
    assert cli.main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err


def test_a_mistyped_safety_key_names_the_known_keys():
    with pytest.raises(ValueError, match=r"hardware.safety: .*max_stepp.*Known keys: .*max_step"):
        safety_config({"max_stepp": 0.1})
    with pytest.raises(ValueError, match="workspace_low"):
        safety_config({"workspace_low": [0, 0, 1], "workspace_high": [1, 1, 0.5]})


def test_build_robot_from_a_hardware_config_without_connecting():
    hw = {"arm": {"_target_": "tests.hardware.fakes.FakeArmConfig", "n_joints": 3},
          "cameras": {"front": {"_target_": "robopref_hardware.cameras.pattern.PatternCameraConfig", "width": 8, "height": 6}},
          "safety": {"mode": "refuse", "workspace_low": [-1, -1, -1], "workspace_high": [1, 1, 1]}}
    safe, cams = build_robot(hw, dry_run=True)
    assert type(safe.arm).__name__ == "FakeArm" and safe.dry_run and safe.mode.value == "refuse"
    assert list(cams) == ["front"] and cams["front"].config.width == 8


def test_enter_in_the_server_terminal_latches_and_r_releases():
    e = EStop()
    StdinEStop(e, io.StringIO("\n")).start()
    deadline = time.monotonic() + 2
    while not e.latched and time.monotonic() < deadline:
        time.sleep(0.01)
    assert e.latched and e.source == "server terminal"
    StdinEStop(e, io.StringIO("r\n")).start()
    deadline = time.monotonic() + 2
    while e.latched and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not e.latched
