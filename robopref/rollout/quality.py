"""Quality schedules for ``robopref collect``: which noise each episode's expert gets.

* ``expert``: every episode at the configured ``noise``.
* ``mixed``: noise levels from clean expert to near-random, cycled over episodes so
  every level is equally represented (the way offline preference-learning benchmarks
  mix one scripted expert's rollouts at several noise levels).
* ``mh``: three operator tiers, ``better`` / ``okay`` / ``worse``, in equal contiguous
  blocks, like robomimic's multi-human (MH) datasets where each operator recorded a
  block of demos; collect writes ``mask/<operator>`` for each tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping, Sequence

DEFAULT_MIXED_NOISE = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
DEFAULT_OPERATOR_NOISE = {"better": 0.05, "okay": 0.3, "worse": 0.6}


class Quality(str, Enum):
    """How the demos of one collect run vary in quality."""

    expert = "expert"
    mixed = "mixed"
    mh = "mh"


@dataclass(frozen=True)
class EpisodePlan:
    """The expert settings of one episode: its noise and, for ``mh``, its operator tier."""

    noise: float
    operator: str | None = None


def plan_episodes(
    quality: Quality | str,
    episodes: int,
    noise: float = 0.0,
    mixed_noise: Sequence[float] = DEFAULT_MIXED_NOISE,
    operator_noise: Mapping[str, float] = DEFAULT_OPERATOR_NOISE,
) -> list[EpisodePlan]:
    """One :class:`EpisodePlan` per episode, in collection order."""
    quality = Quality(quality)
    if episodes < 0:
        raise ValueError(f"episodes must be >= 0, got {episodes}")
    if quality is Quality.expert:
        return [EpisodePlan(float(noise))] * episodes
    if quality is Quality.mixed:
        levels = [float(x) for x in mixed_noise]
        if not levels:
            raise ValueError("quality=mixed needs at least one level in mixed_noise")
        return [EpisodePlan(levels[i % len(levels)]) for i in range(episodes)]
    tiers = list(operator_noise.items())
    if not tiers:
        raise ValueError("quality=mh needs at least one operator in operator_noise")
    # contiguous blocks, sizes differing by at most one (earlier tiers get the extra demo)
    base, extra = divmod(episodes, len(tiers))
    plans: list[EpisodePlan] = []
    for i, (name, level) in enumerate(tiers):
        plans += [EpisodePlan(float(level), str(name))] * (base + (i < extra))
    return plans
