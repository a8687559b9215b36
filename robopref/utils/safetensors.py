"""Read and write ``.safetensors`` files without the ``safetensors`` package.

Hugging Face checkpoints (LeRobot's ``model.safetensors`` and its processors' statistics
files) use this format: an 8-byte little-endian header length, a JSON header
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``, then
the raw little-endian tensor bytes. It is simple enough to read directly, which keeps
robopref free of another compiled dependency; the writer exists for tests and for handing
weights back in the same format.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Mapping

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}
MAX_HEADER = 100_000_000  # the format's own limit


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every tensor of the file at ``path`` (CPU, own memory); a clear error names the file when it is not one.

    Tensors are read one at a time, so memory holds the result and one tensor's bytes, not a
    second copy of the whole file (a LeRobot policy's weights are about 1 GB).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such safetensors file")
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"{path}: not a safetensors file ({len(head)} bytes, shorter than its 8-byte header length)")
        (n,) = struct.unpack("<Q", head)
        if n > min(MAX_HEADER, size - 8):
            raise ValueError(f"{path}: not a safetensors file (header length {n} does not fit the file's {size} bytes)")
        try:
            header = json.loads(f.read(n))
        except ValueError as e:
            raise ValueError(f"{path}: not a safetensors file (its header is not JSON: {e})") from e
        if not isinstance(header, dict):
            raise ValueError(f"{path}: not a safetensors file (its header is not a JSON object)")
        data_bytes = size - 8 - n
        out: dict[str, torch.Tensor] = {}
        for name, spec in header.items():
            if name == "__metadata__":
                continue
            try:
                dtype, shape, (begin, end) = DTYPES[spec["dtype"]], [int(s) for s in spec["shape"]], spec["data_offsets"]
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{path}: tensor {name!r} has an unreadable entry {spec!r} (dtype one of {sorted(DTYPES)}, shape, data_offsets)") from e
            count = 1
            for s in shape:
                count *= s
            if not 0 <= begin <= end <= data_bytes or end - begin != count * torch.empty((), dtype=dtype).element_size():
                raise ValueError(f"{path}: tensor {name!r} ({spec['dtype']} {shape}) has data_offsets {[begin, end]} that do not "
                                 f"match its size or the file's {data_bytes} data bytes (a truncated file?)")
            f.seek(8 + n + begin)
            raw = bytearray(f.read(end - begin))  # the tensor owns this memory
            out[name] = (torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)).reshape(shape)
    return out


def write_safetensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> None:
    """Write ``tensors`` (any device, contiguous copies are taken) to ``path`` in the safetensors layout."""
    header: dict[str, object] = {"__metadata__": dict(metadata)} if metadata else {}
    chunks, offset = [], 0
    for name, t in tensors.items():
        if t.dtype not in NAMES:
            raise ValueError(f"tensor {name!r}: dtype {t.dtype} has no safetensors name (expected one of {sorted(map(str, NAMES))})")
        raw = t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
