"""The label and reward stages from the command line, on the test line env."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from robopref.data import Dataset
from robopref.prefs import PreferenceStore
from robopref.rewards.model import TrajectoryRewardModel
from robopref.stages import label
from tests.test_cli import LINE, robopref


def test_collect_label_reward_relabel(tmp_path):
    data = tmp_path / "line.hdf5"
    assert robopref("collect", *LINE, "env.horizon=30", "env.image_size=0", "episodes=20", "noise=2.0", "videos=0", f"output={data}", cwd=tmp_path).returncode == 0
    store = tmp_path / "p.sqlite"
    out = robopref("label", LINE[0], f"dataset={data}", f"store={store}", "holdout=1.5", cwd=tmp_path)
    assert out.returncode != 0 and "holdout=1.5: expected the fraction of episodes never queried, in [0, 1)" in out.stderr
    # holdout=0.25: 5 of the 20 episodes are never queried, by either label run; the reward is scored on them
    out = robopref("label", LINE[0], f"dataset={data}", f"store={store}", "teacher=mistake", "queries=60", "segment_length=10", "holdout=0.25", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout[out.stdout.index("{"):])
    assert summary["labels_added"] == 60 and 0.7 < summary["agreement_with_oracle"] <= 1.0
    assert summary["held_out_episodes"] == {str(data): 5}
    out = robopref("label", LINE[0], f"dataset={data}", f"store={store}", "queries=20", "segment_length=10", "selection=disagreement", "holdout=0.25", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with PreferenceStore(store, readonly=True) as s:
        assert s.count_labels() == 80 and len(s.queries(origin="disagreement")) == 20
    (tmp_path / "bad").mkdir()  # its own run directory, apart from the good run's below
    out = robopref("reward", LINE[0], f"store={store}", "reward=bt", "sources=[human]", cwd=tmp_path / "bad")
    assert out.returncode != 0
    assert f"preference store {store} has no usable labels with sources=['human']" in out.stderr
    assert "effective labels by source: {'scripted': 80}" in out.stderr
    out = robopref("reward", LINE[0], f"store={store}", "reward=rapl", f"dataset={data}", cwd=tmp_path / "bad")
    assert out.returncode != 0 and f"{data}: has no obs/<camera>_image frames: visual rewards need camera frames" in out.stderr
    assert not list((tmp_path / "bad").rglob("reward.pt"))  # refused before any training
    out = robopref("reward", LINE[0], f"store={store}", "reward=rrl", "reward.epochs=20", "reward.hidden=[32,32]",
                   "relabel=true", "eval_length=10", "progress=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "outputs" / "reward").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["comparisons"] == 80 and metrics["heldout"]["accuracy"] > 0.6
    assert metrics["heldout"]["heldout"] is True and metrics["heldout"]["split"] == "episodes"
    relabeled = Dataset(run / "relabeled_line.hdf5")
    assert "env_reward" in relabeled.info_keys and "reward_std" in relabeled.info_keys
    assert out.stdout.strip().endswith(f"reward: {run / 'reward.pt'}")
    # the preset for noisy labels: 5 members, weight decay, and cleaning rounds that flip contradicted labels
    out = robopref("reward", LINE[0], f"store={store}", "reward=bt_noisy", "reward.epochs=20", "reward.hidden=[32,32]",
                   "eval_length=10", "progress=false", "hydra.run.dir=noisy", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    history = json.loads((tmp_path / "noisy" / "metrics.json").read_text())["history"]
    assert history["cleaned_flips"] > 0 and history["flipped"]  # labels flipped before training, the filter ran in it
    cfg = TrajectoryRewardModel.load(tmp_path / "noisy" / "reward.pt").cfg
    assert (cfg.ensemble, cfg.weight_decay, cfg.trust.enabled) == (5, 0.02, True)


def test_label_errors_are_clear(tmp_path):
    out = robopref("label", LINE[0], f"dataset={tmp_path / 'missing.hdf5'}", cwd=tmp_path)
    assert out.returncode != 0 and "missing.hdf5: file does not exist" in out.stderr
    out = robopref("reward", LINE[0], "reward.epochz=3", cwd=tmp_path)
    assert out.returncode != 0 and "epochz" in out.stderr


def test_label_settings_are_checked_before_anything_is_written(tmp_path):
    """A typo in selection or a non-positive count names the key and what it accepts, and
    neither the dataset is read nor the store created."""
    base = OmegaConf.structured(label.LabelConfig(dataset=str(tmp_path / "absent.hdf5"), store=str(tmp_path / "p.sqlite")))
    cases = {"selection": ("entropi", r"selection='entropi': expected one of \['uniform', 'disagreement', 'entropy'\]"),
             "queries": (0, "queries=0: expected an integer >= 1"),
             "oversample": (0, "oversample=0: expected an integer >= 1"),
             "segment_length": (-1, r"segment_length=-1: expected an integer >= 0 \(0 means whole episodes\)"),
             "kind": ("quad", r"kind='quad': expected one of \['pair', 'triplet'\]")}
    for key, (value, message) in cases.items():
        cfg = OmegaConf.merge(base, {key: value})
        with pytest.raises(ValueError, match=message):
            label.run(cfg)
    assert not (tmp_path / "p.sqlite").exists()
