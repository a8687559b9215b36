"""Import a U-Net policy trained with real-stanford/diffusion_policy (Chi et al. 2023).

A diffusion_policy workspace checkpoint (``epoch=0300-test_mean_score=0.9.ckpt``,
``latest.ckpt``) is a pickled dict ``{"cfg": <the run's Hydra config>, "state_dicts":
{"model", "ema_model", "optimizer"}, "pickles": {...}}``. Its
``DiffusionUnetLowdimPolicy`` holds a ``ConditionalUnet1D`` under ``model.`` and a
``LinearNormalizer`` (``normalizer.params_dict.{obs,action}.{scale,offset,input_stats}``).
robopref's U-Net has the same layout (robopref.policies.unet1d), so the weights carry over
with three changes: the down/up-sampling convolutions lose their ``.conv`` wrapper, the
normaliser becomes robopref's per-key min–max map (same ``x * scale + offset``), and a
U-Net trained with additive conditioning (``cond_predict_scale: false``) gets FiLM scale
rows of 0 with bias 1, so that ``1 * h + b`` is exactly its ``h + b``.

The image U-Net policy (``DiffusionUnetImagePolicy``) adds its cameras' ResNet-18s
(``robopref.policies.dp_image_import``). What is refused, with the config key named: the
hybrid and transformer policies (robomimic's encoders, another network), observations passed
by inpainting or as local conditioning, ``pred_action_steps_only``, ``oa_step_convention:
false`` and latency steps (robopref executes actions ``n_obs_steps - 1`` onwards,
diffusion_policy's default). The imported policy samples with robopref's DDIM on the same noise
schedule (diffusion_policy samples with 100 DDPM steps); an epsilon- or sample-predicting
network serves either sampler.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy

LOWDIM_TARGET = "diffusion_policy.policy.diffusion_unet_lowdim_policy.DiffusionUnetLowdimPolicy"
IMAGE_TARGET = "diffusion_policy.policy.diffusion_unet_image_policy.DiffusionUnetImagePolicy"
POLICY_KINDS = {LOWDIM_TARGET: "lowdim", IMAGE_TARGET: "image"}
DIFFUSERS_DEFAULT_BETAS = (0.0001, 0.02)  # robopref's schedulers leave beta_start/beta_end at these


def read_dp_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's payload dict; unpickling needs omegaconf (the config), not diffusion_policy."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"source={path}: no such diffusion_policy checkpoint")
    try:
        import dill as pickle_module  # what diffusion_policy saves with, when installed; else plain pickle, and a hint if dill was needed
    except ImportError:
        import pickle as pickle_module
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False, pickle_module=pickle_module)
    except Exception as e:
        hint = "; it was pickled with dill's own types: pip install dill" if "dill" in str(e) else ""
        raise ValueError(f"source={path}: cannot be read as a torch checkpoint ({type(e).__name__}: {e}){hint}") from e
    if not isinstance(payload, dict) or "cfg" not in payload or "state_dicts" not in payload:
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"source={path}: not a diffusion_policy workspace checkpoint (expected keys 'cfg' and 'state_dicts', found {found})")
    return payload


def config_value(cfg: Any, dotted: str, where: str) -> Any:
    """``cfg.<dotted>`` resolved, or an error naming the key (missing, or an interpolation robopref cannot resolve)."""
    from omegaconf import OmegaConf

    try:
        value = OmegaConf.select(cfg, dotted, throw_on_missing=True)
    except Exception as e:
        raise ValueError(f"{where}: cfg.{dotted} cannot be read ({type(e).__name__}: {e})") from e
    if value is None:
        raise ValueError(f"{where}: cfg.{dotted} is missing")
    return value


@dataclass
class PolicySettings:
    """What robopref needs from a diffusion_policy run's policy config (``kind``: lowdim or image)."""

    kind: str
    horizon: int
    n_obs_steps: int
    n_action_steps: int
    n_groups: int
    num_train_timesteps: int
    beta_schedule: str
    prediction_type: str
    clip_sample: bool


def policy_settings(cfg: Any, where: str) -> PolicySettings:
    """Read and check the run's policy config; anything robopref would run differently is refused."""
    from omegaconf import OmegaConf

    target = config_value(cfg, "policy._target_", where)
    kind = POLICY_KINDS.get(target)
    if kind is None:
        raise ValueError(f"{where}: cfg.policy._target_ is {target!r}; robopref imports diffusion_policy's U-Net policies "
                         f"{sorted(POLICY_KINDS)} (the hybrid and transformer policies use robomimic's encoders or another "
                         "network); to train a robopref policy on the same data, convert its replay buffer: "
                         "robopref convert format=zarr source=<buffer>.zarr")
    pol = lambda key, default=None: OmegaConf.select(cfg, f"policy.{key}", default=default)  # noqa: E731
    if not pol("obs_as_global_cond", kind == "image") or pol("obs_as_local_cond", False):
        raise ValueError(f"{where}: cfg.policy.obs_as_global_cond is not true: robopref conditions on the observations as a "
                         "global vector only (not by inpainting or as local conditioning)")
    if kind == "lowdim" and pol("pred_action_steps_only", False):
        raise ValueError(f"{where}: cfg.policy.pred_action_steps_only is true: robopref's policies predict the whole horizon")
    if kind == "lowdim" and not pol("oa_step_convention", False):  # the image policy always starts at n_obs_steps - 1
        raise ValueError(f"{where}: cfg.policy.oa_step_convention is false: robopref executes actions from step n_obs_steps - 1 "
                         "of the chunk (oa_step_convention: true, diffusion_policy's low-dim default)")
    latency = OmegaConf.select(cfg, "n_latency_steps", default=0) or 0
    if latency:
        raise ValueError(f"{where}: cfg.n_latency_steps={latency}: latency steps are not supported (robopref executes the chunk's actions at once)")
    sched = "policy.noise_scheduler."
    beta_schedule = str(config_value(cfg, sched + "beta_schedule", where))
    if beta_schedule != "squaredcos_cap_v2":
        betas = (float(OmegaConf.select(cfg, sched + "beta_start", default=DIFFUSERS_DEFAULT_BETAS[0])),
                 float(OmegaConf.select(cfg, sched + "beta_end", default=DIFFUSERS_DEFAULT_BETAS[1])))
        if betas != DIFFUSERS_DEFAULT_BETAS:
            raise ValueError(f"{where}: cfg.{sched}beta_start/beta_end={betas}: robopref's {beta_schedule} schedule uses {DIFFUSERS_DEFAULT_BETAS}")
    groups_key = "policy.model.n_groups" if kind == "lowdim" else "policy.n_groups"
    n_groups = int(OmegaConf.select(cfg, groups_key, default=8))
    if n_groups != 8:
        raise ValueError(f"{where}: cfg.{groups_key}={n_groups}: diffusion_policy's last block always uses 8 groups and "
                         "robopref's uses n_groups, so only n_groups: 8 imports exactly")
    return PolicySettings(
        kind=kind, horizon=int(config_value(cfg, "horizon", where)), n_obs_steps=int(config_value(cfg, "n_obs_steps", where)),
        n_action_steps=int(config_value(cfg, "n_action_steps", where)), n_groups=n_groups,
        num_train_timesteps=int(config_value(cfg, sched + "num_train_timesteps", where)), beta_schedule=beta_schedule,
        prediction_type=str(config_value(cfg, sched + "prediction_type", where)), clip_sample=bool(OmegaConf.select(cfg, sched + "clip_sample", default=True)),
    )


def unet_state_dict(dp: Mapping[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """robopref ``ConditionalUnet1D`` weights from a diffusion_policy policy state dict (its ``model.*`` entries)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in dp.items():
        if not key.startswith("model."):
            continue
        name = key[len("model."):]
        if name.startswith("local_cond_encoder."):
            raise ValueError(f"{where}: the U-Net has a local_cond_encoder (obs_as_local_cond): not supported")
        parts = name.split(".")
        if parts[0] in ("down_modules", "up_modules") and parts[2] == "2" and parts[3] == "conv":
            name = ".".join(parts[:3] + parts[4:])  # Downsample1d / Upsample1d wrap their convolution as .conv
        out[name] = value
    if "final_conv.1.weight" not in out:
        raise ValueError(f"{where}: no ConditionalUnet1D weights (model.final_conv.1.weight) in the state dict")
    for name in [n for n in out if n.endswith("cond_encoder.1.weight")]:
        block = name[: -len("cond_encoder.1.weight")]
        channels = out[block + "blocks.0.block.0.weight"].shape[0]
        weight, bias = out[name], out[block + "cond_encoder.1.bias"]
        if weight.shape[0] == channels:  # additive conditioning: FiLM with scale 1 reproduces h + b exactly
            out[name] = torch.cat([torch.zeros_like(weight), weight])
            out[block + "cond_encoder.1.bias"] = torch.cat([torch.ones_like(bias), bias])
    return out


def normalizer_maps(dp: Mapping[str, torch.Tensor], keys: Mapping[str, str], where: str) -> dict[str, torch.Tensor]:
    """robopref normaliser buffers (``normalizer.maps.<robopref key>.{scale,offset,low,high}``) from the
    LinearNormalizer's entries ``normalizer.params_dict.<diffusion_policy key>``, for ``keys`` {dp key: robopref key}."""
    out: dict[str, torch.Tensor] = {}
    for src, dst in keys.items():
        base = f"normalizer.params_dict.{src}."
        missing = [k for k in ("scale", "offset", "input_stats.min", "input_stats.max") if base + k not in dp]
        if missing:
            raise ValueError(f"{where}: the normaliser lacks {[base + k for k in missing]}")
        for k, name in (("scale", "scale"), ("offset", "offset"), ("input_stats.min", "low"), ("input_stats.max", "high")):
            out[f"normalizer.maps.{dst}.{name}"] = dp[base + k].float().flatten()
    return out


def policy_weights(payload: Mapping[str, Any], weights: str, where: str) -> tuple[str, Mapping[str, torch.Tensor]]:
    """(``ema_model`` or ``model``, its state dict): ``weights="ema"`` takes ``ema_model`` when the run kept
    one (what diffusion_policy evaluates with), ``"model"`` always ``model``."""
    if weights not in ("ema", "model"):
        raise ValueError(f"weights={weights!r}: expected 'ema' or 'model'")
    states = payload["state_dicts"]
    source = "ema_model" if weights == "ema" and states.get("ema_model") else "model"
    if not states.get(source):
        raise ValueError(f"{where}: state_dicts has no {source!r} weights (found {sorted(states)})")
    return source, states[source]


def network_config(settings: PolicySettings, unet: Mapping[str, torch.Tensor], num_inference_steps: int, **obs: Any) -> DiffusionPolicyConfig:
    """The robopref policy config of the U-Net ``unet`` (sizes read off its weights) and the run's time structure."""
    down_dims: list[int] = []
    while f"down_modules.{len(down_dims)}.0.blocks.0.block.0.weight" in unet:
        down_dims.append(unet[f"down_modules.{len(down_dims)}.0.blocks.0.block.0.weight"].shape[0])
    return DiffusionPolicyConfig(
        horizon=settings.horizon, n_obs_steps=settings.n_obs_steps, n_action_steps=settings.n_action_steps, down_dims=down_dims,
        kernel_size=unet["down_modules.0.0.blocks.0.block.0.weight"].shape[2], n_groups=settings.n_groups,
        diffusion_step_embed_dim=unet["diffusion_step_encoder.1.weight"].shape[1], num_train_timesteps=settings.num_train_timesteps,
        num_inference_steps=min(num_inference_steps, settings.num_train_timesteps), beta_schedule=settings.beta_schedule,
        prediction_type=settings.prediction_type, clip_sample=settings.clip_sample, **obs,
    )


def check_conditioning(unet: Mapping[str, torch.Tensor], per_step: int, n_obs_steps: int, where: str) -> None:
    """The U-Net's conditioning input is the step embedding plus ``n_obs_steps`` x ``per_step`` observation features."""
    cond = unet["mid_modules.0.cond_encoder.1.weight"].shape[1] - unet["diffusion_step_encoder.1.weight"].shape[1]
    if cond != per_step * n_obs_steps:
        raise ValueError(f"{where}: the U-Net is conditioned on {cond} values, not n_obs_steps ({n_obs_steps}) x "
                         f"{per_step} observation features = {per_step * n_obs_steps}")


def import_policy(payload: Mapping[str, Any], obs_key: str = "state", obs_map: Mapping[str, str] | None = None,
                  num_inference_steps: int = 8, weights: str = "ema", where: str = "checkpoint") -> tuple[DiffusionPolicy, dict[str, Any]]:
    """(robopref DiffusionPolicy, what was imported) from a diffusion_policy checkpoint payload:
    the low-dim U-Net policy (its ``obs`` vector becomes ``obs_key``) or the image U-Net policy
    (``robopref.policies.dp_image_import``; ``obs_map`` renames its observation keys)."""
    settings = policy_settings(payload["cfg"], where)
    if settings.kind == "image":
        from robopref.policies.dp_image_import import import_image_policy

        return import_image_policy(payload, settings, obs_map or {}, num_inference_steps, weights, where)
    from robopref.data.layout import is_image_key

    if is_image_key(obs_key) or obs_key == "action":
        raise ValueError(f"obs_key={obs_key!r}: a low-dim policy's observation vector needs a low-dim key (not 'action' or a <camera>_image key), e.g. state")
    source, dp = policy_weights(payload, weights, where)
    unet = unet_state_dict(dp, where)
    norm = normalizer_maps(dp, {"obs": obs_key, "action": "action"}, where)
    obs_dim = norm[f"normalizer.maps.{obs_key}.scale"].shape[0]
    check_conditioning(unet, obs_dim, settings.n_obs_steps, where)
    cfg = network_config(settings, unet, num_inference_steps, name="diffusion_lowdim", low_dim_keys=[obs_key], image_keys=[])
    action_dim = unet["final_conv.1.weight"].shape[0]
    model = DiffusionPolicy(cfg, PolicyShapes(action_dim=action_dim, low_dim={obs_key: obs_dim}, images={}))
    model.load_state_dict({**{f"unet.{k}": v for k, v in unet.items()}, **norm})
    info = {"imported_from": "diffusion_policy", "policy_type": "lowdim", "weights": source, "obs_keys": {"obs": obs_key}, "obs_dim": obs_dim,
            "action_dim": action_dim, "down_dims": cfg.down_dims, "horizon": settings.horizon, "n_obs_steps": settings.n_obs_steps,
            "n_action_steps": settings.n_action_steps}
    return model.eval(), info
