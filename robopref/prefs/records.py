"""The two records of the preference store, ``Query`` and ``Label``, and their validation.

Every value that enters the store passes through :func:`make_query` or
:func:`make_label`, whether it comes from Python code or from a JSONL file, so a bad
value is refused in one place with a message that names the field and says what was
expected. Checks that need the database (does the query exist, is the superseded label
already superseded) live in :mod:`robopref.prefs.writer`.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from robopref.data.segments import SegmentRef

QUERY_KINDS: dict[int, str] = {2: "pair", 3: "triplet"}
"""Query kind by number of segments."""

LABEL_SOURCES: tuple[str, ...] = ("human", "scripted", "transferred")
LABEL_KINDS: tuple[str, ...] = ("preference", "equal", "skip", "retract")
RANKINGS: frozenset[tuple[int, int, int]] = frozenset(
    {(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)}
)


@dataclass(frozen=True)
class Query:
    """A pair or triplet of segments shown together to an annotator.

    ``meta`` is free JSON (selection scores, rollout ids, ...); it is not part of the
    hash so that queries can live in sets even though a dict is unhashable.
    """

    id: int
    segments: tuple[SegmentRef, ...]
    created: float
    origin: str | None = None
    meta: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def kind(self) -> str:
        """``"pair"`` or ``"triplet"``, from the number of segments."""
        return QUERY_KINDS[len(self.segments)]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSONL, fields in a fixed order so exports are byte-stable."""
        return {
            "id": self.id,
            "kind": self.kind,
            "segments": [s.to_dict() for s in self.segments],
            "created": self.created,
            "origin": self.origin,
            "meta": self.meta,
        }


@dataclass(frozen=True)
class Label:
    """One answer to a query. Labels are append-only: a re-label is a new label that
    ``supersedes`` the old one, and an undo is a label of kind ``"retract"``.

    ``value`` is P(first segment preferred over second) for pairs (0.5 for ``"equal"``,
    ``None`` for ``"skip"``/``"retract"``); triplets carry ``ranking`` instead: the
    segment positions, best first.
    """

    id: int
    query_id: int
    annotator: str
    source: str
    kind: str
    value: float | None
    ranking: tuple[int, int, int] | None
    confidence: float
    timestamp: float
    note: str | None = None
    supersedes: int | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSONL, fields in a fixed order so exports are byte-stable."""
        return {
            "id": self.id,
            "query_id": self.query_id,
            "annotator": self.annotator,
            "source": self.source,
            "kind": self.kind,
            "value": self.value,
            "ranking": None if self.ranking is None else list(self.ranking),
            "confidence": self.confidence,
            "timestamp": self.timestamp,
            "note": self.note,
            "supersedes": self.supersedes,
            "request_id": self.request_id,
        }


def check_id(name: str, value: object) -> int:
    """A row id: an int >= 1 (bools are refused, they are almost always a bug)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer id >= 1, got {value!r}")
    return int(value)


def check_text(name: str, value: object, *, optional: bool) -> str | None:
    """A non-empty string, or ``None`` where the field is optional."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        expected = "a non-empty string or None" if optional else "a non-empty string"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """One of a fixed set of strings; the message lists the choices."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return str(value)


def check_unit(name: str, value: object) -> float:
    """A real number in [0, 1] (NaN and bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    number = float(value)
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return number


def check_time(name: str, value: object) -> float:
    """Seconds since the epoch, ``None`` meaning now."""
    if value is None:
        return time.time()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be seconds since the epoch (a number >= 0), got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be seconds since the epoch (a finite number >= 0), got {value!r}")
    return seconds


def check_ranking(value: object) -> tuple[int, int, int]:
    """A permutation of (0, 1, 2), best segment first."""
    items = tuple(value) if isinstance(value, (list, tuple)) else None
    if items is None or any(isinstance(i, bool) or not isinstance(i, numbers.Integral) for i in items):
        raise ValueError(f"ranking must be a permutation of (0, 1, 2) (best first), got {value!r}")
    ranking = tuple(int(i) for i in items)
    if ranking not in RANKINGS:
        raise ValueError(f"ranking must be a permutation of (0, 1, 2) (best first), got {value!r}")
    return ranking  # type: ignore[return-value]


def canonical_meta(meta: object) -> str | None:
    """``meta`` as compact JSON with sorted keys (what the database stores)."""
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        raise ValueError(f"meta must be a dict of JSON values or None, got {type(meta).__name__}")
    try:
        return json.dumps(dict(meta), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"meta must be a dict of JSON values (no NaN/inf): {err}") from None


def make_query(
    *,
    id: int,
    segments: Sequence[SegmentRef],
    created: float | None = None,
    origin: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Query:
    """Validate and normalise a query (``meta`` goes through JSON, as it will on disk)."""
    if isinstance(segments, (str, bytes)) or not isinstance(segments, Sequence):
        raise ValueError(f"segments must be a list or tuple of SegmentRef, got {type(segments).__name__}")
    if len(segments) not in QUERY_KINDS:
        raise ValueError(
            f"segments must hold 2 (pair) or 3 (triplet) SegmentRef, got {len(segments)}"
        )
    for i, segment in enumerate(segments):
        if not isinstance(segment, SegmentRef):
            raise ValueError(f"segments[{i}] must be a SegmentRef, got {type(segment).__name__}")
    if len(set(segments)) != len(segments):
        raise ValueError(f"segments must be distinct, got {list(segments)!r}")
    meta_json = canonical_meta(meta)
    return Query(
        id=check_id("query id", id),
        segments=tuple(segments),
        created=check_time("created", created),
        origin=check_text("origin", origin, optional=True),
        meta=None if meta_json is None else json.loads(meta_json),
    )


def _check_answer(
    query_id: int, query_kind: str, kind: str, value: object, ranking: object
) -> tuple[float | None, tuple[int, int, int] | None]:
    """``(value, ranking)`` as stored, for this label kind on this query kind."""
    if kind in ("skip", "retract") or (kind == "equal" and query_kind == "triplet"):
        what = f"a {kind!r} label" if kind != "equal" else "an 'equal' label on a triplet query"
        if value is not None:
            raise ValueError(f"value must be None for {what}, got {value!r}")
        if ranking is not None:
            raise ValueError(f"ranking must be None for {what}, got {ranking!r}")
        return None, None
    if query_kind == "pair":
        if ranking is not None:
            raise ValueError(
                f"ranking is only for triplet queries; query {query_id} is a pair: "
                f"give value = P(first segment preferred) instead"
            )
        if kind == "equal":
            if value is not None and value != 0.5:
                raise ValueError(f"value of an 'equal' label must be 0.5 or None, got {value!r}")
            return 0.5, None
        if value is None:
            raise ValueError(
                f"value is required for a 'preference' label on pair query {query_id}: "
                f"P(first segment preferred) in [0, 1]"
            )
        return check_unit("value", value), None
    if value is not None:
        raise ValueError(
            f"value is only for pair queries; query {query_id} is a triplet: "
            f"give ranking (a permutation of (0, 1, 2), best first) instead"
        )
    if ranking is None:
        raise ValueError(
            f"ranking is required for a 'preference' label on triplet query {query_id}: "
            f"a permutation of (0, 1, 2), best first"
        )
    return None, check_ranking(ranking)


def make_label(
    *,
    id: int,
    query_id: int,
    query_kind: str,
    annotator: str,
    source: str,
    kind: str = "preference",
    value: float | None = None,
    ranking: Sequence[int] | None = None,
    confidence: float = 1.0,
    timestamp: float | None = None,
    note: str | None = None,
    supersedes: int | None = None,
    request_id: str | None = None,
) -> Label:
    """Validate and normalise a label for a query of kind ``query_kind``."""
    kind = check_choice("kind", kind, LABEL_KINDS)
    query_id = check_id("query_id", query_id)
    stored_value, stored_ranking = _check_answer(query_id, query_kind, kind, value, ranking)
    if note is not None and not isinstance(note, str):
        raise ValueError(f"note must be a string or None, got {note!r}")
    if supersedes is None and kind == "retract":
        raise ValueError("supersedes is required for a 'retract' label: the id of the label it retracts")
    return Label(
        id=check_id("label id", id),
        query_id=query_id,
        annotator=check_text("annotator", annotator, optional=False),  # type: ignore[arg-type]
        source=check_choice("source", source, LABEL_SOURCES),
        kind=kind,
        value=stored_value,
        ranking=stored_ranking,
        confidence=check_unit("confidence", confidence),
        timestamp=check_time("timestamp", timestamp),
        note=note,
        supersedes=None if supersedes is None else check_id("supersedes", supersedes),
        request_id=check_text("request_id", request_id, optional=True),
    )
