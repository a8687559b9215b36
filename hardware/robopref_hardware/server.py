"""The robot server: runs next to the arm, owns the hardware, answers clients over ZeroMQ.

One ROUTER socket, one thread: requests are handled in arrival order, so the arm sees
one command at a time. Every motion goes through :class:`SafeArm`; the
:class:`Watchdog` is polled on every loop turn (the socket poll wakes at least every
``watchdog_timeout/4``), and stops the arm when motion commands stop arriving. The
server binds to 127.0.0.1 unless told otherwise; with a ``token`` every request must
carry it (compared in constant time). It never unpickles anything.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

import zmq

from robopref_hardware import protocol
from robopref_hardware.cameras.base import Camera
from robopref_hardware.safety.guard import SafeArm
from robopref_hardware.safety.watchdog import Watchdog

log = logging.getLogger(__name__)

MOTION_OPS = frozenset({"command", "step"})


@dataclass
class ServerConfig:
    """Where the server listens and how long commands may stall."""

    host: str = "127.0.0.1"  # 0.0.0.0 exposes the arm to the network: set a token then
    port: int = protocol.DEFAULT_PORT
    token: str | None = None
    watchdog_timeout: float = 0.15  # s without a motion command before the arm is stopped
    max_message_bytes: int = 16 << 20


class RobotServer:
    """Serve ``arm`` (already wrapped in SafeArm) and ``cameras`` until :meth:`shutdown`."""

    def __init__(self, arm: SafeArm, cameras: Mapping[str, Camera] | None = None, config: ServerConfig | None = None,
                 info: Mapping[str, Any] | None = None) -> None:
        self.arm = arm
        self.cameras = dict(cameras or {})
        self.config = config or ServerConfig()
        self.info = dict(info or {})
        self.watchdog = Watchdog(self.config.watchdog_timeout, self._watchdog_stop)
        self.counters: Counter[str] = Counter()
        self.handle_s: deque[float] = deque(maxlen=10_000)  # time from receive to reply sent, per request
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._ctx = zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self.endpoint = ""
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "hello": self._hello, "heartbeat": self._heartbeat, "observe": self._observe, "command": self._command,
            "step": self._step, "stop": self._stop_arm, "home": self._home, "prepare_episode": self._prepare,
            "estop": self._estop, "release_estop": self._release, "frame": self._frame, "stats": self._stats,
        }
        if self.config.host not in ("127.0.0.1", "localhost", "::1") and not self.config.token:
            log.warning("server binds %s without a token: anyone who can reach this port can move the arm", self.config.host)

    # -- lifecycle --------------------------------------------------------------------
    def bind(self) -> str:
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, self.config.max_message_bytes)
        sock.setsockopt(zmq.SNDHWM, 100)
        if self.config.port == 0:
            port = sock.bind_to_random_port(f"tcp://{self.config.host}")
        else:
            sock.bind(f"tcp://{self.config.host}:{self.config.port}")
            port = self.config.port
        self._sock = sock
        self.endpoint = f"tcp://{self.config.host}:{port}"
        self.port = port
        return self.endpoint

    def serve_forever(self) -> None:
        """Handle requests until :meth:`shutdown`; stops the arm on the way out."""
        if self._sock is None:
            self.bind()
        log.info("robot server listening on %s (protocol %d, token %s)", self.endpoint, protocol.PROTOCOL_VERSION,
                 "required" if self.config.token else "off")
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        timeout_ms = max(1, int(1000 * min(self.watchdog.poll_interval, 0.05)))
        self.ready.set()
        try:
            while not self._stop.is_set():
                if poller.poll(timeout_ms):
                    while True:  # drain: a burst of requests must not starve the watchdog check below
                        try:
                            frames = self._sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        t0 = time.perf_counter()
                        self._handle(frames)
                        self.handle_s.append(time.perf_counter() - t0)
                        self.watchdog.poll()
                self.watchdog.poll()
        finally:
            try:
                self.arm.stop("server shutting down")
            except Exception:
                log.exception("stopping the arm at shutdown failed")
            self._sock.close(0)
            self._sock = None

    def shutdown(self) -> None:
        self._stop.set()

    # -- dispatch ---------------------------------------------------------------------
    def _handle(self, frames: list[bytes]) -> None:
        ident, payload = frames[0], frames[-1]
        now = time.time()
        try:
            msg = protocol.unpack(payload, self.config.max_message_bytes)
            if not isinstance(msg, dict):
                raise ValueError("a request must be a map")
        except Exception as e:  # garbage on the socket: answer, never crash
            self.counters["bad_request"] += 1
            self._send(ident, protocol.error_reply(None, now, "bad_request", f"undecodable request: {e}"))
            return
        rid = msg.get("id")
        if msg.get("v") != protocol.PROTOCOL_VERSION:
            self.counters["protocol_mismatch"] += 1
            self._send(ident, protocol.error_reply(rid, now, "protocol",
                                                   f"server speaks robot protocol {protocol.PROTOCOL_VERSION}, request used {msg.get('v')!r}: "
                                                   "install the same robopref-hardware version on both computers"))
            return
        if self.config.token and not hmac.compare_digest(str(msg.get("token") or ""), self.config.token):
            self.counters["bad_token"] += 1
            log.warning("request with a wrong or missing token refused")
            self._send(ident, protocol.error_reply(rid, now, "auth", "wrong or missing token (set robot.token to the server's token)"))
            return
        op = msg.get("op")
        handler = self._handlers.get(op)
        if handler is None:
            self._send(ident, protocol.error_reply(rid, now, "unknown_op", f"unknown op {op!r}; known: {sorted(self._handlers)}"))
            return
        self.counters[f"op_{op}"] += 1
        if op in MOTION_OPS:
            self.watchdog.feed()
        args = msg.get("args") or {}
        try:
            result = handler(args if isinstance(args, dict) else {})
        except Exception as e:  # a fault: report it to the client, keep serving; stop the arm if it was moving
            log.exception("op %s failed", op)
            self.counters["hardware_error"] += 1
            if op in MOTION_OPS or op in ("home", "prepare_episode"):
                try:
                    self.arm.stop(f"error in {op}: {e}")
                except Exception:
                    log.exception("stop after error failed")
            self._send(ident, protocol.error_reply(rid, time.time(), "hardware", f"{op} failed on the robot computer: {type(e).__name__}: {e}"))
            return
        self._send(ident, protocol.ok_reply(rid, time.time(), result))

    def _send(self, ident: bytes, reply: dict[str, Any]) -> None:
        try:
            self._sock.send_multipart([ident, protocol.pack(reply)], zmq.NOBLOCK)
        except zmq.Again:
            self.counters["reply_dropped"] += 1

    def _watchdog_stop(self) -> None:
        self.counters["watchdog_stops"] += 1
        self.arm.stop(f"watchdog: no command for {self.watchdog.timeout_s:.3f} s")

    # -- handlers ---------------------------------------------------------------------
    def _hello(self, args: dict[str, Any]) -> dict[str, Any]:
        cams = {}
        for name, cam in self.cameras.items():
            c = cam.config
            cams[name] = {"width": c.width, "height": c.height, "fps": c.fps}
        safety = asdict(self.arm.config)
        safety["mode"] = self.arm.mode.value
        return {"protocol": protocol.PROTOCOL_VERSION, "server_time": time.time(), "n_joints": self.arm.arm.n_joints,
                "arm": type(self.arm.arm).__name__, "cameras": cams, "safety": safety, "dry_run": self.arm.dry_run,
                "watchdog_timeout": self.watchdog.timeout_s, "has_gripper": self.arm.arm.gripper is not None, **self.info}

    def _heartbeat(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"server_time": time.time(), "estop": self.arm.estop.latched, "watchdog_fired": self.watchdog.fired}

    def _observe(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.arm.observe().to_dict()

    def _command(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.arm.command(args.get("command")).to_dict()

    def _step(self, args: dict[str, Any]) -> dict[str, Any]:
        report = self.arm.command(args.get("command")).to_dict()
        return {"report": report, "state": self.arm.observe().to_dict()}

    def _stop_arm(self, args: dict[str, Any]) -> dict[str, Any]:
        self.watchdog.disarm()
        self.arm.stop(str(args.get("reason", "client asked")))
        return {}

    def _home(self, args: dict[str, Any]) -> dict[str, Any]:
        self.watchdog.disarm()
        self.arm.home()
        return self.arm.observe().to_dict()

    def _prepare(self, args: dict[str, Any]) -> dict[str, Any]:
        self.watchdog.disarm()
        if self.arm.estop.latched:
            raise RuntimeError(f"emergency stop latched ({self.arm.estop.reason}); release it first")
        seed = args.get("seed")
        prepare = getattr(self.arm.arm, "prepare_episode", None)
        if prepare is not None and not self.arm.dry_run:
            prepare(None if seed is None else int(seed))
            self.arm.stop("episode prepared")
        else:
            self.arm.home()
        return self.arm.observe().to_dict()

    def _estop(self, args: dict[str, Any]) -> dict[str, Any]:
        self.watchdog.disarm()
        self.arm.estop.latch(str(args.get("reason", "client emergency stop")), source="client")
        return {"latched": True}

    def _release(self, args: dict[str, Any]) -> dict[str, Any]:
        self.arm.estop.release(source="client")
        self.arm.stop("emergency stop released")
        return {"latched": False}

    def _frame(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("camera")
        cam = self.cameras.get(name)
        if cam is None:
            raise KeyError(f"no camera {name!r}; cameras: {sorted(self.cameras)}")
        f = cam.latest()
        after = args.get("after_seq")
        if after is not None and f.seq <= int(after):
            return {"seq": f.seq, "t": f.t, "image": None}
        out = {"seq": f.seq, "t": f.t, "image": f.image}
        if f.depth is not None and args.get("depth"):
            out["depth"] = f.depth
        return out

    def _stats(self, args: dict[str, Any]) -> dict[str, Any]:
        handle = sorted(self.handle_s)
        timing = {"requests": len(handle)}
        if handle:
            timing.update(handle_p50_ms=1000 * handle[len(handle) // 2], handle_p99_ms=1000 * handle[int(len(handle) * 0.99)],
                          handle_max_ms=1000 * handle[-1])
        if args.get("reset_timing"):
            self.handle_s.clear()
        return {"safety": self.arm.stats(), "server": dict(self.counters), "timing": timing, "watchdog": {"fired": self.watchdog.fired,
                "timeout": self.watchdog.timeout_s},
                "cameras": {n: {"frames_captured": getattr(c, "frames_captured", None)} for n, c in self.cameras.items()}}
