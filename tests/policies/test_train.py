"""A tiny training run learns; resuming after an interruption gives the same weights."""

from __future__ import annotations

import json

import numpy as np
import torch

from robopref.data import Dataset
from robopref.policies import TrainConfig, load_policy, read_checkpoint, train_policy
from robopref.policies.dataset import SequenceDataset, WindowSpec
from robopref.policies.checkpoint import build_model
from tests.policies.conftest import tiny_config


def _fixed_loss(model, ds: Dataset) -> float:
    data = SequenceDataset(ds, ds.demos, WindowSpec(8, 2, 4), ["state"])
    batch = torch.utils.data.default_collate([data[i] for i in range(len(data))])
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        return sum(float(model.compute_loss(batch)) for _ in range(8)) / 8


def test_tiny_run_lowers_loss_and_acts_within_bounds(line_dataset, tmp_path):
    cfg = TrainConfig(epochs=20, batch_size=16, lr=3e-3, lr_warmup_steps=5, eval_every=20, eval_episodes=3, progress=False, seed=0)
    summary = train_policy(tiny_config(), cfg, str(line_dataset), tmp_path)
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == list(range(1, 21))
    assert metrics[-1]["train_loss"] < 0.75 * metrics[0]["train_loss"]
    assert metrics[-1]["val_loss"] < metrics[0]["val_loss"]
    assert "success_rate" in metrics[-1] and summary["best"] is not None
    ckpt = read_checkpoint(summary["last"])
    ds = Dataset(line_dataset)
    trained = build_model(ckpt)
    assert _fixed_loss(trained, ds) < 0.75 * metrics[0]["train_loss"]
    actions = np.concatenate([ds.read(d, "actions") for d in ds.demos])
    lo, hi = actions.min(0), actions.max(0)
    policy = load_policy(summary["best"], device="cpu")
    obs_ds = {"state": ds.read("demo_0", "obs/state")}
    out = []
    for seed in range(3):
        policy.reset(seed=seed)
        out += [policy.act({"state": s}) for s in obs_ds["state"]]
    out = np.stack(out)
    assert np.all(out >= lo - 1e-5) and np.all(out <= hi + 1e-5)
    assert out.mean() > 0.5  # the expert pushes right (+1 with noise); the policy learned it


def test_resume_gives_identical_weights(line_dataset, tmp_path, caplog):
    def run(out, epochs_budget=None, resume=False):
        cfg = TrainConfig(epochs=2, batch_size=16, lr=1e-3, lr_warmup_steps=2, eval_every=1, eval_episodes=1, progress=False, seed=4, max_minutes=epochs_budget)
        return train_policy(tiny_config(image_keys=None, image_encoder="small_cnn"), cfg, str(line_dataset), out, resume=resume)

    straight = run(tmp_path / "a")
    interrupted = run(tmp_path / "b", epochs_budget=0.0)  # stops after the first epoch, as a crash would
    assert interrupted["stopped_early"] and interrupted["epochs_done"] == 1
    assert interrupted["lr_fraction_at_end"] > 0.4  # stopped half-way: the cosine schedule had not decayed
    assert any("planned for 2 epochs" in r.getMessage() for r in caplog.records)  # and the user is told how to fix it
    resumed = run(tmp_path / "b", resume=True)
    assert resumed["epochs_done"] == 2 and resumed["lr_fraction_at_end"] < 0.05
    a, b = read_checkpoint(straight["last"]), read_checkpoint(resumed["last"])
    for key in ("model",):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    assert all(torch.equal(a["ema"]["averaged"][k], b["ema"]["averaged"][k]) for k in a["ema"]["averaged"])
    lines_a = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    lines_b = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [m["train_loss"] for m in lines_a] == [m["train_loss"] for m in lines_b]
    assert [m["success_rate"] for m in lines_a] == [m["success_rate"] for m in lines_b]


def test_action_key_picks_the_actions_to_imitate(line_dataset, tmp_path):
    """With action_key=action_dict/<name> the policy learns that stream, not ``actions``; a
    missing stream is refused with the file, the key and what the demos have."""
    import pytest
    from dataclasses import replace

    from robopref.data import DatasetWriter

    src = Dataset(line_dataset)
    path = tmp_path / "with_intended.hdf5"
    with DatasetWriter(path, env_args=src.env_args, mode="w") as w:
        for d in src.demos:  # the "intended" stream pushes left where the executed actions push right
            ep = src.episode(d)
            w.add_episode(replace(ep, action_dict={"intended": -np.abs(ep.actions)}))
    cfg = TrainConfig(epochs=12, batch_size=16, lr=3e-3, lr_warmup_steps=5, eval_every=0, progress=False, seed=0, action_key="action_dict/intended")
    summary = train_policy(tiny_config(), cfg, str(path), tmp_path / "run")
    policy = load_policy(summary["last"], device="cpu")
    policy.reset(seed=0)
    out = np.stack([policy.act({"state": s}) for s in src.read("demo_0", "obs/state")])
    assert out.mean() < -0.5
    with pytest.raises(ValueError, match=r"line.hdf5: action_key='action_dict/intended' is missing in 6 demo\(s\), e.g. demo_0; its action_dict has nothing"):
        train_policy(tiny_config(), cfg, str(line_dataset), tmp_path / "bad")
    with pytest.raises(ValueError, match="action_key='obs/state': expected 'actions' or 'action_dict/<name>'"):
        train_policy(tiny_config(), replace(cfg, action_key="obs/state"), str(line_dataset), tmp_path / "bad2")
