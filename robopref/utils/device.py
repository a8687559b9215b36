"""Resolve the ``device`` config value (``auto`` picks CUDA when present)."""

from __future__ import annotations

from typing import Any


def resolve_device(name: str = "auto") -> Any:
    """``auto`` → ``cuda`` if available else ``cpu``; any other torch device string is
    checked and returned as a ``torch.device``. A CUDA request without CUDA is an error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"device={name!r} is not a torch device string (expected auto, cpu, cuda, cuda:N)") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} was asked for but CUDA is not available here; use device=auto or device=cpu")
    return dev
