"""robopref's own safetensors reader and writer (LeRobot and Hugging Face weights, without the safetensors package)."""

from __future__ import annotations

import json
import struct

import pytest
import torch

from robopref.utils.safetensors import read_safetensors, write_safetensors


def test_round_trip_keeps_every_dtype_shape_and_value(tmp_path):
    tensors = {"w": torch.randn(3, 4), "half": torch.randn(5).half(), "bf": torch.randn(2, 2).bfloat16(), "idx": torch.arange(6).view(2, 3),
               "mask": torch.tensor([True, False]), "scalar": torch.tensor(2.5, dtype=torch.float64), "empty": torch.zeros(0, 3)}
    write_safetensors(tmp_path / "t.safetensors", tensors, metadata={"format": "pt"})
    back = read_safetensors(tmp_path / "t.safetensors")
    assert list(back) == list(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and torch.equal(back[k], v)


def test_the_layout_is_the_formats(tmp_path):
    """8-byte little-endian header size, a JSON header padded to 8 bytes with offsets into the data, then the raw bytes."""
    write_safetensors(tmp_path / "t.safetensors", {"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([7], dtype=torch.int64)})
    blob = (tmp_path / "t.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    assert n % 8 == 0 and header["a"] == {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]} and header["b"]["data_offsets"] == [8, 16]
    assert struct.unpack("<2f", blob[8 + n : 16 + n]) == (1.0, 2.0) and struct.unpack("<q", blob[16 + n :]) == (7,)


def test_files_that_are_not_safetensors_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.safetensors: no such safetensors file"):
        read_safetensors(tmp_path / "nothere.safetensors")
    (tmp_path / "short").write_bytes(b"abc")
    with pytest.raises(ValueError, match="short: not a safetensors file"):
        read_safetensors(tmp_path / "short")
    (tmp_path / "json").write_bytes(struct.pack("<Q", 4) + b"nope")
    with pytest.raises(ValueError, match="its header is not JSON"):
        read_safetensors(tmp_path / "json")
    (tmp_path / "huge").write_bytes(struct.pack("<Q", 10**9) + b"{}")
    with pytest.raises(ValueError, match="header length 1000000000 does not fit"):
        read_safetensors(tmp_path / "huge")
