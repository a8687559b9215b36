"""What a pipeline experiment is made of (the ``experiment`` config group).

An experiment is the whole loop the mission is about, on one env: demonstrations from
an expert that ignores the person's preference → a diffusion policy → its rollouts →
a scripted person's few labels (pairs or triplets) → learned rewards (trajectory
rewards such as RRL, visual rewards such as RAPL, optionally with labels transferred
from another embodiment or task through Gromov–Wasserstein) → an aligned policy →
before/after evaluation, repeated for ``rounds`` rounds. Every part maps onto one
``robopref`` stage and its overrides, so anything a stage accepts can be set here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING


@dataclass
class DemoSpec:
    """Demonstrations the policy is pre-trained on: ``unaligned`` episodes of the expert
    that ignores the preference plus ``aligned`` ones that honour it (a policy can only
    be aligned toward behaviour it sometimes shows; 0 gives a purely unaligned policy)."""

    unaligned: int = 200
    aligned: int = 100
    noise: float = 0.1
    images: bool = False  # record camera frames in the demos (image policies need them)


@dataclass
class PersonSpec:
    """The scripted person who answers queries about the policy's rollouts (B-Pref teachers)."""

    teacher: str = "oracle"  # oracle | noisy | mistake | myopic | skip | equal
    kind: str = "triplet"  # triplet (RAPL's form; each gives three pairs) | pair
    queries: int = 30
    segment_length: int = 0  # 0: whole episodes
    selection: str = "uniform"
    # queries of the same kind about the demonstrations (whole episodes, round 1): the episodes
    # filtered fine-tuning imitates. Rollouts alone can teach a reward a shortcut (when the
    # rollouts that break the preference are the slow ones, "shorter is better") that ranks the
    # demonstrations wrongly; trajectory rewards learn from these too, visual ones only where
    # the demos record frames (docs/benchmarks-alignment.md, session 10)
    demo_queries: int = 0


@dataclass
class TransferSpec:
    """Labels carried over from a labelled source (another embodiment of the same task)."""

    enabled: bool = True
    env_overrides: dict = field(default_factory=lambda: {"embodiment": "short_stick"})
    episodes: int = 80
    aligned_fraction: float = 0.5  # share of source episodes from the expert that honours the preference
    quality: str = "mixed"  # `robopref collect quality=`: mixed spreads the source over noise levels, as rollouts of a policy are spread
    source_labels: int = 200  # pairs the source task's (scripted) person labelled
    pairs: int = 300  # target pairs labelled by transfer
    args: list = field(default_factory=list)  # extra `robopref transfer` overrides


@dataclass
class AlignSpec:
    """How the policy is aligned; ``reward`` names the learned reward that ranks rollouts
    (``pairs_from=reward``), ranks same-state chunks (``pairs_from=samples``), scores
    chunks (``best_of_n``) or ranks the demonstrations to imitate (``filtered_bc``)."""

    method: str = "dpo"  # dpo | best_of_n | filtered_bc
    pairs_from: str = "reward"  # dpo: reward (rollouts ranked by `reward`) | samples (same-state chunks ranked by it) | labels (the person's labels)
    reward: str = "rrl"  # one of the experiment's rewards
    args: list = field(default_factory=list)  # extra `robopref align` overrides


@dataclass
class ExperimentSpec:
    """One pipeline experiment; see the module docstring."""

    name: str = MISSING
    description: str = ""
    env: str = "push2d_avoid"  # env config group
    env_overrides: dict = field(default_factory=dict)  # e.g. {num_blocks: 1, zone_penalty: 5.0}
    # env keys for the recorded rollouts only (what the person watches and visual rewards read), on top of
    # env_overrides: e.g. {camera: corner} where frames are costly (Meta-World renders ~40 a second on a CPU
    # core), so demos, evaluation and simulated alignment stay state-only
    rollout_env_overrides: dict = field(default_factory=dict)
    demos: DemoSpec = field(default_factory=DemoSpec)
    policy_args: list = field(default_factory=list)  # `robopref policy` overrides
    rollouts: int = 60  # episodes of the current policy recorded each round
    rollout_repeats: int = 1  # >1: each initial state rolled out this many times (for align args same_start=true)
    rollout_batch: int = 1  # rollouts recorded this many at a time (`robopref collect batch=`; same seeds, one network call per step for all)
    person: PersonSpec = field(default_factory=PersonSpec)
    rewards: dict = field(default_factory=dict)  # name -> `robopref reward` overrides (the experiment YAML lists them)
    transfer: TransferSpec = field(default_factory=TransferSpec)
    align: AlignSpec = field(default_factory=AlignSpec)
    eval_episodes: int = 50
    rounds: int = 1
    report_frames: int = 4  # example frames per policy in the report
    extra: Optional[Any] = None  # free-form notes kept in the report


def env_overrides(group: str, values: dict[str, Any], prefix: str = "env") -> list[str]:
    """Hydra overrides selecting env group ``group`` and setting (or adding) its keys."""
    out = [f"{prefix}={group}"]
    for k, v in values.items():
        out.append(f"++{prefix}.{k}={_hydra_value(v)}")
    return out


def _hydra_value(v: Any) -> str:
    """A value as Hydra's override grammar reads it back."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_hydra_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(x)}" for k, x in v.items()) + "}"
    return str(v)
