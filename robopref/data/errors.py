"""The one error type for bad dataset files, so callers can catch it and users see where."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset file does not follow the robomimic/robopref layout.

    The message always names the file, and the demo and key where there is one, e.g.
    ``runs/a.hdf5: data/demo_3/actions: contains NaN at step 17``.
    """

    def __init__(self, path: str, message: str, demo: str | None = None, key: str | None = None) -> None:
        where = str(path)
        if demo is not None:
            where += f": data/{demo}"
            if key is not None:
                where += f"/{key}"
        elif key is not None:
            where += f": {key}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.demo = demo
        self.key = key
