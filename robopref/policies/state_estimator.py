"""Cameras as state estimators: pre-train each camera's encoder to predict a low-dim key.

An image policy must find in its frames what a low-dim policy is handed: where the blocks
are. Learning that through the denoising loss alone is slow on a CPU (push2d's 0 % image
runs, docs/benchmarks-policy.md). Simulated datasets record the state each frame shows,
so the encoder can learn it directly first, by regression on single frames (privileged
supervision, as in asymmetric or state-estimation pre-training), and then be frozen:

1. :func:`pretrain_state_estimators` fits every camera's encoder to the normalised
   ``image_state_key`` (mean squared error, AdamW) on a random subset of the training
   demos' frames, and reports the mean absolute error per value on held-out demos.
2. :func:`estimate_demos` runs the frozen encoders once over every frame, so the policy
   trains from the estimates at low-dim speed; at rollout time the same encoders read
   the camera (``ObsEncoder.camera_features``).

The policy is conditioned on the estimate, never on the key itself, so at deployment it
needs only the camera (and whatever low-dim keys it was given, e.g. the robot's pose).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from robopref.data import Dataset
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.normalizer import image_to_float
from robopref.policies.obs_encoder import estimate_key

log = logging.getLogger(__name__)
EVAL_FRAMES = 2000  # held-out frames the reported error is measured on, at most


def _frame_index(ds: Dataset, demos: Sequence[str], limit: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``{demo: sorted steps}``: every step of ``demos``, or ``limit`` of them drawn at random."""
    lengths = np.array([ds.num_samples(d) for d in demos], dtype=np.int64)
    flat = np.arange(lengths.sum())
    if len(flat) > limit:
        flat = np.sort(rng.choice(len(flat), size=limit, replace=False))
    demo_of = np.searchsorted(np.cumsum(lengths), flat, side="right")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return {demos[i]: flat[demo_of == i] - starts[i] for i in np.unique(demo_of)}


def _read_frames(ds: Dataset, index: Mapping[str, np.ndarray], camera: str, state_key: str, model: DiffusionPolicy) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, H, W, C) uint8 frames and (N, D) normalised targets at ``index``, read demo by demo."""
    frames, targets = [], []
    for demo, steps in index.items():
        frames.append(ds.read(demo, f"obs/{camera}")[steps])
        targets.append(ds.read(demo, f"obs/{state_key}")[steps].reshape(len(steps), -1))
    state = torch.from_numpy(np.concatenate(targets).astype(np.float32))
    return torch.from_numpy(np.concatenate(frames)), model.normalizer.normalize(state_key, state.to(model.device)).cpu()


def _encode(encoder: torch.nn.Module, frames: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """The encoder's output for uint8 HWC ``frames``, in batches, without gradients."""
    device = next(encoder.parameters()).device
    with torch.no_grad():
        return torch.cat([encoder(image_to_float(frames[i : i + batch].to(device))).cpu() for i in range(0, len(frames), batch)])


def pretrain_state_estimators(model: DiffusionPolicy, ds: Dataset, train_demos: Sequence[str], val_demos: Sequence[str] = (),
                              seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Fit each camera encoder of ``model`` to its ``image_state_key``; returns, per camera, the
    held-out mean absolute error of every value in the key's own units (``val_abs_error``; on
    training frames when there are no validation demos) and the last batches' loss.

    The encoders stay frozen for the policy's training (``requires_grad`` is off again on return).
    """
    cfg = model.cfg
    key = cfg.image_state_key
    if key is None:
        raise ValueError("pretrain_state_estimators: the policy has no image_state_key")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    low, high = (torch.as_tensor(b, dtype=torch.float32) for b in model.normalizer.bounds(key))
    report: dict[str, Any] = {}
    for camera in model.obs_encoder.image_keys:
        encoder = model.obs_encoder.encoders[camera].train()
        frames, targets = _read_frames(ds, _frame_index(ds, list(train_demos), cfg.image_state_frames, rng), camera, key, model)
        device = next(encoder.parameters()).device
        encoder.requires_grad_(True)
        optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-3, weight_decay=1e-4)
        losses: list[float] = []
        bar = tqdm(range(cfg.image_state_steps), desc=f"state estimator {camera} -> {key}", unit="batch", disable=not progress, leave=False)
        try:
            for _ in bar:
                idx = torch.randint(0, len(frames), (cfg.image_state_batch,), generator=gen)
                loss = (encoder(image_to_float(frames[idx].to(device))) - targets[idx].to(device)).square().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
        finally:
            encoder.requires_grad_(False)
        encoder.eval()
        if val_demos:
            vf, vt = _read_frames(ds, _frame_index(ds, list(val_demos), EVAL_FRAMES, rng), camera, key, model)
        else:
            vf, vt = frames[:EVAL_FRAMES], targets[:EVAL_FRAMES]
        error = ((_encode(encoder, vf) - vt).abs() * (high - low) / 2).mean(0)  # normalised units span [-1, 1]
        report[camera] = {"frames": len(frames), "steps": cfg.image_state_steps, "final_loss": float(np.mean(losses[-50:])),
                          "val_abs_error": [round(float(e), 5) for e in error], "held_out": "val_demos" if val_demos else "train_frames"}
        log.info("state estimator %s -> %s: %s", camera, key, report[camera])
        del frames, targets
    return report


def estimate_demos(model: DiffusionPolicy, ds: Dataset, demos: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """``{estimate_key(camera, key): {demo: (T, D)}}``: each frozen estimator's output on every frame,
    read one demo at a time (bounded memory), for :class:`SequenceDataset`'s ``extra``."""
    key = model.cfg.image_state_key
    if key is None:
        raise ValueError("estimate_demos: the policy has no image_state_key")
    out: dict[str, dict[str, np.ndarray]] = {}
    for camera in model.obs_encoder.image_keys:
        encoder = model.obs_encoder.encoders[camera]
        was_training = encoder.training
        encoder.eval()
        out[estimate_key(camera, key)] = {d: _encode(encoder, torch.from_numpy(ds.read(d, f"obs/{camera}"))).numpy() for d in demos}
        encoder.train(was_training)
    return out
