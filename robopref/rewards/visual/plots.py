"""RAPL's figure: the optimal-transport plan between a rollout and its best-matching
preferred reference, for a preferred and a dispreferred rollout, as one PNG.

matplotlib is not a dependency (and not installed on the lab machines), so the figure is
drawn with PIL: the plan as a heat map, the rollout's frames down the left, the
reference's frames along the top. A preferred rollout shows a near-diagonal, low-cost
plan; a dispreferred one spreads its mass or matches at high cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef
from robopref.rewards.visual.frames import read_video
from robopref.rewards.visual.model import VisualRewardModel
from robopref.rewards.visual.sinkhorn import cosine_cost, sinkhorn

CELL = 24


def _colour(values: np.ndarray) -> np.ndarray:
    """Map [0, 1] to a dark-blue → yellow ramp (viridis-like), uint8 RGB."""
    stops = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float)
    x = np.clip(values, 0, 1) * (len(stops) - 1)
    i = np.minimum(x.astype(int), len(stops) - 2)
    t = (x - i)[..., None]
    return (stops[i] * (1 - t) + stops[i + 1] * t).astype(np.uint8)


def _thumb(frame: np.ndarray) -> Image.Image:
    return Image.fromarray(frame).resize((CELL, CELL), Image.BILINEAR)


def plan_panel(model: VisualRewardModel, pool: DatasetPool, ref: SegmentRef, title: str) -> Image.Image:
    """One panel: the plan of ``ref`` (subsampled to the model's frame count) against its best reference."""
    if model.kind != "rapl":
        raise ValueError("OT-plan figures need a RAPL reward (it has reference videos)")
    frames = int(model.settings["frames"])
    cam = model.settings.get("camera")
    video = read_video(pool, ref, frames, cam)
    with torch.no_grad():
        feats = model.encoder.encode(video)[None]
        k = int(model.best_references(feats, [frames])[0])
        C = cosine_cost(feats, model.references[k : k + 1])
        P = sinkhorn(C, float(model.settings["eps"]), iters=int(model.settings["sinkhorn_iters"]))[0].numpy()
    score = -float((P * C[0].numpy()).sum())
    ref_meta = model.meta.get("references", [])
    ref_video = read_video(pool, SegmentRef.from_dict(ref_meta[k]), frames, cam) if k < len(ref_meta) else None
    n, m = P.shape
    top = 34
    img = Image.new("RGB", (CELL * (m + 1) + 8, top + CELL * (n + 1) + 4), "white")
    heat = _colour(P / P.max())
    heat_img = Image.fromarray(heat).resize((CELL * m, CELL * n), Image.NEAREST)
    img.paste(heat_img, (CELL + 4, top + CELL + 2))
    for i in range(n):
        img.paste(_thumb(video[i]), (0, top + CELL + 2 + i * CELL))
    if ref_video is not None:
        for j in range(m):
            img.paste(_thumb(ref_video[j]), (CELL + 4 + j * CELL, top))
    draw = ImageDraw.Draw(img)
    draw.text((4, 2), title, fill="black")
    draw.text((4, 16), f"rows: rollout {ref.demo}   cols: reference {k}   OT score {score:.3f}", fill="black")
    return img


def plot_ot_plans(model: VisualRewardModel, pool: DatasetPool, preferred: SegmentRef, dispreferred: SegmentRef, path: str | Path,
                  labels: tuple[str, str] = ("preferred rollout", "dispreferred rollout")) -> Path:
    """Side-by-side plan panels of a preferred and a dispreferred rollout, saved as PNG."""
    panels = [plan_panel(model, pool, preferred, labels[0]), plan_panel(model, pool, dispreferred, labels[1])]
    w = sum(p.width for p in panels) + 16
    h = max(p.height for p in panels)
    out = Image.new("RGB", (w, h), "white")
    x = 0
    for p in panels:
        out.paste(p, (x, 0))
        x += p.width + 16
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path)
    return path
