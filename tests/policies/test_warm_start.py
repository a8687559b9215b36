"""``init_from``: a run starts from another policy's EMA weights and normaliser, and refuses a different architecture."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
import torch

from robopref.data import Dataset, DatasetWriter
from robopref.policies import TrainConfig, read_checkpoint, train_policy
from tests.policies.conftest import tiny_config

CFG = TrainConfig(epochs=2, batch_size=16, lr=3e-3, lr_warmup_steps=2, eval_every=0, progress=False, seed=0)


@pytest.fixture(scope="module")
def first_run(line_dataset, tmp_path_factory) -> dict:
    return train_policy(tiny_config(), replace(CFG, epochs=20), str(line_dataset), tmp_path_factory.mktemp("first"))


def _scaled_copy(src_path, path, factor: float):
    """The same episodes with every action multiplied by ``factor`` (a new action range)."""
    src = Dataset(src_path)
    with DatasetWriter(path, env_args=src.env_args, mode="w") as w:
        for d in src.demos:
            ep = src.episode(d)
            w.add_episode(replace(ep, actions=ep.actions * factor))
    return path


def test_starts_from_the_checkpoints_ema_weights_and_normaliser(first_run, line_dataset, tmp_path):
    # lr 0 and no weight decay: training leaves the weights where init_from put them, so the new
    # run's weights must be the first run's EMA weights, normaliser buffers included, even though
    # this dataset's actions span half the range (a fresh fit would change the normaliser).
    halved = _scaled_copy(line_dataset, tmp_path / "halved.hdf5", 0.5)
    frozen = replace(CFG, epochs=1, lr=0.0, weight_decay=0.0)
    summary = train_policy(tiny_config(), frozen, str(halved), tmp_path / "second", init_from=first_run["last"])
    old, new = read_checkpoint(first_run["last"]), read_checkpoint(summary["last"])
    assert new["meta"]["init_from"] == first_run["last"]
    assert old["ema"]["averaged"].keys() == new["model"].keys()
    assert all(torch.equal(old["ema"]["averaged"][k], new["model"][k]) for k in new["model"])
    assert torch.allclose(new["model"]["normalizer.maps.action.high"], old["model"]["normalizer.maps.action.high"])
    fresh = train_policy(tiny_config(), replace(CFG, epochs=1), str(halved), tmp_path / "fresh")
    fresh_high = read_checkpoint(fresh["last"])["model"]["normalizer.maps.action.high"]
    assert not torch.allclose(fresh_high, old["model"]["normalizer.maps.action.high"])


def test_fine_tuning_starts_where_the_first_run_ended(first_run, line_dataset, tmp_path):
    """The first epoch of a warm-started run has a far lower loss than a fresh run's first epoch."""
    one = replace(CFG, epochs=1)
    warm = train_policy(tiny_config(), one, str(line_dataset), tmp_path / "warm", init_from=first_run["last"])
    cold = train_policy(tiny_config(), one, str(line_dataset), tmp_path / "cold")
    assert warm["final"]["train_loss"] < 0.7 * cold["final"]["train_loss"]


def test_refuses_another_architecture_naming_the_keys(first_run, line_dataset, tmp_path):
    with pytest.raises(ValueError, match=r"init_from=.*last.ckpt'?: the policy config differs from the checkpoint's \(down_dims: checkpoint \[16, 32\], this run \[8, 16\]\)"):
        train_policy(tiny_config(down_dims=[8, 16]), CFG, str(line_dataset), tmp_path / "bad", init_from=first_run["last"])
    with pytest.raises(FileNotFoundError, match="policy checkpoint '.*nope.ckpt' does not exist"):
        train_policy(tiny_config(), CFG, str(line_dataset), tmp_path / "bad2", init_from=tmp_path / "nope.ckpt")


def test_warns_when_the_new_actions_leave_the_checkpoints_range(first_run, line_dataset, tmp_path, caplog):
    tripled = _scaled_copy(line_dataset, tmp_path / "tripled.hdf5", 3.0)
    with caplog.at_level(logging.WARNING):
        train_policy(tiny_config(), replace(CFG, epochs=1), str(tripled), tmp_path / "wide", init_from=first_run["last"])
    assert any("of the new 'action' rows lie outside the range" in r.getMessage() and "clipped" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        train_policy(tiny_config(), replace(CFG, epochs=1), str(line_dataset), tmp_path / "same", init_from=first_run["last"])
    assert not any("outside the range" in r.getMessage() for r in caplog.records)
    assert np.isfinite(read_checkpoint(tmp_path / "same" / "checkpoints" / "last.ckpt")["meta"]["metrics"]["train_loss"])
