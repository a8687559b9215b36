"""`robopref convert format=lerobot_policy`, checked against LeRobot's own diffusion policy code.

Run it with a Python where ``lerobot`` (and the torchvision its ResNet-18 comes from) imports;
robopref runs in its own environment (``--robopref-python``, by default the repository's
``.venv``), since LeRobot pins another torch. For each variant it builds a LeRobot
``DiffusionPolicy`` with random weights (every parameter and BatchNorm statistic, so a wrong
mapping shows), random dataset statistics and the pre/post-processors, saves it with
``save_pretrained``, and records from LeRobot's own modules:

* the noise prediction ``unet(x, t, global_cond)`` of the normalised observations
  (LeRobot's ``NormalizerProcessorStep`` and ``_prepare_global_conditioning``);
* a whole action chunk sampled with LeRobot's DDIM scheduler (10 steps) from given noise,
  un-normalised by its ``UnnormalizerProcessorStep``.

robopref then converts the folder with its command line and computes both from the same raw
observations. One JSON object per variant (the largest absolute differences and the scale of
the values); exits 1 when one exceeds ``--tolerance``.

    /path/to/lerobot-venv/bin/python benchmarks/check_lerobot_policy.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("base", "separate", "additive", "mean_std", "env_state", "one_camera", "batch_norm")
IMAGE = 96


def lerobot_reference(folder: Path, variant: str) -> None:
    """Save a random LeRobot diffusion policy of ``variant`` in ``folder`` with its outputs in ``reference.pt``."""
    import numpy as np
    import torch
    from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy
    from lerobot.policies.diffusion.processor_diffusion import make_diffusion_pre_post_processors

    torch.manual_seed(0)
    cams = ["observation.image"] if variant == "one_camera" else ["observation.images.top", "observation.images.wrist"]
    inputs = {"observation.state": PolicyFeature(type=FeatureType.STATE, shape=(5,))}
    inputs.update({c: PolicyFeature(type=FeatureType.VISUAL, shape=(3, IMAGE, IMAGE)) for c in cams})
    if variant == "env_state":
        inputs["observation.environment_state"] = PolicyFeature(type=FeatureType.ENV, shape=(4,))
    outputs = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(3,))}
    kw = dict(input_features=inputs, output_features=outputs, down_dims=(32, 64, 128), crop_shape=(84, 84), device="cpu",
              diffusion_step_embed_dim=32, spatial_softmax_num_keypoints=16, noise_scheduler_type="DDIM", num_inference_steps=10,
              use_separate_rgb_encoder_per_camera=variant == "separate", use_film_scale_modulation=variant != "additive",
              use_group_norm=variant != "batch_norm")
    if variant == "mean_std":
        kw["normalization_mapping"] = {"VISUAL": NormalizationMode.MEAN_STD, "STATE": NormalizationMode.MEAN_STD, "ACTION": NormalizationMode.MIN_MAX}
    cfg = DiffusionConfig(**kw)
    policy = DiffusionPolicy(cfg).eval()
    with torch.no_grad():
        for name, p in policy.named_parameters():
            p.copy_(torch.randn_like(p) * (0.2 if p.ndim > 1 else 0.5) + (1.0 if name.endswith("weight") and p.ndim == 1 else 0.0))
        for name, b in policy.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
    rng = np.random.default_rng(0)
    stats = {}
    for key, feature in {**inputs, **outputs}.items():
        if feature.type == FeatureType.VISUAL:
            values = dict(min=np.zeros(3), max=np.ones(3), mean=rng.uniform(0.3, 0.6, 3), std=rng.uniform(0.15, 0.3, 3))
            stats[key] = {s: torch.tensor(v, dtype=torch.float32).view(3, 1, 1) for s, v in values.items()}
        else:
            low = rng.uniform(-2, 0, feature.shape[0])
            high = low + rng.uniform(0.5, 3, feature.shape[0])
            values = dict(min=low, max=high, mean=(low + high) / 2, std=(high - low) / 4)
            stats[key] = {s: torch.tensor(v, dtype=torch.float32) for s, v in values.items()}
    pre, post = make_diffusion_pre_post_processors(cfg, dataset_stats=stats)
    for part in (policy, pre, post):
        part.save_pretrained(folder)

    batch, steps = 3, cfg.n_obs_steps
    raw = {"observation.state": torch.randn(batch, steps, 5)}
    raw.update({c: torch.randint(0, 256, (batch, steps, IMAGE, IMAGE, 3), dtype=torch.uint8) for c in cams})
    if variant == "env_state":
        raw["observation.environment_state"] = torch.randn(batch, steps, 4)
    as_float = {k: (v.permute(0, 1, 4, 2, 3).float() / 255 if v.dtype == torch.uint8 else v) for k, v in raw.items()}
    normalizer = next(s for s in pre.steps if type(s).__name__ == "NormalizerProcessorStep")
    unnormalizer = next(s for s in post.steps if type(s).__name__ == "UnnormalizerProcessorStep")
    normed = {k: normalizer._apply_transform(v, k, inputs[k].type) for k, v in as_float.items()}
    normed["observation.images"] = torch.stack([normed[k] for k in cfg.image_features], dim=-4)
    model = policy.diffusion
    with torch.no_grad():
        cond = model._prepare_global_conditioning(normed)
        x, t = torch.randn(batch, cfg.horizon, 3), torch.tensor([0, 37, 99])
        eps = model.unet(x, t, global_cond=cond)
        noise = torch.randn(batch, cfg.horizon, 3)
        actions = unnormalizer._apply_transform(model.generate_actions(normed, noise=noise.clone()), "action", FeatureType.ACTION, inverse=True)
    torch.save({"raw": raw, "x": x, "t": t, "eps": eps, "noise": noise, "actions": actions}, folder / "reference.pt")


def robopref_outputs(folder: Path, checkpoint: Path) -> dict:
    """(In robopref's environment) the converted policy's noise prediction and actions against ``reference.pt``."""
    import torch

    from robopref.data.lerobot import obs_key
    from robopref.policies.checkpoint import load_policy

    ref = torch.load(folder / "reference.pt", weights_only=False)
    model = load_policy(checkpoint, device="cpu").model
    obs = {obs_key(k, camera=v.dtype == torch.uint8): v for k, v in ref["raw"].items()}
    with torch.no_grad():
        eps = model.unet(ref["x"], ref["t"], model.encode_obs(obs))
        actions = model.predict_action(obs, noise=ref["noise"].clone(), num_inference_steps=10)
    start = model.cfg.n_obs_steps - 1
    actions = actions[:, start : start + model.cfg.n_action_steps]
    return {"eps_max_abs_diff": float((eps - ref["eps"]).abs().max()), "eps_max_abs": float(ref["eps"].abs().max()),
            "actions_max_abs_diff": float((actions - ref["actions"]).abs().max()), "actions_max_abs": float(ref["actions"].abs().max())}


def check(variant: str, tmp: Path, robopref_python: str, tolerance: float) -> dict:
    folder = tmp / variant
    lerobot_reference(folder, variant)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    conv = subprocess.run([robopref_python, "-m", "robopref.cli", "convert", "format=lerobot_policy", f"source={folder}",
                           f"output={tmp / (variant + '.ckpt')}", f"hydra.run.dir={tmp / ('run_' + variant)}"], env=env, capture_output=True, text=True)
    if conv.returncode:
        return {"variant": variant, "ok": False, "error": conv.stderr[-2000:]}
    comp = subprocess.run([robopref_python, __file__, "--compare", str(folder), str(tmp / (variant + ".ckpt"))], env=env, capture_output=True, text=True)
    if comp.returncode:
        return {"variant": variant, "ok": False, "error": comp.stderr[-2000:]}
    res = json.loads(comp.stdout.strip().splitlines()[-1])
    return {"variant": variant, **res, "ok": max(res["eps_max_abs_diff"], res["actions_max_abs_diff"]) <= tolerance}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robopref-python", default=str(ROOT / ".venv" / "bin" / "python"), help="a Python where robopref runs")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest absolute difference accepted (float32 rounding is ~1e-5)")
    parser.add_argument("--compare", nargs=2, metavar=("FOLDER", "CHECKPOINT"), help=argparse.SUPPRESS)  # the robopref side
    args = parser.parse_args()
    if args.compare:
        print(json.dumps(robopref_outputs(Path(args.compare[0]), Path(args.compare[1]))))
        return
    import lerobot

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            res = {"lerobot": lerobot.__version__, **check(variant, Path(tmp), args.robopref_python, args.tolerance)}
            ok &= res["ok"]
            print(json.dumps(res), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
