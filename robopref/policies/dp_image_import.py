"""Import diffusion_policy's image U-Net policy (``DiffusionUnetImagePolicy``) into robopref.

Its ``MultiImageObsEncoder`` runs one torchvision ResNet-18 per camera (``fc`` removed, so
512 pooled features; BatchNorm replaced by GroupNorm of 16 channels a group when
``use_group_norm``), after a centre crop at evaluation and, optionally, ImageNet
normalisation; the frames reach it in [-1, 1] from the policy's image normaliser. Per step it
concatenates the cameras' features (keys sorted) and then the low-dim keys (sorted).
robopref's ``ObsEncoder`` has the same parts (``image_feature_dim=0``: no head;
``image_range=signed``; ``imagenet_norm``; ``crop_ratio``), with its ResNet-18 under
torchvision's parameter names, but puts low-dim keys first. So the encoders' weights copy
over by name, and the U-Net's conditioning columns are permuted into robopref's order.

Refused, with the key named: a ``resize_shape``, another backbone than ``resnet18``, crops
whose centre robopref would place differently, and an image normaliser other than [0, 1]
or [-1, 1].
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch

from robopref.data.layout import is_image_key
from robopref.policies.config import PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.dp_import import (
    PolicySettings,
    config_value,
    check_conditioning,
    network_config,
    normalizer_maps,
    policy_weights,
    unet_state_dict,
)
from robopref.policies.vision import RESNET18_FEATURE_DIM


def shape_meta(cfg: Any) -> Any:
    """The run's ``shape_meta`` (the policy's own, else the top-level one), or None."""
    from omegaconf import OmegaConf

    return (OmegaConf.select(cfg, "policy.shape_meta", default=None, throw_on_resolution_failure=False)
            or OmegaConf.select(cfg, "shape_meta", default=None, throw_on_resolution_failure=False))


def observation_keys(cfg: Any, obs_map: Mapping[str, str], where: str) -> tuple[dict[str, tuple[int, ...]], dict[str, int], dict[str, str]]:
    """(cameras {dp key: (C, H, W)}, low-dim {dp key: size}, names {dp key: robopref key}) from ``shape_meta``."""
    from omegaconf import OmegaConf

    meta = shape_meta(cfg) or config_value(cfg, "shape_meta", where)  # the latter raises, naming the key
    obs = OmegaConf.to_container(meta, resolve=True)["obs"]
    cams = {k: tuple(v["shape"]) for k, v in obs.items() if v.get("type", "low_dim") == "rgb"}
    low = {k: int(np.prod(v["shape"])) for k, v in obs.items() if v.get("type", "low_dim") == "low_dim"}
    unknown = sorted(set(obs_map) - set(obs))
    if unknown:
        raise ValueError(f"obs_map: {unknown} are not observation keys of the checkpoint (it has {sorted(obs)})")
    names = {k: str(obs_map.get(k) or (k if k.endswith("_image") else f"{k}_image")) for k in cams}
    names.update({k: str(obs_map.get(k) or k) for k in low})
    bad = [f"{k} -> {names[k]}" for k in cams if not is_image_key(names[k])] + [f"{k} -> {names[k]}" for k in low if is_image_key(names[k])]
    if bad or len(set(names.values())) < len(names):
        raise ValueError(f"obs_map: {names}: camera keys must map to names ending in _image and low-dim keys to others, all distinct"
                         + (f" (wrong: {bad})" if bad else ""))
    if any(len(s) != 3 or s[0] != 3 for s in cams.values()):
        raise ValueError(f"{where}: cfg.shape_meta camera shapes {cams}: expected (3, H, W) RGB frames")
    return cams, low, names


def encoder_settings(cfg: Any, cams: Mapping[str, tuple[int, ...]], where: str) -> dict[str, Any]:
    """robopref's camera settings (image_norm, imagenet_norm, crop_ratio) for the run's ``obs_encoder``."""
    from omegaconf import OmegaConf

    enc = lambda key, default=None: OmegaConf.select(cfg, f"policy.obs_encoder.{key}", default=default)  # noqa: E731
    if enc("rgb_model.name") != "resnet18":
        raise ValueError(f"{where}: cfg.policy.obs_encoder.rgb_model.name={enc('rgb_model.name')!r}: robopref imports the resnet18 backbone only")
    if enc("resize_shape") is not None:
        raise ValueError(f"{where}: cfg.policy.obs_encoder.resize_shape={enc('resize_shape')}: resizing inside the policy is not supported")
    crop = enc("crop_shape")
    ratio = crop_ratio({k: (h, w) for k, (_, h, w) in cams.items()}, crop, f"{where}: cfg.policy.obs_encoder.crop_shape")
    return {"image_norm": "group" if enc("use_group_norm", False) else "batch", "imagenet_norm": bool(enc("imagenet_norm", False)),
            "crop_ratio": ratio, "share": bool(enc("share_rgb_model", False))}


def centred_alike(frame: Sequence[int], crop: Sequence[int]) -> bool:
    """Whether torchvision's ``CenterCrop`` (offset ``round((n - c) / 2)``, Python's rounding) and robopref's
    evaluation crop (offset ``(n - c) // 2``) cut a ``crop`` (H, W) from a ``frame`` (H, W) at the same place."""
    return all(int(round((n - c) / 2.0)) == (n - c) // 2 for n, c in zip(frame, crop))


def crop_ratio(cams: Mapping[str, tuple[int, int]], crop: Sequence[int] | None, what: str) -> float:
    """robopref's ``crop_ratio`` for a centre crop of ``crop`` (H, W) from every camera {key: (H, W)}
    (torchvision's ``CenterCrop``: offsets ``round((n - c) / 2)``), or an error naming ``what`` when
    one ratio cannot reproduce it for every camera."""
    if crop is None or not cams:
        return 1.0
    ch, cw = (int(x) for x in crop)
    ratio = ch / next(iter(cams.values()))[0]  # robopref has one crop_ratio for every camera
    for key, (h, w) in cams.items():
        same_size = (int(round(h * ratio)), int(round(w * ratio))) == (ch, cw)
        same_centre = centred_alike((h, w), (ch, cw))
        if not (same_size and same_centre):
            raise ValueError(f"{what}={[ch, cw]} of camera {key!r} ({h} x {w}): robopref's crop_ratio would crop another size or centre")
    return ratio


def image_range(dp: Mapping[str, torch.Tensor], cams: Mapping[str, Any], where: str) -> str:
    """``signed`` when the policy's image normaliser maps [0, 1] to [-1, 1] (diffusion_policy's default), ``unit`` when it is the identity."""
    ranges = set()
    for key in cams:
        scale, offset = (dp.get(f"normalizer.params_dict.{key}.{p}") for p in ("scale", "offset"))
        if scale is None or offset is None:
            raise ValueError(f"{where}: the normaliser has no entry for camera {key!r}")
        if torch.allclose(scale, torch.full_like(scale, 2.0)) and torch.allclose(offset, torch.full_like(offset, -1.0)):
            ranges.add("signed")
        elif torch.allclose(scale, torch.ones_like(scale)) and torch.allclose(offset, torch.zeros_like(offset)):
            ranges.add("unit")
        else:
            raise ValueError(f"{where}: camera {key!r} is normalised by x * {scale.flatten().tolist()} + {offset.flatten().tolist()}; "
                             "robopref takes frames in [0, 1] or [-1, 1] only")
    if len(ranges) > 1:
        raise ValueError(f"{where}: the cameras are normalised to different ranges")
    return ranges.pop() if ranges else "unit"


def column_order(spans: Sequence[tuple[str, int]], order: Sequence[str]) -> torch.Tensor:
    """Indices that reorder features laid out as ``spans`` (name, size), in that order, into the
    names' order ``order``: new feature j is old feature ``result[j]``."""
    starts, start = {}, 0
    for name, size in spans:
        starts[name] = (start, size)
        start += size
    return torch.cat([torch.arange(starts[n][0], sum(starts[n])) for n in order])


def robopref_order(low: Sequence[str], cams: Sequence[str]) -> list[str]:
    """robopref's per-step feature order (``ObsEncoder``): low-dim keys, then cameras, each sorted."""
    return sorted(low) + sorted(cams)


def conditioning_order(cams: Mapping[str, Any], low: Mapping[str, int], names: Mapping[str, str]) -> torch.Tensor:
    """Per-step feature indices: robopref's feature j is diffusion_policy's feature ``order[j]``
    (diffusion_policy: cameras then low-dim keys, each sorted by its names)."""
    spans = [(names[k], RESNET18_FEATURE_DIM) for k in sorted(cams)] + [(names[k], low[k]) for k in sorted(low)]
    return column_order(spans, robopref_order([names[k] for k in low], [names[k] for k in cams]))


def permute_conditioning(unet: dict[str, torch.Tensor], order: torch.Tensor, n_obs_steps: int) -> dict[str, torch.Tensor]:
    """Reorder the observation columns of every FiLM layer (step embedding first, then n_obs_steps x features)."""
    dsed = unet["diffusion_step_encoder.1.weight"].shape[1]
    per_step = len(order)
    cols = torch.cat([torch.arange(dsed)] + [dsed + t * per_step + order for t in range(n_obs_steps)])
    return {k: (v[:, cols] if k.endswith("cond_encoder.1.weight") else v) for k, v in unet.items()}


def encoder_weights(dp: Mapping[str, torch.Tensor], cams: Mapping[str, Any], names: Mapping[str, str], share: bool, where: str) -> dict[str, torch.Tensor]:
    """Each camera's ResNet-18 weights under robopref's ``obs_encoder.encoders.<camera>.backbone``."""
    out: dict[str, torch.Tensor] = {}
    for key in cams:
        src = "obs_encoder.key_model_map." + ("rgb." if share else f"{key}.")
        found = {k[len(src):]: v for k, v in dp.items() if k.startswith(src) and not k[len(src):].startswith("fc.")}
        if "conv1.weight" not in found:
            raise ValueError(f"{where}: no ResNet-18 weights under {src}* for camera {key!r}")
        out.update({f"obs_encoder.encoders.{names[key]}.backbone.{k}": v for k, v in found.items()})
    return out


def import_image_policy(payload: Mapping[str, Any], settings: PolicySettings, obs_map: Mapping[str, str], num_inference_steps: int,
                        weights: str, where: str) -> tuple[DiffusionPolicy, dict[str, Any]]:
    """(robopref DiffusionPolicy, what was imported) from a ``DiffusionUnetImagePolicy`` checkpoint payload."""
    cfg = payload["cfg"]
    cams, low, names = observation_keys(cfg, obs_map, where)
    enc = encoder_settings(cfg, cams, where)
    source, dp = policy_weights(payload, weights, where)
    order = conditioning_order(cams, low, names)
    unet = unet_state_dict(dp, where)
    check_conditioning(unet, len(order), settings.n_obs_steps, where)
    unet = permute_conditioning(unet, order, settings.n_obs_steps)
    policy_cfg = network_config(
        settings, unet, num_inference_steps, name="diffusion_image", low_dim_keys=sorted(names[k] for k in low),
        image_keys=sorted(names[k] for k in cams), image_encoder="resnet18", image_feature_dim=0, image_norm=enc["image_norm"],
        image_range=image_range(dp, cams, where), imagenet_norm=enc["imagenet_norm"], crop_ratio=enc["crop_ratio"],
    )
    action_dim = unet["final_conv.1.weight"].shape[0]
    shapes = PolicyShapes(action_dim=action_dim, low_dim={names[k]: d for k, d in low.items()},
                          images={names[k]: (s[1], s[2], s[0]) for k, s in cams.items()})
    model = DiffusionPolicy(policy_cfg, shapes)
    model.load_state_dict({**{f"unet.{k}": v for k, v in unet.items()}, **encoder_weights(dp, cams, names, enc["share"], where),
                           **normalizer_maps(dp, {**{k: names[k] for k in low}, "action": "action"}, where)})
    info = {"imported_from": "diffusion_policy", "policy_type": "image", "weights": source, "obs_keys": dict(names),
            "image_range": policy_cfg.image_range, "imagenet_norm": policy_cfg.imagenet_norm, "crop_ratio": round(policy_cfg.crop_ratio, 6),
            "action_dim": action_dim, "down_dims": policy_cfg.down_dims, "horizon": settings.horizon, "n_obs_steps": settings.n_obs_steps,
            "n_action_steps": settings.n_action_steps}
    return model.eval(), info
