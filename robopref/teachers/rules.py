"""The names a query setting can take, in a module without torch, so that a pipeline can
check its person's settings before its first step (the label stage checks them too)."""

from __future__ import annotations

SELECTION_RULES = ("uniform", "disagreement", "entropy")
QUERY_SIZES = {"pair": 2, "triplet": 3}  # query kind -> segments shown at once
