"""Diffusion visuomotor policies (Chi et al. 2023): train from demonstrations, roll out, checkpoint.

Public API::

    from robopref.policies import load_policy
    policy = load_policy("outputs/policy/.../checkpoints/best.ckpt", device="auto")
    policy.reset(seed=0); action = policy.act(obs)      # receding-horizon action queue

    DiffusionPolicy(cfg, shapes, normalizer)             # compute_loss / predict_action
    ResNet18Encoder(out_dim, norm="group")               # shared image encoder

Heavy submodules (diffusers, training) are imported on first use.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "ConditionalUnet1D": "robopref.policies.unet1d",
    "DiffusionPolicy": "robopref.policies.diffusion_policy",
    "DiffusionPolicyConfig": "robopref.policies.config",
    "PolicyShapes": "robopref.policies.config",
    "DiffusionRolloutPolicy": "robopref.policies.rollout",
    "EMAModel": "robopref.policies.ema",
    "Normalizer": "robopref.policies.normalizer",
    "SequenceDataset": "robopref.policies.dataset",
    "WindowSpec": "robopref.policies.dataset",
    "ResNet18Encoder": "robopref.policies.vision",
    "SmallCNNEncoder": "robopref.policies.vision",
    "load_torchvision_state_dict": "robopref.policies.vision",
    "load_policy": "robopref.policies.checkpoint",
    "save_checkpoint": "robopref.policies.checkpoint",
    "read_checkpoint": "robopref.policies.checkpoint",
    "TrainConfig": "robopref.policies.train",
    "train_policy": "robopref.policies.train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'robopref.policies' has no attribute {name!r}")
