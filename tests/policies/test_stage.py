"""``robopref policy`` through the console script: trains, writes its files, resumes, names bad keys."""

from __future__ import annotations

import json
from pathlib import Path

from robopref.policies import load_policy
from tests.test_cli import ROOT, robopref

TINY = [
    f"hydra.searchpath=[file://{ROOT}/tests/conf]",
    "env=line",
    "policy.down_dims=[16,32]",
    "policy.diffusion_step_embed_dim=16",
    "policy.horizon=8",
    "policy.n_action_steps=4",
    "policy.num_inference_steps=4",
    "batch_size=16",
    "eval_every=1",
    "eval_episodes=2",
    "torch_threads=1",
    "progress=false",
]


def test_policy_stage_trains_and_resumes(line_dataset, tmp_path):
    run = tmp_path / "run"
    args = ["policy", f"dataset={line_dataset}", *TINY, "epochs=2", f"hydra.run.dir={run}"]
    first = robopref(*args, "max_minutes=0", cwd=tmp_path)  # stops after epoch 1, as a crash would
    assert first.returncode == 0, first.stderr
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    second = robopref(*args, "resume=true", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2] and all("success_rate" in m for m in metrics)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_done"] == 2 and Path(summary["best"]).exists()
    assert second.stdout.strip().splitlines()[-1] == f"last: {run / 'checkpoints' / 'last.ckpt'}"
    policy = load_policy(summary["best"], device="cpu")
    assert policy.act({"state": [0.0, 0.0]}).shape == (1,)
    tuned = tmp_path / "tuned"  # fine-tune the trained policy: init_from names its checkpoint
    third = robopref("policy", f"dataset={line_dataset}", *TINY, "epochs=1", f"init_from={summary['last']}", f"hydra.run.dir={tuned}", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    tuned_summary = json.loads((tuned / "summary.json").read_text())
    assert tuned_summary["epochs_done"] == 1
    assert "starting from the EMA weights and normaliser of" in (tuned / "policy.log").read_text()


def test_policy_stage_help_and_bad_keys(line_dataset, tmp_path):
    out = robopref("policy", "--help", cwd=tmp_path)
    assert out.returncode == 0 and "diffusion_lowdim" in out.stdout and "num_inference_steps: 8" in out.stdout
    out = robopref("policy", f"dataset={line_dataset}", *TINY, "policy.down_dim=[8]", cwd=tmp_path)
    assert out.returncode != 0 and "Key 'down_dim' not in 'DiffusionPolicyConfig'" in out.stderr


def test_train_defaults_agree_across_yaml_schema_and_train_config(tmp_path):
    """conf/policy.yaml, PolicyStageConfig and TrainConfig state the same defaults (lr 1e-3, warm-up 200)."""
    from dataclasses import fields

    from omegaconf import OmegaConf

    from robopref.policies.train import TrainConfig
    from robopref.stages.policy import PolicyStageConfig

    yaml = OmegaConf.load(ROOT / "conf" / "policy.yaml")
    schema = {f.name: f.default for f in fields(PolicyStageConfig)}
    for f in fields(TrainConfig):
        assert schema[f.name] == f.default, f.name
        if f.name in yaml:
            assert yaml[f.name] == f.default, f.name
    assert TrainConfig().lr == 1e-3 and TrainConfig().lr_warmup_steps == 200
    out = robopref("policy", "--help", cwd=tmp_path)
    assert out.returncode == 0 and "lr: 0.001" in out.stdout and "lr_warmup_steps: 200" in out.stdout
