"""Write an evaluation result as JSON (for programs) and markdown (for people)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from robopref.eval.runner import EvalResult
from robopref.utils.atomic import atomic_write_text

METRIC_LABELS = {
    "success": "success rate",
    "return": "return",
    "pref_return": "preference return (sum of pref_score)",
    "violation": "preference violation rate",
    "steps": "episode length (steps)",
}


def write_json(result: EvalResult, path: str | os.PathLike) -> Path:
    """Everything, per episode included."""
    return atomic_write_text(path, json.dumps(result.to_dict(), indent=2))


def markdown(result: EvalResult) -> str:
    """A summary table (mean and 95% CI per metric) and a per-episode table."""
    d = result.to_dict()
    lines = [
        f"# Evaluation: {result.policy} on {result.env}",
        "",
        f"{len(result.episodes)} episodes, {result.workers} worker(s), {d['env_steps']} env steps in {result.seconds:.1f} s"
        + (f" ({d['steps_per_s']} steps/s)" if d["steps_per_s"] else ""),
        "",
        "| metric | mean | 95% CI | method |",
        "| --- | --- | --- | --- |",
    ]
    for k, est in result.metrics.items():
        lines.append(f"| {METRIC_LABELS.get(k, k)} | {est.mean:.3f} | [{est.low:.3f}, {est.high:.3f}] | {est.method} |")
    extra = [k for k in ("pref_return", "violation") if k in result.metrics]
    lines += ["", "| episode | seed | steps | success | return |" + "".join(f" {k} |" for k in extra), "| --- " * (5 + len(extra)) + "|"]
    for e in result.episodes:
        cells = [str(e.index), str(e.seed), str(e.steps), "yes" if e.success else "no", f"{e.ret:.3f}"]
        cells += [f"{e.pref_return:.3f}" if k == "pref_return" else ("yes" if e.violation else "no") for k in extra]
        lines.append("| " + " | ".join(cells) + " |")
    if result.videos:
        lines += ["", "Videos: " + ", ".join(f"[{Path(v).name}](videos/{Path(v).name})" for v in result.videos)]
    return "\n".join(lines) + "\n"


def write_markdown(result: EvalResult, path: str | os.PathLike) -> Path:
    """:func:`markdown`, written to ``path``."""
    return atomic_write_text(path, markdown(result))
