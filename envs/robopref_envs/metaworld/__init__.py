"""Meta-World 3.x tasks as robopref envs: dict observations, seeded random goals,
optional offscreen camera images, replayable simulator state, scripted experts.

``make_env(task="drawer-open-v3", camera="corner")`` returns a Gymnasium env created
with ``gymnasium.make("robopref/MetaWorld-v0", ...)`` so ``env.spec`` records how to
rebuild it. Importing this module imports MuJoCo (with ``MUJOCO_GL=egl`` unless set).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering on the CPU (Mesa); must precede `import mujoco`

from robopref_envs.metaworld.env import ENV_ID, MetaWorldEnv, make_env, task_names  # noqa: E402
from robopref_envs.metaworld.expert import MetaWorldExpert  # noqa: E402

__all__ = ["ENV_ID", "MetaWorldEnv", "MetaWorldExpert", "make_env", "task_names"]
