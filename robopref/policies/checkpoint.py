"""One-file checkpoints: config, shapes, normaliser, weights (model and EMA), training state.

A checkpoint is a ``torch.save``'d dict::

    format: "robopref.diffusion_policy/1"
    policy_config, shapes          plain dicts (rebuild the model without the dataset)
    model, ema                     state dicts (the normaliser's buffers are inside both)
    train                          optional: optimizer, lr scheduler, RNG states, epoch,
                                   step, data seed, top-k list, train config (for resume)
    meta                           free-form: dataset path, metrics, time

:func:`load_policy` is the one call for inference, on CPU or GPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.rollout import DiffusionRolloutPolicy
from robopref.utils.atomic import atomic_torch_save

FORMAT = "robopref.diffusion_policy/1"


def save_checkpoint(path: str | os.PathLike, model: DiffusionPolicy, ema_state: dict[str, Any] | None = None, train: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Path:
    """Write atomically (temporary file + rename), so a crash never leaves half a checkpoint."""
    payload = {
        "format": FORMAT,
        "policy_config": model.cfg.to_dict(),
        "shapes": model.shapes.to_dict(),
        "model": model.state_dict(),
        "ema": ema_state,
        "train": train,
        "meta": meta or {},
    }
    return atomic_torch_save(payload, path)


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint dict; a clear error for missing files and other formats."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"policy checkpoint {path!r} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise ValueError(f"{path}: cannot be read as a torch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path}: not a robopref diffusion policy checkpoint (format {found!r}, expected {FORMAT!r})")
    return ckpt


def build_model(ckpt: dict[str, Any], weights: str = "ema") -> DiffusionPolicy:
    """A DiffusionPolicy from a checkpoint dict, with its ``ema`` (default) or ``model`` weights."""
    cfg = DiffusionPolicyConfig.from_dict(ckpt["policy_config"])
    model = DiffusionPolicy(cfg, PolicyShapes.from_dict(ckpt["shapes"]))
    if weights == "ema" and ckpt.get("ema") is not None:
        model.load_state_dict(ckpt["ema"]["averaged"])
    elif weights in ("ema", "model"):
        model.load_state_dict(ckpt["model"])
    else:
        raise ValueError(f"weights={weights!r}: expected 'ema' or 'model'")
    return model.eval()


def load_policy(path: str | os.PathLike, device: str = "auto", weights: str = "ema", seed: int | None = 0, n_action_steps: int | None = None,
                inference_dtype: str | None = None) -> DiffusionRolloutPolicy:
    """Load a checkpoint for rollouts: ``load_policy("best.ckpt").act(obs)``.

    ``inference_dtype`` (``float32`` | ``bfloat16``) overrides the checkpoint's own for this use.

    ``device="auto"`` picks CUDA when present; the EMA weights are used when saved.
    """
    from robopref.utils.device import resolve_device

    dev = resolve_device(device)
    model = build_model(read_checkpoint(path, map_location="cpu"), weights=weights).to(dev)
    if inference_dtype is not None:
        model.set_inference_dtype(inference_dtype)
    return DiffusionRolloutPolicy(model, n_action_steps=n_action_steps, seed=seed)
