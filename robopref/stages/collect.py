"""``robopref collect``: roll a policy out for N episodes and write a dataset.

The policy is the env's scripted expert (``policy=expert``, with ``noise``, ``quality``
and ``aligned``), uniform random actions (``policy=random``) or a trained policy
checkpoint (``policy=path/to/best.ckpt``), e.g. to record rollouts for people or a
scripted teacher to label.

Writes ``dataset.hdf5`` (robomimic layout, images included), a few mp4s and
``summary.json`` (episodes, success rate, mean return, ...) in the run directory.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
from omegaconf import MISSING, DictConfig, OmegaConf
from tqdm import tqdm

from robopref.config import StageConfig, register_schema
from robopref.data.episode import Episode
from robopref.data.layout import is_image_key
from robopref.data.output import check_output, resolve_output
from robopref.data.video import write_video
from robopref.data.writer import DatasetWriter
from robopref.eval.policies import PolicySpec, build_policy
from robopref.eval.runner import episode_seed
from robopref.rollout.dagger import ExpertLabelled
from robopref.rollout.factory import env_args_of, make_env
from robopref.rollout.quality import DEFAULT_MIXED_NOISE, DEFAULT_OPERATOR_NOISE, EpisodePlan, Quality, plan_episodes
from robopref.rollout.batched import record_episodes
from robopref.rollout.record import record_episode
from robopref.utils.atomic import atomic_write_text
from robopref.utils.rundir import run_dir
from robopref.utils.seed import seed_everything

log = logging.getLogger(__name__)


@dataclass
class CollectConfig(StageConfig):
    """Config of ``robopref collect`` (see conf/collect.yaml for the defaults)."""

    env: Any = MISSING
    policy: str = "expert"  # expert | random | path to a policy checkpoint
    noise: float = 0.0  # action noise of the scripted expert (0 = clean expert)
    quality: Quality = Quality.expert  # expert | mixed (noise levels cycled) | mh (better/okay/worse operators + masks)
    mixed_noise: list = field(default_factory=lambda: list(DEFAULT_MIXED_NOISE))  # levels for quality=mixed
    operator_noise: dict = field(default_factory=lambda: dict(DEFAULT_OPERATOR_NOISE))  # tiers for quality=mh
    aligned: bool = True  # False: the expert succeeds but ignores the person's preference
    label_with: Optional[str] = None  # expert: the clean scripted expert labels every state the policy visits (DAgger; action_dict/intended)
    dagger_beta: float = 0.0  # with label_with: chance per step that the expert's action is executed instead of the policy's
    episodes: int = 20
    repeats: int = 1  # roll each initial state out this many times (policy sampling reseeded): same-start comparisons
    max_steps: Optional[int] = None  # cap on steps per episode (default: the env's limit)
    output: str = "dataset.hdf5"  # relative paths land in the run directory
    append: bool = False  # add the episodes to an existing output file
    overwrite: bool = False  # replace an existing output file (default: refuse, so a re-run cannot discard collected episodes)
    videos: int = 2  # number of episodes saved as mp4
    video_fps: int = 10
    batch: int = 1  # policy checkpoints: episodes rolled out side by side, one network call per step for all (robopref.rollout.batched)
    next_obs: bool = False  # also store next_obs/<key>
    extra: dict = field(default_factory=dict)  # free-form notes stored with the dataset


register_schema("collect", CollectConfig)


def episode_seeds(seed: int, index: int, repeats: int = 1) -> tuple[int, int | None]:
    """(env seed, policy seed) of episode ``index``: with ``repeats`` r > 1, episodes
    r·k … r·k + r − 1 share the initial state k and differ in the policy's sampling."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    env_seed = episode_seed(seed, index // repeats)
    return (env_seed, None) if repeats == 1 else (env_seed, env_seed * 1_000 + index % repeats)


def summarize(episodes: list[Episode]) -> dict[str, Any]:
    """Episode count, success rate, mean return and the preference signals when present."""
    out: dict[str, Any] = {
        "episodes": len(episodes),
        "steps": int(sum(len(e) for e in episodes)),
        "success_rate": float(np.mean([e.success for e in episodes])),
        "mean_return": float(np.mean([e.total_reward for e in episodes])),
    }
    if episodes and "pref_score" in episodes[0].infos:
        out["mean_pref_return"] = float(np.mean([e.infos["pref_score"].sum() for e in episodes]))
    if episodes and "violation" in episodes[0].infos:
        out["preference_honoured_rate"] = float(np.mean([not e.infos["violation"].any() for e in episodes]))
    return out


def summarize_groups(episodes: list[Episode], key: str) -> dict[str, dict[str, Any]]:
    """:func:`summarize` per value of a demo attribute (``operator`` or ``noise``)."""
    groups: dict[str, list[Episode]] = {}
    for e in episodes:
        groups.setdefault(str(e.attrs[key]), []).append(e)
    return {k: summarize(v) for k, v in groups.items()}


def _existing_masks(path: Path, append: bool) -> dict[str, list[str]]:
    """Masks already in the output file, so appending mh demos extends them."""
    if not (append and path.exists()):
        return {}
    from robopref.data.dataset import Dataset

    with Dataset(path, validate=False) as ds:
        return {k: ds.mask(k) for k in ds.masks()}


def _episodes(cfg: DictConfig, spec: PolicySpec, env: Any, plans: list[EpisodePlan], policies: dict[EpisodePlan, Any]) -> Iterator[Episode]:
    """The episodes of ``plans`` in order: a policy checkpoint with ``batch`` > 1 rolls
    ``batch`` of them out side by side (same seeds, same fields), anything else one by one."""
    jobs = [episode_seeds(cfg.seed, i, cfg.repeats) for i in range(len(plans))]
    if spec.kind == "checkpoint" and cfg.batch > 1 and not cfg.label_with:
        policy = build_policy(spec, cfg.env, env, seed=cfg.seed)
        envs = [env, *(make_env(cfg.env) for _ in range(min(cfg.batch, len(jobs)) - 1))]
        try:
            yield from record_episodes(envs, policy, jobs, max_steps=cfg.max_steps, store_next_obs=cfg.next_obs)
        finally:
            for e in envs[1:]:
                e.close()
        return
    for plan, (env_seed, policy_seed) in zip(plans, jobs):
        if plan not in policies:  # one expert per noise level; record_episode reseeds it per episode
            policies[plan] = build_policy(replace(spec, noise=plan.noise), cfg.env, env, seed=cfg.seed)
            if cfg.label_with:
                labeller = build_policy(PolicySpec("expert", aligned=cfg.aligned), cfg.env, env, seed=cfg.seed)
                policies[plan] = ExpertLabelled(policies[plan], labeller, beta=cfg.dagger_beta, seed=cfg.seed)
        yield record_episode(env, policies[plan], seed=env_seed, max_steps=cfg.max_steps, store_next_obs=cfg.next_obs, policy_seed=policy_seed)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Collect ``cfg.episodes`` episodes; return the summary (also saved as JSON)."""
    seed_everything(cfg.seed)
    out_dir = run_dir()
    spec = PolicySpec(str(cfg.policy), aligned=cfg.aligned, device=cfg.device)
    spec.check()
    if spec.kind == "replay":
        raise ValueError("policy=replay re-records a dataset; use `robopref eval policy=replay` to check a replay instead")
    quality = Quality(cfg.quality)
    if spec.kind != "expert" and quality is not Quality.expert:
        raise ValueError(f"quality={quality.value} varies the scripted expert's noise; it needs policy=expert, not policy={spec.name}")
    if cfg.label_with not in (None, "expert"):
        raise ValueError(f"label_with={cfg.label_with!r}: expected null or 'expert'")
    if not 0.0 <= cfg.dagger_beta <= 1.0:
        raise ValueError(f"dagger_beta={cfg.dagger_beta}: expected a probability in [0, 1]")
    if cfg.label_with and spec.kind == "expert":
        raise ValueError("label_with=expert labels a learned (or random) policy's states; with policy=expert the noisy expert already records action_dict/intended")
    if cfg.batch < 1:
        raise ValueError(f"batch={cfg.batch}: expected >= 1 episodes rolled out side by side")
    if cfg.episodes < 1:
        raise ValueError(f"episodes={cfg.episodes}: expected >= 1 (a dataset without episodes has nothing to learn from)")
    episode_seeds(cfg.seed, 0, cfg.repeats)  # validates repeats before anything runs
    plans = plan_episodes(quality, cfg.episodes, cfg.noise, cfg.mixed_noise, cfg.operator_noise)
    output = resolve_output(cfg.output, out_dir)
    check_output(output, cfg.append, cfg.overwrite)
    env = make_env(cfg.env)
    masks = _existing_masks(output, cfg.append)
    env_args = env_args_of(env, cfg.env)
    episodes: list[Episode] = []
    videos: list[Path] = []
    policies: dict[EpisodePlan, Any] = {}
    with DatasetWriter(output, env_args=env_args, mode="a" if cfg.append else "w") as writer:
        for plan, ep in zip(tqdm(plans, desc=f"collect {cfg.env.get('name', '')}", unit="ep"), _episodes(cfg, spec, env, plans, policies)):
            ep.attrs["noise"] = plan.noise
            if plan.operator is not None:
                ep.attrs["operator"] = plan.operator
            name = writer.add_episode(ep)
            if plan.operator is not None:
                masks.setdefault(plan.operator, []).append(name)
            if len(videos) < cfg.videos:
                cams = [k for k in ep.obs if is_image_key(k)]
                if cams:
                    videos.append(write_video(ep.obs[cams[0]], out_dir / "videos" / f"{name}.mp4", fps=cfg.video_fps, scale=4))
            # keep only the small arrays for the summary; frames are on disk now
            episodes.append(Episode(ep.actions, ep.rewards, ep.dones, obs={}, infos=ep.infos, attrs=dict(ep.attrs)))
        for key, names in masks.items():
            writer.set_mask(key, names)
        summary = summarize(episodes)
        if quality is Quality.mixed:
            summary["by_noise"] = summarize_groups(episodes, "noise")
        if quality is Quality.mh:
            summary["by_operator"] = summarize_groups(episodes, "operator")
        writer.set_attr("robopref_collect", json.dumps({"config": OmegaConf.to_container(cfg, resolve=True), "summary": summary}, default=str))
    env.close()
    summary.update({"dataset": str(output), "videos": [str(v) for v in videos]})
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    log.info("summary: %s", json.dumps(summary))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("dataset", "videos")}, indent=2))
    print(f"dataset: {output}")
    for v in videos:
        print(f"video: {v}")
    return summary
