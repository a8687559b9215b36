"""``robopref align``: align a diffusion policy with preferences or a learned reward.

    robopref align method=dpo policy=best.ckpt store=prefs.sqlite                 # DPO on stored labels
    robopref align method=dpo policy=best.ckpt pairs_from=reward reward_checkpoint=reward.pt dataset=rollouts.hdf5
    robopref align method=dpo policy=best.ckpt pairs_from=samples reward_checkpoint=reward.pt dataset=rollouts.hdf5  # same-state chunk pairs
    robopref align method=best_of_n policy=best.ckpt reward_checkpoint=reward.pt n=16
    robopref align method=filtered_bc policy=best.ckpt reward_checkpoint=reward.pt dataset=demos.hdf5 filtered.keep=0.33

``filtered_bc`` fine-tunes the policy on the episodes of ``dataset`` the reward ranks
highest (:mod:`robopref.align.filtered`); ``filtered.rounds=3`` then rolls it out in the
evaluation env and fine-tunes again on the top of the dataset and its rollouts, twice, and
``filtered.success_only=true`` ranks only the episodes that succeeded; ``filtered.rank_by=per_step``
ranks by the learned return per step (no preference for short episodes), and ``filtered.neighbours=k``
by the return averaged over the k episodes that act most alike (:mod:`robopref.align.behaviour`: an
episode that pleased the person by luck, in a behaviour that usually does not, is not imitated;
``filtered.hops=h`` repeats that average h times, spreading each score over its cluster of alike episodes).
DPO and filtered_bc write ``aligned.ckpt`` (a
normal policy checkpoint); every method evaluates the
policy before and after on ``eval_episodes`` episodes of the env the policy was trained
on and write ``summary.json``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
from omegaconf import MISSING, DictConfig, OmegaConf

from robopref.align.dpo import DPOConfig
from robopref.align.filtered import FilteredConfig
from robopref.align.sampled_pairs import SampledPairsConfig
from robopref.config import StageConfig, register_schema
from robopref.data.dataset import Dataset
from robopref.data.pool import DatasetPool
from robopref.utils.atomic import atomic_write_text
from robopref.utils.rundir import run_dir
from robopref.utils.seed import seed_everything

log = logging.getLogger(__name__)


@dataclass
class AlignConfig(StageConfig):
    """Config of ``robopref align``."""

    policy: str = MISSING  # diffusion policy checkpoint
    method: str = "dpo"  # dpo | best_of_n | filtered_bc
    pairs_from: str = "labels"  # dpo: labels (from store) | reward (rollouts ranked by reward) | samples (same-state chunks ranked by reward)
    store: Optional[str] = "prefs.sqlite"
    sources: Optional[list[str]] = None
    reward_checkpoint: Optional[str] = None  # reward.pt: trajectory or visual (pairs_from=reward), trajectory (best_of_n)
    dataset: Any = None  # rollouts ranked by the reward (pairs_from=reward), whose states chunks are sampled at (pairs_from=samples), or the episodes filtered_bc ranks
    pairs: int = 200
    segment_length: int = 32  # 0: whole episodes
    same_start: bool = False  # pairs_from=reward, whole episodes: compare only rollouts of one initial state (collect repeats=)
    min_gap: float = 0.0  # pairs_from=reward: drop pairs whose learned returns differ by no more than this
    contrast: Optional[float] = None  # pairs_from=reward, whole episodes: pair the top fraction of rollouts with the bottom fraction
    kappa: Optional[float] = None  # pessimism for Gaussian rewards (default: the reward's own)
    n: int = 16  # best-of-N
    samples: SampledPairsConfig = field(default_factory=SampledPairsConfig)  # pairs_from=samples
    dpo: DPOConfig = field(default_factory=DPOConfig)
    filtered: FilteredConfig = field(default_factory=FilteredConfig)  # method=filtered_bc
    eval_episodes: int = 10
    eval_workers: Optional[int] = None
    eval_batch: int = 1  # > 1: evaluation episodes side by side in this process (robopref eval batch=), instead of worker processes
    env: Any = None  # env config for evaluation (default: the policy's training dataset's env)
    progress: bool = True


register_schema("align", AlignConfig)


def policy_env_cfg(checkpoint: str, override: Any) -> dict[str, Any] | None:
    """The env to evaluate on: ``override``, else the env of the policy's training data."""
    if override is not None:
        return OmegaConf.to_container(override, resolve=True) if isinstance(override, DictConfig) else dict(override)
    from robopref.policies.checkpoint import read_checkpoint

    data = (read_checkpoint(checkpoint).get("meta") or {}).get("dataset")
    return Dataset(data).env_args.get("robopref_env") if data and Path(data).exists() else None


def _reward_datasets(cfg: DictConfig) -> list[str]:
    """The ``dataset`` key as a list; pairs from a reward need it and ``reward_checkpoint``."""
    if not cfg.reward_checkpoint or cfg.dataset is None:
        raise ValueError(f"pairs_from={cfg.pairs_from} needs reward_checkpoint=<reward.pt> and dataset=<rollouts.hdf5>")
    return [cfg.dataset] if isinstance(cfg.dataset, str) else list(cfg.dataset)


def _segment_pairs(cfg: DictConfig, pool: DatasetPool, rng: np.random.Generator) -> list:
    """(winner, loser, weight) segment pairs from stored labels or from rollouts ranked by a reward."""
    from robopref.align.pairs import pairs_from_labels, pairs_from_reward
    from robopref.prefs import PreferenceStore
    from robopref.rewards.loading import load_reward

    if cfg.pairs_from == "labels":
        with PreferenceStore(cfg.store, readonly=True) as store:
            pairs = pairs_from_labels(store, list(cfg.sources) if cfg.sources else None)
    else:
        datasets = _reward_datasets(cfg)
        if (cfg.same_start or cfg.contrast is not None) and cfg.segment_length != 0:
            raise ValueError(f"same_start and contrast compare whole rollouts; set segment_length=0 (got {cfg.segment_length})")
        pairs = pairs_from_reward(load_reward(cfg.reward_checkpoint), pool, datasets, cfg.pairs, cfg.segment_length, rng, cfg.kappa,
                                  min_gap=cfg.min_gap, same_start=cfg.same_start, contrast=cfg.contrast)
    if not pairs:
        raise ValueError("no preference pairs with a preferred side (all ties or no labels)")
    return pairs


def _dpo(cfg: DictConfig, out: Path, rng: np.random.Generator, env_cfg: dict[str, Any] | None) -> dict[str, Any]:
    from robopref.align.finetune import dpo_finetune, dpo_finetune_chunks

    if cfg.pairs_from not in ("labels", "reward", "samples"):
        raise ValueError(f"pairs_from={cfg.pairs_from!r}: expected 'labels', 'reward' or 'samples'")
    pool = DatasetPool()
    dpo_cfg = DPOConfig(**OmegaConf.to_container(cfg.dpo, resolve=True))
    if cfg.pairs_from == "samples":
        path, hist, n_pairs = dpo_finetune_chunks(cfg.policy, _sampled_chunks(cfg, pool, rng, env_cfg), pool, dpo_cfg, out / "aligned.ckpt", progress=cfg.progress)
    else:
        pairs = _segment_pairs(cfg, pool, rng)
        path, hist = dpo_finetune(cfg.policy, pairs, pool, dpo_cfg, out / "aligned.ckpt", progress=cfg.progress)
        n_pairs = len(pairs)
    return {"aligned_checkpoint": str(path), "pairs": n_pairs, "implicit_accuracy": hist.implicit_accuracy[-1], "ref_distance": hist.ref_distance[-1],
            "final_loss": hist.loss[-1]}


def _filtered(cfg: DictConfig, out: Path, env_cfg: dict[str, Any] | None) -> dict[str, Any]:
    """Fine-tune on the top ``filtered.keep`` of one dataset's episodes by learned return."""
    from robopref.align.filtered import filtered_finetune
    from robopref.rewards.loading import load_reward

    if not cfg.reward_checkpoint or cfg.dataset is None:
        raise ValueError("method=filtered_bc needs reward_checkpoint=<reward.pt> and dataset=<episodes to rank, e.g. the demos>")
    datasets = _reward_datasets(cfg)
    if len(datasets) != 1:
        raise ValueError(f"method=filtered_bc ranks and trains on one dataset; got dataset={datasets}")
    if not Path(datasets[0]).is_file():
        raise ValueError(f"dataset={datasets[0]!r}: no such file")
    filtered = FilteredConfig(**OmegaConf.to_container(cfg.filtered, resolve=True))
    path, info = filtered_finetune(cfg.policy, load_reward(cfg.reward_checkpoint), datasets[0], filtered, out, seed=cfg.seed, kappa=cfg.kappa,
                                   device=cfg.device, progress=cfg.progress, env_cfg=env_cfg)
    return {"aligned_checkpoint": str(path), **info}


def _sampled_chunks(cfg: DictConfig, pool: DatasetPool, rng: np.random.Generator, env_cfg: dict[str, Any] | None) -> Callable[[Any, Any], Any]:
    """The chunk source of ``pairs_from=samples``: same-state chunk pairs simulated in the eval env."""
    from robopref.align.sampled_pairs import sample_state_pairs
    from robopref.rewards.loading import load_reward
    from robopref.rewards.model import TrajectoryRewardModel
    from robopref.rollout.factory import make_env

    datasets = _reward_datasets(cfg)
    reward = load_reward(cfg.reward_checkpoint)
    if not isinstance(reward, TrajectoryRewardModel):
        raise ValueError(f"reward_checkpoint={cfg.reward_checkpoint}: pairs_from=samples scores simulated steps with a trajectory reward (bt, rrl)")
    if not env_cfg:
        raise ValueError("pairs_from=samples simulates chunks: pass env=<group> or train the policy on a dataset that records its env")
    samples = SampledPairsConfig(**OmegaConf.to_container(cfg.samples, resolve=True))

    def chunks(model: Any, reader: Any) -> Any:  # (DiffusionPolicy, ChunkReader) -> ChunkPairs
        env = make_env(env_cfg)
        env.reset(seed=cfg.seed)  # the simulator must be initialised before set_state
        try:
            return sample_state_pairs(model, reward, env, pool, datasets, reader, samples, rng, cfg.kappa, progress=cfg.progress)
        finally:
            env.close()

    return chunks


def _evaluate(cfg: DictConfig, env_cfg: dict[str, Any], checkpoint: str, out: Path, tag: str) -> dict[str, Any]:
    from robopref.eval import evaluate, write_json

    res = evaluate(env_cfg, checkpoint, episodes=cfg.eval_episodes, workers=cfg.eval_workers, seed=cfg.seed, videos=2, out_dir=out / tag, progress=cfg.progress,
                   batch=cfg.eval_batch)
    write_json(res, out / tag / "eval.json")
    return {k: v for k, v in res.to_dict().items() if k != "episodes"}


def _best_of_n_eval(cfg: DictConfig, env_cfg: dict[str, Any]) -> dict[str, Any]:
    """Roll the base policy and its best-of-N version out on the same seeds; the same
    metrics (success, return, pref_return, violation with 95% CIs) as ``robopref eval``."""
    from robopref.align.best_of_n import BestOfNPolicy, TrajectoryRewardScorer
    from robopref.eval.runner import episode_seed, run_episode, summarize_episodes
    from robopref.policies import load_policy
    from robopref.rewards.loading import load_reward
    from robopref.rewards.model import TrajectoryRewardModel
    from robopref.rollout.factory import make_env

    if not cfg.reward_checkpoint:
        raise ValueError("method=best_of_n needs reward_checkpoint=<reward.pt> to score the sampled chunks")
    reward = load_reward(cfg.reward_checkpoint)
    if not isinstance(reward, TrajectoryRewardModel):
        raise ValueError(f"reward_checkpoint={cfg.reward_checkpoint}: best-of-N scores chunks with a trajectory reward (bt, rrl); "
                         "a visual reward needs the chunk's future frames, which are not known before it runs")
    base = load_policy(cfg.policy, device=cfg.device, seed=cfg.seed)
    scorer = TrajectoryRewardScorer(reward, base.n_obs_steps - 1, base.n_action_steps, cfg.kappa)
    env = make_env(env_cfg)
    out: dict[str, Any] = {}
    for name, policy in (("before", base), ("after", BestOfNPolicy(base, scorer, n=cfg.n))):
        results = [run_episode(env, policy, i, episode_seed(cfg.seed, i)) for i in range(cfg.eval_episodes)]
        out[name] = {"n_episodes": len(results), "metrics": {k: v.to_dict() for k, v in summarize_episodes(results).items()}}
    env.close()
    return out


def run(cfg: DictConfig) -> dict[str, Any]:
    """Align, then evaluate before and after."""
    rng = seed_everything(cfg.seed)
    out = run_dir()
    if not Path(cfg.policy).is_file():
        raise ValueError(f"policy={cfg.policy!r}: no such checkpoint file")
    env_cfg = policy_env_cfg(cfg.policy, cfg.env)
    summary: dict[str, Any] = {"method": cfg.method, "policy": cfg.policy}
    if cfg.method in ("dpo", "filtered_bc"):
        summary.update(_dpo(cfg, out, rng, env_cfg) if cfg.method == "dpo" else _filtered(cfg, out, env_cfg))
        if cfg.eval_episodes and env_cfg:
            summary["before"] = _evaluate(cfg, env_cfg, cfg.policy, out, "before")
            summary["after"] = _evaluate(cfg, env_cfg, summary["aligned_checkpoint"], out, "after")
    elif cfg.method == "best_of_n":
        if not env_cfg:
            raise ValueError("method=best_of_n evaluates in an env: pass env=<group> or train the policy on a dataset that records its env")
        summary.update(_best_of_n_eval(cfg, env_cfg))
    else:
        raise ValueError(f"method={cfg.method!r}: expected 'dpo', 'best_of_n' or 'filtered_bc'")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=float))
    print(json.dumps(summary, indent=2, default=float))
    return summary
