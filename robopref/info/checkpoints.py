"""Summary of a policy or reward checkpoint: what it is, what it was trained on, its settings."""

from __future__ import annotations

import os
from typing import Any

from robopref.eval.policies import training_env_overrides


def _load(path: str | os.PathLike) -> Any:
    """The checkpoint's dict, on the CPU."""
    import torch

    try:  # tensors and plain containers first: no code runs
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - robopref's policy checkpoints hold numpy RNG states: the user's own file
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{path}: not a torch checkpoint ({type(e).__name__}: {e})") from e


def describe_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Policy (diffusion) or reward (trajectory, visual) checkpoint, told apart by its ``format``."""
    from robopref.policies.checkpoint import FORMAT as POLICY
    from robopref.rewards.model import CHECKPOINT_FORMAT as TRAJECTORY
    from robopref.rewards.visual.model import FORMAT as VISUAL

    blob = _load(path)
    fmt = blob.get("format") if isinstance(blob, dict) else None
    if fmt == POLICY:
        cfg, train, meta = blob["policy_config"], blob.get("train") or {}, blob.get("meta") or {}
        keys = ("horizon", "n_obs_steps", "n_action_steps", "down_dims", "prediction_type", "num_inference_steps", "image_encoder",
                "low_dim_keys", "image_keys")
        metrics = meta.get("metrics") or {}
        env = training_env_overrides(meta.get("dataset"))
        out = {"kind": "policy checkpoint", "path": str(path), "format": fmt, "policy": {k: cfg[k] for k in keys if k in cfg},
               "shapes": blob["shapes"], "dataset": meta.get("dataset"), "train demos": meta.get("train_demos"),
               "epoch": train.get("epoch", metrics.get("epoch")), "step": train.get("step", metrics.get("step"))}
        out.update({k.replace("_", " "): round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()
                    if k in ("val_loss", "success_rate", "mean_return")})
        if meta.get("imported_from"):  # robopref convert format=dp_checkpoint: no robopref training run behind it
            out = {k: v for k, v in out.items() if k not in ("dataset", "train demos", "epoch", "step")}
            out.update({"imported from": meta["imported_from"], "source": meta.get("source"), "weights": meta.get("weights")})
        out["evaluate"] = f"robopref eval policy={path} " + (env or "env=<the env its data came from>")
        out["to LeRobot"] = lerobot_export_hint(path, cfg, blob["shapes"])
        return out
    if fmt == TRAJECTORY:
        cfg = blob["config"]
        keys = ("kind", "ensemble", "hidden", "epochs", "lr", "weight_decay", "kl_weight")
        return {"kind": "reward checkpoint", "path": str(path), "format": fmt, "reward": {k: cfg[k] for k in keys if k in cfg},
                "trust filter": bool((cfg.get("trust") or {}).get("enabled")), "inputs": blob["features"].get("obs_keys"),
                **{k: v for k, v in (blob.get("extra") or {}).items() if isinstance(v, (str, int, float, bool, list, dict))}}
    if fmt == VISUAL:
        refs = blob.get("references")
        enc = blob["encoder_config"]
        meta = {k: v for k, v in (blob.get("meta") or {}).items() if isinstance(v, (str, int, float, bool)) or k in ("labels",)}
        return {"kind": "reward checkpoint", "path": str(path), "format": fmt, "reward": blob["kind"],
                "encoder": {k: enc[k] for k in ("kind", "out_dim", "image_size", "norm", "weights") if k in enc},
                "settings": blob["settings"], "references": None if refs is None else int(refs.shape[0]), **meta}
    if isinstance(blob, dict) and "cfg" in blob and "state_dicts" in blob:
        return describe_dp_checkpoint(path, blob)
    found = fmt if fmt else (sorted(blob)[:8] if isinstance(blob, dict) else type(blob).__name__)
    raise ValueError(f"{path}: a torch file, but not a robopref policy or reward checkpoint (format or keys: {found})")


def describe_dp_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> dict[str, Any]:
    """A diffusion_policy workspace checkpoint: its policy class, sizes, and whether and how robopref imports it."""
    from omegaconf import OmegaConf

    from robopref.policies.dp_image_import import shape_meta
    from robopref.policies.dp_import import policy_settings

    cfg = payload["cfg"]
    pick = lambda key: OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)  # noqa: E731
    state = payload["state_dicts"].get("ema_model") or payload["state_dicts"].get("model") or {}
    dims = {k: int(state[f"normalizer.params_dict.{k}.scale"].numel()) for k in ("obs", "action") if f"normalizer.params_dict.{k}.scale" in state}
    meta = shape_meta(cfg)
    observations = {k: f"{v.get('type', 'low_dim')} {list(v['shape'])}" for k, v in OmegaConf.to_container(meta["obs"]).items()} if meta else None
    out: dict[str, Any] = {"kind": "diffusion_policy checkpoint", "path": str(path), "policy": pick("policy._target_"), "task": pick("task_name"),
                           "horizon": pick("horizon"), "n_obs_steps": pick("n_obs_steps"), "n_action_steps": pick("n_action_steps"),
                           **{f"{k} dim": v for k, v in dims.items()}, **({"observations": observations} if observations else {}),
                           "weights": sorted(k for k, v in payload["state_dicts"].items() if v)}
    try:
        kind = policy_settings(cfg, str(path)).kind
        keys = "obs_key=<the env's key for its obs vector>" if kind == "lowdim" else "'obs_map={<its key>: <the env's key>, ...}'"
        out["import"] = f"robopref convert format=dp_checkpoint source={path} output=<name>.ckpt {keys}"
    except ValueError as e:
        out["import"] = f"not importable: {str(e).removeprefix(f'{path}: ')}"
    return out


def describe_lerobot_policy(path: str | os.PathLike) -> dict[str, Any]:
    """A LeRobot policy folder: its type, features and sizes, and whether and how robopref imports it."""
    from robopref.policies.lerobot_import import WEIGHTS_FILE, import_plan, policy_folder, processor_stats, read_policy_config

    folder = policy_folder(path)  # the config and the statistics files only: the weights (often 1 GB) are not read
    cfg = read_policy_config(folder)
    feats = {k: f"{f.get('type')} {f.get('shape')}" for k, f in {**(cfg.get("input_features") or {}), **(cfg.get("output_features") or {})}.items()}
    stats_from = processor_stats(folder)[1] or f"{folder / WEIGHTS_FILE} (LeRobot < 0.4 keeps them in the weights)"
    out: dict[str, Any] = {"kind": "LeRobot policy", "path": str(folder), "policy": cfg.get("type", "diffusion" if "spatial_softmax_num_keypoints" in cfg else None),
                           "horizon": cfg.get("horizon"), "n_obs_steps": cfg.get("n_obs_steps"), "n_action_steps": cfg.get("n_action_steps"),
                           "features": feats, "normalization": cfg.get("normalization_mapping"), "statistics": stats_from}
    try:
        out["robopref keys"] = import_plan(cfg, None, str(folder)).names
        out["import"] = f"robopref convert format=lerobot_policy source={folder} output=<name>.ckpt"
    except ValueError as e:
        out["import"] = f"not importable: {str(e).removeprefix(f'{folder}: ')}"
    return out


def lerobot_export_hint(path: str | os.PathLike, policy_config: dict[str, Any], shapes: dict[str, Any]) -> str:
    """The ``robopref export policy=`` command for a policy LeRobot's network can hold, else why it cannot."""
    from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
    from robopref.policies.lerobot_export import feature_names

    try:
        feature_names(DiffusionPolicyConfig.from_dict(policy_config), PolicyShapes.from_dict(shapes))
    except ValueError as e:
        return f"not possible: {str(e).removeprefix('this policy cannot be written as a LeRobot diffusion policy: ')}"
    return f"robopref export policy={path} output=<folder>"
