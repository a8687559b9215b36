"""Run an experiment's steps in order, each one a ``robopref`` stage, checkpointed.

Steps (directory names under the pipeline's run directory):

- ``demos``: ``robopref collect`` of the unaligned expert, then the aligned one appended.
- ``policy``: ``robopref policy`` on the demos.
- per round r (``round_<r>/``): ``rollouts`` (``robopref collect policy=<current>``),
  ``label`` (the scripted person answers queries about the rollouts), ``transfer_*``
  (round 1: a labelled source embodiment and ``robopref transfer`` into the store),
  ``reward_<name>`` (each configured reward on every label so far), ``align``
  (``robopref align``: DPO, best-of-N or reward-filtered fine-tuning on the demos, with
  before/after evaluation).

After each step ``pipeline.json`` records it (see :mod:`robopref.pipeline.state`), so
``resume=true`` continues a killed run at the first unfinished step.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from robopref.pipeline.experiment import ExperimentSpec, env_overrides
from robopref.pipeline.nested import command_line, run_stage
from robopref.pipeline.state import PipelineState
from robopref.teachers.rules import check_query_settings
from robopref.teachers.scripted import TEACHER_PRESETS

log = logging.getLogger(__name__)

DEMO_SEED, ALIGNED_DEMO_SEED, SOURCE_SEED, EVAL_SEED = 0, 1, 2, 1000  # disjoint episode seeds per step (plus 10 x the pipeline seed)
DEMO_LABEL_SEED = 500  # the queries about the demos: seed + 500, apart from round r's seed + r
ROLLOUT_SEED_BASE = 100  # round r records rollouts with seed ROLLOUT_SEED_BASE + r (plus 10 x the pipeline seed)
SEED_STRIDE = 10  # the pipeline's seed shifts every data seed by this much, so seeds differ in data too; evaluation seeds stay fixed


def read_json(path: Path) -> dict[str, Any]:
    """A stage's JSON output, with the step named when it is missing."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the step finished without writing it")
    return json.loads(path.read_text())


@dataclass
class Step:
    """One stage call: where it runs, what it is called with, what it produced."""

    name: str
    stage: str
    overrides: list[str]
    collect: Callable[[Path], dict[str, Any]]  # run dir -> outputs recorded in the state


class PipelineRunner:
    """Builds and runs the steps of ``exp`` under ``root``; skips those ``state`` lists."""

    def __init__(self, exp: ExperimentSpec, root: Path, state: PipelineState, seed: int = 0, device: str = "auto", progress: bool = True) -> None:
        self.exp, self.root, self.state = exp, Path(root), state
        self.seed, self.device, self.progress = seed, device, progress
        self.offset = SEED_STRIDE * seed  # data seeds of this pipeline seed
        self.store = self.root / "prefs.sqlite"
        self.source_store = self.root / "source_prefs.sqlite"

    # -- helpers ---------------------------------------------------------------------
    def env(self, extra: dict[str, Any] | None = None) -> list[str]:
        """The experiment's env group and overrides (plus ``extra`` keys)."""
        return env_overrides(self.exp.env, {**dict(self.exp.env_overrides), **(extra or {})})

    def common(self, run: Path) -> list[str]:
        return [f"hydra.run.dir={run}", f"device={self.device}"]

    def execute(self, step: Step) -> dict[str, Any]:
        """Run ``step`` unless already done; return its recorded outputs."""
        if self.state.done(step.name):
            log.info("pipeline: %s already done, skipped", step.name)
            return self.state.get(step.name)["outputs"]
        run = self.root / step.name
        overrides = [*step.overrides, *self.common(run)]
        print(f"\n[{step.name}] $ {command_line(step.stage, overrides)}", flush=True)
        t0 = time.perf_counter()
        run_stage(step.stage, overrides)
        outputs = step.collect(run)
        seconds = time.perf_counter() - t0
        self.state.record(step.name, {"stage": step.stage, "command": command_line(step.stage, overrides), "seconds": round(seconds, 2), "outputs": outputs})
        print(f"[{step.name}] done in {seconds:.1f} s", flush=True)
        return outputs

    # -- steps -----------------------------------------------------------------------
    def demos(self) -> str:
        """Collect the pre-training demos; return the dataset path."""
        d = self.exp.demos
        path = self.root / "demos" / "demos.hdf5"
        base = [*self.env({} if d.images else {"image_size": 0}), f"noise={d.noise}", "videos=0", f"output={path}"]
        if d.unaligned:
            self.execute(Step("demos/unaligned", "collect", [*base, "aligned=false", f"episodes={d.unaligned}", "overwrite=true", f"seed={DEMO_SEED + self.offset}"],
                              lambda run: read_json(run / "summary.json")))
        if d.aligned:
            append = "append=true" if d.unaligned else "overwrite=true"
            self.execute(Step("demos/aligned", "collect", [*base, "aligned=true", f"episodes={d.aligned}", append, f"seed={ALIGNED_DEMO_SEED + self.offset}"], lambda run: read_json(run / "summary.json")))
        return str(path)

    def policy(self, demos: str) -> str:
        """Train the diffusion policy; return its best (else last) checkpoint."""

        def collect(run: Path) -> dict[str, Any]:
            summary = read_json(run / "summary.json")
            return {"checkpoint": summary.get("best") or summary["last"], "final": summary.get("final"), "run_dir": str(run)}

        return self.execute(Step("policy", "policy", [f"dataset={demos}", *map(str, self.exp.policy_args), f"seed={self.seed}"], collect))["checkpoint"]

    def rollouts(self, r: int, policy: str) -> str:
        """Record the current policy's rollouts (with camera frames, for the person and visual rewards)."""
        path = self.root / f"round_{r}" / "rollouts.hdf5"
        step = Step(f"round_{r}/rollouts", "collect", [*self.env(dict(self.exp.rollout_env_overrides)), f"policy={policy}", f"episodes={self.exp.rollouts}",
                                                        f"repeats={self.exp.rollout_repeats}", f"batch={self.exp.rollout_batch}", "videos=2", f"output={path}", "overwrite=true",
                                                        f"seed={ROLLOUT_SEED_BASE + r + self.offset}"], lambda run: read_json(run / "summary.json"))
        self.execute(step)
        return str(path)

    def label(self, r: int, rollouts: list[str]) -> dict[str, Any]:
        """The scripted person answers ``person.queries`` queries about the rollouts."""
        return self._ask(f"round_{r}/label", rollouts, self.exp.person.queries, self.seed + r)

    def label_demos(self, demos: str) -> dict[str, Any] | None:
        """The scripted person answers ``person.demo_queries`` queries about the demonstrations (once)."""
        p = self.exp.person
        return self._ask("demos/label", [demos], p.demo_queries, self.seed + DEMO_LABEL_SEED) if p.demo_queries else None

    def _ask(self, name: str, datasets: list[str], queries: int, seed: int) -> dict[str, Any]:
        """One `robopref label` step: the person's teacher, query kind and selection over ``datasets``."""
        p = self.exp.person
        overrides = [f"dataset=[{','.join(datasets)}]", f"store={self.store}", f"teacher={p.teacher}", f"queries={queries}", f"kind={p.kind}",
                     f"segment_length={p.segment_length}", f"selection={p.selection}", f"seed={seed}"]
        return self.execute(Step(name, "label", overrides, lambda run: read_json(run / "summary.json")))

    def transfer(self, r: int, target: str) -> dict[str, Any] | None:
        """Labels carried over from the source embodiment (round 1 only)."""
        t = self.exp.transfer
        if not t.enabled or r != 1:
            return None
        src = self.root / f"round_{r}" / "source.hdf5"
        n_aligned = int(round(t.episodes * t.aligned_fraction))
        base = [*self.env({**dict(t.env_overrides), "image_size": 0}), f"quality={t.quality}", "videos=0", f"output={src}"]
        summary = lambda run: read_json(run / "summary.json")  # noqa: E731
        self.execute(Step(f"round_{r}/transfer_source", "collect", [*base, "aligned=false", f"episodes={t.episodes - n_aligned}", "overwrite=true",
                                                                      f"seed={SOURCE_SEED + self.offset}"], summary))
        if n_aligned:
            self.execute(Step(f"round_{r}/transfer_source_aligned", "collect", [*base, "aligned=true", "append=true", f"episodes={n_aligned}",
                                                                                f"seed={SOURCE_SEED + 1 + self.offset}"], summary))
        self.execute(Step(f"round_{r}/transfer_source_labels", "label", [f"dataset={src}", f"store={self.source_store}", "teacher=oracle", f"queries={t.source_labels}",
                                                                          "segment_length=0", f"seed={self.seed}"], summary))
        return self.execute(Step(f"round_{r}/transfer", "transfer", [f"source={src}", f"source_store={self.source_store}", f"target={target}", f"store={self.store}",
                                                                     f"pairs={t.pairs}", *map(str, t.args), f"seed={self.seed}"], summary))

    def rewards(self, r: int) -> dict[str, dict[str, Any]]:
        """Train every configured reward on the store's labels; return name -> outputs."""
        out: dict[str, dict[str, Any]] = {}
        for name, args in self.exp.rewards.items():

            def collect(run: Path) -> dict[str, Any]:
                m = read_json(run / "metrics.json")
                return {"checkpoint": m["checkpoint"], "heldout": m.get("heldout"), "comparisons": m.get("comparisons")}

            out[name] = self.execute(Step(f"round_{r}/reward_{name}", "reward", [f"store={self.store}", *map(str, args), "progress=false", f"seed={self.seed}"], collect))
        return out

    def align(self, r: int, policy: str, rollouts: list[str], rewards: dict[str, dict[str, Any]], demos: str) -> dict[str, Any]:
        """Align the current policy; evaluate before and after on the same episode seeds."""
        a = self.exp.align
        overrides = [f"policy={policy}", f"method={a.method}", f"eval_episodes={self.exp.eval_episodes}", f"seed={EVAL_SEED}", f"progress={str(self.progress).lower()}"]
        if a.method == "dpo":
            overrides += [f"pairs_from={a.pairs_from}", f"store={self.store}", "sources=[scripted]"]
            if a.pairs_from in ("reward", "samples"):
                overrides += [f"reward_checkpoint={rewards[a.reward]['checkpoint']}", f"dataset=[{','.join(rollouts)}]"]
        elif a.method == "filtered_bc":  # the demonstrations the reward ranks highest are the ones imitated
            overrides += [f"reward_checkpoint={rewards[a.reward]['checkpoint']}", f"dataset={demos}"]
        else:
            overrides += [f"reward_checkpoint={rewards[a.reward]['checkpoint']}"]
        overrides += [*self.env(), *map(str, a.args)]
        return self.execute(Step(f"round_{r}/align", "align", overrides, lambda run: read_json(run / "summary.json")))

    # -- the loop --------------------------------------------------------------------
    def check(self) -> None:
        """Fail before the first step on settings that would only fail at a late one."""
        e = self.exp
        if e.align.reward not in e.rewards:
            raise ValueError(f"experiment.align.reward={e.align.reward!r} is not one of the experiment's rewards {sorted(e.rewards)}")
        if e.align.method not in ("dpo", "best_of_n", "filtered_bc"):
            raise ValueError(f"experiment.align.method={e.align.method!r}: expected 'dpo', 'best_of_n' or 'filtered_bc'")
        if e.align.pairs_from not in ("reward", "labels", "samples"):
            raise ValueError(f"experiment.align.pairs_from={e.align.pairs_from!r}: expected 'reward', 'labels' or 'samples'")
        if e.rounds < 1 or e.rollouts < 2 or e.eval_episodes < 1:
            raise ValueError(f"experiment.rounds ({e.rounds}), rollouts ({e.rollouts}) and eval_episodes ({e.eval_episodes}) must be >= 1, >= 2 and >= 1")
        if e.person.demo_queries < 0:
            raise ValueError(f"experiment.person.demo_queries={e.person.demo_queries}: expected >= 0 queries about the demonstrations")
        if e.demos.unaligned + e.demos.aligned < 1:
            raise ValueError("experiment.demos: unaligned and aligned are both 0; the policy needs demonstrations")
        self._check_person()
        if e.transfer.enabled and not (e.transfer.episodes >= 2 and e.transfer.source_labels >= 1 and 0.0 <= e.transfer.aligned_fraction <= 1.0):
            raise ValueError(f"experiment.transfer: episodes={e.transfer.episodes}, source_labels={e.transfer.source_labels}, "
                             f"aligned_fraction={e.transfer.aligned_fraction}: expected >= 2, >= 1 and a fraction in [0, 1] (or enabled=false)")

    def _check_person(self) -> None:
        """The scripted person's settings, as `robopref label` will check them."""
        p = self.exp.person
        if p.teacher not in TEACHER_PRESETS:
            raise ValueError(f"experiment.person.teacher={p.teacher!r}: expected one of {sorted(TEACHER_PRESETS)} (the pipeline's person is scripted)")
        check_query_settings(p.kind, p.selection, p.queries, p.segment_length, prefix="experiment.person.")

    def run(self) -> dict[str, Any]:
        """All steps; returns the per-round outputs the report reads."""
        self.check()
        demos = self.demos()
        policy = self.policy(demos)
        demo_labels = self.label_demos(demos)
        rounds: list[dict[str, Any]] = []
        rollouts: list[str] = []
        for r in range(1, self.exp.rounds + 1):
            rollouts.append(self.rollouts(r, policy))
            label = self.label(r, rollouts[-1:])
            transfer = self.transfer(r, rollouts[-1])
            rewards = self.rewards(r)
            aligned = self.align(r, policy, rollouts, rewards, demos)
            rounds.append({"round": r, "policy": policy, "rollouts": rollouts[-1], "label": label, "transfer": transfer, "rewards": rewards, "align": aligned})
            if self.exp.align.method in ("dpo", "filtered_bc"):
                policy = aligned["aligned_checkpoint"]
        return {"demos": demos, "demo_labels": demo_labels, "rounds": rounds, "final_policy": policy}
