"""The names a query setting can take, in a module without torch, so that a pipeline can
check its person's settings before its first step (the label stage checks them too)."""

from __future__ import annotations

SELECTION_RULES = ("uniform", "disagreement", "entropy")
QUERY_SIZES = {"pair": 2, "triplet": 3}  # query kind -> segments shown at once


def check_query_settings(kind: str, selection: str, queries: int, segment_length: int, prefix: str = "") -> int:
    """Refuse a query kind, selection rule, count or segment length `robopref label` cannot use,
    naming the key as ``<prefix><key>``; return the number of segments a query shows."""
    if kind not in QUERY_SIZES:
        raise ValueError(f"{prefix}kind={kind!r}: expected one of {sorted(QUERY_SIZES)}")
    if selection not in SELECTION_RULES:
        raise ValueError(f"{prefix}selection={selection!r}: expected one of {list(SELECTION_RULES)}")
    if queries < 1:
        raise ValueError(f"{prefix}queries={queries}: expected an integer >= 1")
    if segment_length < 0:
        raise ValueError(f"{prefix}segment_length={segment_length}: expected an integer >= 0 (0 means whole episodes)")
    return QUERY_SIZES[kind]
