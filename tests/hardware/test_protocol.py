"""Wire format: numpy arrays survive a round trip; nothing that could run code is accepted."""

import msgpack
import numpy as np
import pytest

from robopref_hardware import protocol


def test_arrays_round_trip_with_dtype_and_shape():
    msg = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "img": np.zeros((480, 640, 3), np.uint8), "x": 1.5,
           "nested": [np.array([1, 2], np.int64), {"s": "text"}], "scalar": np.float64(2.0)}
    out = protocol.unpack(protocol.pack(msg))
    assert out["a"].dtype == np.float32 and out["a"].shape == (3, 4) and np.array_equal(out["a"], msg["a"])
    assert out["img"].shape == (480, 640, 3) and out["img"].dtype == np.uint8
    assert np.array_equal(out["nested"][0], [1, 2]) and out["nested"][1] == {"s": "text"}
    assert out["scalar"] == 2.0 and out["x"] == 1.5


def test_object_arrays_and_unknown_types_are_refused():
    with pytest.raises(TypeError):
        protocol.pack({"a": np.array([object()], dtype=object)})
    with pytest.raises(TypeError):
        protocol.pack({"f": lambda: 0})
    forged = msgpack.packb(msgpack.ExtType(1, msgpack.packb(["|O", [1], b"\x00" * 8])))
    with pytest.raises(ValueError):
        protocol.unpack(forged)


def test_oversized_message_is_refused():
    with pytest.raises(ValueError, match="exceeds"):
        protocol.unpack(b"\x00" * 100, max_bytes=10)


def test_request_carries_version_and_token():
    r = protocol.request("observe", 7, 1.0, "tok")
    assert r["v"] == protocol.PROTOCOL_VERSION and r["token"] == "tok" and r["id"] == 7
