"""Run a ``robopref`` stage inside the current process, as the pipeline's steps do.

A pipeline step is exactly what a user would type (``robopref collect ...``), so each
step gets its own Hydra run directory with ``.hydra/``, a log and its outputs, and the
report can print the commands to repeat it. Running it in-process (instead of a new
Python process per step) saves the few seconds of imports per step. Hydra keeps global
state (the GlobalHydra singleton, HydraConfig, the root logger's handlers, sys.argv);
:func:`run_stage` saves it, clears it for the inner run and restores it afterwards, so
the calling stage's ``run_dir()`` and log file are unchanged.
"""

from __future__ import annotations

import logging
import shlex
import sys
from contextlib import contextmanager
from typing import Iterator, Sequence


class StageFailed(RuntimeError):
    """A nested stage exited with an error; the message names the command and its log."""


@contextmanager
def isolated_hydra() -> Iterator[None]:
    """Save Hydra's and logging's process-wide state, clear it, restore it on exit."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    gh = GlobalHydra.instance()
    saved_hydra = gh.hydra
    saved_cfg = HydraConfig.instance().cfg
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_argv = sys.argv[:]
    gh.clear()
    try:
        yield
    finally:
        gh.clear()
        gh.hydra = saved_hydra
        HydraConfig.instance().cfg = saved_cfg
        for h in root.handlers[:]:
            if h not in saved_handlers:
                root.removeHandler(h)
                h.close()
        for h in saved_handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(saved_level)
        sys.argv = saved_argv


def command_line(stage: str, overrides: Sequence[str]) -> str:
    """The shell command a user would type for this step."""
    return " ".join(["robopref", stage, *(shlex.quote(o) for o in overrides)])


def run_stage(stage: str, overrides: Sequence[str]) -> None:
    """Run ``robopref <stage> <overrides>`` in this process; raise :class:`StageFailed` on error.

    Hydra reports an exception in the task by printing it and calling ``sys.exit(1)``;
    that exit is turned into :class:`StageFailed` so the pipeline can record the
    failure and stop with the command that failed.
    """
    from robopref.cli import main as cli_main

    cmd = command_line(stage, overrides)
    with isolated_hydra():
        try:
            rc = cli_main([stage, *overrides])
        except SystemExit as e:  # hydra.main's error path
            rc = e.code if isinstance(e.code, int) else 1
    if rc:
        raise StageFailed(f"step failed (exit status {rc}): {cmd}")
