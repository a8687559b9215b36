"""Start a training run from another policy's weights (``robopref policy init_from=CKPT``).

Fine-tuning on new data (DAgger rounds, a new filter key, rollouts labelled later) need
not throw away what an earlier run learned. The new run takes the checkpoint's EMA
weights (the ones its rollouts used) and its normaliser, because the weights only mean
something in the normalised coordinates they were trained in; the optimizer, the
learning-rate schedule and the EMA start afresh. The architecture must be the one the
run asks for: a mismatch is an error naming the keys, never a silent reshape. Only
:data:`FREE_KEYS` (sampling steps, EMA settings, keys a fresh start alone reads) may differ.
"""

from __future__ import annotations

import logging
import os
from typing import Mapping

import numpy as np

from robopref.policies.checkpoint import build_model, read_checkpoint
from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy

log = logging.getLogger(__name__)
# policy keys a fine-tuning run may set its own way: how it samples and averages, and what only a fresh start reads
FREE_KEYS = frozenset({"num_inference_steps", "inference_dtype", "ema_power", "ema_max_decay", "image_weights", "image_state_steps", "image_state_batch",
                       "image_state_frames"})
RANGE_SLACK = 0.05  # fraction of a feature's fitted range the new data may exceed before the user is warned


def warm_start_model(path: str | os.PathLike, cfg: DiffusionPolicyConfig, shapes: PolicyShapes, arrays: Mapping[str, np.ndarray]) -> DiffusionPolicy:
    """A trainable copy of the checkpoint's EMA policy, checked against the run's config and data.

    Args:
        path: the checkpoint to start from (e.g. an earlier run's ``last.ckpt``).
        cfg: the run's resolved policy config; every key must equal the checkpoint's.
        shapes: the run's dataset shapes; they must equal the checkpoint's.
        arrays: the run's training actions and low-dim observations (:func:`fit_arrays`),
            compared with the checkpoint's normaliser ranges.
    """
    ckpt = read_checkpoint(path)
    old_cfg = DiffusionPolicyConfig.from_dict(ckpt["policy_config"])
    diff = {k: (v, cfg.to_dict()[k]) for k, v in old_cfg.to_dict().items() if cfg.to_dict()[k] != v and k not in FREE_KEYS}
    if diff:
        listed = ", ".join(f"{k}: checkpoint {a!r}, this run {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ValueError(f"init_from={os.fspath(path)!r}: the policy config differs from the checkpoint's ({listed}); "
                         "fine-tuning keeps the checkpoint's architecture, so set these keys as it has them")
    old_shapes = PolicyShapes.from_dict(ckpt["shapes"])
    if old_shapes != shapes:
        frames = {tuple(v[:2]) for v in old_shapes.images.values()}
        only_frames = (old_shapes.action_dim, old_shapes.low_dim, set(old_shapes.images)) == (shapes.action_dim, shapes.low_dim, set(shapes.images))
        hint = (f"; only the frame size differs: write the dataset at {next(iter(frames))[0]} x {next(iter(frames))[1]} (robopref convert "
                f"... image_size=null or image_size={next(iter(frames))[0]}, robopref collect ... env.image_size={next(iter(frames))[0]})"
                if only_frames and len(frames) == 1 else "")
        raise ValueError(f"init_from={os.fspath(path)!r}: the checkpoint was trained on shapes {old_shapes.to_dict()}, "
                         f"this dataset has {shapes.to_dict()} (other observation keys or action size){hint}")
    model = build_model(ckpt, weights="ema").train()  # built once, as before: a second build would draw other random numbers
    model.cfg = cfg  # the run's FREE_KEYS (sampling steps, EMA); every other key equals the checkpoint's, checked above
    model.set_inference_dtype(cfg.inference_dtype)
    _warn_outside_range(model, arrays, path)
    log.info("starting from the EMA weights and normaliser of %s", os.fspath(path))
    return model


def inherited_config(path: str | os.PathLike, run_cfg: DiffusionPolicyConfig, overrides: list[str]) -> DiffusionPolicyConfig:
    """The policy config of a fine-tuning run from the command line: the checkpoint's own, with the
    ``policy.<key>=`` values given in ``overrides`` (Hydra's task overrides) on top.

    So ``robopref policy dataset=... init_from=imported.ckpt`` needs no architecture keys
    restated, whatever the checkpoint was (another recipe, an imported diffusion_policy or
    LeRobot policy). A policy group chosen explicitly (``policy=diffusion_image``) keeps the
    run's config as it is, and :func:`warm_start_model` then lists every key that differs.
    """
    if any(o.lstrip("+~").startswith("policy=") for o in overrides):
        return run_cfg
    base = DiffusionPolicyConfig.from_dict(read_checkpoint(path)["policy_config"]).to_dict()
    run = run_cfg.to_dict()
    given = {o.lstrip("+~").split("=", 1)[0].removeprefix("policy.").split(".", 1)[0]
             for o in overrides if o.lstrip("+~").startswith("policy.")}
    changed = {k: run[k] for k in sorted(given) if k in run}
    if changed:
        log.info("init_from=%s: its policy config, with %s from the command line", os.fspath(path), sorted(changed))
    return DiffusionPolicyConfig.from_dict({**base, **changed})


def _warn_outside_range(model: DiffusionPolicy, arrays: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """Warn per key where the new data leaves the checkpoint's normaliser range (sampled actions are clipped to it)."""
    for key, values in arrays.items():
        low, high = model.normalizer.bounds(key)
        slack = RANGE_SLACK * np.maximum(high - low, 1e-6)
        v = np.asarray(values).reshape(len(values), -1)
        outside = (v < low - slack) | (v > high + slack)
        if outside.any():
            consequence = "sampled actions are clipped to that range" if key == "action" else "the policy sees inputs beyond [-1, 1]"
            log.warning("init_from=%s: %.1f %% of the new %r rows lie outside the range the checkpoint was normalised on "
                        "(features %s): %s", os.fspath(path), 100 * outside.any(axis=1).mean(), key,
                        np.flatnonzero(outside.any(axis=0)).tolist(), consequence)
