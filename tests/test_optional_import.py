"""A feature whose extra is not installed says which extra to install."""

from __future__ import annotations

import pytest

from robopref.utils.optional import optional_import


def test_a_missing_extra_names_the_feature_and_the_install():
    assert optional_import("json", "reading", "x").dumps([]) == "[]"
    with pytest.raises(ImportError, match=r"reading LeRobot datasets needs no_such_pkg: pip install 'robopref\[lerobot\]' \(or pip install no_such_pkg\)"):
        optional_import("no_such_pkg.parquet", "reading LeRobot datasets", "lerobot")
