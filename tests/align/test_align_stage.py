"""``robopref align`` from the command line: DPO on stored labels and best-of-N with a reward."""

from __future__ import annotations

import json

from robopref.policies import load_policy
from tests.policies.test_stage import TINY
from tests.test_cli import LINE, robopref


def test_align_dpo_and_best_of_n(line_dataset, tmp_path):
    # line_dataset: tests/policies/conftest.py (noisy LineEnv demos, 1-D actions)
    run = tmp_path / "policy"
    out = robopref("policy", f"dataset={line_dataset}", *TINY, "epochs=1", "eval_every=0", f"hydra.run.dir={run}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    ckpt = run / "checkpoints" / "last.ckpt"
    store = tmp_path / "p.sqlite"
    out = robopref("label", LINE[0], f"dataset={line_dataset}", f"store={store}", "queries=12", "segment_length=8", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    common = [LINE[0], f"policy={ckpt}", "eval_episodes=2", "eval_workers=1", "progress=false"]
    out = robopref("align", *common, "method=dpo", f"store={store}", "dpo.epochs=2", f"hydra.run.dir={tmp_path / 'dpo'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "dpo" / "summary.json").read_text())
    assert summary["pairs"] >= 8 and summary["ref_distance"] > 0
    assert {"before", "after"} <= set(summary) and summary["after"]["n_episodes"] == 2
    aligned = load_policy(summary["aligned_checkpoint"], device="cpu")
    assert aligned.act({"state": [0.0, 0.0]}).shape == (1,)
    out = robopref("reward", LINE[0], f"store={store}", "reward.epochs=5", "reward.hidden=[16]", "eval_length=8", "progress=false",
                   f"hydra.run.dir={tmp_path / 'reward'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    out = robopref("align", *common, "method=dpo", "pairs_from=samples", f"reward_checkpoint={tmp_path / 'reward' / 'reward.pt'}", f"dataset={line_dataset}",
                   "samples.states=6", "samples.candidates=3", "samples.lookahead=2", "dpo.epochs=1", f"hydra.run.dir={tmp_path / 'sampled'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    sampled = json.loads((tmp_path / "sampled" / "summary.json").read_text())
    assert 1 <= sampled["pairs"] <= 6 and sampled["after"]["n_episodes"] == 2  # same-state pairs, fine-tuned, evaluated
    out = robopref("align", *common, "method=filtered_bc", f"reward_checkpoint={tmp_path / 'reward' / 'reward.pt'}", f"dataset={line_dataset}",
                   "filtered.keep=0.5", "filtered.epochs=1", "filtered.batch_size=16", f"hydra.run.dir={tmp_path / 'filtered'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    filtered = json.loads((tmp_path / "filtered" / "summary.json").read_text())
    assert filtered["episodes_kept"] == 3 and filtered["episodes_ranked"] == 6 and filtered["after"]["n_episodes"] == 2
    assert load_policy(filtered["aligned_checkpoint"], device="cpu").act({"state": [0.0, 0.0]}).shape == (1,)
    out = robopref("align", *common, "method=filtered_bc", f"hydra.run.dir={tmp_path / 'filtered_bad'}", cwd=tmp_path)
    assert out.returncode != 0 and "method=filtered_bc needs reward_checkpoint=<reward.pt> and dataset=" in out.stderr
    out = robopref("align", *common, "method=best_of_n", f"reward_checkpoint={tmp_path / 'reward' / 'reward.pt'}", "n=4", f"hydra.run.dir={tmp_path / 'bon'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    bon = json.loads((tmp_path / "bon" / "summary.json").read_text())
    assert bon["before"]["n_episodes"] == 2 and bon["after"]["n_episodes"] == 2
    assert 0 <= bon["after"]["metrics"]["success"]["mean"] <= 1


def test_align_errors(tmp_path):
    out = robopref("align", "policy=nope.ckpt", cwd=tmp_path)
    assert out.returncode != 0 and "policy='nope.ckpt': no such checkpoint file" in out.stderr
    out = robopref("align", "policy=x", "dpo.betta=3", cwd=tmp_path)
    assert out.returncode != 0 and "betta" in out.stderr
