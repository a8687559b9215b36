"""robosuite 1.5 tasks (Lift, PickPlaceCan, any env by name) as robopref envs.

Observations use robomimic's keys (``robot0_eef_pos``, ``robot0_eef_quat``,
``robot0_gripper_qpos``, ``object``, ``agentview_image``, ``robot0_eye_in_hand_image``),
actions are OSC_POSE deltas (7-d for one Panda arm), rendering is offscreen on the CPU.
robomimic itself is not needed (nor installed: its PyPI release pulls torchvision).
Importing this module imports MuJoCo (with ``MUJOCO_GL=egl`` unless set) and robosuite.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering on the CPU (Mesa); must precede `import mujoco`

from robopref_envs.robosuite.env import ENV_ID, RobosuiteEnv, make_env  # noqa: E402
from robopref_envs.robosuite.expert import PickPlaceExpert  # noqa: E402

__all__ = ["ENV_ID", "PickPlaceExpert", "RobosuiteEnv", "make_env"]
