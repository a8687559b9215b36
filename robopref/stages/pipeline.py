"""``robopref pipeline``: run a whole preference-alignment experiment, stage by stage.

    robopref pipeline experiment=quickstart                       # what `make demo` runs
    robopref pipeline experiment=quickstart experiment.rounds=3   # the iterative loop
    robopref pipeline experiment=quickstart resume=true           # continue a killed run

The experiment (``conf_stage/pipeline/experiment/<name>.yaml``) says what to collect,
train, label, learn and align; each step is a normal ``robopref`` stage with its own
run directory under this run's directory, and ``pipeline.json`` records every finished
step so ``resume=true`` continues at the first unfinished one. At the end
``report.md`` (tables and plots: success and preference rate before/after, learned
reward vs ground truth, example frames) is written and its path printed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from robopref.config import StageConfig, register_schema
from robopref.pipeline.experiment import ExperimentSpec
from robopref.pipeline.state import STATE_FILE, PipelineState
from robopref.utils.rundir import run_dir
from robopref.utils.seed import seed_everything

log = logging.getLogger(__name__)


@dataclass
class PipelineConfig(StageConfig):
    """Config of ``robopref pipeline``; ``experiment`` is a group (conf_stage/pipeline/experiment/)."""

    experiment: ExperimentSpec = field(default_factory=ExperimentSpec)
    resume: bool = False
    resume_from: Optional[str] = None  # a pipeline run directory (default: the newest with a pipeline.json)
    progress: bool = True


register_schema("pipeline", PipelineConfig)


def find_pipeline_dir(current: Path, resume_from: str | None) -> Path:
    """The run to continue: ``resume_from``, else the newest sibling with a pipeline.json, else ``current``."""
    if resume_from:
        p = Path(resume_from).expanduser()
        if p.is_file() and p.name == STATE_FILE:
            p = p.parent
        if not (p / STATE_FILE).is_file():
            raise FileNotFoundError(f"resume_from={resume_from!r}: no {STATE_FILE} there (not a pipeline run directory)")
        return p
    runs = [p.parent for p in current.parent.glob(f"*/{STATE_FILE}") if p.parent != current]
    if (current / STATE_FILE).is_file():
        return current
    if not runs:
        log.warning("resume=true: no earlier pipeline run under %s; starting a new one", current.parent)
        return current
    return max(runs, key=lambda p: (p / STATE_FILE).stat().st_mtime)


def warn_if_changed(saved: Path, experiment: DictConfig) -> None:
    """Say which experiment keys differ from the run being resumed: its finished steps keep the old settings."""
    if not saved.is_file():
        return
    old = OmegaConf.to_container(OmegaConf.load(saved).get("experiment", {}), resolve=False)
    new = OmegaConf.to_container(experiment, resolve=False)
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if changed:
        print(f"warning: experiment keys changed since this run started ({', '.join(changed)}); finished steps keep the settings they ran with")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) the experiment, then write and print the report."""
    from robopref.pipeline.report import write_report
    from robopref.pipeline.runner import PipelineRunner

    seed_everything(cfg.seed)
    current = run_dir()
    root = find_pipeline_dir(current, cfg.resume_from) if cfg.resume else current
    exp: ExperimentSpec = OmegaConf.to_object(cfg.experiment)  # type: ignore[assignment]
    state = PipelineState(root, exp.name)
    if cfg.resume and state.steps():
        print(f"resuming {root}: {len(state.steps())} steps done ({', '.join(s for s, _ in state.steps())})")
        warn_if_changed(root / "experiment.yaml", cfg.experiment)
    OmegaConf.save(cfg, root / "experiment.yaml")
    t0 = time.perf_counter()
    outputs = PipelineRunner(exp, root, state, seed=cfg.seed, device=cfg.device, progress=cfg.progress).run()
    report = write_report(exp, root, state, outputs)
    print(f"\npipeline {exp.name} finished in {time.perf_counter() - t0:.0f} s (this process)")
    print(f"report: {report}")
    return {"root": str(root), "report": str(report), **outputs}
