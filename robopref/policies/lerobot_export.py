"""Write a robopref diffusion policy as a LeRobot diffusion policy folder (LeRobot 0.4's layout).

The other direction of :mod:`robopref.policies.lerobot_import`: a LeRobot policy brought into
robopref, aligned there with a person's preferences (best-of-N needs no new weights; DPO and
filtered fine-tuning do) goes back to LeRobot, whose ``DiffusionPolicy.from_pretrained`` and
``make_pre_post_processors(pretrained_path=...)`` load it, e.g. to run it on the arm with
``lerobot-record --policy.path=<folder>``. The folder holds ``config.json``,
``model.safetensors`` and the processor pipelines with their normaliser statistics.

Only a policy LeRobot's network can hold exports: ResNet-18 cameras pooled by a spatial
softmax with a linear + ReLU head of ``2 * image_keypoints`` features (what the import
produces; a robopref policy trained with those settings works too), one low-dim key (the
state) or two (state and environment state), no object sorting and no state-estimating
cameras. Every normaliser is affine, so it is written exactly: states and actions as
MIN_MAX with the min and max that reproduce robopref's map, cameras as MEAN_STD with each
channel's ``image_range``, ``imagenet_norm`` and ``image_stats`` folded into one mean and std.
The config asks LeRobot to sample as robopref does (DDIM, ``num_inference_steps``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robopref.data.lerobot_export import feature_name, publish_folder
from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.dp_image_import import centred_alike
from robopref.policies.lerobot_import import LEROBOT_EPS, RESNET_CHILDREN
from robopref.policies.obs_encoder import IMAGENET_MEAN, IMAGENET_STD, crop_size
from robopref.utils.safetensors import write_safetensors

OBS_STATE, OBS_ENV = "observation.state", "observation.environment_state"  # the names LeRobot's model reads
PRE_NORMALIZER = "policy_preprocessor_step_3_normalizer_processor.safetensors"
POST_UNNORMALIZER = "policy_postprocessor_step_0_unnormalizer_processor.safetensors"


def feature_names(cfg: DiffusionPolicyConfig, shapes: PolicyShapes) -> dict[str, str]:
    """{robopref key: LeRobot feature} of a policy with this config and these shapes, refusing one LeRobot's
    network cannot hold (the error names the setting). Needs no network: ``robopref info`` asks it too."""
    cameras, low = sorted(shapes.images), sorted(shapes.low_dim)  # the ObsEncoder's keys
    problems = []
    if cfg.image_state_key is not None:
        problems.append(f"image_state_key={cfg.image_state_key!r} (cameras that estimate the state)")
    if cfg.sort_objects_key is not None:
        problems.append(f"sort_objects_key={cfg.sort_objects_key!r} (LeRobot does not sort objects)")
    if cameras and (cfg.image_encoder != "resnet18" or cfg.image_pool != "spatial_softmax" or cfg.image_feature_dim != 2 * cfg.image_keypoints):
        problems.append(f"image_encoder={cfg.image_encoder!r}, image_pool={cfg.image_pool!r}, image_feature_dim={cfg.image_feature_dim}: LeRobot's "
                        "cameras are resnet18 with image_pool=spatial_softmax and image_feature_dim = 2 * image_keypoints")
    if cfg.n_groups != 8:
        problems.append(f"n_groups={cfg.n_groups} (LeRobot's last block always uses 8)")
    if not 1 <= len(low) <= 2 or (len(low) == 1 and not cameras):
        problems.append(f"low-dim keys {low}: LeRobot's diffusion policy takes a state, and cameras, an environment state or both "
                        "(one or two low-dim keys; one needs a camera)")
    sizes = {tuple(shapes.images[k]) for k in cameras}
    if len(sizes) > 1:
        problems.append(f"cameras of different sizes {sorted(sizes)} (LeRobot's share one)")
    for k in cameras:
        h, w, _ = shapes.images[k]
        ch, cw = crop_size(h, w, cfg.crop_ratio)
        if not centred_alike((h, w), (ch, cw)):
            problems.append(f"crop_ratio={cfg.crop_ratio}: a {ch} x {cw} crop of {h} x {w} frames is centred differently by LeRobot")
            break
    if problems:
        raise ValueError("this policy cannot be written as a LeRobot diffusion policy: " + "; ".join(problems))
    state = "state" if "state" in low else low[0]
    names = {state: OBS_STATE}
    names.update({k: OBS_ENV for k in low if k != state})
    names.update({k: feature_name(k) for k in cameras})
    return names


def camera_stats(model: DiffusionPolicy, camera: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (mean, std) such that ``(x - mean) / std`` is what the camera's encoder sees for frames ``x`` in [0, 1]."""
    enc = model.obs_encoder
    channels = model.shapes.images[camera][2]
    scale, shift = torch.ones(channels, dtype=torch.float64), torch.zeros(channels, dtype=torch.float64)  # y = x * scale + shift
    if enc.signed:
        scale, shift = scale * 2.0, shift * 2.0 - 1.0
    if enc.imagenet_norm:
        m, s = IMAGENET_MEAN.flatten().double(), IMAGENET_STD.flatten().double()
        scale, shift = scale / s, (shift - m) / s
    if camera in enc.channel_stats:
        m, s = (t.flatten().double() for t in enc.channel_stats[camera])
        scale, shift = scale / s, (shift - m) / s
    std = 1.0 / scale
    return (-shift * std).numpy(), (std - LEROBOT_EPS).numpy()  # LeRobot divides by std + eps


def min_max(model: DiffusionPolicy, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The (min, max) whose LeRobot MIN_MAX map ``2 (x - min) / (max - min) - 1`` is robopref's ``x * scale + offset``."""
    m = model.normalizer.maps[key]
    scale, offset = m.scale.double(), m.offset.double()
    return ((-1.0 - offset) / scale).numpy(), ((1.0 - offset) / scale).numpy()


def lerobot_config(model: DiffusionPolicy, names: dict[str, str]) -> dict[str, Any]:
    """LeRobot's ``DiffusionConfig`` for ``model`` (as ``save_pretrained`` writes it)."""
    cfg, shapes = model.cfg, model.shapes
    inputs: dict[str, Any] = {}
    for key, feature in sorted(names.items(), key=lambda kv: (kv[1] != OBS_STATE, kv[1] == OBS_ENV, kv[0])):
        if key in shapes.images:
            h, w, c = shapes.images[key]
            inputs[feature] = {"type": "VISUAL", "shape": [c, h, w]}
        else:
            inputs[feature] = {"type": "STATE" if feature == OBS_STATE else "ENV", "shape": [shapes.low_dim[key]]}
    crop = None
    if model.obs_encoder.image_keys:
        c = model.obs_encoder.crops[model.obs_encoder.image_keys[0]]
        crop = [c.height, c.width]
    return {
        "type": "diffusion", "n_obs_steps": cfg.n_obs_steps, "input_features": inputs,
        "output_features": {"action": {"type": "ACTION", "shape": [shapes.action_dim]}}, "device": "cpu", "use_amp": False,
        "horizon": cfg.horizon, "n_action_steps": cfg.n_action_steps,
        "normalization_mapping": {"VISUAL": "MEAN_STD", "STATE": "MIN_MAX", "ENV": "MIN_MAX", "ACTION": "MIN_MAX"},
        "drop_n_last_frames": cfg.horizon - cfg.n_action_steps - cfg.n_obs_steps + 1, "vision_backbone": "resnet18", "resize_shape": None,
        "crop_ratio": 1.0, "crop_shape": crop, "crop_is_random": True, "pretrained_backbone_weights": None,
        "use_group_norm": cfg.image_norm == "group", "spatial_softmax_num_keypoints": cfg.image_keypoints,
        "use_separate_rgb_encoder_per_camera": len(model.obs_encoder.image_keys) > 1, "down_dims": list(cfg.down_dims),
        "kernel_size": cfg.kernel_size, "n_groups": cfg.n_groups, "diffusion_step_embed_dim": cfg.diffusion_step_embed_dim,
        "use_film_scale_modulation": True, "noise_scheduler_type": "DDIM", "num_train_timesteps": cfg.num_train_timesteps,
        "beta_schedule": cfg.beta_schedule, "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": cfg.prediction_type,
        "clip_sample": cfg.clip_sample, "clip_sample_range": 1.0, "num_inference_steps": cfg.num_inference_steps,
    }


def lerobot_weights(model: DiffusionPolicy, config: dict[str, Any], names: dict[str, str]) -> dict[str, torch.Tensor]:
    """``model``'s weights under LeRobot's ``DiffusionPolicy`` names."""
    from robopref.policies.dp_image_import import column_order, permute_conditioning

    enc, cfg = model.obs_encoder, model.cfg
    lerobot_order = list(config["input_features"])  # state, cameras, environment state
    by_feature = {f: k for k, f in names.items()}
    ours = [(k, model.shapes.low_dim[k]) for k in enc.low_dim_keys] + [(k, cfg.image_feature_dim) for k in enc.image_keys]
    order = column_order(ours, [by_feature[f] for f in lerobot_order])  # LeRobot's feature j is robopref's order[j]
    out = {}
    for key, value in permute_conditioning(dict(model.unet.state_dict()), order, cfg.n_obs_steps).items():
        name = "diffusion.unet." + key.replace(".blocks.0.block.", ".conv1.block.").replace(".blocks.1.block.", ".conv2.block.")
        out[name] = value.clone()
    children = {v: k for k, v in RESNET_CHILDREN.items()}
    cameras = [by_feature[f] for f in lerobot_order if by_feature[f] in enc.image_keys]
    for i, camera in enumerate(cameras):
        prefix = f"diffusion.rgb_encoder.{i}." if config["use_separate_rgb_encoder_per_camera"] else "diffusion.rgb_encoder."
        encoder = enc.encoders[camera]
        for key, value in encoder.backbone.state_dict().items():
            head, _, rest = key.partition(".")
            out[f"{prefix}backbone.{children[head]}.{rest}"] = value.clone()
        out[prefix + "pool.nets.weight"], out[prefix + "pool.nets.bias"] = encoder.keypoints[0].weight.clone(), encoder.keypoints[0].bias.clone()
        w = encoder.head[0].weight
        k = w.shape[1] // 2
        out[prefix + "out.weight"] = torch.stack([w[:, :k], w[:, k:]], dim=2).reshape(w.shape[0], 2 * k)  # x0, y0, x1, y1, ...
        out[prefix + "out.bias"] = encoder.head[0].bias.clone()
        out[prefix + "pool.pos_grid"] = position_grid(model, camera)
    return {k: v.detach().float().contiguous() if v.is_floating_point() else v.detach().contiguous() for k, v in out.items()}


def position_grid(model: DiffusionPolicy, camera: str) -> torch.Tensor:
    """LeRobot's spatial-softmax coordinate buffer for ``camera``'s last feature map (its shape after the crop)."""
    crop = model.obs_encoder.crops[camera]
    with torch.no_grad():
        _, _, h, w = model.obs_encoder.encoders[camera].backbone.features(torch.zeros(1, 3, crop.height, crop.width)).shape
    xs, ys = np.meshgrid(np.linspace(-1.0, 1.0, w), np.linspace(-1.0, 1.0, h))
    return torch.from_numpy(np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1)).float()


def statistics(model: DiffusionPolicy, names: dict[str, str]) -> dict[str, torch.Tensor]:
    """The normaliser statistics, flat as LeRobot's processors save them (``<feature>.<stat>``)."""
    out: dict[str, torch.Tensor] = {}
    for key, feature in list(names.items()) + [("action", "action")]:
        if key in model.shapes.images:
            mean, std = camera_stats(model, key)
            out[f"{feature}.mean"] = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
            out[f"{feature}.std"] = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
        else:
            low, high = min_max(model, key)
            out[f"{feature}.min"], out[f"{feature}.max"] = torch.tensor(low, dtype=torch.float32), torch.tensor(high, dtype=torch.float32)
    return out


def processor_files(config: dict[str, Any], stats: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The pre/post-processor pipelines (JSON) as ``make_diffusion_pre_post_processors`` saves them."""
    norm = {"eps": LEROBOT_EPS, "features": {**config["input_features"], **config["output_features"]}, "norm_map": config["normalization_mapping"]}
    pre = {"name": "policy_preprocessor", "steps": [
        {"registry_name": "rename_observations_processor", "config": {"rename_map": {}}},
        {"registry_name": "to_batch_processor", "config": {}},
        {"registry_name": "device_processor", "config": {"device": "cpu", "float_dtype": None}},
        {"registry_name": "normalizer_processor", "config": norm, "state_file": PRE_NORMALIZER}]}
    post = {"name": "policy_postprocessor", "steps": [
        {"registry_name": "unnormalizer_processor", "config": {**norm, "features": config["output_features"]}, "state_file": POST_UNNORMALIZER},
        {"registry_name": "device_processor", "config": {"device": "cpu", "float_dtype": None}}]}
    return {"policy_preprocessor.json": pre, "policy_postprocessor.json": post}


def export_lerobot_policy(model: DiffusionPolicy, out_dir: str | os.PathLike, overwrite: bool = False) -> dict[str, Any]:
    """Write ``model`` as a LeRobot policy folder at ``out_dir`` (complete or not at all); returns a summary."""
    names = feature_names(model.cfg, model.shapes)
    out = Path(out_dir).expanduser()
    if out.exists() and not overwrite:
        raise FileExistsError(f"output={out} already exists: pass overwrite=true to replace it, or another output= path")
    config = lerobot_config(model, names)
    weights = lerobot_weights(model, config, names)
    stats = statistics(model, names)
    work = out.with_name(out.name + ".partial")
    if work.exists():
        shutil.rmtree(work)  # leftover of a killed earlier export
    work.mkdir(parents=True)
    (work / "config.json").write_text(json.dumps(config, indent=4))
    write_safetensors(work / "model.safetensors", weights, metadata={"format": "pt"})
    for name, pipeline in processor_files(config, stats).items():
        (work / name).write_text(json.dumps(pipeline, indent=2))
    write_safetensors(work / PRE_NORMALIZER, stats)
    write_safetensors(work / POST_UNNORMALIZER, {k: v for k, v in stats.items() if k.startswith("action.")})
    publish_folder(work, out)
    return {"output": str(out), "features": names, "action_dim": model.shapes.action_dim, "num_inference_steps": model.cfg.num_inference_steps}
