"""Start a training run from another policy's weights (``robopref policy init_from=CKPT``).

Fine-tuning on new data (DAgger rounds, a new filter key, rollouts labelled later) need
not throw away what an earlier run learned. The new run takes the checkpoint's EMA
weights (the ones its rollouts used) and its normaliser, because the weights only mean
something in the normalised coordinates they were trained in; the optimizer, the
learning-rate schedule and the EMA start afresh. The architecture must be the one the
run asks for: a mismatch is an error naming the keys, never a silent reshape.
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
    diff = {k: (v, cfg.to_dict()[k]) for k, v in old_cfg.to_dict().items() if cfg.to_dict()[k] != v}
    if diff:
        listed = ", ".join(f"{k}: checkpoint {a!r}, this run {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ValueError(f"init_from={os.fspath(path)!r}: the policy config differs from the checkpoint's ({listed}); "
                         "fine-tuning keeps the checkpoint's architecture, so set these keys as it has them")
    old_shapes = PolicyShapes.from_dict(ckpt["shapes"])
    if old_shapes != shapes:
        raise ValueError(f"init_from={os.fspath(path)!r}: the checkpoint was trained on shapes {old_shapes.to_dict()}, "
                         f"this dataset has {shapes.to_dict()} (other observation keys or action size)")
    model = build_model(ckpt, weights="ema").train()
    _warn_outside_range(model, arrays, path)
    log.info("starting from the EMA weights and normaliser of %s", os.fspath(path))
    return model


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
