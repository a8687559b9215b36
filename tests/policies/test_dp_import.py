"""``robopref convert format=dp_checkpoint``: a diffusion_policy low-dim checkpoint becomes a
robopref policy that samples what the original network samples, and runs in ``eval``.

The checkpoints here are written in diffusion_policy's layout by hand (its package is not
installed): the U-Net under ``model.`` with the sampling convolutions wrapped as ``.conv``,
the LinearNormalizer under ``normalizer.params_dict``, the run's Hydra config under ``cfg``.
"""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf
from torch.nn import functional as F

from robopref.policies.checkpoint import load_policy
from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.dp_import import LOWDIM_TARGET, import_policy, unet_state_dict
from robopref.policies.unet1d import ConditionalResidualBlock1D
from tests.test_cli import LINE, robopref


def source_policy(obs_dim: int = 2, action_dim: int = 1, seed: int = 0) -> DiffusionPolicy:
    """A small policy with every weight perturbed (GroupNorm's too) and a non-trivial normaliser."""
    torch.manual_seed(seed)
    cfg = DiffusionPolicyConfig(low_dim_keys=["state"], image_keys=[], down_dims=[16, 32], diffusion_step_embed_dim=16, horizon=16)
    model = DiffusionPolicy(cfg, PolicyShapes(action_dim=action_dim, low_dim={"state": obs_dim}, images={}))
    with torch.no_grad():
        for p in model.unet.parameters():
            p.add_(0.1 * torch.randn_like(p))
        model.normalizer.maps["state"].fit(torch.randn(100, obs_dim) * 3)
        model.normalizer.maps["action"].fit(torch.rand(100, action_dim) * 2 - 1)
    return model.eval()


def dp_state_dict(model: DiffusionPolicy) -> dict[str, torch.Tensor]:
    """``model``'s weights in diffusion_policy's DiffusionUnetLowdimPolicy layout."""
    out = {}
    for key, value in model.unet.state_dict().items():
        parts = key.split(".")
        if parts[0] in ("down_modules", "up_modules") and parts[2] == "2":
            parts.insert(3, "conv")  # Downsample1d / Upsample1d
        out["model." + ".".join(parts)] = value.clone()
    for src, dst in (("state", "obs"), ("action", "action")):
        m = model.normalizer.maps[src]
        out.update({f"normalizer.params_dict.{dst}.scale": m.scale.clone(), f"normalizer.params_dict.{dst}.offset": m.offset.clone(),
                    f"normalizer.params_dict.{dst}.input_stats.min": m.low.clone(), f"normalizer.params_dict.{dst}.input_stats.max": m.high.clone(),
                    f"normalizer.params_dict.{dst}.input_stats.mean": (m.low + m.high) / 2, f"normalizer.params_dict.{dst}.input_stats.std": m.high - m.low})
    out["mask_generator._dummy_variable"] = torch.zeros(1)
    return out


def dp_config(**policy_overrides) -> dict:
    """The parts of diffusion_policy's train_diffusion_unet_lowdim_workspace config that matter (with its interpolations)."""
    return {"horizon": 16, "n_obs_steps": 2, "n_action_steps": 8, "n_latency_steps": 0, "obs_as_global_cond": True,
            "policy": {"_target_": LOWDIM_TARGET, "model": {"n_groups": 8, "cond_predict_scale": True, "global_cond_dim": "${eval:'2*${n_obs_steps}'}"},
                       "noise_scheduler": {"num_train_timesteps": 100, "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "squaredcos_cap_v2",
                                           "variance_type": "fixed_small", "clip_sample": True, "prediction_type": "epsilon"},
                       "horizon": "${horizon}", "n_obs_steps": "${n_obs_steps}", "n_action_steps": "${eval:'${n_action_steps}+${n_latency_steps}'}",
                       "obs_as_local_cond": False, "obs_as_global_cond": "${obs_as_global_cond}", "pred_action_steps_only": False,
                       "oa_step_convention": True, **policy_overrides}}


def write_dp_checkpoint(path, model: DiffusionPolicy, **policy_overrides) -> None:
    state = dp_state_dict(model)
    torch.save({"cfg": OmegaConf.create(dp_config(**policy_overrides)), "state_dicts": {"model": state, "ema_model": state, "optimizer": {}},
                "pickles": {"_output_dir": b"outputs"}}, path)


def test_the_imported_policy_samples_what_the_original_network_samples(tmp_path):
    source = source_policy(obs_dim=3, action_dim=2)
    write_dp_checkpoint(tmp_path / "latest.ckpt", source)
    res = robopref("convert", "format=dp_checkpoint", "source=latest.ckpt", "num_inference_steps=8", "hydra.run.dir=conv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((tmp_path / "conv" / "summary.json").read_text())
    assert summary["weights"] == "ema_model" and summary["obs_keys"] == {"obs": "state"}
    assert (summary["obs_dim"], summary["action_dim"], summary["down_dims"]) == (3, 2, [16, 32])
    imported = load_policy(tmp_path / "conv" / "policy.ckpt", device="cpu").model
    obs = {"state": torch.randn(5, 2, 3) * 3}
    noise = torch.randn(5, 16, 2)
    expected = source.predict_action(obs, noise=noise, num_inference_steps=8)
    torch.testing.assert_close(imported.predict_action(obs, noise=noise), expected, atol=1e-5, rtol=1e-5)


def test_additive_conditioning_becomes_film_with_unit_scale():
    """cond_predict_scale: false adds the condition (h + b); the import's scale rows of 0 with bias 1 give 1 * h + b."""
    torch.manual_seed(1)
    block = ConditionalResidualBlock1D(4, 8, cond_dim=6, kernel_size=3)
    linear = torch.nn.Linear(6, 8)
    dp = {f"model.mid_modules.0.{k}": v for k, v in block.state_dict().items() if not k.startswith("cond_encoder")}
    dp.update({"model.mid_modules.0.cond_encoder.1.weight": linear.weight.detach(), "model.mid_modules.0.cond_encoder.1.bias": linear.bias.detach(),
               "model.final_conv.1.weight": torch.zeros(1)})
    converted = unet_state_dict(dp, "test")
    block.load_state_dict({k[len("mid_modules.0."):]: v for k, v in converted.items() if k.startswith("mid_modules.0.")})
    x, cond = torch.randn(3, 4, 10), torch.randn(3, 6)
    with torch.no_grad():
        additive = block.blocks[1](block.blocks[0](x) + linear(F.mish(cond))[..., None]) + block.residual_conv(x)
        torch.testing.assert_close(block(x, cond), additive)


def test_an_imported_policy_runs_in_eval(tmp_path):
    write_dp_checkpoint(tmp_path / "dp.ckpt", source_policy(obs_dim=2, action_dim=1))  # the line env: state (2,), action (1,)
    assert robopref("convert", "format=dp_checkpoint", "source=dp.ckpt", "output=imported.ckpt", "hydra.run.dir=conv", cwd=tmp_path).returncode == 0
    out = robopref("eval", "policy=conv/imported.ckpt", *LINE, "episodes=2", "workers=1", "videos=0", "hydra.run.dir=ev", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(json.loads((tmp_path / "ev" / "eval.json").read_text())["episodes"]) == 2


@pytest.mark.parametrize("override, message", [
    ({"_target_": "diffusion_policy.policy.diffusion_unet_hybrid_image_policy.DiffusionUnetHybridImagePolicy"}, "the hybrid and transformer policies"),
    ({"obs_as_global_cond": False}, "obs_as_global_cond is not true"),
    ({"oa_step_convention": False}, "oa_step_convention is false"),
    ({"pred_action_steps_only": True}, "pred_action_steps_only is true"),
])
def test_policies_robopref_would_run_differently_are_refused(tmp_path, override, message):
    write_dp_checkpoint(tmp_path / "dp.ckpt", source_policy(), **override)
    payload = torch.load(tmp_path / "dp.ckpt", weights_only=False)
    with pytest.raises(ValueError, match=message):
        import_policy(payload, where="source=dp.ckpt")


def test_bad_sources_and_settings_are_named(tmp_path):
    (tmp_path / "notes.ckpt").write_text("not a checkpoint")
    res = robopref("convert", "format=dp_checkpoint", "source=notes.ckpt", "hydra.run.dir=a", cwd=tmp_path)
    assert res.returncode != 0 and "source=notes.ckpt: cannot be read as a torch checkpoint" in res.stderr
    torch.save({"model": {}}, tmp_path / "other.ckpt")
    res = robopref("convert", "format=dp_checkpoint", "source=other.ckpt", "hydra.run.dir=b", cwd=tmp_path)
    assert res.returncode != 0 and "not a diffusion_policy workspace checkpoint (expected keys 'cfg' and 'state_dicts', found ['model'])" in res.stderr
    write_dp_checkpoint(tmp_path / "dp.ckpt", source_policy(obs_dim=3))
    res = robopref("convert", "format=dp_checkpoint", "source=dp.ckpt", "episodes=[0]", "hydra.run.dir=c", cwd=tmp_path)
    assert res.returncode != 0 and "episodes=: dataset settings; format=dp_checkpoint converts a policy checkpoint" in res.stderr
    res = robopref("convert", "format=dp_checkpoint", "source=dp.ckpt", "obs_key=top_image", "hydra.run.dir=e", cwd=tmp_path)
    assert res.returncode != 0 and "obs_key='top_image': a low-dim policy's observation vector needs a low-dim key" in res.stderr
    payload = torch.load(tmp_path / "dp.ckpt", weights_only=False)
    payload["cfg"].n_obs_steps = 3  # the U-Net was built for 2 steps of 3 values
    with pytest.raises(ValueError, match=r"conditioned on 6 values, not n_obs_steps \(3\) x 3 observation features = 9"):
        import_policy(payload, where="x")
    assert robopref("convert", "format=dp_checkpoint", "source=dp.ckpt", "output=p.ckpt", "hydra.run.dir=d", cwd=tmp_path).returncode == 0
    res = robopref("convert", "format=dp_checkpoint", "source=dp.ckpt", "output=p.ckpt", "hydra.run.dir=d", cwd=tmp_path)
    assert res.returncode != 0 and "already exists: pass overwrite=true" in res.stderr


def test_info_recognises_a_diffusion_policy_checkpoint_and_says_how_to_import_it(tmp_path):
    from robopref.info import describe

    write_dp_checkpoint(tmp_path / "lowdim.ckpt", source_policy(obs_dim=3, action_dim=2))
    info = describe(tmp_path / "lowdim.ckpt")
    assert info["kind"] == "diffusion_policy checkpoint" and (info["obs dim"], info["action dim"], info["horizon"]) == (3, 2, 16)
    assert info["import"].startswith(f"robopref convert format=dp_checkpoint source={tmp_path / 'lowdim.ckpt'}")
    write_dp_image_checkpoint(tmp_path / "image.ckpt", source_image_policy())
    info = describe(tmp_path / "image.ckpt")
    assert info["observations"] == {"image": "rgb [3, 32, 32]", "wrist": "rgb [3, 32, 32]", "agent_pos": "low_dim [2]"}
    assert info["import"].endswith("'obs_map={<its key>: <the env's key>, ...}'")
    write_dp_checkpoint(tmp_path / "hybrid.ckpt", source_policy(), _target_="diffusion_policy.policy.diffusion_unet_hybrid_image_policy.DiffusionUnetHybridImagePolicy")
    assert describe(tmp_path / "hybrid.ckpt")["import"].startswith("not importable: cfg.policy._target_ is 'diffusion_policy.policy.diffusion_unet_hybrid_image_policy")


IMAGE_TARGET = "diffusion_policy.policy.diffusion_unet_image_policy.DiffusionUnetImagePolicy"


def source_image_policy() -> DiffusionPolicy:
    """A robopref image policy set up as diffusion_policy's image U-Net policy: ResNet-18 without a head,
    frames in [-1, 1] then ImageNet-normalised, a 24 x 24 centre crop of 32 x 32 frames."""
    torch.manual_seed(3)
    cfg = DiffusionPolicyConfig(name="diffusion_image", low_dim_keys=["state"], image_keys=["arm_image", "top_image"], down_dims=[16, 32],
                                diffusion_step_embed_dim=16, horizon=16, image_feature_dim=0, image_range="signed", imagenet_norm=True, crop_ratio=0.75)
    model = DiffusionPolicy(cfg, PolicyShapes(action_dim=2, low_dim={"state": 2}, images={"arm_image": (32, 32, 3), "top_image": (32, 32, 3)}))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        model.normalizer.maps["state"].fit(torch.randn(100, 2) * 3)
        model.normalizer.maps["action"].fit(torch.rand(100, 2) * 2 - 1)
    return model.eval()


def write_dp_image_checkpoint(path, model: DiffusionPolicy, **encoder_overrides) -> None:
    """``model`` in DiffusionUnetImagePolicy's layout: cameras image (= top_image) and wrist (= arm_image), low-dim agent_pos (= state)."""
    state = dp_state_dict_unet(model)
    # robopref's per-step features are [state (2), arm_image (512), top_image (512)]; diffusion_policy's are
    # [image (top, 512), wrist (arm, 512), agent_pos (state, 2)]: its column j is robopref's column dp_cols[j]
    dp_cols = torch.cat([torch.arange(514, 1026), torch.arange(2, 514), torch.arange(0, 2)])
    dsed, per_step = 16, 1026
    cols = torch.cat([torch.arange(dsed)] + [dsed + t * per_step + dp_cols for t in range(2)])
    state = {k: (v[:, cols] if k.endswith("cond_encoder.1.weight") else v) for k, v in state.items()}
    for dp_key, cam in (("image", "top_image"), ("wrist", "arm_image")):
        state.update({f"obs_encoder.key_model_map.{dp_key}.{k}": v.clone() for k, v in model.obs_encoder.encoders[cam].backbone.state_dict().items()})
        state.update({f"normalizer.params_dict.{dp_key}.scale": torch.tensor([2.0]), f"normalizer.params_dict.{dp_key}.offset": torch.tensor([-1.0]),
                      f"normalizer.params_dict.{dp_key}.input_stats.min": torch.tensor([0.0]), f"normalizer.params_dict.{dp_key}.input_stats.max": torch.tensor([1.0])})
    for dp_key, ours in (("agent_pos", "state"), ("action", "action")):
        m = model.normalizer.maps[ours]
        state.update({f"normalizer.params_dict.{dp_key}.scale": m.scale.clone(), f"normalizer.params_dict.{dp_key}.offset": m.offset.clone(),
                      f"normalizer.params_dict.{dp_key}.input_stats.min": m.low.clone(), f"normalizer.params_dict.{dp_key}.input_stats.max": m.high.clone()})
    shape_meta = {"obs": {"image": {"shape": [3, 32, 32], "type": "rgb"}, "wrist": {"shape": [3, 32, 32], "type": "rgb"},
                          "agent_pos": {"shape": [2], "type": "low_dim"}}, "action": {"shape": [2]}}
    encoder = {"rgb_model": {"_target_": "diffusion_policy.model.vision.model_getter.get_resnet", "name": "resnet18", "weights": None},
               "resize_shape": None, "crop_shape": [24, 24], "random_crop": True, "use_group_norm": True, "share_rgb_model": False,
               "imagenet_norm": True, **encoder_overrides}
    cfg = {**dp_config(_target_=IMAGE_TARGET, obs_encoder=encoder, shape_meta="${shape_meta}", n_groups=8), "shape_meta": shape_meta}
    torch.save({"cfg": OmegaConf.create(cfg), "state_dicts": {"model": state, "ema_model": state}, "pickles": {}}, path)


def dp_state_dict_unet(model: DiffusionPolicy) -> dict[str, torch.Tensor]:
    return {k: v for k, v in dp_state_dict(model).items() if k.startswith("model.")}


def test_an_imported_image_policy_samples_what_the_original_network_samples(tmp_path):
    source = source_image_policy()
    write_dp_image_checkpoint(tmp_path / "image.ckpt", source)
    res = robopref("convert", "format=dp_checkpoint", "source=image.ckpt", "num_inference_steps=8",
                   "obs_map={image: top_image, wrist: arm_image, agent_pos: state}", "hydra.run.dir=conv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((tmp_path / "conv" / "summary.json").read_text())
    assert summary["policy"] == str(tmp_path / "conv" / "policy.ckpt") and summary["image_range"] == "signed" and summary["crop_ratio"] == 0.75
    imported = load_policy(tmp_path / "conv" / "policy.ckpt", device="cpu").model
    obs = {"state": torch.randn(3, 2, 2), "arm_image": torch.randint(0, 256, (3, 2, 32, 32, 3), dtype=torch.uint8),
           "top_image": torch.randint(0, 256, (3, 2, 32, 32, 3), dtype=torch.uint8)}
    noise = torch.randn(3, 16, 2)
    expected = source.predict_action(obs, noise=noise, num_inference_steps=8)
    torch.testing.assert_close(imported.predict_action(obs, noise=noise), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("override, message", [
    ({"rgb_model": {"name": "r3m"}}, "rgb_model.name='r3m': robopref imports the resnet18 backbone only"),
    ({"resize_shape": [24, 24]}, r"resize_shape=\[24, 24\]: resizing inside the policy is not supported"),
    ({"crop_shape": [21, 21]}, r"crop_shape=\[21, 21\] of camera 'image' \(32 x 32\): robopref's crop_ratio would crop another size or centre"),
])
def test_image_policies_robopref_would_run_differently_are_refused(tmp_path, override, message):
    write_dp_image_checkpoint(tmp_path / "image.ckpt", source_image_policy(), **override)
    with pytest.raises(ValueError, match=message):
        import_policy(torch.load(tmp_path / "image.ckpt", weights_only=False), where="x")
