"""Write a robopref policy as a LeRobot diffusion policy folder (for the import tests; LeRobot is not installed).

The layout is LeRobot 0.4's (``config.json``, ``model.safetensors``, the processor pipelines
and their normaliser statistics) or, with ``legacy=True``, LeRobot < 0.4's (statistics in the
weights as ``normalize_inputs.buffer_*``). The source policy must be set up as LeRobot's is:
ResNet-18 cameras pooled by a spatial softmax with a linear + ReLU head, per-camera
``image_stats`` and min-max state and action normalisers.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.utils.safetensors import write_safetensors

STATE_STATS = {"min": torch.tensor([-2.0, -1.0]), "max": torch.tensor([2.0, 3.0])}
ACTION_STATS = {"min": torch.tensor([-1.0, -0.5]), "max": torch.tensor([1.0, 1.5])}
CAMERA_STATS = {"top": ([0.4, 0.5, 0.3], [0.2, 0.25, 0.15]), "arm": ([0.5, 0.45, 0.4], [0.3, 0.2, 0.22])}
LEROBOT_CAMERAS = ("top", "arm")  # LeRobot's order; robopref sorts them (arm_image, top_image)


def source_policy(image_size: int = 64, keypoints: int = 4, seed: int = 0) -> DiffusionPolicy:
    """A robopref policy built as LeRobot's diffusion policy, every weight perturbed, min-max normalisers from the stats above."""
    torch.manual_seed(seed)
    stats = {f"{c}_image": {"mean": m, "std": s} for c, (m, s) in CAMERA_STATS.items()}
    cfg = DiffusionPolicyConfig(name="diffusion_image", low_dim_keys=["state"], image_keys=["arm_image", "top_image"], down_dims=[16, 32],
                                diffusion_step_embed_dim=16, horizon=16, image_encoder="resnet18", image_feature_dim=2 * keypoints,
                                image_pool="spatial_softmax", image_keypoints=keypoints, image_stats=stats, crop_ratio=0.875)
    images = {"arm_image": (image_size, image_size, 3), "top_image": (image_size, image_size, 3)}
    model = DiffusionPolicy(cfg, PolicyShapes(action_dim=2, low_dim={"state": 2}, images=images))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for key, st in (("state", STATE_STATS), ("action", ACTION_STATS)):
            m = model.normalizer.maps[key]
            m.scale.copy_(2.0 / (st["max"] - st["min"]))
            m.offset.copy_(-1.0 - st["min"] * m.scale)
            m.low.copy_(st["min"])
            m.high.copy_(st["max"])
    return model.eval()


def lerobot_weights(model: DiffusionPolicy, separate: bool) -> dict[str, torch.Tensor]:
    """``model``'s weights under LeRobot's ``DiffusionModel`` names (cameras in :data:`LEROBOT_CAMERAS` order)."""
    out = {}
    for key, value in model.unet.state_dict().items():
        out["diffusion.unet." + key.replace(".blocks.0.block.", ".conv1.block.").replace(".blocks.1.block.", ".conv2.block.")] = value.clone()
    # robopref's per-step features: state (2), arm (2K), top (2K); LeRobot's: state, top, arm
    k2 = model.cfg.image_feature_dim
    ours = {"state": (0, 2), "arm": (2, k2), "top": (2 + k2, k2)}
    lr_cols = torch.cat([torch.arange(s, s + n) for s, n in (ours["state"], ours["top"], ours["arm"])])
    dsed, per_step = model.cfg.diffusion_step_embed_dim, 2 + 2 * k2
    cols = torch.cat([torch.arange(dsed)] + [dsed + t * per_step + lr_cols for t in range(model.cfg.n_obs_steps)])
    out = {k: (v[:, cols] if k.endswith("cond_encoder.1.weight") else v) for k, v in out.items()}
    names = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    for i, cam in enumerate(LEROBOT_CAMERAS if separate else LEROBOT_CAMERAS[:1]):
        prefix = f"diffusion.rgb_encoder.{i}." if separate else "diffusion.rgb_encoder."
        enc = model.obs_encoder.encoders[f"{cam}_image"]
        for key, value in enc.backbone.state_dict().items():
            head, _, rest = key.partition(".")
            out[f"{prefix}backbone.{names[head]}.{rest}"] = value.clone()
        out[prefix + "pool.nets.weight"], out[prefix + "pool.nets.bias"] = enc.keypoints[0].weight.clone(), enc.keypoints[0].bias.clone()
        w = enc.head[0].weight
        k = w.shape[1] // 2
        out[prefix + "out.weight"] = torch.stack([w[:, :k], w[:, k:]], dim=2).reshape(w.shape[0], 2 * k)  # x0, y0, x1, y1, ...
        out[prefix + "out.bias"] = enc.head[0].bias.clone()
        out[prefix + "pool.pos_grid"] = torch.zeros(4, 2)  # recomputed by robopref, never read
    return out


def lerobot_stats() -> dict[str, dict[str, torch.Tensor]]:
    """Dataset statistics by LeRobot feature (cameras (3, 1, 1), as LeRobot stores them)."""
    stats = {"observation.state": dict(STATE_STATS), "action": dict(ACTION_STATS)}
    for cam, (mean, std) in CAMERA_STATS.items():
        stats[f"observation.images.{cam}"] = {"mean": torch.tensor(mean).view(3, 1, 1), "std": torch.tensor(std).view(3, 1, 1),
                                              "min": torch.zeros(3, 1, 1), "max": torch.ones(3, 1, 1)}
    return stats


def lerobot_config(image_size: int, keypoints: int, separate: bool, **overrides) -> dict:
    """LeRobot's ``DiffusionConfig`` as ``save_pretrained`` writes it (the keys the import reads, and some it ignores)."""
    features = {"observation.state": {"type": "STATE", "shape": [2]}}
    features.update({f"observation.images.{c}": {"type": "VISUAL", "shape": [3, image_size, image_size]} for c in LEROBOT_CAMERAS})
    crop = int(round(image_size * 0.875))
    return {"type": "diffusion", "n_obs_steps": 2, "input_features": features, "output_features": {"action": {"type": "ACTION", "shape": [2]}},
            "device": "cpu", "horizon": 16, "n_action_steps": 8,
            "normalization_mapping": {"VISUAL": "MEAN_STD", "STATE": "MIN_MAX", "ACTION": "MIN_MAX"}, "drop_n_last_frames": 7,
            "vision_backbone": "resnet18", "resize_shape": None, "crop_ratio": 1.0, "crop_shape": [crop, crop], "crop_is_random": True,
            "pretrained_backbone_weights": None, "use_group_norm": True, "spatial_softmax_num_keypoints": keypoints,
            "use_separate_rgb_encoder_per_camera": separate, "down_dims": [16, 32], "kernel_size": 5, "n_groups": 8,
            "diffusion_step_embed_dim": 16, "use_film_scale_modulation": True, "noise_scheduler_type": "DDPM", "num_train_timesteps": 100,
            "beta_schedule": "squaredcos_cap_v2", "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "epsilon", "clip_sample": True,
            "clip_sample_range": 1.0, "num_inference_steps": None, **overrides}


def write_lerobot_policy(folder: Path, model: DiffusionPolicy, separate: bool = True, legacy: bool = False, **config_overrides) -> Path:
    """``model`` as a LeRobot diffusion policy folder; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    image_size = model.shapes.images["top_image"][0]
    config = lerobot_config(image_size, model.cfg.image_keypoints, separate, **config_overrides)
    (folder / "config.json").write_text(json.dumps(config, indent=4))
    weights = lerobot_weights(model, separate)
    stats = lerobot_stats()
    flat = {f"{feature}.{name}": t for feature, st in stats.items() for name, t in st.items()}
    if legacy:
        for feature, st in stats.items():
            module = "unnormalize_outputs" if feature == "action" else "normalize_inputs"
            weights.update({f"{module}.buffer_{feature.replace('.', '_')}.{name}": t for name, t in st.items()})
    else:
        norm = {"registry_name": "normalizer_processor", "state_file": "policy_preprocessor_step_3_normalizer_processor.safetensors",
                "config": {"eps": 1e-8, "features": {**config["input_features"], **config["output_features"]}, "norm_map": config["normalization_mapping"]}}
        pre = {"name": "policy_preprocessor", "steps": [{"registry_name": "rename_observations_processor", "config": {"rename_map": {}}},
                                                         {"registry_name": "to_batch_processor", "config": {}}, norm]}
        (folder / "policy_preprocessor.json").write_text(json.dumps(pre, indent=2))
        write_safetensors(folder / norm["state_file"], flat)
        post = {"name": "policy_postprocessor", "steps": [{"registry_name": "unnormalizer_processor",
                                                           "state_file": "policy_postprocessor_step_0_unnormalizer_processor.safetensors",
                                                           "config": {"eps": 1e-8, "features": config["output_features"], "norm_map": config["normalization_mapping"]}}]}
        (folder / "policy_postprocessor.json").write_text(json.dumps(post, indent=2))
        write_safetensors(folder / post["steps"][0]["state_file"], {k: v for k, v in flat.items() if k.startswith("action.")})
    write_safetensors(folder / "model.safetensors", weights, metadata={"format": "pt"})
    return folder
