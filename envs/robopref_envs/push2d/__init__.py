"""Built-in 2D pushing tasks modelled on X-Magical (the benchmark used by RAPL).

Importing this package registers three Gymnasium ids, one per task:

- ``robopref/Push2D-v0`` (task ``push``): push the blocks into the green goal strip.
- ``robopref/PushAvoid-v0`` (task ``avoid``): the same, never touching the red zone.
- ``robopref/PushGroup-v0`` (task ``group``): the same, keeping the blocks together.

Each takes ``embodiment`` (``gripper``, ``short_stick``, ``medium_stick``),
``num_blocks``, ``image_size``, ``render_images``, ``robot_obs``, ``terminate_on_success``,
``render_mode`` and Gymnasium's ``max_episode_steps``. ``make_env`` builds one by
task name; ``Push2DExpert`` is the scripted expert of every task.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from robopref_envs.push2d.env import Push2DEnv
from robopref_envs.push2d.expert import Push2DExpert
from robopref_envs.push2d.physics import EMBODIMENTS
from robopref_envs.push2d.tasks import TASKS

ENV_IDS: dict[str, str] = {
    "push": "robopref/Push2D-v0",
    "avoid": "robopref/PushAvoid-v0",
    "group": "robopref/PushGroup-v0",
}
MAX_EPISODE_STEPS = 150  # the noise-free expert needs 46-95 steps on average (docs/benchmarks-push2d.md)

for _task, _env_id in ENV_IDS.items():
    if _env_id not in gym.registry:
        gym.register(
            id=_env_id,
            entry_point="robopref_envs.push2d.env:Push2DEnv",
            kwargs={"task": _task},
            max_episode_steps=MAX_EPISODE_STEPS,
        )


def make_env(task: str = "avoid", embodiment: str = "gripper", image_size: int = 64, **kwargs: Any) -> gym.Env:
    """``gymnasium.make`` of the task's id, so ``env.spec`` can rebuild the env from a dataset.

    ``kwargs`` go to ``gymnasium.make`` (e.g. ``max_episode_steps``) or to ``Push2DEnv``
    (e.g. ``num_blocks``, ``render_images``).
    """
    if task not in ENV_IDS:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(ENV_IDS)}")
    return gym.make(ENV_IDS[task], embodiment=embodiment, image_size=image_size, **kwargs)


__all__ = ["EMBODIMENTS", "ENV_IDS", "MAX_EPISODE_STEPS", "TASKS", "Push2DEnv", "Push2DExpert", "make_env"]
