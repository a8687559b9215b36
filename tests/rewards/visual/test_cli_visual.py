"""``robopref label kind=triplet segment_length=0`` then ``robopref reward reward=rapl|rlhf_visual``
from the command line, with relabelling and the OT-plan PNG."""

from __future__ import annotations

import json

import pytest

from robopref.data import Dataset
from robopref.rewards.visual.model import VisualRewardModel
from tests.test_cli import robopref

# each call starts a Python with torch and Hydra: ~90 s in all on the loaded lab machine (`make test-slow`)
pytestmark = pytest.mark.slow

TINY = ["reward.encoder.channels=[8,16,16,16]", "reward.pretrain.steps=3", "reward.pretrain.batch_size=8", "reward.frames=6",
        "reward.pretrain_videos=4", "eval_segments=12", "progress=false"]


def test_label_triplets_and_visual_rewards(push2d_dataset, tmp_path):
    store = tmp_path / "p.sqlite"
    out = robopref("label", f"dataset={push2d_dataset}", f"store={store}", "kind=triplet", "teacher=oracle", "queries=6",
                   "segment_length=0", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout[out.stdout.index("{"):])["labels_added"] == 6
    out = robopref("reward", "reward=rapl", f"store={store}", *TINY, "reward.align.epochs=2", "relabel=true", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "outputs" / "reward").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["comparisons"] == 18 and metrics["history"]["epochs_run"] == 2 and metrics["history"]["labels"] == 6
    assert -1 <= metrics["heldout"]["spearman"] <= 1 and 0 <= metrics["heldout"]["triplet_accuracy"] <= 1
    assert (run / "ot_plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = VisualRewardModel.load(run / "reward.pt")
    assert model.kind == "rapl" and model.meta["labels"] == 18 and model.references.shape[1:] == (6, 32)
    relabeled = Dataset(run / "relabeled_avoid.hdf5")
    assert "env_reward" in relabeled.info_keys
    assert (relabeled.read("demo_0", "rewards") <= 0).all()  # minus matched cosine costs
    out = robopref("reward", "reward=rapl", f"store={store}", "reward.align.epochz=1", cwd=tmp_path)
    assert out.returncode != 0 and "epochz" in out.stderr
    out = robopref("reward", "reward=rlhf_visual", f"store={store}", *TINY, "reward.bt.epochs=5", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert VisualRewardModel.load(sorted((tmp_path / "outputs" / "reward").iterdir())[-1] / "reward.pt").kind == "rlhf_visual"


def test_rapl_errors_are_clear(push2d_dataset, tmp_path):
    store = tmp_path / "pairs.sqlite"
    assert robopref("label", f"dataset={push2d_dataset}", f"store={store}", "queries=3", "segment_length=0", cwd=tmp_path).returncode == 0
    out = robopref("reward", "reward=rapl", f"store={store}", *TINY, cwd=tmp_path)
    assert out.returncode != 0 and "kind=triplet" in out.stderr
