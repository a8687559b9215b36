"""Request bodies of the label API, validated by pydantic before any code runs.

Anything that does not fit (an unknown field, a name with control characters, a
ranking that is not a permutation, a note of a megabyte) is refused with a 422 that
names the field; the store's own checks come after.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"  # printable: no control characters (names end up in exports and logs)
AnnotatorName = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
RequestId = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
MAX_NOTE = 2000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Answer(_Strict):
    """One answer from the page.

    Pairs: ``choice`` is ``left``, ``right``, ``equal`` or ``skip``. Triplets:
    ``ranking`` (segment positions, best first) or ``choice="skip"``. ``request_id`` is
    made by the page once per click, so a resent answer is stored once.
    """

    annotator: str = AnnotatorName
    query_id: int = Field(ge=1, lt=2**63)
    request_id: str = RequestId
    choice: Optional[Literal["left", "right", "equal", "skip"]] = None
    ranking: Optional[list[int]] = Field(default=None, min_length=3, max_length=3)
    note: Optional[str] = Field(default=None, max_length=MAX_NOTE)

    @model_validator(mode="after")
    def _one_answer(self) -> "Answer":
        if (self.choice is None) == (self.ranking is None):
            raise ValueError("give exactly one of choice (pairs, or skip) and ranking (triplets)")
        if self.ranking is not None and sorted(self.ranking) != [0, 1, 2]:
            raise ValueError(f"ranking must be a permutation of [0, 1, 2], best first; got {self.ranking}")
        return self


class Undo(_Strict):
    """Undo the annotator's answer ``label_id`` (the page sends the last one it recorded)."""

    annotator: str = AnnotatorName
    label_id: int = Field(ge=1, lt=2**63)
    request_id: str = RequestId


class SessionStart(_Strict):
    """Start a labelling session; the server's clock fixes when it began."""

    annotator: str = AnnotatorName
