"""Errors raised when a file cannot be used as a preference store.

Bad *values* (a label outside [0, 1], an unknown query id, ...) raise the built-in
``ValueError``/``TypeError`` so that callers need not import anything to catch them;
the classes here are for problems with the *file* or the store object itself, which a
caller (the label app, a CLI stage) usually reports to the user and stops.
"""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot do what was asked (closed, read-only, used in another process)."""


class NotAStoreError(StoreError):
    """The file is not SQLite, or is SQLite but not a robopref preference store."""


class SchemaVersionError(StoreError):
    """The file's schema version is one this robopref cannot read or upgrade."""
