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
    /path/to/lerobot-venv/bin/python benchmarks/check_lerobot_policy.py --speed   # chunk times instead

``--speed`` times one action chunk (batch 1, after warm-up, median of ``--reps``) of a policy
shaped like ``lerobot/diffusion_pusht`` (LeRobot's default sizes: down_dims 512/1024/2048,
32 keypoints, one 96 × 96 camera cropped to 84, a 2-D state and action): LeRobot's
``generate_actions`` with its default 100 DDPM steps and with 16 DDIM steps, and robopref's
``predict_action`` of the converted policy with 16 DDIM steps, each in its own process with
``--threads`` torch threads; with 16 DDIM steps also 8 chunks side by side (batched
evaluation: ``robopref eval batch=``, ``lerobot-eval`` with vectorised envs).
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


def median_ms(fn, reps: int) -> float:
    import statistics
    import time

    fn()  # warm-up (and any one-off tracing)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t))
    return round(statistics.median(times), 1)


def pusht_sized(folder: Path) -> None:
    """Save a random LeRobot diffusion policy with ``lerobot/diffusion_pusht``'s sizes (LeRobot's defaults)."""
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy
    from lerobot.policies.diffusion.processor_diffusion import make_diffusion_pre_post_processors

    torch.manual_seed(0)
    cfg = DiffusionConfig(input_features={"observation.image": PolicyFeature(type=FeatureType.VISUAL, shape=(3, IMAGE, IMAGE)),
                                          "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(2,))},
                          output_features={"action": PolicyFeature(type=FeatureType.ACTION, shape=(2,))}, crop_shape=(84, 84), device="cpu")
    stats = {"observation.image": {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.25)},
             "observation.state": {"min": torch.zeros(2), "max": torch.full((2,), 512.0)}, "action": {"min": torch.zeros(2), "max": torch.full((2,), 512.0)}}
    pre, post = make_diffusion_pre_post_processors(cfg, dataset_stats=stats)
    for part in (DiffusionPolicy(cfg), pre, post):
        part.save_pretrained(folder)


def lerobot_speed(folder: Path, reps: int) -> list[dict]:
    """LeRobot's chunk times for the saved policy: 100 DDPM steps (its default) and 16 DDIM steps."""
    import torch
    from diffusers.schedulers.scheduling_ddim import DDIMScheduler
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

    policy = DiffusionPolicy.from_pretrained(folder).eval()
    model = policy.diffusion
    params = sum(p.numel() for p in policy.parameters())
    out = []
    for sampler, steps, size in (("DDPM", 100, 1), ("DDIM", 16, 1), ("DDIM", 16, 8)):
        if sampler == "DDIM":
            model.noise_scheduler = DDIMScheduler(**{k: v for k, v in model.noise_scheduler.config.items() if not k.startswith("_")
                                                     and k in DDIMScheduler.__init__.__code__.co_varnames})
        model.num_inference_steps = steps
        batch = {"observation.state": torch.randn(size, 2, 2), "observation.images": torch.rand(size, 2, 1, 3, IMAGE, IMAGE)}
        with torch.no_grad():
            ms = median_ms(lambda: model.generate_actions(batch), reps)
        out.append({"check": "speed", "library": "lerobot", "sampler": sampler, "steps": steps, "batch": size, "call_ms": ms,
                    "chunk_ms": round(ms / size, 1), "parameters": params})
    return out


def robopref_speed(checkpoint: Path, reps: int) -> list[dict]:
    """(In robopref's environment) the converted policy's chunk times with 16 DDIM steps, one chunk and 8 side by side."""
    import torch

    from robopref.policies.checkpoint import load_policy

    model = load_policy(checkpoint, device="cpu").model
    out = []
    for size in (1, 8):
        obs = {"camera_image": torch.randint(0, 256, (size, 2, IMAGE, IMAGE, 3), dtype=torch.uint8), "state": torch.rand(size, 2, 2) * 512}
        ms = median_ms(lambda: model.predict_action(obs, num_inference_steps=16), reps)
        out.append({"check": "speed", "library": "robopref", "sampler": "DDIM", "steps": 16, "batch": size, "call_ms": ms,
                    "chunk_ms": round(ms / size, 1), "parameters": sum(p.numel() for p in model.parameters())})
    return out


def speed(tmp: Path, robopref_python: str, reps: int, threads: int) -> list[dict]:
    import torch

    torch.set_num_threads(threads)
    folder = tmp / "pusht_sized"
    pusht_sized(folder)
    results = lerobot_speed(folder, reps)
    run = robopref(robopref_python, "-m", "robopref.cli", "convert", "format=lerobot_policy", f"source={folder}", f"output={tmp / 'pusht.ckpt'}",
                   f"hydra.run.dir={tmp / 'convert_pusht'}")
    if run.returncode:
        return results + [{"check": "speed", "library": "robopref", "ok": False, "error": run.stderr[-2000:]}]
    timed = robopref(robopref_python, __file__, "--time", str(tmp / "pusht.ckpt"), "--reps", str(reps), "--threads", str(threads))
    if timed.returncode:
        return results + [{"check": "speed", "library": "robopref", "ok": False, "error": timed.stderr[-2000:]}]
    return results + [json.loads(line) for line in timed.stdout.strip().splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robopref-python", default=str(ROOT / ".venv" / "bin" / "python"), help="a Python where robopref runs")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest absolute difference accepted (float32 rounding is ~1e-5)")
    parser.add_argument("--compare", nargs=2, metavar=("FOLDER", "CHECKPOINT"), help=argparse.SUPPRESS)  # the robopref side
    parser.add_argument("--make-native", metavar="FOLDER", help=argparse.SUPPRESS)  # the robopref side
    parser.add_argument("--speed", action="store_true", help="time a pusht-sized policy's chunk in both libraries instead")
    parser.add_argument("--reps", type=int, default=10, help="--speed: timed chunks per setting")
    parser.add_argument("--threads", type=int, default=2, help="--speed: torch threads on each side")
    parser.add_argument("--time", metavar="CHECKPOINT", help=argparse.SUPPRESS)  # the robopref side of --speed
    args = parser.parse_args()
    if args.time:
        import torch

        torch.set_num_threads(args.threads)
        for res in robopref_speed(Path(args.time), args.reps):
            print(json.dumps(res))
        return
    if args.speed:
        import lerobot

        with tempfile.TemporaryDirectory() as tmp:
            for res in speed(Path(tmp), args.robopref_python, args.reps, args.threads):
                print(json.dumps({"lerobot": lerobot.__version__, "threads": args.threads, **res}), flush=True)
        return
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
