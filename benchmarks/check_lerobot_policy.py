"""LeRobot diffusion policies in and out of robopref, checked against LeRobot's own code.

Run it with a Python where ``lerobot`` (and the torchvision its ResNet-18 comes from) imports;
robopref runs in its own environment (``--robopref-python``, by default the repository's
``.venv``), since LeRobot pins another torch. Three checks, one JSON object each:

* ``import`` (one per variant): a LeRobot ``DiffusionPolicy`` with random weights (every
  parameter and BatchNorm statistic, so a wrong mapping shows), random dataset statistics and
  its pre/post-processors, saved with ``save_pretrained``; LeRobot's own modules give the noise
  prediction ``unet(x, t, global_cond)`` of normalised raw observations
  (``NormalizerProcessorStep``, ``_prepare_global_conditioning``) and a whole action chunk
  sampled with its DDIM scheduler (10 steps) from given noise, un-normalised by its
  ``UnnormalizerProcessorStep``. robopref converts the folder with its command line
  (``convert format=lerobot_policy``) and computes both from the same raw observations.
* ``roundtrip`` (same variants): robopref's ``export policy=`` writes the converted policy back;
  LeRobot loads it with ``DiffusionPolicy.from_pretrained`` and ``make_pre_post_processors``
  and computes both again, against the original.
* ``native``: a policy made in robopref (frames in [-1, 1], ImageNet normalisation and
  per-camera statistics, all folded into LeRobot's MEAN_STD on export) is exported and
  loaded by LeRobot, which computes both against robopref's own outputs.

Exits 1 when a difference exceeds ``--tolerance``.

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


def lerobot_outputs(folder: Path, ref: dict) -> dict:
    """LeRobot's noise prediction and 10-step DDIM chunk for ``ref``'s raw observations, from the folder as LeRobot loads it."""
    import torch
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy
    from lerobot.policies.factory import make_pre_post_processors

    policy = DiffusionPolicy.from_pretrained(folder).eval()
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(folder))
    normalizer = next(s for s in pre.steps if type(s).__name__ == "NormalizerProcessorStep")
    unnormalizer = next(s for s in post.steps if type(s).__name__ == "UnnormalizerProcessorStep")
    features = policy.config.input_features
    renamed = {"observation.image": "observation.images.camera"}  # robopref names it camera_image, exported back as this
    as_float = {k if k in features else renamed[k]: (v.permute(0, 1, 4, 2, 3).float() / 255 if v.dtype == torch.uint8 else v)
                for k, v in ref["raw"].items()}
    normed = {k: normalizer._apply_transform(v, k, features[k].type) for k, v in as_float.items()}
    if policy.config.image_features:
        normed["observation.images"] = torch.stack([normed[k] for k in policy.config.image_features], dim=-4)
    model = policy.diffusion
    model.num_inference_steps = 10
    with torch.no_grad():
        eps = model.unet(ref["x"], ref["t"], global_cond=model._prepare_global_conditioning(normed))
        actions = model.generate_actions(normed, noise=ref["noise"].clone())
        actions = unnormalizer._apply_transform(actions, "action", policy.config.output_features["action"].type, inverse=True)
    return {"eps": eps, "actions": actions}


def differences(got: dict, ref: dict) -> dict:
    return {"eps_max_abs_diff": float((got["eps"] - ref["eps"]).abs().max()), "eps_max_abs": float(ref["eps"].abs().max()),
            "actions_max_abs_diff": float((got["actions"] - ref["actions"]).abs().max()), "actions_max_abs": float(ref["actions"].abs().max())}


def robopref_native(folder: Path) -> None:
    """(In robopref's environment) a random robopref policy LeRobot's network can hold, its checkpoint and its outputs."""
    import torch

    from robopref.policies.checkpoint import save_checkpoint
    from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
    from robopref.policies.diffusion_policy import DiffusionPolicy

    torch.manual_seed(1)
    cfg = DiffusionPolicyConfig(name="diffusion_image", low_dim_keys=["state", "goal"], image_keys=["front_image", "top_image"],
                                down_dims=[32, 64, 128], diffusion_step_embed_dim=32, image_feature_dim=16, image_pool="spatial_softmax",
                                image_keypoints=8, image_range="signed", imagenet_norm=True, crop_ratio=0.875, num_inference_steps=10,
                                image_stats={"front_image": {"mean": [0.1, -0.2, 0.3], "std": [1.5, 0.8, 1.1]},
                                             "top_image": {"mean": [0.0, 0.1, -0.1], "std": [0.9, 1.2, 1.0]}})
    images = {k: (IMAGE, IMAGE, 3) for k in cfg.image_keys}
    model = DiffusionPolicy(cfg, PolicyShapes(action_dim=3, low_dim={"state": 5, "goal": 4}, images=images))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for key, dim in (("state", 5), ("goal", 4), ("action", 3)):
            model.normalizer.maps[key].fit(torch.randn(200, dim) * 2 + torch.randn(dim))
    model.eval()
    folder.mkdir(parents=True)
    save_checkpoint(folder / "native.ckpt", model)
    raw = {"state": torch.randn(3, 2, 5), "goal": torch.randn(3, 2, 4)}
    raw.update({k: torch.randint(0, 256, (3, 2, IMAGE, IMAGE, 3), dtype=torch.uint8) for k in cfg.image_keys})
    x, t, noise = torch.randn(3, cfg.horizon, 3), torch.tensor([0, 37, 99]), torch.randn(3, cfg.horizon, 3)
    with torch.no_grad():
        eps = model.unet(x, t, model.encode_obs(raw))
        actions = model.predict_action(raw, noise=noise.clone())[:, 1:9]
    names = {"state": "observation.state", "goal": "observation.environment_state", "front_image": "observation.images.front",
             "top_image": "observation.images.top"}
    torch.save({"raw": {names[k]: v for k, v in raw.items()}, "x": x, "t": t, "noise": noise, "eps": eps, "actions": actions}, folder / "reference.pt")


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


def robopref(python: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, *args], env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)


def check(variant: str, tmp: Path, robopref_python: str, tolerance: float) -> list[dict]:
    """The ``import`` and ``roundtrip`` results of one variant."""
    import torch

    folder, ckpt, back = tmp / variant, tmp / f"{variant}.ckpt", tmp / f"{variant}_back"
    lerobot_reference(folder, variant)
    run = robopref(robopref_python, "-m", "robopref.cli", "convert", "format=lerobot_policy", f"source={folder}", f"output={ckpt}",
                   f"hydra.run.dir={tmp / ('convert_' + variant)}")
    if run.returncode:
        return [{"check": "import", "variant": variant, "ok": False, "error": run.stderr[-2000:]}]
    comp = robopref(robopref_python, __file__, "--compare", str(folder), str(ckpt))
    if comp.returncode:
        return [{"check": "import", "variant": variant, "ok": False, "error": comp.stderr[-2000:]}]
    res = json.loads(comp.stdout.strip().splitlines()[-1])
    out = [{"check": "import", "variant": variant, **res, "ok": max(res["eps_max_abs_diff"], res["actions_max_abs_diff"]) <= tolerance}]
    run = robopref(robopref_python, "-m", "robopref.cli", "export", f"policy={ckpt}", f"output={back}", f"hydra.run.dir={tmp / ('export_' + variant)}")
    if run.returncode:
        return out + [{"check": "roundtrip", "variant": variant, "ok": False, "error": run.stderr[-2000:]}]
    ref = torch.load(folder / "reference.pt", weights_only=False)
    diff = differences(lerobot_outputs(back, ref), ref)
    return out + [{"check": "roundtrip", "variant": variant, **diff, "ok": max(diff["eps_max_abs_diff"], diff["actions_max_abs_diff"]) <= tolerance}]


def check_native(tmp: Path, robopref_python: str, tolerance: float) -> dict:
    """The ``native`` result: a robopref policy exported and run by LeRobot."""
    import torch

    folder = tmp / "native"
    made = robopref(robopref_python, __file__, "--make-native", str(folder))
    if made.returncode:
        return {"check": "native", "ok": False, "error": made.stderr[-2000:]}
    run = robopref(robopref_python, "-m", "robopref.cli", "export", f"policy={folder / 'native.ckpt'}", f"output={folder / 'lerobot'}",
                   f"hydra.run.dir={tmp / 'export_native'}")
    if run.returncode:
        return {"check": "native", "ok": False, "error": run.stderr[-2000:]}
    ref = torch.load(folder / "reference.pt", weights_only=False)
    diff = differences(lerobot_outputs(folder / "lerobot", ref), ref)
    steps = deployment_steps(folder / "lerobot", ref)
    return {"check": "native", **diff, "select_action": steps,
            "ok": max(diff["eps_max_abs_diff"], diff["actions_max_abs_diff"]) <= tolerance and steps["finite"]}


def deployment_steps(folder: Path, ref: dict) -> dict:
    """LeRobot's deployment path on the exported folder: pre-processor, ``select_action`` for 10 steps, post-processor."""
    import torch
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy
    from lerobot.policies.factory import make_pre_post_processors

    policy = DiffusionPolicy.from_pretrained(folder).eval()
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(folder))
    policy.reset()
    actions = []
    for step in range(10):
        obs = {k: (v[0, step % 2].permute(2, 0, 1).float() / 255 if v.dtype == torch.uint8 else v[0, step % 2]) for k, v in ref["raw"].items()}
        with torch.no_grad():
            actions.append(post(policy.select_action(pre(obs))))
    stacked = torch.cat(actions)
    return {"actions": list(stacked.shape), "finite": bool(torch.isfinite(stacked).all())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robopref-python", default=str(ROOT / ".venv" / "bin" / "python"), help="a Python where robopref runs")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest absolute difference accepted (float32 rounding is ~1e-5)")
    parser.add_argument("--compare", nargs=2, metavar=("FOLDER", "CHECKPOINT"), help=argparse.SUPPRESS)  # the robopref side
    parser.add_argument("--make-native", metavar="FOLDER", help=argparse.SUPPRESS)  # the robopref side
    args = parser.parse_args()
    if args.compare:
        print(json.dumps(robopref_outputs(Path(args.compare[0]), Path(args.compare[1]))))
        return
    if args.make_native:
        robopref_native(Path(args.make_native))
        return
    import lerobot

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        results = (r for v in args.variants for r in check(v, Path(tmp), args.robopref_python, args.tolerance))
        for res in [*results, check_native(Path(tmp), args.robopref_python, args.tolerance)]:
            ok &= res["ok"]
            print(json.dumps({"lerobot": lerobot.__version__, **res}), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
