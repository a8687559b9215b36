"""``report.md`` of a pipeline run: what was done, what came out, and the plots.

Tables: success and preference-honoured rates before and after each alignment round
(95% intervals), the person's labels and the transferred ones, each learned reward's
agreement with the hidden ground truth, and every step with its command and time.
Figures (``plots/``): the rates as bars, learned vs true return of the rollouts per
reward, and example frames of the policy before and after alignment.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from robopref.pipeline.experiment import ExperimentSpec
from robopref.pipeline.metrics import Rate, policy_rates, reward_vs_truth
from robopref.pipeline.state import PipelineState
from robopref.utils.atomic import atomic_write_text


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _rate(r: Rate | None) -> str:
    return str(r) if r is not None else "–"


def align_description(exp: ExperimentSpec) -> str:
    """How the experiment aligns, in words for the report's table."""
    a = exp.align
    if a.method == "dpo":
        return {"reward": f"DPO on {a.reward}-ranked rollouts", "samples": f"DPO on same-state chunks ranked by {a.reward}",
                "labels": "DPO on the person's labels"}.get(a.pairs_from, "DPO")
    if a.method == "filtered_bc":
        rounds = next((int(str(x).split("=", 1)[1]) for x in a.args if str(x).startswith("filtered.rounds=")), 1)
        more = f", then on those and its own rollouts ({rounds} filtering rounds)" if rounds > 1 else ""
        return f"fine-tuned on the demos {a.reward} ranks highest{more}"
    return f"best-of-N scored by {a.reward}"


def policy_table(exp: ExperimentSpec, rounds: Sequence[dict[str, Any]]) -> tuple[list[str], list[tuple[str, Rate, Rate]]]:
    """Markdown rows for the pre-trained policy and each round's aligned policy; bar-chart rows."""
    lines = ["| policy | task success | honours the preference | mean preference return | episodes |", "|---|---|---|---|---|"]
    bars: list[tuple[str, Rate, Rate]] = []
    how = align_description(exp)
    entries = [("pre-trained", rounds[0]["align"]["before"])] if rounds and "before" in rounds[0]["align"] else []
    entries += [(f"round {r['round']}: {how}", r["align"]["after"]) for r in rounds if "after" in r["align"]]
    for name, ev in entries:
        success, honoured, pref = policy_rates(ev)
        n = success.n if success else ev.get("n_episodes", "–")
        lines.append(f"| {name} | {_rate(success)} | {_rate(honoured)} | {_fmt(pref)} | {n} |")
        if success and honoured:
            bars.append(("pre-trained" if name == "pre-trained" else f"round {name.split(':')[0].split()[-1]}", success, honoured))
    return lines, bars


def labels_section(exp: ExperimentSpec, rounds: Sequence[dict[str, Any]], demo_labels: dict[str, Any] | None = None) -> list[str]:
    """What the scripted person answered (about the demos, then each round's rollouts), and what transfer added."""
    p = exp.person
    per = {"triplet": 3, "pair": 1}.get(p.kind, 1)
    out = []
    if demo_labels:
        n = demo_labels.get("labels_added", 0)
        out.append(f"- Demonstrations: the scripted person (`{p.teacher}` teacher) answered {n} {p.kind} queries ({n * per} pairwise "
                   f"comparisons) about the {exp.demos.unaligned + exp.demos.aligned} demonstrations (trajectory rewards learn from them too).")
    for r in rounds:
        lab = r["label"]
        agree = f", agreement with the noise-free oracle {lab['agreement_with_oracle']:.2f}" if "agreement_with_oracle" in lab else ""
        out.append(f"- Round {r['round']}: the scripted person (`{p.teacher}` teacher) answered {lab.get('labels_added', 0)} {p.kind} queries "
                   f"({lab.get('labels_added', 0) * per} pairwise comparisons) about {exp.rollouts} rollouts of the current policy{agree}.")
        t = r.get("transfer")
        if t:
            acc = t.get("transfer_accuracy") or {}
            out.append(f"- Transfer ({t.get('method')}): {t.get('labels_added')} labels carried over from {t.get('source_trajectories')} source trajectories "
                       f"({', '.join(f'{k}={v}' for k, v in exp.transfer.env_overrides.items())}) with {t.get('source_labels')} labels; "
                       f"accuracy against the target's hidden ground truth {_fmt(acc.get('accuracy'))} (confidence-weighted {_fmt(acc.get('weighted_accuracy'))}).")
    return out


def rewards_table(rounds: Sequence[dict[str, Any]], plots: Path) -> tuple[list[str], Path | None]:
    """Each learned reward of the last round vs the ground truth; the scatter figure."""
    from robopref.pipeline.plots import scatter_figure

    last = rounds[-1]
    lines = ["| reward | comparisons trained on | held-out accuracy | Spearman (held-out) | Spearman (whole rollouts) |", "|---|---|---|---|---|"]
    series = {}
    for name, out in last["rewards"].items():
        held = out.get("heldout") or {}
        truth, learned, rho = reward_vs_truth(out["checkpoint"], last["rollouts"])
        series[name] = (truth, learned, rho)
        acc = held.get("accuracy", held.get("triplet_accuracy"))  # visual rewards report triplet accuracy
        tag = " (in-sample)" if held and not held.get("heldout", True) else ""  # the labels covered every window / episode
        lines.append(f"| {name} | {out.get('comparisons', '–')} | {_fmt(acc)}{tag} | {_fmt(held.get('spearman'))}{tag} | {_fmt(rho)} |")
    fig = scatter_figure(series, plots / "reward_scatter.png") if series else None
    return lines, fig


def example_frames(exp: ExperimentSpec, rounds: Sequence[dict[str, Any]], final_policy: str, plots: Path) -> Path | None:
    """Frames of the same episodes (same seeds) before and after alignment."""
    from robopref.pipeline.frames import policy_frames
    from robopref.pipeline.plots import frames_figure

    if exp.report_frames <= 0 or not rounds:
        return None
    before = rounds[0]["policy"]
    checkpoints = [("before", before)] + ([("after", final_policy)] if final_policy != before else [])
    rows = policy_frames(checkpoints, rounds[0]["rollouts"], [50_000 + i for i in range(exp.report_frames)])
    return frames_figure(rows, plots / "frames.png") if rows else None


def steps_table(state: PipelineState) -> list[str]:
    lines = ["| step | seconds | command |", "|---|---|---|"]
    for name, rec in state.steps():
        lines.append(f"| {name} | {rec.get('seconds', 0):.1f} | `{rec.get('command', '')}` |")
    return lines


def write_report(exp: ExperimentSpec, root: Path, state: PipelineState, outputs: dict[str, Any]) -> Path:
    """Write ``root/report.md`` (and ``root/plots/*.png``); return its path."""
    from robopref.pipeline.plots import rates_figure

    plots = root / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    rounds = outputs["rounds"]
    total = sum(rec.get("seconds", 0) for _, rec in state.steps())
    policy_lines, bars = policy_table(exp, rounds)
    reward_lines, scatter = rewards_table(rounds, plots) if rounds else ([], None)
    frames = example_frames(exp, rounds, outputs["final_policy"], plots)
    md = [f"# robopref pipeline: {exp.name}", ""]
    if exp.description:
        md += [exp.description.strip(), ""]
    md += [f"Run directory `{root}`; written {time.strftime('%Y-%m-%d %H:%M')}; the steps took {total / 60:.1f} min on {os.cpu_count()} CPU cores.", ""]
    md += ["## The policy before and after alignment", "", *policy_lines, ""]
    md += ["Rates over the same evaluation episodes (same seeds) for every policy, with 95% Wilson intervals.", ""]
    if bars:
        md += [f"![success and preference rates]({rates_figure(bars, plots / 'rates.png').relative_to(root)})", ""]
    md += ["## The person's labels", "", *labels_section(exp, rounds, outputs.get("demo_labels")), ""]
    if reward_lines:
        md += ["## Learned rewards against the person's hidden preference", "", *reward_lines, ""]
        md += ["Held-out columns: the reward stage's own evaluation (pair accuracy on random segments from episodes no label touched, "
               "or else on windows that share no step with a labelled segment, for trajectory rewards; triplet accuracy on held-out "
               "videos for visual ones; marked in-sample where the labels left nothing out); whole rollouts: the last round's rollouts, learned return vs the "
               "return the person scores (`pref_score`)."]
        if scatter:
            md += ["", f"![learned vs true return]({scatter.relative_to(root)})"]
        md += [""]
    if frames:
        md += ["## Example episodes (same seeds before and after)", "", f"![frames]({frames.relative_to(root)})", ""]
    md += ["## Steps", "", "Each step is a plain `robopref` command; rerun any of them to repeat that part.", "", *steps_table(state), ""]
    return atomic_write_text(root / "report.md", "\n".join(md))
