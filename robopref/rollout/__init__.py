"""Rolling policies out in environments and recording what happened."""

from robopref.rollout.policy import RandomPolicy, RolloutPolicy
from robopref.rollout.record import record_episode

__all__ = ["RandomPolicy", "RolloutPolicy", "record_episode"]
