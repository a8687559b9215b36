"""Wire format between the robot server and its clients: msgpack with numpy arrays.

Every message is one msgpack map. Requests: ``{"v": PROTOCOL_VERSION, "op", "id",
"t", "token", "args"}``; replies: ``{"v", "id", "ok", "t", "result"}`` or ``{"v", "id",
"ok": False, "error": {"type", "message"}}``. Arrays travel as msgpack extension type 1
holding (dtype string, shape, raw bytes): no pickle, so a message cannot run code on
the robot computer, and a 640×480 frame costs one memory copy each way.

Bump :data:`PROTOCOL_VERSION` whenever an op or a field changes meaning; the server
refuses requests of another version and says which one it speaks.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

PROTOCOL_VERSION = 1
DEFAULT_PORT = 5555
_NDARRAY_EXT = 1

# Operations the server answers (name -> what it does), listed by `robopref-robot serve --help`.
OPS = {
    "hello": "protocol version check; server, arm, camera and safety description",
    "heartbeat": "liveness and the estop/watchdog state",
    "observe": "the arm state",
    "command": "one arm command through the safety layer; returns its report",
    "step": "command, then observe: one round trip per control tick",
    "stop": "stop and hold",
    "home": "move home slowly (blocking)",
    "prepare_episode": "get the scene ready for an episode (sim: new objects/goal; real arms: home)",
    "estop": "latch the emergency stop",
    "release_estop": "release the emergency stop",
    "frame": "the latest frame of a camera (only if newer than after_seq)",
    "stats": "safety counters, watchdog and server counters",
}

ERROR_TYPES = ("protocol", "auth", "bad_request", "unknown_op", "hardware", "estop")


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        if arr.dtype.hasobject:
            raise TypeError("object arrays cannot be sent")
        return msgpack.ExtType(_NDARRAY_EXT, msgpack.packb([arr.dtype.str, list(arr.shape), arr.tobytes()]))
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__} in a robot message")


def _ext_hook(code: int, data: bytes) -> Any:
    if code != _NDARRAY_EXT:
        return msgpack.ExtType(code, data)
    dtype, shape, raw = msgpack.unpackb(data)
    dt = np.dtype(dtype)
    if dt.hasobject:
        raise ValueError("object arrays are not accepted")
    return np.frombuffer(raw, dtype=dt).reshape(shape)


def pack(message: Any) -> bytes:
    """Encode a message (dicts, lists, numbers, strings, bytes, numpy arrays)."""
    return msgpack.packb(message, default=_default, use_bin_type=True)


def unpack(payload: bytes, max_bytes: int = 64 << 20) -> Any:
    """Decode a message; arrays come back as read-only numpy views of the payload."""
    if len(payload) > max_bytes:
        raise ValueError(f"message of {len(payload)} bytes exceeds the {max_bytes}-byte limit")
    return msgpack.unpackb(payload, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def request(op: str, rid: int, t: float, token: str | None, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "op": op, "id": rid, "t": t, "token": token, "args": args or {}}


def ok_reply(rid: Any, t: float, result: Any) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": rid, "ok": True, "t": t, "result": result}


def error_reply(rid: Any, t: float, etype: str, message: str) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": rid, "ok": False, "t": t, "error": {"type": etype, "message": message}}
