"""A stage run inside another stage leaves the outer run's Hydra state and logging as they were."""

from __future__ import annotations

import logging

import pytest
from hydra.core.hydra_config import HydraConfig

from robopref.pipeline.nested import StageFailed, isolated_hydra, run_stage


def test_isolated_hydra_restores_hydra_config_and_log_handlers():
    root = logging.getLogger()
    marker = logging.NullHandler()
    root.addHandler(marker)
    saved = HydraConfig.instance().cfg
    try:
        with isolated_hydra():
            HydraConfig.instance().cfg = None
            root.removeHandler(marker)
            extra = logging.NullHandler()
            root.addHandler(extra)
        assert HydraConfig.instance().cfg is saved
        assert marker in root.handlers and extra not in root.handlers
    finally:
        root.removeHandler(marker)


def test_nested_stage_writes_its_run_dir(tmp_path):
    run_stage("collect", ["env=push2d_avoid", "++env.image_size=0", "episodes=2", "videos=0", f"output={tmp_path / 'd.hdf5'}", f"hydra.run.dir={tmp_path / 'run'}"])
    assert (tmp_path / "d.hdf5").is_file() and (tmp_path / "run" / "summary.json").is_file()
    assert (tmp_path / "run" / ".hydra" / "config.yaml").is_file()


def test_a_failing_stage_raises_with_its_command(tmp_path):
    with pytest.raises(StageFailed, match=r"step failed \(exit status 1\): robopref collect env=push2d_avoid episodes=-3"):
        run_stage("collect", ["env=push2d_avoid", "episodes=-3", f"hydra.run.dir={tmp_path / 'run'}"])
