"""``robopref policy`` through the console script: trains, writes its files, resumes, names bad keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robopref.policies import load_policy
from robopref.policies.config import DiffusionPolicyConfig
from robopref.policies.train import TrainConfig
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


def test_train_settings_out_of_range_name_the_key():
    """``robopref policy batch_size=0`` (or lr=-1, val_ratio=1, ...) fails at once with the key's name,
    not with a ZeroDivisionError or torch's message from deep inside training."""
    bad = {"epochs": (0, "epochs=0: expected >= 1"), "batch_size": (0, "batch_size=0: expected >= 1"),
           "lr": (-1.0, "lr=-1.0: expected >= 0"), "val_ratio": (1.0, r"val_ratio=1.0: expected .* in \[0, 1\)"),
           "eval_episodes": (0, "eval_episodes=0"), "topk": (0, "topk=0"), "eval_every": (-1, "eval_every=-1"),
           "max_train_steps": (0, "max_train_steps=0: expected null or > 0"), "max_minutes": (-1.0, "max_minutes=-1.0")}
    for key, (value, message) in bad.items():
        with pytest.raises(ValueError, match=message):
            TrainConfig(**{key: value})
    assert TrainConfig(lr=0.0, max_minutes=0.0, eval_every=0).lr == 0.0  # frozen weights / one epoch / no rollouts are allowed


@pytest.mark.parametrize("override, message", [
    ({"num_inference_steps": 0}, r"policy.num_inference_steps=0, policy.num_train_timesteps=100: expected 1 <= num_inference_steps"),
    ({"down_dims": []}, r"policy.down_dims=\[\], policy.n_groups=8: expected one or more widths"),
    ({"n_groups": 0}, r"policy.n_groups=0"),
    ({"down_dims": [32, 60]}, r"each a multiple of n_groups"),
    ({"kernel_size": 4}, r"policy.kernel_size=4: expected an odd size"),
    ({"diffusion_step_embed_dim": 7}, r"policy.diffusion_step_embed_dim=7: expected an even size >= 4"),
    ({"beta_schedule": "cos"}, r"policy.beta_schedule='cos': expected one of \['linear', 'scaled_linear', 'squaredcos_cap_v2'\]"),
    ({"image_encoder": "vit"}, r"policy.image_encoder='vit'"),
    ({"ema_max_decay": 1.0}, r"policy.ema_max_decay=1.0"),
    ({"image_feature_dim": 0, "image_encoder": "small_cnn"}, r"policy.image_feature_dim=0 \(the encoder's own features, no head\) needs image_encoder=resnet18"),
    ({"image_range": "byte"}, r"policy.image_range='byte': expected one of \['unit', 'signed'\]"),
    ({"imagenet_norm": True, "image_state_key": "state"}, r"cameras that estimate the state \(image_state_key\) see frames in \[0, 1\]"),
])
def test_policy_network_settings_are_checked_with_their_keys(override, message):
    """Bad U-Net / schedule settings fail when the config is read, not as a ZeroDivisionError or a
    reshape error from the first forward pass."""
    with pytest.raises(ValueError, match=message):
        DiffusionPolicyConfig.from_dict(override)
