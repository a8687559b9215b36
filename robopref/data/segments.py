"""Segment references: the unit that queries, labels and rewards talk about.

A segment is a window of one demo in one dataset file. It is a reference, not data:
queries in the preference store hold references so that the store stays small and
the frames are read lazily from the HDF5 file only when a model or a person needs them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping


@dataclass(frozen=True, order=True)
class SegmentRef:
    """A window ``[start, start + length)`` of demo ``demo`` in dataset ``dataset``.

    ``dataset`` is a path (as given by the user, or a dataset id registered in the
    store); ``demo`` is the group name under ``data/`` (e.g. ``"demo_3"``).
    """

    dataset: str
    demo: str
    start: int
    length: int

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(f"SegmentRef.dataset must be a non-empty string, got {self.dataset!r}")
        if not isinstance(self.demo, str) or not self.demo:
            raise ValueError(f"SegmentRef.demo must be a non-empty string, got {self.demo!r}")
        if not isinstance(self.start, int) or self.start < 0:
            raise ValueError(f"SegmentRef.start must be an int >= 0, got {self.start!r}")
        if not isinstance(self.length, int) or self.length < 1:
            raise ValueError(f"SegmentRef.length must be an int >= 1, got {self.length!r}")

    @property
    def stop(self) -> int:
        """One past the last step of the window."""
        return self.start + self.length

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON/JSONL."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SegmentRef":
        """Inverse of :meth:`to_dict`; names the missing field on bad input."""
        missing = [k for k in ("dataset", "demo", "start", "length") if k not in d]
        if missing:
            raise ValueError(f"segment reference is missing field(s) {missing}: {dict(d)!r}")
        return cls(dataset=str(d["dataset"]), demo=str(d["demo"]), start=int(d["start"]), length=int(d["length"]))
