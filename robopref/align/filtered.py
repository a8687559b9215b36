"""Reward-filtered fine-tuning: imitate only the episodes a learned reward ranks highest.

The policy is fine-tuned (behaviour cloning, the ordinary diffusion loss) on the top
``keep`` fraction of a dataset's episodes, ranked by their learned return (μ − κσ for a
Gaussian reward). This is filtered behaviour cloning with a learned filter, the
reward-ranked fine-tuning of RAFT (Dong et al. 2023) and ReST (Gulcehre et al. 2023)
with one round. Where DPO needs pairs whose two sides differ in the choice that matters,
this needs only that the dataset holds episodes that already do what the person wants
(demonstrations that go around the zone, say) and a reward that finds them; it cannot
teach a behaviour no episode shows.

The run starts from the policy's EMA weights and normaliser (``init_from``) and writes a
normal policy checkpoint.

``rounds`` > 1 iterates, as RAFT does: after each round the fine-tuned policy is rolled out
``rollouts`` times, its episodes join the ranked pool (a copy of the dataset in the run
directory), and the next round fine-tunes the current policy on the top ``keep`` of the
pool. The policy's own successful rollouts of the preferred behaviour are examples from
the states it actually reaches, which demonstrations of another agent are not.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from robopref.align.behaviour import behaviour_scores
from robopref.align.self_rollouts import pool_with_rollouts
from robopref.data.dataset import Dataset
from robopref.data.pool import DatasetPool
from robopref.data.sampling import whole_episodes
from robopref.rewards.loading import RewardModel, segment_returns

log = logging.getLogger(__name__)

RANK_BY = ("return", "per_step")
SELF_ROLLOUT_SEED_OFFSET = 2000  # round r's rollouts use seed + 2000 + r: off the evaluation episodes of `seed`


@dataclass
class FilteredConfig:
    """What to keep and how to fine-tune on it (``robopref align method=filtered_bc filtered.*``)."""

    keep: float = 0.33  # fraction of the ranked episodes imitated, from the top
    epochs: int = 20
    steps: Optional[int] = None  # at most this many optimizer steps a round, over `epochs` passes of at most steps/epochs batches each (None: whole passes)
    lr: float = 1e-3
    lr_warmup_steps: int = 100
    batch_size: int = 64
    torch_threads: Optional[int] = None  # intra-op CPU threads of the fine-tuning (None: torch's default)
    success_only: bool = False  # rank only episodes whose infos/success is set at some step (the task's own success signal)
    rounds: int = 1  # >1: roll the fine-tuned policy out, rank its episodes with the pool's, fine-tune again (RAFT)
    rollouts: int = 90  # rounds > 1: policy rollouts added to the pool before each later round
    rollout_batch: int = 1  # those rollouts side by side, one network call per step for all (robopref.rollout.batched)
    rank_by: str = "return"  # "return": the learned return; "per_step": the learned return over the episode's length
    neighbours: int = 0  # >0: rank by the score averaged with the k episodes that act most alike (robopref.align.behaviour)
    hops: int = 1  # neighbours > 0: rounds of that averaging; more spread each score over its whole cluster of alike behaviour

    def __post_init__(self) -> None:
        if not 0 < self.keep <= 1:
            raise ValueError(f"filtered.keep={self.keep}: expected a fraction in (0, 1] of the episodes to imitate")
        if self.epochs < 1:
            raise ValueError(f"filtered.epochs={self.epochs}: expected >= 1")
        if self.steps is not None and self.steps < self.epochs:
            raise ValueError(f"filtered.steps={self.steps}: expected null or >= filtered.epochs ({self.epochs}), at least one batch a pass")
        if self.rounds < 1:
            raise ValueError(f"filtered.rounds={self.rounds}: expected >= 1 rounds of ranking and fine-tuning")
        if self.neighbours < 0:
            raise ValueError(f"filtered.neighbours={self.neighbours}: expected >= 0 episodes to average each score over (0: none)")
        if self.hops < 1:
            raise ValueError(f"filtered.hops={self.hops}: expected >= 1 rounds of neighbour averaging (neighbours=0 turns it off)")
        if self.rank_by not in RANK_BY:
            raise ValueError(f"filtered.rank_by={self.rank_by!r}: expected one of {list(RANK_BY)}")
        if self.rollout_batch < 1:
            raise ValueError(f"filtered.rollout_batch={self.rollout_batch}: expected >= 1 episodes rolled out side by side")
        if self.rounds > 1 and self.rollouts < 1:
            raise ValueError(f"filtered.rollouts={self.rollouts}: rounds > 1 need >= 1 policy rollouts per round")


def rank_episodes(model: RewardModel, pool: DatasetPool, dataset: str, kappa: float | None = None,
                  per_step: bool = False, neighbours: int = 0, hops: int = 1) -> list[tuple[str, float]]:
    """``(demo, learned return)`` for every episode of ``dataset``, highest first (ties keep the dataset's order).

    ``neighbours`` = k > 0 ranks by the return averaged with the returns of the k episodes
    whose actions are most alike (:mod:`robopref.align.behaviour`): the expected outcome
    of the behaviour, which is what imitation reproduces, rather than one outcome of it;
    ``hops`` repeats that averaging, spreading each score over its cluster of alike episodes.

    ``per_step`` divides each return by the episode's length. A reward learned from
    comparisons of whole rollouts of different lengths carries a per-step offset (it
    shifts each comparison's logit by offset × the length difference), so it also ranks by
    length; where the rollouts that broke the preference were the slow ones, it learns
    "shorter is better", and then ranks the detours of demonstrations that honour the
    preference last. The mean per step removes that offset, but it favours slow episodes
    instead: on the quickstart it raised the honoured rate and lost task success
    (docs/benchmarks-alignment.md, session 10). Labels about the ranked episodes
    themselves (the pipeline's ``person.demo_queries``) address the cause.
    """
    refs = whole_episodes(pool.get(dataset))
    if not refs:
        raise ValueError(f"{dataset}: no episodes to rank")
    returns = segment_returns(model, pool, refs, kappa)
    if per_step:
        returns = returns / np.array([ref.length for ref in refs], dtype=np.float64)
    returns = behaviour_scores(returns, pool, refs, neighbours, hops)
    order = np.argsort(-returns, kind="stable")
    return [(refs[i].demo, float(returns[i])) for i in order]


def successful_episodes(dataset: Dataset) -> list[str]:
    """The demos of ``dataset`` whose ``infos/success`` is set at some step.

    This is the task's own success signal (the simulator's, or a success detector's on a
    robot): with ``filtered.success_only`` the learned reward then only orders episodes that
    did the task, so an episode that pleases the person by never finishing (stalling
    outside a forbidden zone, say) is not imitated however well the reward ranks it.
    """
    missing = [d for d in dataset.demos if not dataset.has(d, "infos/success")]
    if missing:
        raise ValueError(f"{dataset.path}: filtered.success_only needs infos/success in every episode; "
                         f"{len(missing)} lack it (first: {missing[0]}); use filtered.success_only=false")
    done = [d for d in dataset.demos if bool(np.any(dataset.read(d, "infos/success")))]
    if not done:
        raise ValueError(f"{dataset.path}: filtered.success_only: none of its {len(dataset.demos)} episodes succeeds")
    return done


def filtered_finetune(checkpoint: str | Path, model: RewardModel, dataset: str, cfg: FilteredConfig, out_dir: str | Path,
                      seed: int = 0, kappa: float | None = None, device: str = "cpu", progress: bool = True,
                      env_cfg: Mapping[str, Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """Fine-tune ``checkpoint`` on the top ``cfg.keep`` of ``dataset``'s episodes by learned return.

    With ``cfg.rounds`` > 1 the later rounds also rank ``cfg.rollouts`` rollouts of the
    current policy per round in ``env_cfg`` (required then), started from
    ``episode_seed(seed + 2000 + round, i)`` so they stay off evaluation episodes drawn
    with ``seed``. Returns ``out_dir/aligned.ckpt`` and a summary: per round, how many
    episodes were ranked and which were kept, the learned return of the kept ones against all, the
    rollouts' success rate and the fine-tuning run's final metrics.
    """
    if cfg.rounds > 1 and not env_cfg:
        raise ValueError(f"filtered.rounds={cfg.rounds} rolls the policy out between rounds: pass env=<group> "
                         "or train the policy on a dataset that records its env")
    if cfg.rounds > 1:
        from robopref.policies.checkpoint import read_checkpoint

        action_key = ((read_checkpoint(checkpoint).get("meta") or {}).get("train_config") or {}).get("action_key", "actions")
        if action_key != "actions":
            raise ValueError(f"filtered.rounds={cfg.rounds}: {checkpoint} was trained on {action_key!r}, which the policy's own "
                             "rollouts do not record; use filtered.rounds=1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    current, pool, rounds = Path(checkpoint), dataset, []
    for r in range(1, cfg.rounds + 1):
        info: dict[str, Any] = {"round": r}
        if r > 1:
            path, rolled = pool_with_rollouts(pool, current, env_cfg or {}, out_dir / "pool.hdf5", cfg.rollouts,
                                              seed=seed + SELF_ROLLOUT_SEED_OFFSET + r, device=device, progress=progress, batch=cfg.rollout_batch)
            pool = str(path)
            info.update(rolled)
        round_dir = out_dir / "finetune" if cfg.rounds == 1 else out_dir / f"round_{r}"
        current, ranked_info = _finetune_round(current, model, pool, cfg, round_dir, seed, kappa, device, progress)
        info.update(ranked_info)
        rounds.append(info)
        rolled_note = f"{info['rollouts']} rollouts (success {info['rollout_success']:.0%}) added; " if r > 1 else ""
        log.info("filtered round %d/%d: %sranked %d episodes (%d unsuccessful left out), kept the top %d (learned return %.3g vs %.3g for all)",
                 r, cfg.rounds, rolled_note, info["episodes_ranked"], info["episodes_excluded_unsuccessful"], info["episodes_kept"],
                 info["kept_return_mean"], info["all_return_mean"])
    aligned = out_dir / "aligned.ckpt"
    shutil.copyfile(current, aligned)
    summary = {k: v for k, v in rounds[0].items() if k != "round"} if cfg.rounds == 1 else dict(rounds[-1])
    summary.update({"filtered": asdict(cfg), "rounds": rounds})
    return aligned, summary


def _finetune_round(checkpoint: Path, model: RewardModel, dataset: str, cfg: FilteredConfig, out_dir: Path, seed: int,
                    kappa: float | None, device: str, progress: bool) -> tuple[Path, dict[str, Any]]:
    """One ranking and fine-tuning: the new checkpoint (its last epoch) and what was kept."""
    from robopref.policies.checkpoint import read_checkpoint
    from robopref.policies.config import DiffusionPolicyConfig
    from robopref.policies.train import TrainConfig, train_policy

    pool = DatasetPool()
    ranked = rank_episodes(model, pool, dataset, kappa, per_step=cfg.rank_by == "per_step", neighbours=cfg.neighbours,
                           hops=cfg.hops)
    n_all = len(ranked)
    if cfg.success_only:
        done = set(successful_episodes(pool.get(dataset)))
        ranked = [(d, r) for d, r in ranked if d in done]
    k = max(1, int(round(cfg.keep * len(ranked))))
    kept = [d for d, _ in ranked[:k]]
    ckpt = read_checkpoint(checkpoint)
    trained_with = (ckpt.get("meta") or {}).get("train_config") or {}
    train_cfg = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, lr_warmup_steps=cfg.lr_warmup_steps, batch_size=cfg.batch_size, eval_every=0,
                            max_train_steps=cfg.steps // cfg.epochs if cfg.steps else None, val_ratio=trained_with.get("val_ratio", 0.1), action_key=trained_with.get("action_key", "actions"),
                            seed=seed, progress=progress, torch_threads=cfg.torch_threads)
    summary = train_policy(DiffusionPolicyConfig.from_dict(ckpt["policy_config"]), train_cfg, dataset, out_dir,
                           device=device, init_from=checkpoint, demos=kept)
    returns = np.array([r for _, r in ranked])
    return Path(summary["last"]), {
        "episodes_ranked": len(ranked),
        "episodes_excluded_unsuccessful": n_all - len(ranked),
        "episodes_kept": k,
        "kept": kept,  # the imitated episodes, best first: which behaviour the filter chose can be checked against the data
        "kept_return_mean": float(returns[:k].mean()),
        "all_return_mean": float(returns.mean()),
        "return_threshold": float(returns[k - 1]),
        "finetune": summary["final"],
    }
