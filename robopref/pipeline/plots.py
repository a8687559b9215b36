"""The report's figures, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robopref.pipeline.metrics import Rate  # noqa: E402


def rates_figure(rows: Sequence[tuple[str, Rate, Rate]], path: Path) -> Path:
    """Grouped bars of success rate and preference-honoured rate per policy, 95% CIs."""
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(rows), 3.2), dpi=120)
    x = np.arange(len(rows))
    for offset, idx, name, colour in ((-0.18, 1, "task success", "#4C72B0"), (0.18, 2, "honours the preference", "#DD8452")):
        vals = [r[idx] for r in rows]
        means = np.array([v.mean for v in vals])
        err = np.array([[v.mean - v.low for v in vals], [v.high - v.mean for v in vals]])
        ax.bar(x + offset, means, 0.34, yerr=err, capsize=3, label=name, color=colour)
    ax.set_xticks(x, [r[0] for r in rows])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate over evaluation episodes")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def scatter_figure(series: dict[str, tuple[np.ndarray, np.ndarray, float]], path: Path) -> Path:
    """Learned return vs ground-truth return of whole rollouts, one panel per reward."""
    n = max(1, len(series))
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.0), dpi=120, squeeze=False)
    for ax, (name, (truth, learned, rho)) in zip(axes[0], series.items()):
        ax.scatter(truth, learned, s=12, alpha=0.7, color="#4C72B0")
        ax.set_title(f"{name}  (Spearman {rho:.2f})", fontsize=9)
        ax.set_xlabel("person's return (ground truth)", fontsize=8)
        ax.set_ylabel("learned return", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def frames_figure(rows: Sequence[tuple[str, Sequence[np.ndarray]]], path: Path) -> Path:
    """One row of evenly spaced frames per labelled episode."""
    cols = max(len(f) for _, f in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.3 * cols, 1.45 * len(rows)), dpi=120, squeeze=False)
    for i, (label, frames) in enumerate(rows):
        for j in range(cols):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(frames):
                ax.imshow(frames[j], interpolation="nearest")
        axes[i][0].set_title(label, fontsize=7, loc="left")
    fig.tight_layout(pad=0.3)
    fig.savefig(path)
    plt.close(fig)
    return path
