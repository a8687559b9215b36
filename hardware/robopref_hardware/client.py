"""RobotClient: the learning side's handle on a robot server.

Every call has a deadline and fails with an error that says what to check:
:class:`ServerUnreachableError` (nothing answers at that address),
:class:`ServerTimeoutError` (it answered before, then stopped or slowed down),
:class:`ProtocolMismatchError` (another robopref-hardware version),
:class:`AuthenticationError` (wrong token), :class:`RemoteError` (the robot computer
reported a failure). Replies carry request ids; a late reply to an abandoned request is
discarded, so one timeout never shifts every later answer by one.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Mapping

import numpy as np
import zmq

from robopref_hardware import protocol
from robopref_hardware.errors import HardwareError
from robopref_hardware.types import ArmCommand, ArmState, Frame


class RobotClientError(HardwareError):
    """Base class of the client's errors."""


class ServerUnreachableError(RobotClientError):
    """No robot server answered at the address."""


class ServerTimeoutError(RobotClientError):
    """The server answered earlier but not this request in time (killed, hung or overloaded)."""


class ProtocolMismatchError(RobotClientError):
    """Client and server speak different protocol versions."""


class AuthenticationError(RobotClientError):
    """The server refused the token."""


class RemoteError(RobotClientError):
    """The server ran the request and reported an error (``type`` says which kind)."""

    def __init__(self, etype: str, message: str) -> None:
        super().__init__(message)
        self.type = etype


class RobotClient:
    """Talk to ``robopref-robot serve`` at ``tcp://host:port``.

    Args:
        timeout_s: deadline of ordinary requests (a control tick's round trip is ~1 ms).
        connect_timeout_s: deadline of the first ``hello`` (server start-up included).
        slow_timeout_s: deadline of ``home`` and ``prepare_episode`` (they move the arm slowly).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = protocol.DEFAULT_PORT, token: str | None = None,
                 timeout_s: float = 1.0, connect_timeout_s: float = 5.0, slow_timeout_s: float = 30.0) -> None:
        self.address = f"tcp://{host}:{port}"
        self.token = token
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.slow_timeout_s = float(slow_timeout_s)
        self._ids = itertools.count(1)
        self._ctx = zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self.info: dict[str, Any] = {}
        self.clock_offset = 0.0  # server clock minus client clock, estimated at hello
        self.last_reply_at: float | None = None
        self.rtt_s: float | None = None

    # -- connection -------------------------------------------------------------------
    def connect(self) -> dict[str, Any]:
        """Open the socket and check the server's protocol version; returns the server's description."""
        if self._sock is None:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, 100)
            sock.connect(self.address)
            self._sock = sock
        t0 = time.time()
        try:
            info = self._call("hello", {}, self.connect_timeout_s)
        except ServerTimeoutError as e:
            self.close()
            raise ServerUnreachableError(
                f"no robot server answered at {self.address} within {self.connect_timeout_s:.1f} s. "
                f"Start one there with `robopref-robot serve hardware=...` (it binds 127.0.0.1 unless server.host is set), "
                f"and check the host, port and firewall."
            ) from e
        except RobotClientError:
            self.close()
            raise
        t1 = time.time()
        self.clock_offset = float(info["server_time"]) - (t0 + t1) / 2
        self.info = info
        self.sync_clock()
        return info

    def sync_clock(self, rounds: int = 5) -> float:
        """Estimate server clock minus client clock from the fastest of a few heartbeats (as NTP does:
        the shortest round trip bounds the error best). Frame times are converted with it."""
        best = None
        for _ in range(rounds):
            t0 = time.time()
            server_t = float(self.heartbeat()["server_time"])
            t1 = time.time()
            if best is None or t1 - t0 < best[0]:
                best = (t1 - t0, server_t - (t0 + t1) / 2)
        self.clock_offset = best[1]
        return self.clock_offset

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def __enter__(self) -> "RobotClient":
        if self._sock is None:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------
    def _call(self, op: str, args: Mapping[str, Any] | None = None, timeout_s: float | None = None) -> Any:
        if self._sock is None:
            raise RobotClientError(f"client for {self.address} is closed: call connect() first")
        timeout = self.timeout_s if timeout_s is None else timeout_s
        rid = next(self._ids)
        t_send = time.time()
        self._sock.send(protocol.pack(protocol.request(op, rid, t_send, self.token, dict(args or {}))))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sock.poll(int(left * 1000) + 1, zmq.POLLIN):
                if time.monotonic() < deadline:
                    continue
                since = "never" if self.last_reply_at is None else f"{time.time() - self.last_reply_at:.2f} s ago"
                raise ServerTimeoutError(
                    f"robot server at {self.address} did not answer '{op}' within {timeout:.2f} s (last reply: {since}). "
                    f"It may have been stopped or crashed, or it is overloaded; its watchdog stops the arm when commands stop."
                )
            reply = protocol.unpack(self._sock.recv())
            if not isinstance(reply, dict) or reply.get("id") != rid:
                if isinstance(reply, dict) and reply.get("id") is None and not reply.get("ok", True):
                    self._raise(reply)  # the server could not read the request at all
                continue  # a late answer to an abandoned request
            self.last_reply_at = time.time()
            self.rtt_s = self.last_reply_at - t_send
            if reply.get("v") != protocol.PROTOCOL_VERSION and reply.get("ok"):
                raise ProtocolMismatchError(f"server at {self.address} replied with protocol {reply.get('v')}, client speaks {protocol.PROTOCOL_VERSION}")
            if not reply.get("ok"):
                self._raise(reply)
            return reply.get("result")

    def _raise(self, reply: Mapping[str, Any]) -> None:
        err = reply.get("error") or {}
        etype, message = str(err.get("type", "unknown")), str(err.get("message", "no message"))
        if etype == "protocol":
            raise ProtocolMismatchError(f"robot server at {self.address}: {message} (client speaks protocol {protocol.PROTOCOL_VERSION})")
        if etype == "auth":
            raise AuthenticationError(f"robot server at {self.address} refused the token: {message}")
        raise RemoteError(etype, f"robot server at {self.address}: {message}")

    # -- the API ----------------------------------------------------------------------
    def heartbeat(self) -> dict[str, Any]:
        return self._call("heartbeat")

    def observe(self) -> ArmState:
        return ArmState.from_dict(self._call("observe"))

    def command(self, command: ArmCommand | Mapping[str, Any]) -> dict[str, Any]:
        """Send one command; returns the safety report (``accepted``, ``clamped``, ``violations``, ``message``)."""
        return self._call("command", {"command": _wire(command)})

    def step(self, command: ArmCommand | Mapping[str, Any]) -> tuple[dict[str, Any], ArmState]:
        """Send a command and read the state in one round trip."""
        out = self._call("step", {"command": _wire(command)})
        return out["report"], ArmState.from_dict(out["state"])

    def stop(self, reason: str = "client asked") -> None:
        self._call("stop", {"reason": reason})

    def home(self) -> ArmState:
        return ArmState.from_dict(self._call("home", {}, self.slow_timeout_s))

    def prepare_episode(self, seed: int | None = None) -> ArmState:
        return ArmState.from_dict(self._call("prepare_episode", {"seed": seed}, self.slow_timeout_s))

    def estop(self, reason: str = "client emergency stop") -> None:
        self._call("estop", {"reason": reason})

    def release_estop(self) -> None:
        self._call("release_estop")

    def frame(self, camera: str, after_seq: int | None = None, depth: bool = False) -> Frame | None:
        """The camera's latest frame (None when it is not newer than ``after_seq``); ``t`` in the client's clock."""
        out = self._call("frame", {"camera": camera, "after_seq": after_seq, "depth": depth})
        if out.get("image") is None:
            return None
        d = out.get("depth")
        return Frame(image=np.asarray(out["image"]), t=float(out["t"]) - self.clock_offset, seq=int(out["seq"]),
                     depth=None if d is None else np.asarray(d))

    def stats(self, reset_timing: bool = False) -> dict[str, Any]:
        """Safety counters, server counters, request handling times (``reset_timing`` starts a new window)."""
        return self._call("stats", {"reset_timing": reset_timing})


def _wire(command: ArmCommand | Mapping[str, Any]) -> Any:
    return command.to_dict() if isinstance(command, ArmCommand) else command
