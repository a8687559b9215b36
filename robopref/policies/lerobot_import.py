"""Import a diffusion policy trained with LeRobot (``lerobot-train --policy.type=diffusion``).

A LeRobot policy is a folder (``outputs/train/<run>/checkpoints/last/pretrained_model``, or a
Hub snapshot such as ``lerobot/diffusion_pusht``, found in the Hugging Face cache by its id) with ``config.json`` (the
``DiffusionConfig``), ``model.safetensors`` (the weights) and, from LeRobot 0.4 on, the
pre/post-processors whose normaliser steps hold the dataset statistics
(``policy_preprocessor.json`` + ``policy_preprocessor_step_<i>_normalizer_processor.safetensors``);
earlier versions kept those statistics in the weights (``normalize_inputs.buffer_*``).

LeRobot's ``DiffusionModel`` is diffusion_policy's U-Net with its cameras read by a ResNet-18
whose last stage is pooled by a spatial softmax (``spatial_softmax_num_keypoints`` expected
(x, y) points) and a linear + ReLU head. robopref has each part: the U-Net's blocks are renamed
(``conv1``/``conv2`` → ``blocks.0``/``blocks.1``), the ResNet's ``nn.Sequential`` indices get
torchvision's names, the keypoints' interleaved (x, y) columns become robopref's (all x, then
all y), and the conditioning columns (LeRobot: state, cameras in its order, environment state)
are put in robopref's order (low-dim keys, then cameras, each sorted). Every normalisation mode
LeRobot has (MEAN_STD, MIN_MAX, QUANTILES, QUANTILE10, IDENTITY) is an affine map per feature:
low-dim keys and the action get robopref's per-key ``x * scale + offset``, cameras the policy's
``image_stats``.

Refused, with the config key named: another policy type, a backbone other than resnet18, a
``resize_shape``, crops robopref would centre differently, ``n_groups`` ≠ 8 and a
``clip_sample_range`` other than 1. The imported policy samples with robopref's DDIM on the
same noise schedule (LeRobot samples with ``num_inference_steps`` DDPM or DDIM steps).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from robopref.policies.config import PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.dp_image_import import column_order, crop_ratio, permute_conditioning, robopref_order
from robopref.policies.dp_import import DIFFUSERS_DEFAULT_BETAS, PolicySettings, check_conditioning, network_config, unet_state_dict
from robopref.utils.safetensors import read_safetensors

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
PROCESSOR_FILES = ("policy_preprocessor.json", "policy_postprocessor.json")
NORMALIZER_STEPS = ("normalizer_processor", "unnormalizer_processor")
RESNET_CHILDREN = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}  # resnet18.children()[:-2]
LEROBOT_EPS = 1e-8  # LeRobot's normaliser's epsilon


def hub_cache() -> Path:
    """Where Hugging Face keeps downloaded repositories (``HF_HUB_CACHE``, else ``HF_HOME``/hub, else ~/.cache/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    return Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser() / "hub"


def hub_snapshot(repo_id: str) -> Path | None:
    """The downloaded snapshot of Hub model ``repo_id`` (``org/name`` or ``org/name@revision``), or None.

    robopref never downloads: ``huggingface-cli download lerobot/diffusion_pusht`` (or LeRobot's
    own loading) puts the files in the cache, and ``source=lerobot/diffusion_pusht`` finds them.
    """
    name, _, revision = repo_id.partition("@")
    if name.count("/") != 1 or not all(name.split("/")):
        return None
    repo = hub_cache() / f"models--{name.replace('/', '--')}"
    ref = repo / "refs" / (revision or "main")
    commit = ref.read_text().strip() if ref.is_file() else revision
    snapshot = repo / "snapshots" / commit if commit else None
    return snapshot if snapshot is not None and snapshot.is_dir() else None


def policy_folder(path: str | os.PathLike) -> Path:
    """The folder holding ``config.json`` and ``model.safetensors``: ``path`` itself, or its ``pretrained_model``
    (a training checkpoint folder such as ``checkpoints/last``), or the Hugging Face cache's snapshot of a
    Hub id such as ``lerobot/diffusion_pusht`` when no such path exists."""
    root = Path(path).expanduser()
    looks_like_hub_id = str(path).count("/") == 1 and not str(path).startswith((".", "/", "~"))
    if not root.exists() and looks_like_hub_id:
        root = hub_snapshot(str(path)) or root
    for folder in (root, root / "pretrained_model"):
        if (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file():
            return folder
    if not root.exists():
        hint = (f"; as a Hub id, it is not in the Hugging Face cache {hub_cache()} (download it first: huggingface-cli download "
                f"{str(path).partition('@')[0]})") if looks_like_hub_id else ""
        raise FileNotFoundError(f"source={root}: no such LeRobot policy folder{hint}")
    raise ValueError(f"source={root}: not a LeRobot policy folder (expected {CONFIG_FILE} and {WEIGHTS_FILE} in it or in its pretrained_model/)")


def is_lerobot_policy(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a LeRobot policy folder (what ``robopref info`` recognises)."""
    try:
        policy_folder(path)
        return True
    except (FileNotFoundError, ValueError):
        return False


@dataclass
class LeRobotCheckpoint:
    """A LeRobot policy folder's contents: its config, weights and normalisation statistics
    ``{feature: {stat: tensor}}`` (``stats_from`` says which file held them)."""

    folder: Path
    config: dict[str, Any]
    weights: dict[str, torch.Tensor]
    stats: dict[str, dict[str, torch.Tensor]]
    stats_from: str
    normalized_keys: set[str] | None  # the normaliser's normalize_observation_keys, when it restricts them


def read_policy_config(folder: Path) -> dict[str, Any]:
    """The folder's ``config.json`` (LeRobot's policy config) as a dict."""
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except ValueError as e:
        raise ValueError(f"{folder / CONFIG_FILE}: not JSON ({e})") from e
    if not isinstance(config, dict):
        raise ValueError(f"{folder / CONFIG_FILE}: expected a JSON object (LeRobot's policy config)")
    return config


def read_lerobot_policy(path: str | os.PathLike) -> LeRobotCheckpoint:
    """Read a LeRobot policy folder (no LeRobot install needed)."""
    folder = policy_folder(path)
    config = read_policy_config(folder)
    weights = read_safetensors(folder / WEIGHTS_FILE)
    stats, source, keys = processor_stats(folder)
    if not stats:
        stats, source = legacy_stats(weights), str(folder / WEIGHTS_FILE)
    if not stats:
        raise ValueError(f"{folder}: no normalisation statistics (neither a normalizer processor file beside "
                         f"{PROCESSOR_FILES[0]} nor normalize_inputs.* buffers in {WEIGHTS_FILE})")
    return LeRobotCheckpoint(folder, config, weights, stats, source, keys)


def processor_stats(folder: Path) -> tuple[dict[str, dict[str, torch.Tensor]], str, set[str] | None]:
    """Statistics of the (un)normaliser steps of LeRobot ≥ 0.4's processor pipelines, the files named, and the
    observation keys the normaliser is restricted to (None: all)."""
    stats: dict[str, dict[str, torch.Tensor]] = {}
    files: list[str] = []
    keys: set[str] | None = None
    for name in PROCESSOR_FILES:
        if not (folder / name).is_file():
            continue
        try:
            pipeline = json.loads((folder / name).read_text())
        except ValueError as e:
            raise ValueError(f"{folder / name}: not JSON ({e})") from e
        for step in pipeline.get("steps", []):
            if step.get("registry_name") not in NORMALIZER_STEPS or not step.get("state_file"):
                continue
            files.append(step["state_file"])
            for flat, tensor in read_safetensors(folder / step["state_file"]).items():
                feature, stat = flat.rsplit(".", 1)
                stats.setdefault(feature, {})[stat] = tensor.float()
            restrict = step.get("config", {}).get("normalize_observation_keys")
            if restrict is not None:
                keys = set(restrict)
    return stats, ", ".join(str(folder / f) for f in files), keys


def legacy_stats(weights: Mapping[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Statistics kept in the weights by LeRobot < 0.4 (``normalize_inputs.buffer_observation_state.min``, ...);
    the buffer names lose the features' dots, so they are returned under those names (``observation_state``)."""
    stats: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        module, _, rest = key.partition(".")
        if module in ("normalize_inputs", "unnormalize_outputs", "normalize_targets") and rest.startswith("buffer_"):
            feature, stat = rest[len("buffer_"):].rsplit(".", 1)
            stats.setdefault(feature, {})[stat] = tensor.float()
    return stats


def feature_stats(ckpt: LeRobotCheckpoint, feature: str) -> dict[str, torch.Tensor] | None:
    """``feature``'s statistics (legacy buffers are named with underscores), or None."""
    if ckpt.normalized_keys is not None and feature.startswith("observation.") and feature not in ckpt.normalized_keys:
        return None
    return ckpt.stats.get(feature) or ckpt.stats.get(feature.replace(".", "_"))


def affine(mode: str, stats: Mapping[str, torch.Tensor] | None, feature: str, where: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """LeRobot's normalisation of ``feature`` as ``x * scale + offset`` (flattened), None for the identity."""
    if mode == "IDENTITY" or stats is None:
        return None
    need = {"MEAN_STD": ("mean", "std"), "MIN_MAX": ("min", "max"), "QUANTILES": ("q01", "q99"), "QUANTILE10": ("q10", "q90")}.get(mode)
    if need is None:
        raise ValueError(f"{where}: normalization_mapping gives {feature} the mode {mode!r}; expected MEAN_STD, MIN_MAX, QUANTILES, QUANTILE10 or IDENTITY")
    missing = [s for s in need if s not in stats]
    if missing:
        raise ValueError(f"{where}: {mode} normalisation of {feature} needs the statistics {list(need)}; {missing} missing (found {sorted(stats)})")
    a, b = (stats[s].double().flatten() for s in need)
    if mode == "MEAN_STD":
        scale = 1.0 / (b + LEROBOT_EPS)
        return scale.float(), (-a * scale).float()
    denom = torch.where(b - a == 0, torch.full_like(a, LEROBOT_EPS), b - a)  # LeRobot maps a constant feature to -1
    scale = 2.0 / denom
    return scale.float(), (-a * scale - 1.0).float()


def feature_types(config: Mapping[str, Any], where: str) -> tuple[dict[str, dict[str, Any]], int]:
    """(input features {name: {type, shape}} in the config's order, action size)."""
    inputs, outputs = config.get("input_features"), config.get("output_features")
    if not isinstance(inputs, dict) or not isinstance(outputs, dict):
        raise ValueError(f"{where}: config.json has no input_features/output_features (LeRobot >= 0.2's layout); "
                         "load it with a LeRobot of that age and save it again (policy.save_pretrained)")
    action = outputs.get("action")
    if not action or len(action.get("shape", [])) != 1:
        raise ValueError(f"{where}: config.json output_features.action is {action!r}; expected {{type: ACTION, shape: [action size]}}")
    return inputs, int(action["shape"][0])


def lerobot_settings(config: Mapping[str, Any], where: str) -> PolicySettings:
    """Read and check the diffusion config; anything robopref would run differently is refused, naming the key."""
    kind = config.get("type", "diffusion")
    if kind != "diffusion" or "spatial_softmax_num_keypoints" not in config:
        raise ValueError(f"{where}: config.json is a LeRobot {kind!r} policy; robopref imports LeRobot's diffusion policy "
                         "(type: diffusion) only")
    get = lambda key, default=None: config.get(key, default)  # noqa: E731
    if get("vision_backbone", "resnet18") != "resnet18":
        raise ValueError(f"{where}: config.json vision_backbone={get('vision_backbone')!r}: robopref imports the resnet18 backbone only")
    if get("resize_shape") is not None:
        raise ValueError(f"{where}: config.json resize_shape={get('resize_shape')}: resizing inside the policy is not supported")
    if int(get("n_groups", 8)) != 8:
        raise ValueError(f"{where}: config.json n_groups={get('n_groups')}: LeRobot's last block always uses 8 groups and robopref's "
                         "uses n_groups, so only n_groups 8 imports exactly")
    if get("clip_sample", True) and float(get("clip_sample_range", 1.0)) != 1.0:
        raise ValueError(f"{where}: config.json clip_sample_range={get('clip_sample_range')}: robopref clips samples to [-1, 1]")
    if get("prediction_type", "epsilon") not in ("epsilon", "sample"):
        raise ValueError(f"{where}: config.json prediction_type={get('prediction_type')!r}: expected epsilon or sample")
    beta_schedule = str(get("beta_schedule", "squaredcos_cap_v2"))
    betas = (float(get("beta_start", DIFFUSERS_DEFAULT_BETAS[0])), float(get("beta_end", DIFFUSERS_DEFAULT_BETAS[1])))
    if beta_schedule != "squaredcos_cap_v2" and betas != DIFFUSERS_DEFAULT_BETAS:
        raise ValueError(f"{where}: config.json beta_start/beta_end={betas}: robopref's {beta_schedule} schedule uses {DIFFUSERS_DEFAULT_BETAS}")
    return PolicySettings(kind="lerobot", horizon=int(get("horizon", 16)), n_obs_steps=int(get("n_obs_steps", 2)),
                          n_action_steps=int(get("n_action_steps", 8)), n_groups=8, num_train_timesteps=int(get("num_train_timesteps", 100)),
                          beta_schedule=beta_schedule, prediction_type=str(get("prediction_type", "epsilon")), clip_sample=bool(get("clip_sample", True)))


def observation_names(inputs: Mapping[str, Mapping[str, Any]], obs_map: Mapping[str, str], where: str) -> dict[str, str]:
    """{LeRobot feature: robopref key}: ``obs_map`` where given, else robopref's LeRobot dataset names
    (``observation.images.top`` → ``top_image``, ``observation.state`` → ``state``)."""
    from robopref.data.layout import is_image_key
    from robopref.data.lerobot import obs_key

    unknown = sorted(set(obs_map) - set(inputs))
    if unknown:
        raise ValueError(f"obs_map: {unknown} are not input features of the policy (it has {sorted(inputs)})")
    names = {k: str(obs_map.get(k) or obs_key(k, camera=f.get("type") == "VISUAL")) for k, f in inputs.items()}
    bad = [f"{k} -> {n}" for k, n in names.items() if is_image_key(n) != (inputs[k].get("type") == "VISUAL")]
    if bad or len(set(names.values())) < len(names) or "action" in names.values():
        raise ValueError(f"obs_map: {names}: cameras must map to names ending in _image and other features to others, all distinct "
                         "and none 'action'" + (f" (wrong: {bad})" if bad else ""))
    return names


def unet_weights(weights: Mapping[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """robopref ``ConditionalUnet1D`` weights from ``diffusion.unet.*`` (FiLM bias-only blocks become unit-scale FiLM)."""
    renamed = {}
    for key, value in weights.items():
        if key.startswith("diffusion.unet."):
            name = key[len("diffusion.unet."):].replace(".conv1.block.", ".blocks.0.block.").replace(".conv2.block.", ".blocks.1.block.")
            renamed["model." + name] = value
    if not renamed:
        raise ValueError(f"{where}: {WEIGHTS_FILE} has no diffusion.unet.* weights (not a LeRobot diffusion policy)")
    return unet_state_dict(renamed, where)


def encoder_weights(weights: Mapping[str, torch.Tensor], cameras: list[str], names: Mapping[str, str], separate: bool,
                    keypoints: int, where: str) -> dict[str, torch.Tensor]:
    """Each camera's ResNet-18, keypoint convolution and head under robopref's ``obs_encoder.encoders.<camera>``."""
    interleaved = torch.cat([torch.arange(0, 2 * keypoints, 2), torch.arange(1, 2 * keypoints, 2)])  # robopref: x of every point, then y
    out: dict[str, torch.Tensor] = {}
    for i, feature in enumerate(cameras):
        src = f"diffusion.rgb_encoder.{i}." if separate else "diffusion.rgb_encoder."
        dst = f"obs_encoder.encoders.{names[feature]}."
        found = {k[len(src):]: v for k, v in weights.items() if k.startswith(src)}
        if "backbone.0.weight" not in found or "pool.nets.weight" not in found or "out.weight" not in found:
            raise ValueError(f"{where}: no ResNet-18 with spatial softmax under {src}* for camera {feature!r}")
        for name, value in found.items():
            part, _, rest = name.partition(".")
            if part == "backbone":
                child, _, tail = rest.partition(".")
                out[f"{dst}backbone.{RESNET_CHILDREN[child]}.{tail}"] = value
            elif name in ("pool.nets.weight", "pool.nets.bias"):
                out[f"{dst}keypoints.0.{name.rsplit('.', 1)[1]}"] = value
            elif name == "out.weight":
                out[f"{dst}head.0.weight"] = value[:, interleaved]
            elif name == "out.bias":
                out[f"{dst}head.0.bias"] = value
    return out


def image_stats(ckpt: LeRobotCheckpoint, cameras: list[str], names: Mapping[str, str], mode: str, where: str) -> dict[str, Any] | None:
    """The cameras' normalisation as the policy's ``image_stats`` ({camera: {mean, std}}), None when no camera has one."""
    stats = {}
    for feature in cameras:
        m = affine(mode, feature_stats(ckpt, feature), feature, where)
        scale, offset = m if m is not None else (torch.ones(3), torch.zeros(3))
        stats[names[feature]] = {"mean": (-offset / scale).tolist(), "std": (1.0 / scale).tolist()}  # x * s + o = (x - mean) / std
    if all(st["mean"] == [0.0] * len(st["mean"]) and st["std"] == [1.0] * len(st["std"]) for st in stats.values()):
        return None
    return stats


def normalizer_buffers(ckpt: LeRobotCheckpoint, features: Mapping[str, tuple[str, int]], modes: Mapping[str, str], types: Mapping[str, str],
                       where: str) -> dict[str, torch.Tensor]:
    """robopref normaliser buffers for low-dim features and the action, ``features`` = {LeRobot feature: (robopref key, size)}."""
    out: dict[str, torch.Tensor] = {}
    for feature, (key, dim) in features.items():
        st = feature_stats(ckpt, feature)
        m = affine(modes.get(types[feature], "IDENTITY"), st, feature, where)
        scale, offset = m if m is not None else (torch.ones(dim), torch.zeros(dim))
        if scale.numel() != dim:
            raise ValueError(f"{where}: the statistics of {feature} have {scale.numel()} values; the feature has {dim}")
        low = st["min"].float().flatten() if st and "min" in st else (-1.0 - offset) / scale
        high = st["max"].float().flatten() if st and "max" in st else (1.0 - offset) / scale
        for name, value in (("scale", scale), ("offset", offset), ("low", low), ("high", high)):
            out[f"normalizer.maps.{key}.{name}"] = value
    return out


@dataclass
class ImportPlan:
    """What a LeRobot diffusion policy becomes, checked before any network is built (``robopref info`` shows it)."""

    settings: PolicySettings
    names: dict[str, str]  # {LeRobot feature: robopref key}
    types: dict[str, str]  # {LeRobot feature: STATE | ENV | VISUAL | ACTION}, the action included
    cameras: list[str]  # VISUAL features, in the config's order
    low: dict[str, int]  # STATE then ENV features: {feature: size}
    action_dim: int
    image_shapes: dict[str, tuple[int, int, int]]  # {camera feature: (C, H, W)}
    keypoints: int
    modes: dict[str, str]  # normalization_mapping
    crop_ratio: float

    def conditioning_order(self) -> torch.Tensor:
        """robopref's per-step feature j is LeRobot's ``order[j]`` (LeRobot: state, cameras in order, environment state)."""
        state, *env = self.low
        spans = [(self.names[state], self.low[state])] + [(self.names[k], 2 * self.keypoints) for k in self.cameras]
        spans += [(self.names[k], self.low[k]) for k in env]
        return column_order(spans, robopref_order([self.names[k] for k in self.low], [self.names[k] for k in self.cameras]))


def import_plan(config: Mapping[str, Any], obs_map: Mapping[str, str] | None, where: str) -> ImportPlan:
    """Read and check ``config.json``: every refusal happens here."""
    settings = lerobot_settings(config, where)
    inputs, action_dim = feature_types(config, where)
    names = observation_names(inputs, obs_map or {}, where)
    types = {k: str(f.get("type")) for k, f in inputs.items()}
    cameras = [k for k, t in types.items() if t == "VISUAL"]
    states = [k for k, t in types.items() if t == "STATE"]
    envs = [k for k, t in types.items() if t == "ENV"]
    if len(states) != 1 or len(envs) > 1 or len(cameras) + len(states) + len(envs) != len(inputs):
        raise ValueError(f"{where}: config.json input_features {types}: LeRobot's diffusion policy takes one STATE, at most one ENV "
                         "and VISUAL features")
    shapes = {k: tuple(int(x) for x in inputs[k]["shape"]) for k in cameras}
    if any(len(s) != 3 for s in shapes.values()):
        raise ValueError(f"{where}: config.json camera shapes {shapes}: expected (C, H, W)")
    ratio = crop_ratio({k: s[1:] for k, s in shapes.items()}, config.get("crop_shape"), f"{where}: config.json crop_shape")
    return ImportPlan(settings=settings, names=names, types={**types, "action": "ACTION"}, cameras=cameras,
                      low={k: int(inputs[k]["shape"][0]) for k in states + envs},
                      action_dim=action_dim, image_shapes=shapes, keypoints=int(config.get("spatial_softmax_num_keypoints", 32)),
                      modes={str(k): str(v) for k, v in (config.get("normalization_mapping") or {}).items()}, crop_ratio=ratio)


def import_lerobot_policy(ckpt: LeRobotCheckpoint, obs_map: Mapping[str, str] | None = None, num_inference_steps: int = 16,
                          where: str = "checkpoint") -> tuple[DiffusionPolicy, dict[str, Any]]:
    """(robopref DiffusionPolicy, what was imported) from a LeRobot diffusion policy folder's contents."""
    cfg = ckpt.config
    plan = import_plan(cfg, obs_map, where)
    names, keypoints = plan.names, plan.keypoints
    order = plan.conditioning_order()
    unet = unet_weights(ckpt.weights, where)
    check_conditioning(unet, len(order), plan.settings.n_obs_steps, where)
    unet = permute_conditioning(unet, order, plan.settings.n_obs_steps)
    policy_cfg = network_config(
        plan.settings, unet, num_inference_steps, name="diffusion_image" if plan.cameras else "diffusion_lowdim",
        low_dim_keys=sorted(names[k] for k in plan.low), image_keys=sorted(names[k] for k in plan.cameras), image_encoder="resnet18",
        image_feature_dim=2 * keypoints, image_norm="group" if cfg.get("use_group_norm", True) else "batch", image_pool="spatial_softmax",
        image_keypoints=keypoints, image_stats=image_stats(ckpt, plan.cameras, names, plan.modes.get("VISUAL", "IDENTITY"), where),
        crop_ratio=plan.crop_ratio,
    )
    shapes = PolicyShapes(action_dim=plan.action_dim, low_dim={names[k]: d for k, d in plan.low.items()},
                          images={names[k]: (s[1], s[2], s[0]) for k, s in plan.image_shapes.items()})
    model = DiffusionPolicy(policy_cfg, shapes)
    features = {**{k: (names[k], d) for k, d in plan.low.items()}, "action": ("action", plan.action_dim)}
    model.load_state_dict({**{f"unet.{k}": v for k, v in unet.items()}, **normalizer_buffers(ckpt, features, plan.modes, plan.types, where),
                           **encoder_weights(ckpt.weights, plan.cameras, names, bool(cfg.get("use_separate_rgb_encoder_per_camera")), keypoints, where)})
    info = {"imported_from": "lerobot", "policy_type": "diffusion", "obs_keys": dict(names), "normalization": plan.modes,
            "stats_from": ckpt.stats_from, "crop_ratio": round(plan.crop_ratio, 6), "action_dim": plan.action_dim, "down_dims": policy_cfg.down_dims,
            "horizon": plan.settings.horizon, "n_obs_steps": plan.settings.n_obs_steps, "n_action_steps": plan.settings.n_action_steps}
    return model.eval(), info
