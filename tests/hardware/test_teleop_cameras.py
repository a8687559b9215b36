"""Teleop devices (keyboard in a pseudo-terminal, scripted keys, a pygame double) and camera backends
(pattern, OpenCV and RealSense doubles)."""

import os
import sys
import time
import types

import numpy as np
import pytest

from robopref_hardware.cameras.opencv import OpenCVCameraConfig
from robopref_hardware.cameras.pattern import PatternCameraConfig, pattern_frame_number
from robopref_hardware.cameras.realsense import RealSenseCameraConfig
from robopref_hardware.errors import HardwareError, MissingDependencyError
from robopref_hardware.teleop.gamepad import GamepadTeleopConfig
from robopref_hardware.teleop.keyboard import KeyboardTeleop, KeyboardTeleopConfig, ScriptedKeys, TerminalKeys, decode_keys


def test_decode_keys_handles_arrows_backspace_and_space():
    assert decode_keys("w\x1b[Ax \x7fQ\r") == ["w", "up", "x", "space", "backspace", "q", "enter"]


def test_keyboard_teleop_moves_toggles_gripper_and_raises_events():
    tele = KeyboardTeleop(KeyboardTeleopConfig(step=0.01), ScriptedKeys([["w", "w", "w"], ["d", "r"], "g", "c", "backspace", "x", None]))
    tele.connect()
    a = tele.read()
    assert np.allclose(a.delta_pos, [0.01, 0, 0]) and not a.events  # key auto-repeat counts once per tick
    assert np.allclose(tele.read().delta_pos, [0, -0.01, 0.01])
    assert tele.read().gripper_closed
    assert tele.read().events == {"start"}
    assert tele.read().events == {"discard"}
    assert tele.read().events == {"estop"}
    assert not tele.read().moving
    assert tele.read().events == {"quit"}  # an exhausted script quits
    tele.disconnect()


def test_terminal_keys_read_a_real_pseudo_terminal_in_cbreak_mode():
    import termios

    master, slave = os.openpty()
    try:
        keys = TerminalKeys(fd=slave)
        keys.start()
        assert not termios.tcgetattr(slave)[3] & termios.ICANON  # raw-ish: no line buffering
        os.write(master, b"wa\x1b[B")
        time.sleep(0.05)
        assert keys.poll() == ["w", "a", "down"]
        assert keys.poll() == []
        keys.stop()
        assert termios.tcgetattr(slave)[3] & termios.ICANON  # terminal restored
    finally:
        os.close(master)
        os.close(slave)


def test_terminal_keys_refuse_a_non_tty():
    r, w = os.pipe()
    try:
        with pytest.raises(RuntimeError, match="interactive terminal"):
            TerminalKeys(fd=r).start()
    finally:
        os.close(r)
        os.close(w)


def test_gamepad_teleop_with_a_pygame_double(monkeypatch):
    axes = {1: -1.0, 0: 0.05, 4: 0.5}
    buttons = {0: 0, 7: 0}

    class Joystick:
        def __init__(self, i):
            self.i = i

        def init(self):
            pass

        def get_axis(self, i):
            return axes.get(i, 0.0)

        def get_button(self, i):
            return buttons.get(i, 0)

    pg = types.ModuleType("pygame")
    pg.init = lambda: None
    pg.quit = lambda: None
    pg.joystick = types.SimpleNamespace(init=lambda: None, get_count=lambda: 1, Joystick=Joystick)
    pg.event = types.SimpleNamespace(pump=lambda: None)
    monkeypatch.setitem(sys.modules, "pygame", pg)
    tele = GamepadTeleopConfig(max_step=0.01, deadzone=0.1).build()
    tele.connect()
    a = tele.read()
    assert a.delta_pos[0] == pytest.approx(0.01) and a.delta_pos[1] == 0.0  # deadzone
    assert a.delta_pos[2] == pytest.approx(-0.01 * (0.5 - 0.1) / 0.9)
    buttons[7] = buttons[0] = 1
    b = tele.read()
    assert b.events == {"start"} and b.gripper_closed
    assert tele.read().events == set() and tele.read().gripper_closed  # held buttons fire once
    tele.disconnect()


def test_pattern_camera_keeps_only_the_newest_frame():
    cam = PatternCameraConfig(width=640, height=480, fps=60).build()
    cam.connect()
    try:
        f1 = cam.latest()
        time.sleep(0.1)
        f2 = cam.latest()
        assert f2.seq > f1.seq and f2.t > f1.t and f2.image.shape == (480, 640, 3)
        assert pattern_frame_number(f2.image) == f2.seq
    finally:
        cam.disconnect()


def test_opencv_camera_with_a_videocapture_double(monkeypatch):
    sets = {}

    class VideoCapture:
        def __init__(self, dev):
            self.dev = dev
            self.n = 0

        def isOpened(self):
            return self.dev == 2

        def set(self, prop, value):
            sets[prop] = value

        def read(self):
            self.n += 1
            bgr = np.zeros((240, 320, 3), np.uint8)
            bgr[..., 0] = 255  # blue in BGR
            return True, bgr

        def release(self):
            sets["released"] = True

    cv2 = types.ModuleType("cv2")
    cv2.VideoCapture = VideoCapture
    cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT, cv2.CAP_PROP_FPS = 3, 4, 5
    cv2.resize = lambda img, size: np.zeros((size[1], size[0], 3), np.uint8) + img[:1, :1]
    monkeypatch.setitem(sys.modules, "cv2", cv2)
    cam = OpenCVCameraConfig(device="2", width=320, height=240, fps=30).build()
    cam.connect()
    f = cam.latest()
    cam.disconnect()
    assert sets[3] == 320 and sets[4] == 240 and sets[5] == 30 and sets["released"]
    assert f.image.shape == (240, 320, 3) and f.image[0, 0, 2] == 255 and f.image[0, 0, 0] == 0  # BGR -> RGB
    bad = OpenCVCameraConfig(device="0").build()
    bad.first_frame_timeout_s = 2
    with pytest.raises(HardwareError, match="could not open camera '0'"):
        bad.connect()


def test_realsense_camera_with_an_sdk_double(monkeypatch):
    enabled = []

    class Frame:
        def __init__(self, data):
            self.data = data

        def get_data(self):
            return self.data

        def __bool__(self):
            return True

    class Frames:
        def get_color_frame(self):
            return Frame(np.full((48, 64, 3), 7, np.uint8))

        def get_depth_frame(self):
            return Frame(np.full((48, 64), 1000, np.uint16))

    class Pipeline:
        def start(self, cfg):
            dev = types.SimpleNamespace(first_depth_sensor=lambda: types.SimpleNamespace(get_depth_scale=lambda: 0.001))
            return types.SimpleNamespace(get_device=lambda: dev)

        def wait_for_frames(self, timeout_ms):
            time.sleep(0.005)
            return Frames()

        def stop(self):
            enabled.append("stopped")

    class Config:
        def enable_device(self, serial):
            enabled.append(("device", serial))

        def enable_stream(self, stream, w, h, fmt, fps):
            enabled.append((stream, w, h, fmt, fps))

    rs = types.ModuleType("pyrealsense2")
    rs.pipeline, rs.config = Pipeline, Config
    rs.stream = types.SimpleNamespace(color="color", depth="depth")
    rs.format = types.SimpleNamespace(rgb8="rgb8", z16="z16")
    rs.align = lambda to: types.SimpleNamespace(process=lambda frames: frames)
    monkeypatch.setitem(sys.modules, "pyrealsense2", rs)
    cam = RealSenseCameraConfig(serial="123", width=64, height=48, fps=30, depth=True).build()
    cam.connect()
    f = cam.latest()
    cam.disconnect()
    assert ("device", "123") in enabled and ("color", 64, 48, "rgb8", 30) in enabled and ("depth", 64, 48, "z16", 30) in enabled
    assert f.image.shape == (48, 64, 3) and np.allclose(f.depth, 1.0) and "stopped" in enabled


def test_missing_camera_sdk_is_reported_on_connect(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)
    cam = RealSenseCameraConfig().build()
    with pytest.raises(HardwareError, match=r"robopref-hardware\[realsense\]") as info:
        cam.connect()
    assert isinstance(info.value.__cause__, MissingDependencyError)
