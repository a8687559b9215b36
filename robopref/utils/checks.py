"""Range checks for numeric settings, so a bad value fails at once with the key's full name
(e.g. ``reward.align.epochs=-1: expected >= 0``) instead of deep inside training."""

from __future__ import annotations

from typing import Any


def check_at_least(prefix: str, obj: Any, low: float, *names: str) -> None:
    """Each attribute ``names`` of ``obj`` must be >= ``low``; ``prefix`` is the config path
    (``reward.align``; empty for a stage's top-level keys)."""
    for name in names:
        value = getattr(obj, name)
        if not value >= low:
            raise ValueError(f"{_key(prefix, name)}={value}: expected >= {low:g}")


def check_positive(prefix: str, obj: Any, *names: str) -> None:
    """Each attribute ``names`` of ``obj`` must be > 0 (learning rates, temperatures, ε)."""
    for name in names:
        value = getattr(obj, name)
        if not value > 0:
            raise ValueError(f"{_key(prefix, name)}={value}: expected > 0")


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
