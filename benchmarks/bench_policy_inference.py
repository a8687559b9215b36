"""Speed and memory of diffusion policies: inference latency, throughput, training samples/s, peak RSS.

Prints one JSON object per line:

- ``inference``: one action chunk with ``num_inference_steps`` DDIM steps, batch 1 (median
  and best of ``--reps`` calls) and chunks/s at batch 64, for the low-dim policy (20-D state,
  7-D actions) and the image policy (one 84×84 camera, ResNet-18 with GroupNorm), default
  configs (conf_stage/policy/policy/*.yaml); ``--variants image_state`` times the camera-as-state-
  estimator preset (keypoint CNN, push2d's shapes, ``--image-size 64`` for push2d's camera); ``--variants lerobot_pusht``
  LeRobot's default sizes as imported (263 M parameters; chunks/s at batch 8); ``--inference-dtype float32 bfloat16``
  times each policy both ways; ``--reference`` adds the batch-1 time of
  ``predict_action_reference`` (the module forward and diffusers' DDIM step);
- ``train``: samples/s of the training step (forward, backward, AdamW, EMA) at batch 64;
- ``batches``: ms per training batch of 64 low-dim windows, gathered whole
  (``SequenceDataset.get_batch``, what training uses) against window by window with the
  DataLoader's collation (how training read batches before session 17), over a generated dataset shaped like the
  quickstart's demos (300 episodes of 17-33 steps, 8-D state, 2-D actions);
- ``train_memory``: peak RSS of ``robopref policy policy=diffusion_image`` over a generated
  image dataset read lazily, for two dataset sizes: the peak must not grow with the data.

Each line also records the thread count, the device and the 1-minute load average,
because the lab machine is a shared 2-core CPU and timings move with other jobs' load;
with ``--threads 1`` the inference lines add ``batch1_cpu_ms``, the CPU time of the call,
which is what it would take on an idle core (wall time on a busy machine is much longer).

    python benchmarks/bench_policy_inference.py                 # everything
    python benchmarks/bench_policy_inference.py --only inference --device cuda
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import robopref  # noqa: E402,F401  (sets OMP_WAIT_POLICY=PASSIVE before torch loads OpenMP)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from robopref.policies import DiffusionPolicy, DiffusionPolicyConfig, EMAModel, PolicyShapes  # noqa: E402


def _conf(variant: str) -> DiffusionPolicyConfig:
    """The shipped config of ``variant`` (conf_stage/policy/policy/diffusion_<variant>.yaml)."""
    from omegaconf import OmegaConf

    return DiffusionPolicyConfig.from_dict(OmegaConf.load(ROOT / "conf_stage" / "policy" / "policy" / f"diffusion_{variant}.yaml"))


def _lerobot_pusht() -> DiffusionPolicyConfig:
    """LeRobot's diffusion policy at its default sizes (``lerobot/diffusion_pusht``: 263 M parameters), as
    ``convert format=lerobot_policy`` imports it: ResNet-18 with a 32-keypoint spatial softmax, 84 of 96 pixels cropped."""
    return DiffusionPolicyConfig(name="diffusion_image", down_dims=[512, 1024, 2048], num_inference_steps=16, image_encoder="resnet18",
                                 image_feature_dim=64, image_pool="spatial_softmax", image_keypoints=32, crop_ratio=0.875)


def _model(variant: str, device: torch.device, image_size: int, inference_dtype: str = "float32") -> tuple[DiffusionPolicy, PolicyShapes]:
    cfg = _lerobot_pusht() if variant == "lerobot_pusht" else _conf(variant)
    cfg = dataclasses.replace(cfg, inference_dtype=inference_dtype)
    if variant == "lerobot_pusht":  # one 96 x 96 camera and a 2-D state, 2-D actions, whatever --image-size says
        shapes = PolicyShapes(action_dim=2, low_dim={"state": 2}, images={"camera_image": (96, 96, 3)})
        cfg.low_dim_keys, cfg.image_keys = ["state"], ["camera_image"]
    elif variant == "lowdim":
        shapes = PolicyShapes(action_dim=7, low_dim={"state": 20}, images={})
        cfg.low_dim_keys, cfg.image_keys = ["state"], []
    elif variant == "image_state":  # push2d's shapes: the camera estimates the 16-D state, the robot's 4-D pose is given
        shapes = PolicyShapes(action_dim=3, low_dim={"robot": 4}, images={"top_image": (image_size, image_size, 3)}, estimated={"state": 16})
        cfg.low_dim_keys, cfg.image_keys = ["robot"], ["top_image"]
    else:
        shapes = PolicyShapes(action_dim=7, low_dim={}, images={"front_image": (image_size, image_size, 3)})
        cfg.low_dim_keys, cfg.image_keys = [], ["front_image"]
    return DiffusionPolicy(cfg, shapes).to(device), shapes


def _obs(shapes: PolicyShapes, batch: int, n_obs: int, device: torch.device) -> dict[str, torch.Tensor]:
    obs = {k: torch.randn(batch, n_obs, d, device=device) for k, d in shapes.low_dim.items()}
    obs.update({k: torch.randint(0, 255, (batch, n_obs, *s), dtype=torch.uint8, device=device) for k, s in shapes.images.items()})
    return obs


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _time_batch1(predict, obs, reps: int, device: torch.device) -> tuple[list[float], list[float]]:
    """Wall and calling-thread CPU seconds of ``reps`` calls, after 3 warm-up calls (the second one traces the U-Net step)."""
    times, cpu = [], []
    for i in range(reps + 3):
        _sync(device)
        t, c = time.perf_counter(), time.thread_time()
        predict(obs)
        _sync(device)
        if i >= 3:
            times.append(time.perf_counter() - t)
            cpu.append(time.thread_time() - c)
    return times, cpu


def bench_inference(variant: str, device: torch.device, reps: int, image_size: int, reference: bool = False,
                    inference_dtype: str = "float32", big: int = 64) -> dict:
    """Latency of one chunk at batch 1 and chunks/s at batch ``big``; ``reference`` adds the reference path's batch-1 numbers."""
    model, shapes = _model(variant, device, image_size, inference_dtype)
    model.eval()
    gen = torch.Generator(device=device).manual_seed(0)
    one_thread_cpu = torch.get_num_threads() == 1 and device.type == "cpu"
    load_before = _load()
    with torch.inference_mode():
        obs1 = _obs(shapes, 1, model.cfg.n_obs_steps, device)
        times, cpu = _time_batch1(lambda o: model.predict_action(o, generator=gen), obs1, reps, device)
        ref = _time_batch1(lambda o: model.predict_action_reference(o, generator=gen), obs1, reps, device) if reference else None
        obs64 = _obs(shapes, big, model.cfg.n_obs_steps, device)
        for _ in range(2):  # warm-up and trace
            model.predict_action(obs64, generator=gen)
        size, big = big, []
        for _ in range(max(2, reps // 10)):
            _sync(device)
            t = time.perf_counter()
            model.predict_action(obs64, generator=gen)
            _sync(device)
            big.append(time.perf_counter() - t)
    out = {
        "bench": "inference", "variant": variant, "device": str(device), "threads": torch.get_num_threads(),
        "num_inference_steps": model.cfg.num_inference_steps, "horizon": model.cfg.horizon, "down_dims": model.cfg.down_dims,
        "prediction_type": model.cfg.prediction_type, "image_size": image_size if variant != "lowdim" else None,
        "batch1_median_ms": round(1e3 * statistics.median(times), 2), "batch1_best_ms": round(1e3 * min(times), 2),
        # CPU time of the calling thread: with one torch thread, what the call costs an idle core
        "batch1_cpu_ms": round(1e3 * statistics.median(cpu), 2) if one_thread_cpu else None,
        f"batch{size}_chunks_per_s": round(size / statistics.median(big), 1), "inference_dtype": model.cfg.inference_dtype,
        "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2), "load_avg_1min_before": load_before, "load_avg_1min": _load(),
    }
    if ref is not None:  # module forward + diffusers DDIMScheduler.step, as before the fast path
        out["reference_batch1_median_ms"] = round(1e3 * statistics.median(ref[0]), 2)
        out["reference_batch1_cpu_ms"] = round(1e3 * statistics.median(ref[1]), 2) if one_thread_cpu else None
    return out


def bench_train(variant: str, device: torch.device, steps: int, image_size: int, batch: int = 64) -> dict:
    torch.manual_seed(0)
    model, shapes = _model(variant, device, image_size)
    ema = EMAModel(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)  # as robopref.policies.train builds it
    data = {"obs": _obs(shapes, batch, model.cfg.n_obs_steps, device), "action": torch.rand(batch, model.cfg.horizon, 7, device=device)}
    times, cpu = [], []
    for i in range(steps + 2):
        _sync(device)
        t, c = time.perf_counter(), time.thread_time()
        loss = model.compute_loss(data)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.step(model)
        _sync(device)
        if i >= 2:
            times.append(time.perf_counter() - t)
            cpu.append(time.thread_time() - c)
    return {
        "bench": "train", "variant": variant, "device": str(device), "threads": torch.get_num_threads(), "batch_size": batch,
        "image_size": image_size if variant == "image" else None, "samples_per_s": round(batch / statistics.median(times), 1),
        "samples_per_cpu_s": round(batch / statistics.median(cpu), 1) if torch.get_num_threads() == 1 and device.type == "cpu" else None,
        "load_avg_1min": _load(),
    }


def write_image_dataset(path: Path, frames: int, size: int = 84, episode_len: int = 200, seed: int = 0) -> float:
    """Synthetic camera demos (three coloured squares random-walking on a plain floor).

    Flat colours compress about 100x with gzip, so a file of a few hundred MB holds more
    decompressed frames than the machine has RAM. Returns the decompressed GiB.
    """
    from robopref.data import DatasetWriter, Episode, make_env_args

    rng = np.random.default_rng(seed)
    grid = np.arange(size)
    with DatasetWriter(path, env_args=make_env_args("synthetic/Squares-v0"), mode="w", atomic=False) as w:
        for _ in range(max(1, frames // episode_len)):
            img = np.full((episode_len, size, size, 3), 200, np.uint8)
            pos = rng.integers(0, size - 12, (3, 2)) + np.cumsum(rng.integers(-1, 2, (episode_len, 3, 2)), axis=0)
            pos = np.clip(pos, 0, size - 12)
            for b, colour in enumerate(((200, 30, 30), (30, 200, 30), (30, 30, 200))):
                rows = (grid >= pos[:, b, 0, None]) & (grid < pos[:, b, 0, None] + 12)  # (T, size)
                cols = (grid >= pos[:, b, 1, None]) & (grid < pos[:, b, 1, None] + 12)
                img[rows[:, :, None] & cols[:, None, :]] = colour
            act = rng.uniform(-1, 1, (episode_len, 7)).astype(np.float32)
            w.add_episode(Episode(act, np.zeros(episode_len), np.eye(1, episode_len, episode_len - 1)[0], {"front_image": img}))
    return (frames // episode_len) * episode_len * size * size * 3 / 2**30


def bench_batches(path: Path, epochs: int = 3, batch: int = 64, seed: int = 0) -> dict:
    """ms per batch over ``epochs`` shuffled passes, gathered whole and window by window
    (the two give identical batches: tests/policies/test_shapes.py)."""
    from robopref.data import Dataset, DatasetWriter, Episode, make_env_args
    from robopref.policies.dataset import SequenceDataset, WindowSpec

    rng = np.random.default_rng(seed)
    with DatasetWriter(path, env_args=make_env_args("synthetic/Lowdim-v0"), mode="w", atomic=False) as w:
        for _ in range(300):
            n = int(rng.integers(17, 34))
            w.add_episode(Episode(rng.uniform(-1, 1, (n, 2)).astype(np.float32), np.zeros(n), np.eye(1, n, n - 1)[0],
                                  {"state": rng.normal(size=(n, 8)).astype(np.float32)}))
    data = SequenceDataset(Dataset(path), Dataset(path).demos, WindowSpec(horizon=16, n_obs_steps=2, n_action_steps=8), ["state"])
    data.low_dim_arrays()  # both ways read the arrays once per process; that read is not timed
    data.get_batch([0])
    per_batch: dict[str, list[float]] = {"whole": [], "window_by_window": []}
    for epoch in range(epochs):
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(epoch)).tolist()
        for way in per_batch:
            t0 = time.perf_counter()
            if way == "whole":
                n = sum(1 for i in range(0, len(order), batch) if data.get_batch(order[i : i + batch]))
            else:
                n = sum(1 for _ in torch.utils.data.DataLoader(data, batch_size=batch, sampler=order))
            per_batch[way].append(1000 * (time.perf_counter() - t0) / n)
    return {"bench": "batches", "windows": len(data), "batch": batch, "epochs": epochs, "load": _load(),
            **{f"{way}_ms_per_batch": round(statistics.median(v), 3) for way, v in per_batch.items()}}


def bench_train_memory(frames_list: list[int], steps: int, workdir: Path, encoder: str) -> list[dict]:
    """Peak RSS of a short ``robopref policy`` image run, per dataset size (a fresh process each)."""
    out = []
    for frames in frames_list:
        path = workdir / f"images_{frames}.hdf5"
        gib = write_image_dataset(path, frames)
        code = (
            "import resource, sys, runpy; sys.argv = sys.argv[1:]; "
            "from robopref.cli import main; main(); "
            "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        args = ["x", "policy", "policy=diffusion_image", f"dataset={path}", "epochs=1", f"max_train_steps={steps}", "batch_size=64",
                "val_ratio=0", "eval_every=0", "progress=false", "device=cpu", "torch_threads=1", f"policy.image_encoder={encoder}",
                f"hydra.run.dir={workdir / f'run_{frames}'}"]
        t = time.time()
        proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(proc.stderr[-3000:])
        peak_kb = int(proc.stdout.split("PEAK_RSS_KB")[-1].split()[0])
        out.append({
            "bench": "train_memory", "variant": "image", "frames": frames, "image_size": 84, "dataset_decompressed_GiB": round(gib, 2),
            "dataset_file_GiB": round(path.stat().st_size / 2**30, 3), "train_steps": steps, "batch_size": 64, "image_encoder": encoder,
            "peak_rss_GiB": round(peak_kb / 2**20, 3), "seconds": round(time.time() - t, 1), "load_avg_1min": _load(),
        })
        print(json.dumps(out[-1]), flush=True)
        path.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["inference", "train", "batches", "train_memory"], action="append")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--image-size", type=int, default=84)
    ap.add_argument("--variants", nargs="+", default=["lowdim", "image"], choices=["lowdim", "image", "image_state", "lerobot_pusht"],
                    help="presets for the inference lines (image_state: a keypoint camera estimating a 16-D state; training "
                         "reads its precomputed estimates, so it has no train line; lerobot_pusht: LeRobot's default sizes, "
                         "an imported lerobot/diffusion_pusht, timed at batch 1 and 8)")
    ap.add_argument("--inference-dtype", nargs="+", default=["float32"], choices=["float32", "bfloat16"],
                    help="the policies' inference_dtype; each given one gets its own inference lines")
    ap.add_argument("--reference", action="store_true", help="also time predict_action_reference (module forward + diffusers DDIM step)")
    ap.add_argument("--memory-frames", default="20000,100000", help="dataset sizes (frames of 84x84x3) for the memory run")
    ap.add_argument("--memory-steps", type=int, default=30)
    ap.add_argument("--memory-encoder", default="resnet18", choices=["resnet18", "small_cnn"])
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    selected = args.only or ["inference", "train", "batches", "train_memory"]
    if "inference" in selected:
        for variant in args.variants:
            reps = args.reps if variant == "lowdim" else max(5, args.reps // 3)
            for dtype in args.inference_dtype:
                big = 8 if variant == "lerobot_pusht" else 64
                print(json.dumps(bench_inference(variant, device, reps, args.image_size, args.reference, dtype, big)), flush=True)
    if "train" in selected:
        for variant in [v for v in args.variants if v not in ("image_state", "lerobot_pusht")]:
            print(json.dumps(bench_train(variant, device, args.train_steps, args.image_size)), flush=True)
    if "batches" in selected:
        with tempfile.TemporaryDirectory() as d:
            print(json.dumps(bench_batches(Path(d) / "lowdim.hdf5")), flush=True)
    if "train_memory" in selected:
        with tempfile.TemporaryDirectory(dir=ROOT / "outputs" if (ROOT / "outputs").exists() else None) as d:
            bench_train_memory([int(x) for x in args.memory_frames.split(",")], args.memory_steps, Path(d), args.memory_encoder)


if __name__ == "__main__":
    main()
