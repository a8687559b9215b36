"""Roll a policy checkpoint out and add its episodes to a copy of a dataset.

The later rounds of reward-filtered fine-tuning (``filtered.rounds`` > 1) rank the
policy's own rollouts next to the episodes they started from: once the first round has
moved the policy towards what the person wants, its successful rollouts of that behaviour
are examples in its own state distribution, which the demonstrations are not. The copy is
written through :class:`robopref.data.writer.DatasetWriter` (a temporary file moved into
place when complete), so the user's dataset is never touched and a killed run leaves no
half-written pool.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Mapping

from tqdm import tqdm

from robopref.data.writer import DatasetWriter
from robopref.eval.runner import episode_seed
from robopref.rollout.factory import env_args_of, make_env
from robopref.rollout.batched import record_episodes


def pool_with_rollouts(source: str | Path, checkpoint: str | Path, env_cfg: Mapping[str, Any], out: str | Path, episodes: int, seed: int,
                       device: str = "cpu", progress: bool = True, batch: int = 1) -> tuple[Path, dict[str, Any]]:
    """Write ``out``: every episode of ``source`` plus ``episodes`` rollouts of ``checkpoint`` in the env ``env_cfg``.

    Episode ``i`` starts from ``episode_seed(seed, i)`` (the numbering of ``robopref
    collect`` and ``robopref eval``), so a caller keeps these rollouts off its evaluation
    episodes by passing another ``seed``. ``source`` may be ``out`` itself (later rounds
    append to the pool). ``batch`` > 1 rolls that many episodes out side by side
    (:mod:`robopref.rollout.batched`). Returns the file and the rollouts' count, success
    rate and mean length.
    """
    if batch < 1:
        raise ValueError(f"filtered.rollout_batch={batch}: expected >= 1 episodes rolled out side by side")
    from robopref.policies import load_policy

    source, out = Path(source), Path(out)
    if source.resolve() == out.resolve():
        work, atomic = out, True  # the writer appends through its own temporary copy
    else:  # one copy of the user's dataset, which is only read; published when complete
        out.parent.mkdir(parents=True, exist_ok=True)
        work, atomic = out.with_name(out.name + ".copy"), False
        shutil.copyfile(source, work)
    policy = load_policy(str(checkpoint), device=device)
    envs = [make_env(env_cfg) for _ in range(min(batch, episodes))]
    jobs = [(episode_seed(seed, i), None) for i in range(episodes)]
    successes, lengths = [], []
    try:
        with DatasetWriter(work, env_args=env_args_of(envs[0], env_cfg), mode="a", atomic=atomic) as writer:
            for ep in tqdm(record_episodes(envs, policy, jobs), total=episodes, desc="policy rollouts", unit="ep", disable=not progress):
                ep.attrs["source"] = "policy_rollout"
                writer.add_episode(ep)
                successes.append(ep.success)
                lengths.append(len(ep))
    finally:
        for env in envs:
            env.close()
    if work != out:
        work.replace(out)
    return out, {"rollouts": episodes, "rollout_success": sum(successes) / episodes, "rollout_mean_length": sum(lengths) / episodes}
