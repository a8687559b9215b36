"""How torch's OpenMP worker threads wait between operations, per kind of process.

torch's CPU kernels run their parallel regions on a libgomp thread pool. Between two
regions a worker either spins or sleeps, and the right choice depends on the machine:

- **Importing robopref** sets ``OMP_WAIT_POLICY=PASSIVE`` (workers sleep at once), unless
  the user set it or ``GOMP_SPINCOUNT``: spinning workers make torch many times slower when
  the machine is busier than its core count (a small reward fit once took 155 s instead of
  17 s with two threads under load). Tests, notebooks and scripts get this.
- **A single run of a batch stage** from the command line (``robopref policy|align|...``,
  not a ``-m`` sweep, whose processes share the cores) loads torch with a short spin,
  ``GOMP_SPINCOUNT=20000`` (about 0.2 ms; libgomp's default is 300,000). Sleeping costs a
  context switch per region, about 100,000 a minute of training. On an idle 2-core machine
  (2026-12-06, AMD EPYC Zen 3) the quickstart's U-Net trained at 710 samples/s instead of
  590 (three alternating runs each) and 40 policy rollouts took 12.1 s instead of 15.3.
  Under a load of two busy processes on two cores it trained at 290 samples/s against 450
  passive (fully active waiting: 166), so the spin is kept short.

The variable is removed from the environment as soon as torch is loaded, so processes the
stage starts (evaluation's workers, one per core) wait passively: spinning there made 20
evaluation episodes take 44 s instead of 7. The web app and the robot stages mostly wait
and keep the passive default. libgomp reads both variables when it is loaded, so they
must be set before torch is imported.
"""

from __future__ import annotations

import os
import sys
from typing import MutableMapping, Sequence

USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
BATCH_STAGES = frozenset({"collect", "eval", "policy", "reward", "transfer", "align", "pipeline"})
SWEEP_FLAGS = frozenset({"-m", "--multirun"})
BATCH_SPIN_COUNT = "20000"

_set_by_user = any(v in os.environ for v in USER_VARIABLES)


def wait_passively(environ: MutableMapping[str, str] | None = None) -> None:
    """The import-time default: ``OMP_WAIT_POLICY=PASSIVE`` unless the user chose a policy or spin count."""
    env = os.environ if environ is None else environ
    if not any(v in env for v in USER_VARIABLES):
        env["OMP_WAIT_POLICY"] = "PASSIVE"


def should_spin(stage: str, args: Sequence[str] = (), set_by_user: bool | None = None) -> bool:
    """Whether a command-line run of ``stage`` with ``args`` spins: a single run of a batch
    stage, neither variable set by the user (default: as found when robopref was imported),
    torch not yet loaded (later is too late to matter)."""
    user = _set_by_user if set_by_user is None else set_by_user
    return not user and stage in BATCH_STAGES and not SWEEP_FLAGS & set(args) and "torch" not in sys.modules


def spin_openmp_workers(stage: str, args: Sequence[str] = ()) -> bool:
    """Load torch with ``GOMP_SPINCOUNT`` set when :func:`should_spin`; True if it did.

    The variable is removed again once torch (and with it libgomp) is loaded, so the
    processes this one starts wait passively: evaluation's worker processes, one per core,
    took 44 s instead of 7 for 20 episodes when they spun too.
    """
    if not should_spin(stage, args):
        return False
    os.environ["GOMP_SPINCOUNT"] = BATCH_SPIN_COUNT  # libgomp lets an explicit spin count override OMP_WAIT_POLICY
    try:
        import torch  # noqa: F401  (libgomp reads its variables as it loads)
    finally:
        del os.environ["GOMP_SPINCOUNT"]
    return True
