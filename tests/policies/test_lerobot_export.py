"""``robopref export policy=``: a policy written as a LeRobot diffusion policy folder reads back as the same policy.

LeRobot itself loaded these folders (``DiffusionPolicy.from_pretrained``, ``make_pre_post_processors``)
in benchmarks/check_lerobot_policy.py; here the folder is read back with robopref's import.
"""

from __future__ import annotations

import json

import pytest
import torch

from robopref.policies.checkpoint import load_policy, save_checkpoint
from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.lerobot_export import export_lerobot_policy
from robopref.policies.lerobot_import import import_lerobot_policy, read_lerobot_policy
from tests.test_cli import robopref


def native_policy(**overrides) -> DiffusionPolicy:
    """A robopref policy LeRobot's network can hold, with frames in [-1, 1], ImageNet normalisation and per-camera statistics."""
    torch.manual_seed(4)
    base = dict(name="diffusion_image", low_dim_keys=["goal", "state"], image_keys=["front_image", "top_image"], down_dims=[16, 32],
                diffusion_step_embed_dim=16, horizon=16, image_feature_dim=8, image_pool="spatial_softmax", image_keypoints=4,
                image_range="signed", imagenet_norm=True, crop_ratio=0.875,
                image_stats={"front_image": {"mean": [0.1, -0.2, 0.3], "std": [1.5, 0.8, 1.1]}, "top_image": {"mean": [0.0, 0.1, -0.1], "std": [0.9, 1.2, 1.0]}})
    cfg = DiffusionPolicyConfig(**{**base, **overrides})
    shapes = PolicyShapes(action_dim=2, low_dim={"state": 3, "goal": 2}, images={k: (32, 32, 3) for k in cfg.image_keys})
    model = DiffusionPolicy(cfg, shapes)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for key, dim in (("state", 3), ("goal", 2), ("action", 2)):
            if key in model.normalizer.maps:
                model.normalizer.maps[key].fit(torch.randn(100, dim) * 2 + 1)
    return model.eval()


def observations(batch: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return {"state": torch.randn(batch, 2, 3, generator=g), "goal": torch.randn(batch, 2, 2, generator=g),
            "front_image": torch.randint(0, 256, (batch, 2, 32, 32, 3), dtype=torch.uint8, generator=g),
            "top_image": torch.randint(0, 256, (batch, 2, 32, 32, 3), dtype=torch.uint8, generator=g)}


def test_an_exported_policy_reads_back_as_the_same_policy(tmp_path):
    model = native_policy()
    summary = export_lerobot_policy(model, tmp_path / "lerobot")
    assert summary["features"] == {"state": "observation.state", "goal": "observation.environment_state",
                                   "front_image": "observation.images.front", "top_image": "observation.images.top"}
    config = json.loads((tmp_path / "lerobot" / "config.json").read_text())
    assert list(config["input_features"]) == ["observation.state", "observation.images.front", "observation.images.top", "observation.environment_state"]
    assert (config["crop_shape"], config["spatial_softmax_num_keypoints"], config["noise_scheduler_type"]) == ([28, 28], 4, "DDIM")
    back, info = import_lerobot_policy(read_lerobot_policy(tmp_path / "lerobot"), obs_map={"observation.environment_state": "goal"},
                                       num_inference_steps=model.cfg.num_inference_steps, where="lerobot")
    assert back.cfg.image_range == "unit" and not back.cfg.imagenet_norm  # folded into each camera's mean and std
    obs, noise = observations(), torch.randn(3, 16, 2)
    torch.testing.assert_close(back.predict_action(obs, noise=noise), model.predict_action(obs, noise=noise), atol=1e-4, rtol=1e-4)
    frames = torch.rand(2, 3, 28, 28)
    torch.testing.assert_close(back.obs_encoder.pixels(frames, "front_image"), model.obs_encoder.pixels(frames, "front_image"), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("overrides, message", [
    ({"image_encoder": "small_cnn", "image_pool": "avg"}, "LeRobot's cameras are resnet18 with image_pool=spatial_softmax"),
    ({"image_feature_dim": 16}, "image_feature_dim=16: LeRobot's cameras are resnet18 with image_pool=spatial_softmax and image_feature_dim = 2 \\* image_keypoints"),
    ({"crop_ratio": 0.906}, "a 29 x 29 crop of 32 x 32 frames is centred differently by LeRobot"),
])
def test_policies_lerobot_cannot_hold_are_refused_naming_the_setting(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=f"cannot be written as a LeRobot diffusion policy: .*{message}"):
        export_lerobot_policy(native_policy(**overrides), tmp_path / "x")
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


def test_a_state_alone_or_three_low_dim_keys_are_refused(tmp_path):
    """LeRobot's policy takes a state plus cameras and/or an environment state: a lone state vector has no place to go."""
    lone = DiffusionPolicy(DiffusionPolicyConfig(low_dim_keys=["state"], image_keys=[], down_dims=[16, 32]),
                           PolicyShapes(action_dim=2, low_dim={"state": 3}, images={}))
    with pytest.raises(ValueError, match=r"low-dim keys \['state'\]: LeRobot's diffusion policy takes a state, and cameras"):
        export_lerobot_policy(lone, tmp_path / "x")
    three = DiffusionPolicy(DiffusionPolicyConfig(low_dim_keys=["a", "b", "c"], image_keys=[], down_dims=[16, 32]),
                            PolicyShapes(action_dim=2, low_dim={"a": 1, "b": 1, "c": 1}, images={}))
    with pytest.raises(ValueError, match=r"low-dim keys \['a', 'b', 'c'\]"):
        export_lerobot_policy(three, tmp_path / "x")
    two = DiffusionPolicy(DiffusionPolicyConfig(low_dim_keys=["obj", "robot"], image_keys=[], down_dims=[16, 32]),
                          PolicyShapes(action_dim=2, low_dim={"obj": 4, "robot": 3}, images={}))
    assert export_lerobot_policy(two, tmp_path / "two")["features"] == {"obj": "observation.state", "robot": "observation.environment_state"}


def test_the_export_stage_writes_a_checkpoint_and_refuses_what_it_should(tmp_path):
    save_checkpoint(tmp_path / "p.ckpt", native_policy())
    res = robopref("export", "policy=p.ckpt", "output=out", "hydra.run.dir=a", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "config.json", "model.safetensors", "policy_postprocessor.json", "policy_postprocessor_step_0_unnormalizer_processor.safetensors",
        "policy_preprocessor.json", "policy_preprocessor_step_3_normalizer_processor.safetensors"]
    assert "DiffusionPolicy.from_pretrained" in json.loads((tmp_path / "a" / "summary.json").read_text())["load"]
    res = robopref("export", "policy=p.ckpt", "output=out", "hydra.run.dir=b", cwd=tmp_path)
    assert res.returncode != 0 and "already exists: pass overwrite=true" in res.stderr
    assert robopref("export", "policy=p.ckpt", "output=out", "overwrite=true", "hydra.run.dir=c", cwd=tmp_path).returncode == 0
    res = robopref("export", "output=out2", "hydra.run.dir=d", cwd=tmp_path)
    assert res.returncode != 0 and "give one of them (dataset= a robopref dataset" in res.stderr
    res = robopref("export", "policy=p.ckpt", "output=out3", "fps=10", "hydra.run.dir=e", cwd=tmp_path)
    assert res.returncode != 0 and "fps=: dataset settings; policy= exports a policy" in res.stderr
    loaded = load_policy(tmp_path / "p.ckpt", device="cpu").model
    reread, _ = import_lerobot_policy(read_lerobot_policy(tmp_path / "out"), obs_map={"observation.environment_state": "goal"}, where="out")
    obs, noise = observations(1), torch.randn(1, 16, 2)
    torch.testing.assert_close(reread.predict_action(obs, noise=noise, num_inference_steps=8), loaded.predict_action(obs, noise=noise, num_inference_steps=8),
                               atol=1e-4, rtol=1e-4)


def test_info_says_whether_a_policy_checkpoint_exports_to_lerobot(tmp_path):
    from robopref.info import describe

    save_checkpoint(tmp_path / "p.ckpt", native_policy())
    assert describe(tmp_path / "p.ckpt")["to LeRobot"] == f"robopref export policy={tmp_path / 'p.ckpt'} output=<folder>"
    save_checkpoint(tmp_path / "q.ckpt", native_policy(image_encoder="small_cnn", image_pool="avg"))
    assert describe(tmp_path / "q.ckpt")["to LeRobot"].startswith("not possible: image_encoder='small_cnn', image_pool='avg'")
