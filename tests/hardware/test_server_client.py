"""Robot server and client over loopback: errors a user can act on, estop, watchdog, frames."""

import time
import types

import numpy as np
import pytest

from robopref_hardware import client as client_mod
from robopref_hardware import protocol
from robopref_hardware.cameras.pattern import PatternCameraConfig, pattern_frame_number
from robopref_hardware.client import (AuthenticationError, ProtocolMismatchError, RemoteError, RobotClient, ServerTimeoutError,
                                      ServerUnreachableError)
from robopref_hardware.safety import SafeArm, SafetyConfig

from tests.hardware.fakes import FakeArm, ThreadServer, free_port


def safe_fake(observe_delay=0.0):
    arm = FakeArm(observe_delay=observe_delay)
    return SafeArm(arm, SafetyConfig(workspace_low=[-1, 0, 0], workspace_high=[1, 1, 1])), arm


def test_round_trip_observe_step_and_stats():
    safe, arm = safe_fake()
    with ThreadServer(safe) as srv, RobotClient(port=srv.port) as c:
        assert c.info["protocol"] == protocol.PROTOCOL_VERSION and c.info["n_joints"] == 3
        s = c.observe()
        assert np.allclose(s.ee_pos, [0, 0.5, 0.2])
        report, s2 = c.step({"kind": "ee_delta", "pos": [0.01, 0, 0]})
        assert report["accepted"] and np.allclose(s2.ee_pos, [0.01, 0.5, 0.2])
        bad = c.command({"kind": "ee_pose", "pos": [np.nan, 0, 0]})
        assert not bad["accepted"] and bad["violations"] == ["non_finite"]
        st = c.stats()
        assert st["safety"]["counters"]["refused"] == 1 and st["server"]["op_step"] == 1


def test_unreachable_server_gives_a_clear_error():
    c = RobotClient(port=free_port(), connect_timeout_s=0.3)
    with pytest.raises(ServerUnreachableError, match="no robot server answered at tcp://127.0.0.1:.*robopref-robot serve"):
        c.connect()


def test_protocol_mismatch_is_reported(monkeypatch):
    safe, _ = safe_fake()
    with ThreadServer(safe) as srv:
        old = types.SimpleNamespace(**{k: getattr(protocol, k) for k in ("pack", "unpack", "PROTOCOL_VERSION")})
        old.PROTOCOL_VERSION = protocol.PROTOCOL_VERSION + 1
        old.request = lambda op, rid, t, token, args=None: {**protocol.request(op, rid, t, token, args), "v": old.PROTOCOL_VERSION}
        monkeypatch.setattr(client_mod, "protocol", old)
        with pytest.raises(ProtocolMismatchError, match=f"server speaks robot protocol {protocol.PROTOCOL_VERSION}, request used {protocol.PROTOCOL_VERSION + 1}"):
            RobotClient(port=srv.port).connect()


def test_token_is_required_when_set():
    safe, arm = safe_fake()
    with ThreadServer(safe, token="s3cret") as srv:
        with pytest.raises(AuthenticationError, match="refused the token"):
            RobotClient(port=srv.port, token="wrong").connect()
        with pytest.raises(AuthenticationError):
            RobotClient(port=srv.port).connect()
        with RobotClient(port=srv.port, token="s3cret") as c:
            assert c.command({"kind": "ee_delta", "pos": [0.01, 0, 0]})["accepted"]
        assert srv.server.counters["bad_token"] == 2 and len(arm.sent) == 1


def test_slow_server_times_out_and_late_replies_are_discarded():
    safe, arm = safe_fake()
    with ThreadServer(safe) as srv, RobotClient(port=srv.port, timeout_s=0.2) as c:
        arm.observe_delay = 0.4
        with pytest.raises(ServerTimeoutError, match="did not answer 'observe' within 0.20 s"):
            c.observe()
        arm.observe_delay = 0.0
        time.sleep(0.5)
        hb = c.heartbeat()  # the late observe reply must not be taken for this one
        assert "server_time" in hb and "estop" in hb


def test_estop_from_the_client_refuses_until_released():
    safe, arm = safe_fake()
    with ThreadServer(safe) as srv, RobotClient(port=srv.port) as c:
        c.estop("test")
        assert arm.stops
        r = c.command({"kind": "ee_delta", "pos": [0.01, 0, 0]})
        assert not r["accepted"] and r["violations"] == ["estop"]
        with pytest.raises(RemoteError, match="emergency stop latched"):
            c.prepare_episode(seed=0)
        c.release_estop()
        assert c.command({"kind": "ee_delta", "pos": [0.01, 0, 0]})["accepted"]


def test_watchdog_stops_the_arm_when_commands_stall():
    safe, arm = safe_fake()
    with ThreadServer(safe, watchdog_timeout=0.1) as srv, RobotClient(port=srv.port) as c:
        c.command({"kind": "ee_delta", "pos": [0.01, 0, 0]})
        t_last = time.monotonic()
        time.sleep(0.4)
        assert len(arm.stops) == 1  # once per stall, not on every poll
        assert arm.stops[0] - t_last <= 0.2
        assert srv.server.counters["watchdog_stops"] == 1


def test_unknown_op_and_garbage_are_answered_not_fatal():
    import zmq

    safe, _ = safe_fake()
    with ThreadServer(safe) as srv, RobotClient(port=srv.port) as c:
        with pytest.raises(RemoteError, match="unknown op"):
            c._call("fly")
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(f"tcp://127.0.0.1:{srv.port}")
        sock.send(b"\xc1not msgpack")
        assert sock.poll(2000)
        reply = protocol.unpack(sock.recv())
        sock.close(0)
        assert reply["ok"] is False and reply["error"]["type"] == "bad_request"
        assert c.heartbeat()["estop"] is False


def test_camera_frames_come_newest_first_with_sequence_numbers():
    safe, arm = safe_fake()
    cam = PatternCameraConfig(width=64, height=48, fps=100).build()
    cam.connect()
    try:
        with ThreadServer(safe, cameras={"front": cam}) as srv, RobotClient(port=srv.port) as c:
            assert c.info["cameras"]["front"]["width"] == 64
            f = c.frame("front")
            assert f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8
            assert pattern_frame_number(f.image) == f.seq
            assert abs(time.time() - f.t) < 1.0
            assert c.frame("front", after_seq=f.seq + 10**6) is None
            with pytest.raises(RemoteError, match="no camera 'back'"):
                c.frame("back")
    finally:
        cam.disconnect()
