"""Which processes let torch's OpenMP workers spin (robopref.utils.openmp)."""

from __future__ import annotations

import os
import subprocess
import sys

from robopref.utils.openmp import should_spin, wait_passively


def test_import_default_is_passive_unless_the_user_chose():
    env: dict[str, str] = {}
    wait_passively(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    for user in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5"}):
        env = dict(user)
        wait_passively(env)
        assert env == user


def test_only_single_runs_of_batch_stages_spin(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # as in a fresh `robopref` process
    assert should_spin("policy", ["epochs=3"], set_by_user=False)
    assert should_spin("pipeline", ["experiment=quickstart"], set_by_user=False)
    for stage, args, user in [("app", [], False), ("robot", [], False), ("label", [], False),
                              ("policy", ["-m", "seed=0,1"], False), ("align", [], True)]:
        assert not should_spin(stage, args, set_by_user=user), (stage, args, user)


def test_too_late_once_torch_is_loaded():
    import torch  # noqa: F401

    assert not should_spin("policy", [], set_by_user=False)


def _fresh(code: str, **extra: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    return subprocess.run([sys.executable, "-c", code], env={**base, **extra}, capture_output=True, text=True, check=True).stdout.split()


def test_a_fresh_import_sets_passive_and_keeps_a_user_setting():
    code = "import os, robopref; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    assert _fresh(code) == ["PASSIVE", "None"]
    assert _fresh(code, GOMP_SPINCOUNT="7") == ["None", "7"]


def test_the_spin_count_is_gone_from_the_environment_children_inherit():
    """torch is loaded with the spin count, then the variable is removed: worker processes wait passively."""
    code = ("import os, sys; from robopref.utils.openmp import spin_openmp_workers; "
            "print(spin_openmp_workers('policy', []), 'torch' in sys.modules, os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))")
    assert _fresh(code) == ["True", "True", "None", "PASSIVE"]
    assert _fresh(code.replace("'policy'", "'app'")) == ["False", "False", "None", "PASSIVE"]
