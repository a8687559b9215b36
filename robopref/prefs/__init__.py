"""The preference store: queries (pairs/triplets of segments) and labels in one SQLite file.

>>> from robopref.prefs import PreferenceStore
>>> with PreferenceStore("prefs.sqlite") as store:                      # doctest: +SKIP
...     q = store.add_query([seg_a, seg_b], origin="uniform")
...     store.add_label(q, annotator="ana", source="human", value=1.0)
"""

from robopref.prefs.errors import NotAStoreError, SchemaVersionError, StoreError
from robopref.prefs.jsonl import ImportResult
from robopref.prefs.records import LABEL_KINDS, LABEL_SOURCES, QUERY_KINDS, Label, Query
from robopref.prefs.schema import SCHEMA_VERSION
from robopref.prefs.store import PreferenceStore

__all__ = [
    "ImportResult",
    "LABEL_KINDS",
    "LABEL_SOURCES",
    "Label",
    "NotAStoreError",
    "PreferenceStore",
    "QUERY_KINDS",
    "Query",
    "SCHEMA_VERSION",
    "SchemaVersionError",
    "StoreError",
]
